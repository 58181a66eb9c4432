#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager and two small helpers of ours)
# from the Go module in this folder, at the versions pinned in tools/versions.env.
#
#   build.sh kube OUT_DIR      check go.mod against tools/versions.env, then build etcd, kube-apiserver and
#                              kube-controller-manager into OUT_DIR (cold: compiles most of Kubernetes)
#   build.sh node OUT_DIR      build kube-scheduler, kubelet, kube-proxy and kubectl into OUT_DIR: with the
#                              above, a whole node for `make cluster-up` (tools/cluster.mk)
#   build.sh helpers OUT_DIR   build our sluice-certgen and sluice-orphan-guard into OUT_DIR (seconds)
#   build.sh check             only the check (fails naming the mismatch)
#   build.sh pin               rewrite go.mod/go.sum for the versions in tools/versions.env (needs the module proxy)
#
# k8s.io/kubernetes replaces its k8s.io/* staging modules with ./staging paths, which only resolve inside its
# own repository; that is why `go install k8s.io/kubernetes/cmd/kube-apiserver@vX` fails and why go.mod here
# replaces each staging module with its published twin (v0.X.Y for release v1.X.Y).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"

# Make passes the pins in the environment; a direct call reads the same file.
if [[ -z "${KUBERNETES_VERSION:-}" || -z "${ETCD_VERSION:-}" ]]; then
  # shellcheck disable=SC1091
  source "$root/tools/versions.env"
fi
: "${KUBERNETES_VERSION:?not set in tools/versions.env}" "${ETCD_VERSION:?not set in tools/versions.env}"
staging_version="v0.${KUBERNETES_VERSION#v1.}"

# go.sum is committed: builds must not rewrite go.mod, and need no VCS stamp.
export GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false"
export GOTOOLCHAIN=local

# The k8s.io/* modules that k8s.io/kubernetes@KUBERNETES_VERSION builds from its staging folder.
staging_modules() {
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"
}

pin() {
  local args=(-require="k8s.io/kubernetes@$KUBERNETES_VERSION" -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  local m
  for m in $(staging_modules); do args+=(-replace="$m=$m@$staging_version"); done
  go mod edit "${args[@]}"
  go mod tidy
  check
}

check() {
  local problems=() got m
  got="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
  [[ "$got" == "$KUBERNETES_VERSION" ]] || problems+=("k8s.io/kubernetes is $got, KUBERNETES_VERSION is $KUBERNETES_VERSION")
  got="$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
  [[ "$got" == "$ETCD_VERSION" ]] || problems+=("go.etcd.io/etcd/server/v3 is $got, ETCD_VERSION is $ETCD_VERSION")
  # Every staging replacement must name the twin of KUBERNETES_VERSION.
  while read -r m got; do
    [[ "$got" == "$staging_version" ]] || problems+=("$m is replaced by $got, want $staging_version")
  done < <(go list -m -f '{{if .Replace}}{{.Path}} {{.Replace.Version}}{{end}}' all 2>/dev/null | grep '^k8s.io/' || true)
  if ((${#problems[@]})); then
    printf 'test/controlplane/go.mod disagrees with tools/versions.env:\n' >&2
    printf '  %s\n' "${problems[@]}" >&2
    printf 'run: bash test/controlplane/build.sh pin\n' >&2
    exit 1
  fi
}

# Without these stamps the binaries report v0.0.0-master, which breaks clients that read the server
# version (Helm's kubeVersion, compatibility-version defaults).
kube_ldflags() {
  local pkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version) ldflags='-s -w' p
  local minor="${KUBERNETES_VERSION#v1.}"
  minor="${minor%%.*}"
  for p in "${pkgs[@]}"; do
    ldflags+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "$ldflags"
}

build_kube() {
  local out="$1"
  mkdir -p "$out"
  check
  local gobuild=(go build -trimpath -ldflags="$(kube_ldflags)")
  "${gobuild[@]}" -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  "${gobuild[@]}" -o "$out/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
  "${gobuild[@]}" -o "$out/etcd" go.etcd.io/etcd/server/v3
}

build_node() {
  local out="$1" cmd
  mkdir -p "$out"
  check
  for cmd in kube-scheduler kubelet kube-proxy kubectl; do
    go build -trimpath -ldflags="$(kube_ldflags)" -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd"
  done
}

build_helpers() {
  local out="$1"
  mkdir -p "$out"
  go build -trimpath -ldflags='-s -w' -o "$out/sluice-certgen" ./certgen
  go build -trimpath -ldflags='-s -w' -o "$out/sluice-orphan-guard" ./orphanguard
}

case "${1:-}" in
  pin) pin ;;
  check) check ;;
  kube) build_kube "${2:?usage: build.sh kube OUT_DIR}" ;;
  node) build_node "${2:?usage: build.sh node OUT_DIR}" ;;
  helpers) build_helpers "${2:?usage: build.sh helpers OUT_DIR}" ;;
  *) echo "usage: build.sh pin | check | kube OUT_DIR | node OUT_DIR | helpers OUT_DIR" >&2; exit 2 ;;
esac
