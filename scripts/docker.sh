#!/usr/bin/env bash
# Docker for the project's own use: the daemon, the Python base image, the service image.
#
#   scripts/docker.sh install   apt-get docker.io and debootstrap when missing (root)
#   scripts/docker.sh daemon    install, then start dockerd when nothing answers `docker info`
#                               (log: $OPSPLANE_DOCKER_STATE/dockerd.log, pid: .../dockerd.pid)
#   scripts/docker.sh base      daemon, then print the tag of a Python base image, making it when
#                               needed: python:3.11-slim-bookworm when it is present or can be
#                               pulled, otherwise opsplane/python-base:bookworm built once from
#                               Debian packages (debootstrap minbase + python3, docker import)
#   scripts/docker.sh image [TAG]
#                               base, host wheels (pip wheel), then the orders image
#                               (default tag opsplane/orders:local); prints the tag. Skipped
#                               when TAG's label says it was built from today's sources on
#                               this base (OPSPLANE_IMAGE_REBUILD=1 builds anyway)
#   scripts/docker.sh wheels    build/wheels (the dependencies of opsplane[postgres]) and
#                               build/wheel-opsplane (opsplane's own), made on the host (no
#                               daemon needed); skipped when build/wheels/.source matches the
#                               sources; prints the two directories
#   scripts/docker.sh check     exit 0 when a daemon answers, else one line saying how to start it
#   scripts/docker.sh stop      stop the dockerd this script started (by its recorded pid)
#
# Every step is idempotent: a running daemon is reused, a tagged base is never rebuilt.
# Only the last line of `base` and `image` goes to stdout (the tag), progress goes to stderr.
# Exit codes: 0 ok, 2 no usable daemon (or not root where root is needed), 1 a build failed.
#
# Environment:
#   OPSPLANE_DOCKER_STATE  where dockerd's log and pid live (default /var/tmp/opsplane-docker)
#   OPSPLANE_DOCKER_START  0: never install or start a daemon, only use one that answers
#                          (also the case when DOCKER_HOST names the daemon)
#   OPSPLANE_BASE          debian: the Debian-built base even when the slim image is there
#   OPSPLANE_BASE_TAG      the Debian-built base's tag (default opsplane/python-base:bookworm)
#   OPSPLANE_PULL          0: do not try to pull python:3.11-slim-bookworm
#   DEBIAN_MIRROR          debootstrap's mirror (default http://deb.debian.org/debian)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
state=${OPSPLANE_DOCKER_STATE:-/var/tmp/opsplane-docker}
base_tag=${OPSPLANE_BASE_TAG:-opsplane/python-base:bookworm}
slim_tag=python:3.11-slim-bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
start_hint="start it with: sudo scripts/docker.sh daemon (or: sudo systemctl start docker)"

say() { echo "docker.sh: $*" >&2; }

answers() { docker info >/dev/null 2>&1; }

cmd_check() {
  if ! command -v docker >/dev/null 2>&1; then
    say "no docker client; install it with: sudo scripts/docker.sh install"
    exit 2
  fi
  if ! answers; then
    say "no Docker daemon answers (docker info failed); $start_hint"
    exit 2
  fi
}

cmd_install() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "need root to apt-get install ${missing[*]} (or install them yourself)"
    exit 2
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # another apt may be running (other setup steps): wait for its lock rather than fail
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" \
      >/dev/null 2>&1 \
    || { apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null \
         && apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
              "${missing[@]}" >/dev/null; }
}

