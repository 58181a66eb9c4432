#!/usr/bin/env bash
# Builds the test cluster's add-ons from their Go modules, static (they run in images from scratch), at the
# versions pinned in tools/versions.env:
#
#   build.sh coredns OUT_DIR   tools/cluster/coredns: CoreDNS with the plugins the cluster's Corefile uses
#   build.sh traefik OUT_DIR   tools/cluster/traefik: Traefik, the ingress controller
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck disable=SC1091
source "$root/tools/versions.env"
export GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0

# check <module dir> <module path> <pinned version>: go.mod must require exactly the pin.
check() {
  local got
  got="$(cd "$1" && go list -m -f '{{.Version}}' "$2")"
  [[ "$got" == "$3" ]] || {
    echo "$1/go.mod requires $2 $got, tools/versions.env pins $3: edit the require line, then go mod tidy" >&2
    exit 1
  }
}

case "${1:-}" in
  coredns)
    check "$here/coredns" github.com/coredns/coredns "$COREDNS_VERSION"
    cd "$here/coredns" && go build -trimpath -ldflags='-s -w' -o "${2:?OUT_DIR}/coredns" .
    ;;
  traefik)
    check "$here/traefik" github.com/traefik/traefik/v3 "$TRAEFIK_VERSION"
    cd "$here/traefik" && go build -trimpath \
      -ldflags="-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
      -o "${2:?OUT_DIR}/traefik" github.com/traefik/traefik/v3/cmd/traefik
    ;;
  *) echo "usage: build.sh coredns|traefik OUT_DIR" >&2; exit 2 ;;
esac
