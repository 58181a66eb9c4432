#!/usr/bin/env bash
# make e2e: the user flows on the test cluster (test/e2e). Reuses a running cluster (make cluster-up) and
# leaves it running; otherwise starts one, takes it down at the end (or a guard does, if this script is
# killed) and checks the host is as it was before.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
node="$here/node.sh"
# The same tools as every make recipe: the pinned binaries and Node 24 from .tools first.
export PATH="$root/.tools/bin:$root/.tools/node_modules/.bin:$root/node_modules/.bin:$PATH"
data="$root/.data"
mkdir -p "$data"

started="" rc=0
if ! bash "$node" status 2>/dev/null; then
  bash "$here/host-state.sh" >"$data/e2e-host-before.txt"
  started=1
  # If this script dies before its end, the guard takes the cluster down.
  mkdir -p "$data/cluster"
  setsid bash "$node" guard "$$" >"$data/e2e-guard.log" 2>&1 </dev/null &
  bash "$node" up || rc=$?
fi

if ((rc == 0)); then
  # Volumes released by an earlier run (its claims deleted) are made Available again.
  bash "$node" volumes
  # The suite runs inside the node's network namespace: it reaches pods, Services and the Ingress directly,
  # and the kubeconfig's 127.0.0.1:<port> is the API server itself there.
  KUBECONFIG="$data/cluster/kubeconfig" bash "$root/tools/cluster-exec" \
    vitest run --config test/e2e/vitest.config.ts "$@" || rc=$?
fi

if [[ -n "$started" ]]; then
  bash "$node" down
  bash "$here/host-state.sh" >"$data/e2e-host-after.txt"
  diff -u "$data/e2e-host-before.txt" "$data/e2e-host-after.txt" >"$data/e2e-host-diff.txt" || true
  # Other work on a shared machine may change the host meanwhile: only what the cluster could have left fails.
  ours='198\.1[89]\.|cni|veth|sluice|KUBE-|kube|containerd|/\.data/|^[-+](vm|kernel|net)/'
  if grep -E '^[-+][^-+]' "$data/e2e-host-diff.txt" | grep -Eq "$ours"; then
    echo "e2e: the host differs from before the cluster started:" >&2
    cat "$data/e2e-host-diff.txt" >&2
    rc=1
  elif [[ -s "$data/e2e-host-diff.txt" ]]; then
    echo "e2e: host changes meanwhile, none the cluster's (other work on this machine):"
    grep -E '^[-+][^-+]' "$data/e2e-host-diff.txt" | sed 's/^/  /'
  else
    echo "e2e: host state after cluster-down matches the state before (iptables, links, routes, mounts, sysctls, cgroups)"
  fi
fi
exit "$rc"