cmd_daemon() {
  answers && return 0
  # a daemon named elsewhere (DOCKER_HOST) or starting turned off: only say how to start one
  if [ "${OPSPLANE_DOCKER_START:-1}" = 0 ] || [ -n "${DOCKER_HOST:-}" ]; then cmd_check; fi
  cmd_install
  if [ "$(id -u)" -ne 0 ]; then
    say "no Docker daemon answers and starting one needs root; $start_hint"
    exit 2
  fi
  mkdir -p "$state"
  local pidfile=$state/dockerd.pid log=$state/dockerd.log
  if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    say "dockerd (pid $(cat "$pidfile")) is starting; waiting for it"
  else
    say "starting dockerd (log: $log)"
    # setsid: the daemon outlives this script and the shell that ran it
    setsid dockerd --pidfile "$state/dockerd.self.pid" >>"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
  fi
  local pid; pid=$(cat "$pidfile")
  # wait for the daemon's own "API listen" line, bounded: the event, not a poll without end
  local deadline=$((SECONDS + 60))
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "dockerd exited at start (its log: $log); $start_hint"
      exit 2
    fi
    if [ $SECONDS -ge $deadline ]; then
      say "dockerd (pid $pid) did not answer within 60 s; see $log"
      exit 2
    fi
    # inotify-free wait: block on the log growing, at most 0.2 s
    timeout 0.2 tail -n 0 -f "$log" 2>/dev/null | grep -q -m1 'API listen' || true
  done
  say "dockerd up (pid $pid)"
}

cmd_stop() {
  local pidfile=$state/dockerd.pid
  [ -s "$pidfile" ] || { say "no dockerd started by this script"; return 0; }
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
      timeout 0.5 tail --pid="$pid" -f /dev/null || true
    done
  fi
  rm -f "$pidfile"
}

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

