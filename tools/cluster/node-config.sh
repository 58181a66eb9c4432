# Sourced by node.sh: the files the node's daemons read, written into .data/cluster. Uses node.sh's settings
# (state, here, NODE_*, POD_*, SERVICE_CIDR, DNS_SERVICE_IP, CGROUP_PARENT, CONTAINERD_SOCK).

kubeconfig_for() {
  local user="$1" server="$2"
  cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sluice
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 "$state/pki/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$state/pki/$user.crt")
    client-key-data: $(base64 -w0 "$state/pki/$user.key")
contexts:
- name: sluice
  context: {cluster: sluice, user: $user, namespace: default}
current-context: sluice
EOF
}

write_configs() {
  local port="$1"
  mkdir -p "$state/cni" "$state/containerd" "$state/kubelet"
  cat >"$state/cni/10-sluice.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "sluice",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "/var/lib/cni/networks",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  cat >"$state/containerd/config.toml" <<EOF
version = 2
root = "$state/containerd/root"
state = "/run/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "/run/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$state/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(bash "$here/images.sh" names | sed -n 4p)"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$state/cni"
EOF
  cat >"$state/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $state/pki/ca.crt }
authorization: { mode: Webhook }
tlsCertFile: $state/pki/kubelet-serving.crt
tlsPrivateKeyFile: $state/pki/kubelet-serving.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_PARENT
failCgroupV1: false
failSwapOn: false
protectKernelDefaults: true
clusterDomain: cluster.local
clusterDNS: [$DNS_SERVICE_IP]
resolvConf: $state/kubelet/resolv.conf
volumePluginDir: $state/kubelet/volume-plugins
podLogsDir: /var/log/pods
# The disk is shared with other work: never evict for it, never collect images (nothing can be pulled back).
evictionHard: { memory.available: 200Mi }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
  # Pods with dnsPolicy Default (CoreDNS) read this; nothing outside the namespace is reachable anyway.
  echo "nameserver $DNS_SERVICE_IP" >"$state/kubelet/resolv.conf"
  cat >"$state/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $state/kubeconfigs/kube-proxy.yaml }
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Never touch the machine-wide conntrack table size.
conntrack: { maxPerCore: 0, min: 0 }
iptables: { localhostNodePorts: false }
EOF
  mkdir -p "$state/kubeconfigs"
  local user
  for user in admin controller-manager scheduler kube-proxy kubelet; do
    kubeconfig_for "$user" "https://127.0.0.1:$port" >"$state/kubeconfigs/$user.yaml"
  done
  cp "$state/kubeconfigs/admin.yaml" "$state/kubeconfig"
  chmod 600 "$state/kubeconfig" "$state"/kubeconfigs/*.yaml
}
