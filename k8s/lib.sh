# Shared by the kind scripts: settings, tool checks and a wait-for-condition helper. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER:-sluice}"
NAMESPACE="${SLUICE_NAMESPACE:-sluice}"
RELEASE="${SLUICE_RELEASE:-sluice}"
IMAGE="${SLUICE_IMAGE:-sluice:dev}"
# The chart's object prefix (sluice.fullname): the release name when it contains "sluice", else "<release>-sluice".
if [[ "$RELEASE" == *sluice* ]]; then FULLNAME="$RELEASE"; else FULLNAME="$RELEASE-sluice"; fi
URL="${SLUICE_URL:-http://localhost:8080}"
# The pinned helm (make helm-tool) first, like every other tool of ours.
export PATH="$ROOT/.tools/bin:$PATH"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Checks every tool at once and names each missing one with where to get it, then stops.
require_tools() {
  local missing=() tool
  declare -A hint=(
    [docker]="a Docker engine (Docker Desktop, or docker-ce): https://docs.docker.com/engine/install/"
    [kind]="kind: go install sigs.k8s.io/kind@latest (or https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
    [helm]="helm: make helm-tool (builds the pinned version into .tools/bin)"
    [kubectl]="kubectl: https://kubernetes.io/docs/tasks/tools/"
    [curl]="curl: your package manager (apt-get install curl)"
  )
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  local problems=()
  for tool in "${missing[@]}"; do problems+=("${hint[$tool]:-$tool}"); done
  # A docker client without a running engine is the common case on CI machines: say so plainly.
  if [[ " $* " == *" docker "* ]] && command -v docker >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
    problems+=("a running Docker engine: docker is installed but 'docker info' gets no answer (start Docker, or set DOCKER_HOST)")
  fi
  if ((${#problems[@]} > 0)); then
    printf 'error: %s needs, and cannot find:\n' "$(basename "$0")" >&2
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
  fi
}

require_cluster() {
  kind get clusters 2>/dev/null | grep -qx "$CLUSTER" || die "kind cluster '$CLUSTER' does not exist: run make kind-up first"
  kubectl config use-context "kind-$CLUSTER" >/dev/null
}

# wait_for <description> <timeout seconds> <command...>: reruns the command until it succeeds or time runs out.
wait_for() {
  local what="$1" timeout="$2" deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for: $what"
    sleep 2
  done
  printf '    ok: %s\n' "$what"
}
