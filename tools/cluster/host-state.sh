#!/usr/bin/env bash
# Prints what the test cluster must leave as it found it on the host: iptables rules (both back ends), links,
# addresses, routes, mounts, the namespace-relevant sysctls, cgroups named after the cluster, /var/lib/cni.
# `make e2e` saves it before the cluster starts and compares after cluster-down.
set -uo pipefail
section() { printf '## %s\n' "$1"; }
section iptables-nft; iptables-nft-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
section iptables-legacy; iptables-legacy-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
section links; ip -o link show | sed 's/^[0-9]*: //' | awk '{print $1, $2}' | sort
section addresses; ip -o addr show | awk '{print $2, $3, $4}' | sort
section routes; ip route show table all | sort
section mounts; awk '{print $2, $3}' /proc/self/mounts | sort
section sysctls
for k in vm/overcommit_memory kernel/panic kernel/panic_on_oops net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables; do
  printf '%s=%s\n' "$k" "$(cat "/proc/sys/$k" 2>/dev/null)"
done
section cgroups; find /sys/fs/cgroup -maxdepth 2 -name 'sluice-cluster*' 2>/dev/null | sort
section files; ls -d /var/lib/cni /run/containerd /etc/cni 2>/dev/null
exit 0
