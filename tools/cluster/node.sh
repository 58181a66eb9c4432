#!/usr/bin/env bash
# A single real Kubernetes node on this machine, without Docker, contained (../shared/cluster-notes.md):
#
#   node.sh up          start it (or reuse the running one): etcd, kube-apiserver, kube-controller-manager,
#                       kube-scheduler, containerd + runc, kubelet, kube-proxy, CoreDNS and Traefik, with the
#                       images from tools/cluster/images.sh imported; kubeconfig at .data/cluster/kubeconfig
#   node.sh down        stop everything it started and remove its state; the host is as before
#   node.sh exec CMD..  run CMD in the node's network namespace (reaches pod, Service and Ingress addresses)
#   node.sh status      exit 0 when a cluster is up and answering
#   node.sh volumes     make the pool of local PersistentVolumes whole again: a Released one (its claim was
#                       deleted) is wiped and made Available (there is no provisioner to delete it)
#   node.sh guard PID   (background) run `down` once process PID has exited
#
# Containment: one holder process owns a network namespace (pod bridge, Service routes, kube-proxy's iptables
# rules, every address in 198.18.0.0/15) and a private mount namespace (tmpfs over /run, /var/log and
# /var/lib/cni; read-only files over the three /proc/sys entries the kubelet insists on; a sysfs of the
# namespace). Every daemon runs inside both; pods' cgroups are under one parent (/sluice-cluster-<checkout>). The host
# sees one listening socket: 127.0.0.1:<port> forwarded into the namespace, so kubectl and helm work there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck disable=SC1091
source "$root/tools/versions.env"

state="$root/.data/cluster"
bin="$root/.tools/bin"
logs="$state/logs"
pids="$state/pids"
export PATH="$bin:$PATH"

NODE_NAME=sluice-node
NODE_IP=198.18.2.1
POD_CIDR=198.18.0.0/24
POD_GATEWAY=198.18.0.1
SERVICE_CIDR=198.18.1.0/24
API_SERVICE_IP=198.18.1.1
DNS_SERVICE_IP=198.18.1.10
# One cgroup parent per checkout, so clusters of two clones (a developer's and CI's) never touch each other.
CGROUP_PARENT="sluice-cluster-$(printf '%s' "$state" | md5sum | cut -c1-8)"
CONTAINERD_SOCK=/run/containerd/containerd.sock

# The configuration files of containerd, the CNI bridge, the kubelet, kube-proxy and the kubeconfigs.
# shellcheck source=node-config.sh
source "$here/node-config.sh"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

holder_pid() { cat "$state/holder.pid" 2>/dev/null || true; }
alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
api_port() { cat "$state/api-port" 2>/dev/null || true; }
# inside CMD...: in the node's network and mount namespaces.
inside() { nsenter -t "$(holder_pid)" -n -m -- "$@"; }
kubectl_() { kubectl --kubeconfig "$state/kubeconfig" "$@"; }

# wait_until <what> <seconds> <command...>
wait_until() {
  local what="$1" deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out waiting for $what (logs in $logs)"
    sleep 0.5
  done
}

# What up needs, checked at once so the message names everything missing.
preflight() {
  local missing=() b
  ((EUID == 0)) || missing+=("root (namespaces, cgroups, mounts)")
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    [[ -x "$bin/$b" ]] || missing+=("$bin/$b (make controlplane-tools node-tools)")
  done
  for b in containerd ctr runc socat iptables openssl unshare nsenter ip; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b (tools/cluster/deps.sh installs the Debian packages)")
  done
  [[ -x /usr/lib/cni/bridge ]] || missing+=("/usr/lib/cni/bridge (Debian containernetworking-plugins)")
  [[ -w /sys/fs/cgroup/memory ]] || missing+=("writable cgroup v1 memory controller at /sys/fs/cgroup/memory")
  [[ -f "$root/.data/images/pause.tar" ]] || missing+=(".data/images/*.tar (tools/cluster/images.sh build)")
  if ((${#missing[@]})); then
    printf 'cluster: cannot start, missing:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
}

# start <name> <command...>: a daemon inside the namespaces, in its own session, logging to logs/<name>.log.
start() {
  local name="$1"
  shift
  nsenter -t "$(holder_pid)" -n -m -- setsid "$@" >"$logs/$name.log" 2>&1 </dev/null &
  echo $! >"$pids/$name.pid"
}

free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 10000))
    ss -Hltn "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
  die "no free port found"
}

