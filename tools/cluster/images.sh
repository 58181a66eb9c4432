#!/usr/bin/env bash
# Builds every image the test cluster runs, with buildah and no registry, and writes each as a docker-archive
# into .data/images/ for tools/cluster/node.sh to import into the node's containerd.
#
#   images.sh build    base (Debian + Node), sluice (the repo's Dockerfile, all stages), handlers (the
#                      example handlers' Dockerfile on sluice), nats, pause, coredns, traefik; an image
#                      whose inputs did not change is not rebuilt
#   images.sh list     the archives and the image names they hold, one "archive name" per line
#
# Needs root, buildah, mmdebstrap, gcc and the binaries from `make cluster-tools` (tools/cluster.mk).
# Buildah keeps its storage under .data/images/ (not /var/lib/containers), so `make clean` removes it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck disable=SC1091
source "$root/tools/versions.env"

out="$root/.data/images"
bin="$root/.tools/bin"
# buildah needs runc here (crun refuses cgroup v1 hybrids) and ulimits below the hard limits (no CAP_SYS_RESOURCE).
buildah=(buildah --root "$out/storage" --runroot "$out/run" --storage-driver overlay)
limits=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

node_bin="$root/.tools/node_modules/node/bin/node"
node_full="$("$node_bin" -p process.versions.node 2>/dev/null || true)"

# The image names the chart and the node use (charts/sluice/ci/cluster-values.yaml names the same).
BASE_IMAGE="localhost/sluice-node-base:$node_full-$DEBIAN_SUITE"
SLUICE_IMAGE="localhost/sluice:dev"
# examples/typescript-handlers built on SLUICE_IMAGE, as a user builds theirs (test/e2e runs workers on it).
HANDLERS_IMAGE="localhost/sluice-example-handlers:dev"
NATS_IMAGE="localhost/nats:${NATS_SERVER_VERSION#v}"
PAUSE_IMAGE="localhost/pause:$PAUSE_VERSION"
COREDNS_IMAGE="localhost/coredns:${COREDNS_VERSION#v}"
TRAEFIK_IMAGE="localhost/traefik:${TRAEFIK_VERSION#v}"

say() { printf '==> %s\n' "$*" >&2; }

# fresh <stamp> <inputs...>: true when the stamp is missing or older than an input (then the caller rebuilds).
stale() {
  local stamp="$1" f
  shift
  [[ -f "$stamp" ]] || return 0
  for f in "$@"; do
    if [[ -d "$f" ]]; then
      [[ -z "$(find "$f" -newer "$stamp" -print -quit)" ]] || return 0
    else
      [[ "$f" -nt "$stamp" ]] && return 0
    fi
  done
  return 1
}

# save <image> <archive>: writes a docker-archive that `ctr images import` reads, named as the image.
save() {
  rm -f "$2"
  "${buildah[@]}" push --quiet "$1" "docker-archive:$2:$1" >/dev/null
}

# The package registries are reached through this machine's CAs (/usr/local/share/ca-certificates): the local
# base trusts them too, or `npm ci` in the Dockerfile fails with SELF_SIGNED_CERT_IN_CHAIN.
trust_hook() {
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    printf '%s' "cp /usr/local/share/ca-certificates/*.crt \"\$1/usr/local/share/ca-certificates/\" && chroot \"\$1\" update-ca-certificates >/dev/null && mkdir -p \"\$1/usr/local/etc\" && echo cafile=/etc/ssl/certs/ca-certificates.crt > \"\$1/usr/local/etc/npmrc\""
  else
    printf 'true'
  fi
}

# A Debian root file system with Node and npm, and the `node` user (uid/gid 1000) of the official images.
build_base() {
  local archive="$out/base.tar" rootfs="$out/base-rootfs.tar"
  stale "$archive" "$node_bin" "$here/images.sh" "$root/tools/versions.env" || return 0
  say "base: mmdebstrap $DEBIAN_SUITE + node $node_full + npm $NPM_VERSION"
  local npm_tgz
  npm_tgz="$(cd "$out" && npm pack --silent "npm@$NPM_VERSION")"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates \
    --customize-hook="install -m 0755 '$node_bin' \"\$1/usr/local/bin/node\"" \
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '$out/$npm_tgz' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1" \
    --customize-hook="ln -s ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\"" \
    --customize-hook="$(trust_hook)" \
    --customize-hook="echo 'node:x:1000:' >> \"\$1/etc/group\"" \
    --customize-hook="echo 'node:x:1000:1000::/home/node:/bin/sh' >> \"\$1/etc/passwd\"" \
    --customize-hook="echo 'node:*:19000:0:99999:7:::' >> \"\$1/etc/shadow\"" \
    --customize-hook="install -d -o 1000 -g 1000 \"\$1/home/node\"" \
    --customize-hook="rm -rf \"\$1\"/var/cache/apt/* \"\$1\"/var/lib/apt/lists/* \"\$1\"/usr/share/doc/* \"\$1\"/usr/share/man/*" \
    "$DEBIAN_SUITE" "$rootfs"
  rm -f "$out/$npm_tgz"
  local ctr
  ctr="$("${buildah[@]}" from scratch)"
  "${buildah[@]}" add --quiet "$ctr" "$rootfs" /
  "${buildah[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --workingdir / --cmd '["node"]' "$ctr"
  "${buildah[@]}" commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
  rm -f "$rootfs"
  save "$BASE_IMAGE" "$archive"
}

