#!/usr/bin/env bash
# make kind-down: deletes the kind cluster (and with it the release and its volumes).
source "$(dirname "$0")/lib.sh"
require_tools kind
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  say "deleting kind cluster '$CLUSTER'"
  kind delete cluster --name "$CLUSTER"
else
  say "kind cluster '$CLUSTER' does not exist: nothing to do"
fi