# The holder: a process in a new network and mount namespace that prepares both, then sleeps.
start_holder() {
  mkdir -p "$state/sysctl"
  # The values the kubelet checks (protectKernelDefaults): read-only files bound over /proc/sys inside the
  # mount namespace, so the machine's own settings never change.
  echo 1 >"$state/sysctl/overcommit_memory"
  echo 10 >"$state/sysctl/panic"
  echo 1 >"$state/sysctl/panic_on_oops"
  # /var/lib/cni holds libcni's cache; a tmpfs covers it, but its mount point must exist.
  if [[ ! -d /var/lib/cni ]]; then mkdir /var/lib/cni && touch "$state/created-var-lib-cni"; fi
  unshare --net --mount --propagation private -- bash -euo pipefail -c '
    state="$1" node_ip="$2" service_cidr="$3"
    ip link set lo up
    ip addr add "$node_ip/32" dev lo
    # Traffic made here to a Service address needs a route before kube-proxy DNATs it.
    ip route add "$service_cidr" dev lo
    # Namespaced settings: forwarding between pods and Services, bridged traffic through iptables.
    echo 1 > /proc/sys/net/ipv4/ip_forward
    echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables
    mount -n -t tmpfs -o mode=0755 tmpfs /run
    mount -n -t tmpfs -o mode=0755 tmpfs /var/log
    mount -n -t tmpfs -o mode=0755 tmpfs /var/lib/cni
    # A sysfs of this network namespace (the CNI bridge plugin reads /sys/class/net), cgroups kept.
    mkdir /run/cgroup-host
    mount -n --rbind /sys/fs/cgroup /run/cgroup-host
    mount -n -t sysfs sysfs /sys
    mount -n --rbind /run/cgroup-host /sys/fs/cgroup
    umount -n -l /run/cgroup-host && rmdir /run/cgroup-host
    for f in vm/overcommit_memory:overcommit_memory kernel/panic:panic kernel/panic_on_oops:panic_on_oops; do
      mount -n --bind "$state/sysctl/${f#*:}" "/proc/sys/${f%%:*}"
      mount -n -o remount,bind,ro "/proc/sys/${f%%:*}"
    done
    touch "$state/holder.ready"
    exec sleep infinity
  ' holder "$state" "$NODE_IP" "$SERVICE_CIDR" >"$logs/holder.log" 2>&1 </dev/null &
  echo $! >"$state/holder.pid"
  wait_until "the namespaces" 10 test -f "$state/holder.ready"
}

start_control_plane() {
  local port="$1" pki="$state/pki"
  start etcd "$bin/etcd" --name=sluice --data-dir="$state/etcd" \
    --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
    --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
    --initial-cluster=sluice=http://127.0.0.1:2380 --unsafe-no-fsync --log-level=warn
  start kube-apiserver "$bin/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --advertise-address="$NODE_IP" --secure-port="$port" --cert-dir="$state/apiserver" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" --client-ca-file="$pki/ca.crt" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$pki/apiserver-kubelet-client.key" --kubelet-preferred-address-types=InternalIP \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true
  # The host's way in: kubectl and helm there reach 127.0.0.1:<port>, forwarded into the namespace.
  setsid socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
    "SYSTEM:exec nsenter --net=/proc/$(holder_pid)/ns/net socat STDIO TCP\:127.0.0.1\:$port" \
    >"$logs/forwarder.log" 2>&1 </dev/null &
  echo $! >"$pids/forwarder.pid"
  wait_until "kube-apiserver /readyz" 90 kubectl_ get --raw /readyz
  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig="$state/kubeconfigs/controller-manager.yaml" \
    --bind-address=127.0.0.1 --use-service-account-credentials=true --leader-elect=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR"
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig="$state/kubeconfigs/scheduler.yaml" \
    --authentication-kubeconfig="$state/kubeconfigs/scheduler.yaml" \
    --authorization-kubeconfig="$state/kubeconfigs/scheduler.yaml" --bind-address=127.0.0.1 --leader-elect=false
}