build_debian_base() {
  cmd_install
  if [ "$(id -u)" -ne 0 ]; then
    say "building $base_tag needs root (debootstrap)"
    exit 2
  fi
  local tmp; tmp=$(mktemp -d /var/tmp/opsplane-base.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  say "building $base_tag with debootstrap (about a minute, once)"
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$tmp/root" "$mirror" \
    >"$tmp/debootstrap.log" 2>&1 \
    || { say "debootstrap failed; last lines:"; tail -n 5 "$tmp/debootstrap.log" >&2; exit 1; }
  # trim what a container never uses: apt lists, docs, man pages, caches
  rm -rf "$tmp/root"/var/lib/apt/lists/* "$tmp/root"/var/cache/apt/*.bin \
         "$tmp/root"/var/cache/apt/archives/*.deb \
         "$tmp/root"/usr/share/doc/* "$tmp/root"/usr/share/man/* "$tmp/root"/usr/share/info/*
  # `python` as on the registry's python images (the Dockerfile's HEALTHCHECK calls it)
  ln -sf python3 "$tmp/root/usr/bin/python"
  tar -C "$tmp/root" -c . \
    | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        --message "debootstrap --variant=minbase --include=python3,python3-venv bookworm" \
        - "$base_tag" >/dev/null
  rm -rf "$tmp"
  trap - EXIT
}

# the base image: the registry's slim image when we have it or can pull it, else Debian-built
cmd_base() {
  cmd_daemon
  if [ "${OPSPLANE_BASE:-}" = debian ]; then :
  elif has_image "$slim_tag"; then echo "$slim_tag"; return 0
  elif [ "${OPSPLANE_PULL:-1}" != 0 ] && timeout 60 docker pull -q "$slim_tag" >/dev/null 2>&1
  then
    echo "$slim_tag"; return 0
  fi
  has_image "$base_tag" || build_debian_base
  echo "$base_tag"
}

# what the wheels and the image are made of: every source file the wheel and the app take
source_hash() {
  ( cd "$root" && find pyproject.toml README.md logstd opsplane loadtest tracing dashboards \
      alerts examples/orders/Dockerfile examples/orders/orders examples/orders/payments_stub.py \
      examples/orders/service.yaml -type f \( -name '*.py' -o -name '*.c' -o -name '*.h' \
      -o -name '*.pyi' -o -name '*.yaml' -o -name '*.toml' -o -name '*.md' -o -name py.typed \
      -o -name Dockerfile \) -not -path '*/__pycache__/*' -print0 \
    | sort -z | xargs -0 sha256sum ) | sha256sum | cut -c1-16
}

# build/wheels: opsplane[postgres]'s dependencies as wheels, and build/wheel-opsplane: the
# project's own wheel (apart, so that the image's layer of dependencies stays cached while the
# sources change); built on the host, skipped when build/wheels/.source matches the sources.
# Prints the two directories.
cmd_wheels() {
  mkdir -p "$root/build"
  exec 8>"$root/build/.wheels.lock"
  flock 8
  local wheels=$root/build/wheels own=$root/build/wheel-opsplane log=$root/build/pip-wheel.log
  local hash; hash=$(source_hash)
  if [ "$(cat "$wheels/.source" 2>/dev/null)" = "$hash" ] && ls "$own"/opsplane-*.whl >/dev/null 2>&1
  then
    echo "$wheels"; echo "$own"; return 0
  fi
  # pip of the project's venv, else of a small venv made for this (a fresh machine: no
  # `make` setup needed to build the image)
  local py=${PYTHON:-$root/.venv/bin/python}
  if [ ! -x "$py" ]; then
    py=$root/build/wheel-venv/bin/python
    [ -x "$py" ] || python3 -m venv "$root/build/wheel-venv" \
      || { say "python3 -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
  fi
  rm -rf "$wheels" "$own"; mkdir -p "$wheels" "$own"
  say "building wheels on the host (pip wheel '.[postgres]' -> build/wheels, build/wheel-opsplane)"
  "$py" -m pip wheel --disable-pip-version-check --wheel-dir "$wheels" "$root[postgres]" \
      >"$log" 2>&1 \
    || { say "pip wheel failed; last lines of $log:"; tail -n 5 "$log" >&2; exit 1; }
  mv "$wheels"/opsplane-*.whl "$own"/
  echo "$hash" >"$wheels/.source"
  echo "$wheels"; echo "$own"
}

cmd_image() {
  local tag=${1:-opsplane/orders:local} base
  base=$(cmd_base)
  mkdir -p "$root/build"
  # one build at a time (the stack and the container test both ask for the image)
  exec 9>"$root/build/.image.lock"
  flock 9
  cmd_wheels >/dev/null
  local hash log=$root/build/docker-build.log
  hash=$( { docker image inspect -f '{{.Id}}' "$base"; cat "$root/build/wheels/.source"; } \
          | sha256sum | cut -c1-16)
  if [ "${OPSPLANE_IMAGE_REBUILD:-0}" != 1 ] && [ "$(docker image inspect \
       -f '{{index .Config.Labels "org.opsplane.source"}}' "$tag" 2>/dev/null)" = "$hash" ]; then
    say "$tag is up to date (sources and base $hash)"
    echo "$tag"; return 0
  fi
  say "building $tag on $base"
  # the build stage gets a tag of its own, so that its layers (the dependencies' above all)
  # stay as the next build's cache; its previous image, left dangling, is pruned.
  # The classic builder: Debian's docker.io has no buildx beside it.
  local stage_tag; stage_tag="opsplane/build-stage:$(echo "$tag" | tr '/:' '--')"
  local target
  for target in build runtime; do
    DOCKER_BUILDKIT=0 docker build --quiet --build-arg "PYTHON_IMAGE=$base" --target "$target" \
        --label "org.opsplane.source=$hash" --label "org.opsplane.base=$base" \
        -f "$root/examples/orders/Dockerfile" \
        -t "$([ "$target" = build ] && echo "$stage_tag" || echo "$tag")" "$root" \
        >/dev/null 2>"$log" \
      || { say "docker build failed; last lines of $log:"; tail -n 5 "$log" >&2; exit 1; }
  done
  # the images these tags had before (and their build stages), left dangling
  docker image prune --force --filter label=org.opsplane.source >/dev/null
  echo "$tag"
}

case "${1:-}" in
  install) cmd_install ;;
  daemon) cmd_daemon ;;
  check) cmd_check ;;
  stop) cmd_stop ;;
  base) cmd_base ;;
  image) shift; cmd_image "$@" ;;
  wheels) cmd_wheels ;;
  *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
