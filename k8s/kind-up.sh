#!/usr/bin/env bash
# make kind-up: a kind cluster with Sluice installed by its Helm chart, reachable at http://localhost:8080.
# Idempotent: reuses the cluster, rebuilds and reloads the image, upgrades the release.
source "$(dirname "$0")/lib.sh"
require_tools docker kind helm kubectl

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  say "kind cluster '$CLUSTER' exists: reusing it"
else
  say "creating kind cluster '$CLUSTER' (k8s/kind-cluster.yaml maps localhost:8080 to the ingress NodePort)"
  kind create cluster --name "$CLUSTER" --config "$ROOT/k8s/kind-cluster.yaml" --wait 120s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

say "building $IMAGE"
docker build -t "$IMAGE" "$ROOT"
say "loading $IMAGE into the cluster's node"
kind load docker-image "$IMAGE" --name "$CLUSTER"

say "helm upgrade --install $RELEASE (namespace $NAMESPACE)"
helm upgrade --install "$RELEASE" "$ROOT/charts/sluice" \
  --namespace "$NAMESPACE" --create-namespace \
  --values "$ROOT/k8s/kind-values.yaml" \
  --set image.tag="${IMAGE##*:}" \
  --wait --timeout 5m
# Pods that run an image built a moment ago: roll them so a rebuilt :dev tag is picked up.
kubectl -n "$NAMESPACE" rollout restart deployment >/dev/null
kubectl -n "$NAMESPACE" rollout status deployment --timeout 180s

say "waiting for the ingress at $URL"
wait_for "GET $URL/readyz answers 200" 120 curl -fsS "$URL/readyz"
say "Sluice is up. Try:  curl \"$URL/?user_id=1\"   |   make e2e-kind   |   helm test $RELEASE -n $NAMESPACE"
