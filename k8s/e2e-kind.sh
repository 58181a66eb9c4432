#!/usr/bin/env bash
# make e2e-kind: on the cluster from make kind-up, through http://localhost:8080:
#   1. curl the ingress; 2. flood it until the bounded queue answers 503; 3. the QueueScaler scales the workers
#   up, then down once the queue drains; 4. pause it and scale by hand with kubectl; 5. helm test.
source "$(dirname "$0")/lib.sh"
require_tools kind helm kubectl curl
require_cluster

WORKER="deployment/$FULLNAME-worker"
SCALER="queuescaler/$FULLNAME-worker"
k() { kubectl -n "$NAMESPACE" "$@"; }
replicas() { k get "$WORKER" -o jsonpath='{.spec.replicas}'; }
min_replicas() { k get "$SCALER" -o jsonpath='{.spec.minReplicas}'; }

say "1. the seed route through the ingress"
[[ "$(curl -fsS "$URL/?user_id=1")" == "queuing user process: 1" ]] || die "unexpected answer from $URL/?user_id=1"
echo "    ok: 200 queuing user process: 1"

say "2. flood until the queue is full (503 + Retry-After)"
full=""
for i in $(seq 1 2000); do
  code="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/?user_id=flood-$i")"
  if [[ "$code" == 503 ]]; then full="$i"; break; fi
  [[ "$code" == 200 ]] || die "job $i answered $code, expected 200 or 503"
done
[[ -n "$full" ]] || die "2000 jobs were accepted without a 503: is QUEUE_MAX_MESSAGES small (k8s/kind-values.yaml)?"
echo "    ok: $((full - 1)) accepted, then 503"
curl -s -D - -o /dev/null "$URL/?user_id=one-more" | grep -i '^retry-after:' || die "the 503 carried no Retry-After"

say "3. the autoscaler scales the workers up to the backlog, then down when it drains"
wait_for "workers scaled above $(min_replicas)" 180 bash -c "[[ \$(kubectl -n $NAMESPACE get $WORKER -o jsonpath='{.spec.replicas}') -gt $(min_replicas) ]]"
echo "    workers: $(replicas)"
wait_for "queue drained (depth 0)" 600 bash -c "curl -fsS $URL/v1/queue | grep -q '\"depth\":0'"
wait_for "workers back to minReplicas ($(min_replicas))" 300 bash -c "[[ \$(kubectl -n $NAMESPACE get $WORKER -o jsonpath='{.spec.replicas}') -eq $(min_replicas) ]]"

say "4. pause the autoscaler and scale with kubectl"
k annotate "$SCALER" sluice.dev/paused=true --overwrite
wait_for "QueueScaler Paused" 60 kubectl -n "$NAMESPACE" wait "$SCALER" --for=condition=Paused --timeout=5s
k scale "$WORKER" --replicas=3
# The QueueScaler reporting 3 current replicas proves the autoscaler reconciled after the manual scale, paused.
wait_for "the autoscaler to observe 3 workers" 60 bash -c "[[ \$(kubectl -n $NAMESPACE get $SCALER -o jsonpath='{.status.currentReplicas}') -eq 3 ]]"
[[ "$(replicas)" == 3 ]] || die "paused, yet the replicas changed from 3 to $(replicas)"
echo "    ok: kubectl scale --replicas=3 held while paused"
k annotate "$SCALER" sluice.dev/paused- sluice.dev/paused-replicas=2 --overwrite
wait_for "paused-replicas=2 applied" 60 bash -c "[[ \$(kubectl -n $NAMESPACE get $WORKER -o jsonpath='{.spec.replicas}') -eq 2 ]]"
k annotate "$SCALER" sluice.dev/paused-replicas-
wait_for "QueueScaler resumed" 60 kubectl -n "$NAMESPACE" wait "$SCALER" --for=condition=Paused=False --timeout=5s

# No --logs: the smoke test's pod is deleted once it passes (hook-succeeded), and helm then fails fetching its logs.
say "5. helm test (enqueue through the ingress Service, wait for the queue to drain)"
helm test "$RELEASE" -n "$NAMESPACE" --timeout 5m
say "e2e-kind passed"
