#!/usr/bin/env bash
# Can this machine run the test cluster (make cluster-up, make e2e)? Prints nothing and exits 0 when it can;
# otherwise prints every missing piece, one a line, and exits 1. Checks what the machine must offer, not
# what make builds or installs (binaries, images, Debian packages when apt-get can install them).
set -uo pipefail
missing=()
[[ "$(uname -s)" == Linux ]] || missing+=("Linux (this is $(uname -s))")
((EUID == 0)) || missing+=("root (network and mount namespaces, cgroups, iptables)")
if [[ ! -d /sys/fs/cgroup/memory || ! -w /sys/fs/cgroup/memory ]]; then
  missing+=("a writable cgroup v1 memory hierarchy at /sys/fs/cgroup/memory (the node's layout; cgroup v2-only hosts are not supported)")
fi
if ((EUID == 0)) && ! unshare --net --mount --propagation private true 2>/dev/null; then
  missing+=("new network and mount namespaces (unshare --net --mount failed)")
fi
[[ -e /proc/sys/net/bridge ]] || missing+=("the kernel's br_netfilter (/proc/sys/net/bridge)")
grep -qw overlay /proc/filesystems || missing+=("the overlay file system (containerd's snapshotter)")
command -v go >/dev/null 2>&1 || missing+=("a Go toolchain on PATH (builds Kubernetes, CoreDNS, Traefik)")
command -v gcc >/dev/null 2>&1 || command -v apt-get >/dev/null 2>&1 || missing+=("gcc (the pause image)")
if ! command -v apt-get >/dev/null 2>&1; then
  for b in containerd runc buildah mmdebstrap socat iptables; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b (no apt-get to install it)")
  done
fi
((${#missing[@]} == 0)) && exit 0
printf '%s\n' "${missing[@]}"
exit 1