# The kubelet's cgroupRoot must exist in every hierarchy; cpuset needs its cpus and mems before tasks join.
make_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/; do
    [[ -L "${d%/}" ]] && continue
    mkdir -p "$d$CGROUP_PARENT"
  done
  if [[ -f /sys/fs/cgroup/cpuset/cpuset.cpus ]]; then
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$CGROUP_PARENT/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$CGROUP_PARENT/cpuset.mems"
  fi
}

start_node() {
  make_cgroups
  start containerd containerd --config "$state/containerd/config.toml"
  wait_until "containerd" 30 inside ctr --address "$CONTAINERD_SOCK" version
  local archive image
  while read -r archive image; do
    inside ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$archive" >/dev/null \
      || die "importing $archive ($image) failed"
  done < <(bash "$here/images.sh" list)
  start kubelet "$bin/kubelet" --config="$state/kubelet/config.yaml" \
    --kubeconfig="$state/kubeconfigs/kubelet.yaml" --root-dir="$state/kubelet/root" \
    --cert-dir="$state/kubelet/pki" --node-ip="$NODE_IP" --hostname-override="$NODE_NAME" --v=1
  start kube-proxy "$bin/kube-proxy" --config="$state/kube-proxy.yaml"
  wait_until "node $NODE_NAME Ready" 90 kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
}

# CoreDNS (Service 198.18.1.10) and Traefik (IngressClass traefik, the default; Service 198.18.1.80).
start_addons() {
  local names
  mapfile -t names < <(bash "$here/images.sh" names)
  sed -e "s#@COREDNS_IMAGE@#${names[4]}#" -e "s#@DNS_SERVICE_IP@#$DNS_SERVICE_IP#" "$here/manifests/coredns.yaml" \
    | kubectl_ apply -f - >/dev/null
  if [[ -f "$root/.data/images/traefik.tar" ]]; then
    sed -e "s#@TRAEFIK_IMAGE@#${names[5]}#" "$here/manifests/traefik.yaml" | kubectl_ apply -f - >/dev/null
  fi
  kubectl_ -n kube-system rollout status deployment --timeout=120s >/dev/null
}

# Storage: StorageClass `local` (the default) and VOLUMES local PersistentVolumes, folders under
# .data/cluster/volumes. `local` volumes, unlike hostPath, get the pod's fsGroup (NATS runs as uid 1000).
VOLUMES=6
volumes() {
  local i pv phase
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local
  annotations: { storageclass.kubernetes.io/is-default-class: "true" }
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
EOF
  for i in $(seq 1 "$VOLUMES"); do
    pv="sluice-local-$i"
    phase="$(kubectl_ get pv "$pv" -o jsonpath='{.status.phase}' 2>/dev/null || true)"
    if [[ "$phase" == Released || "$phase" == Failed ]]; then
      kubectl_ delete pv "$pv" --wait=true >/dev/null
      phase=""
    fi
    [[ -z "$phase" ]] || continue
    rm -rf "$state/volumes/$i" && mkdir -p "$state/volumes/$i"
    kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: { name: $pv }
spec:
  capacity: { storage: 4Gi }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local
  local: { path: $state/volumes/$i }
  nodeAffinity:
    required:
      nodeSelectorTerms: [{ matchExpressions: [{ key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME] }] }]
EOF
  done
}