# The repo's own Dockerfile, every stage, on the local base.
build_sluice() {
  local archive="$out/sluice.tar"
  stale "$archive" "$out/base.tar" "$root/Dockerfile" "$root/package-lock.json" "$root/apps" "$root/packages" || return 0
  say "sluice: buildah bud Dockerfile (NODE_IMAGE=$BASE_IMAGE)"
  # npm ci in the deps stage reaches the npm registry: host network for RUN steps.
  "${buildah[@]}" bud --quiet "${limits[@]}" --network host --layers --force-rm \
    --build-arg "NODE_IMAGE=$BASE_IMAGE" -t "$SLUICE_IMAGE" -f "$root/Dockerfile" "$root" >/dev/null
  save "$SLUICE_IMAGE" "$archive"
}

# The example handlers' own Dockerfile, on the image just built: what docs/your-own-jobs.md tells users to do.
build_handlers() {
  local archive="$out/handlers.tar" dir="$root/examples/typescript-handlers"
  stale "$archive" "$out/sluice.tar" "$dir" || return 0
  say "handlers: buildah bud examples/typescript-handlers (SLUICE_IMAGE=$SLUICE_IMAGE)"
  "${buildah[@]}" bud --quiet "${limits[@]}" --layers --force-rm \
    --build-arg "SLUICE_IMAGE=$SLUICE_IMAGE" -t "$HANDLERS_IMAGE" -f "$dir/Dockerfile" "$dir" >/dev/null
  save "$HANDLERS_IMAGE" "$archive"
}

# from_scratch <image> <archive> <config args...> -- <src:dst>...: a one-layer image of a few files.
from_scratch() {
  local image="$1" archive="$2" ctr
  shift 2
  local config=()
  while [[ "$1" != -- ]]; do config+=("$1"); shift; done
  shift
  ctr="$("${buildah[@]}" from scratch)"
  local pair
  for pair in "$@"; do "${buildah[@]}" copy --quiet "$ctr" "${pair%%:*}" "${pair#*:}" >/dev/null; done
  "${buildah[@]}" config "${config[@]}" "$ctr"
  "${buildah[@]}" commit --quiet --rm "$ctr" "$image" >/dev/null
  save "$image" "$archive"
}

# The pinned nats-server on the local base: it is linked against glibc, and the chart's preStop runs
# `nats-server --signal` in the container.
build_nats() {
  local archive="$out/nats.tar" ctr
  stale "$archive" "$out/base.tar" "$bin/nats-server" || return 0
  say "nats: nats-server $NATS_SERVER_VERSION"
  ctr="$("${buildah[@]}" from "$BASE_IMAGE")"
  "${buildah[@]}" copy --quiet "$ctr" "$bin/nats-server" /usr/local/bin/nats-server >/dev/null
  "${buildah[@]}" config --entrypoint '["nats-server"]' --cmd '' --user 1000:1000 --port 4222 "$ctr"
  "${buildah[@]}" commit --quiet --rm "$ctr" "$NATS_IMAGE" >/dev/null
  save "$NATS_IMAGE" "$archive"
}

# Every pod's sandbox: a static C program that sleeps until signalled (registry.k8s.io/pause does the same).
build_pause() {
  local archive="$out/pause.tar"
  stale "$archive" "$here/pause.c" || return 0
  say "pause: gcc -static pause.c"
  gcc -static -Os -o "$out/pause" "$here/pause.c"
  strip "$out/pause"
  from_scratch "$PAUSE_IMAGE" "$archive" --entrypoint '["/pause"]' --user 65535:65535 -- "$out/pause:/pause"
}

build_coredns() {
  local archive="$out/coredns.tar"
  [[ -x "$bin/coredns" ]] || { echo "images.sh: no $bin/coredns (make cluster-tools)" >&2; return 1; }
  stale "$archive" "$bin/coredns" || return 0
  say "coredns: $COREDNS_VERSION"
  from_scratch "$COREDNS_IMAGE" "$archive" --entrypoint '["/coredns"]' -- "$bin/coredns:/coredns"
}

build_traefik() {
  local archive="$out/traefik.tar"
  [[ -x "$bin/traefik" ]] || { say "traefik: not built (make cluster-tools), skipped"; return 0; }
  stale "$archive" "$bin/traefik" || return 0
  say "traefik: $TRAEFIK_VERSION"
  from_scratch "$TRAEFIK_IMAGE" "$archive" --entrypoint '["/traefik"]' -- "$bin/traefik:/traefik"
}

list() {
  local pair
  for pair in sluice.tar:"$SLUICE_IMAGE" handlers.tar:"$HANDLERS_IMAGE" nats.tar:"$NATS_IMAGE" pause.tar:"$PAUSE_IMAGE" \
    coredns.tar:"$COREDNS_IMAGE" traefik.tar:"$TRAEFIK_IMAGE"; do
    [[ -f "$out/${pair%%:*}" ]] && printf '%s %s\n' "$out/${pair%%:*}" "${pair#*:}"
  done
  return 0
}

# Buildah leaves its storage's own mount (and a failed step's container) behind: undo both on the way out,
# so the host's mount table is as before.
release_storage() {
  "${buildah[@]}" rm --all >/dev/null 2>&1 || true
  umount "$out/storage/overlay" 2>/dev/null || true
}

case "${1:-}" in
  build)
    trap release_storage EXIT
    [[ -n "$node_full" ]] || { echo "images.sh: no Node in .tools (run make setup)" >&2; exit 1; }
    mkdir -p "$out"
    for image in base sluice handlers nats pause coredns traefik; do
      start=$SECONDS
      "build_$image"
      say "$image: $((SECONDS - start)) s"
    done
    ;;
  list) list ;;
  names) printf '%s\n' "$BASE_IMAGE" "$SLUICE_IMAGE" "$NATS_IMAGE" "$PAUSE_IMAGE" "$COREDNS_IMAGE" "$TRAEFIK_IMAGE" "$HANDLERS_IMAGE" ;;
  *) echo "usage: images.sh build | list | names" >&2; exit 2 ;;
esac