up() {
  mkdir -p "$state"
  if status 2>/dev/null; then
    say "reusing the running cluster (kubeconfig $state/kubeconfig)"
    return 0
  fi
  preflight
  [[ -z "$(holder_pid)" ]] || { say "a stopped or broken cluster was left: cleaning it first"; down; }
  local t0=$SECONDS port
  mkdir -p "$logs" "$pids"
  # A start that fails half-way keeps its logs in .data/cluster-failed/ and leaves nothing running.
  trap 'rc=$?; if ((rc != 0)); then say "start-up failed: logs kept in $root/.data/cluster-failed/"; rm -rf "$root/.data/cluster-failed"; cp -r "$logs" "$root/.data/cluster-failed"; down; fi' EXIT
  port="$(free_port)"
  echo "$port" >"$state/api-port"
  bash "$here/pki.sh" "$state/pki" "$NODE_IP" "$API_SERVICE_IP" "$NODE_NAME"
  start_holder
  write_configs "$port"
  start_control_plane "$port"
  say "control plane ready after $((SECONDS - t0)) s"
  start_node
  say "node Ready after $((SECONDS - t0)) s"
  start_addons
  volumes
  touch "$state/up"
  trap - EXIT
  say "cluster up in $((SECONDS - t0)) s: export KUBECONFIG=$state/kubeconfig; tools/cluster-exec CMD reaches pods and Services"
}

status() {
  [[ -f "$state/up" ]] && alive "$(holder_pid)" && kubectl_ get --raw /readyz >/dev/null 2>&1
}

# Every process in the node's network namespace (daemons, shims, containers), by pid.
namespace_pids() {
  local h ns p
  h="$(holder_pid)"
  alive "$h" || return 0
  ns="$(readlink "/proc/$h/ns/net")"
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/ns/net" 2>/dev/null)" == "$ns" ]] && echo "${p#/proc/}"
  done
  return 0
}

stop_pidfile() {
  local f="$pids/$1.pid" p
  [[ -f "$f" ]] || return 0
  p="$(cat "$f")"
  if alive "$p"; then
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 20); do alive "$p" || break; sleep 0.25; done
    kill -KILL -- "-$p" 2>/dev/null || true
  fi
  rm -f "$f"
}

down() {
  local t0=$SECONDS name p d
  for name in kube-proxy kube-controller-manager kube-scheduler kubelet; do stop_pidfile "$name"; done
  # Containers' PID 1 may ignore SIGTERM, and shims outlive containerd: kill the whole namespace's tree.
  stop_pidfile containerd
  for p in $(namespace_pids); do [[ "$p" == "$(holder_pid)" ]] || kill -KILL "$p" 2>/dev/null || true; done
  for d in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
    [[ -d "$d" ]] || continue
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  done
  for name in forwarder kube-apiserver etcd; do stop_pidfile "$name"; done
  p="$(holder_pid)"
  if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; for _ in $(seq 20); do alive "$p" || break; sleep 0.25; done; fi
  # cgroups depth-first; a cgroup empties a moment after its last process dies.
  for _ in $(seq 20); do
    local left=0
    for d in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
      [[ -d "$d" ]] || continue
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      [[ -d "$d" ]] && left=1
    done
    ((left)) || break
    sleep 0.25
  done
  if [[ -f "$state/created-var-lib-cni" ]]; then rmdir /var/lib/cni 2>/dev/null || true; fi
  rm -rf "$state"
  say "cluster down in $((SECONDS - t0)) s"
}

guard() {
  local watched="$1"
  while kill -0 "$watched" 2>/dev/null; do sleep 1; done
  [[ -f "$state/guard.pid" && "$(cat "$state/guard.pid")" == "$$" ]] || exit 0
  say "process $watched is gone: taking the cluster down"
  down
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  volumes) volumes ;;
  exec)
    shift
    alive "$(holder_pid)" || die "no cluster is running (make cluster-up)"
    exec nsenter -t "$(holder_pid)" -n -- "$@"
    ;;
  guard)
    echo "$$" >"$state/guard.pid"
    guard "${2:?usage: node.sh guard PID}"
    ;;
  *) echo "usage: node.sh up | down | status | volumes | exec CMD... | guard PID" >&2; exit 2 ;;
esac
