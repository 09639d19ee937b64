#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo drive for real.
# Skips apt when every tool is already on PATH; fails loudly when one cannot be had.
set -euo pipefail
need=(jq:jq hyperfine:hyperfine prometheus:prometheus promtool:prometheus
      prometheus-alertmanager:prometheus-alertmanager amtool:prometheus-alertmanager
      nats-server:nats-server wrk:wrk
      chromium:chromium  # loadtest report: rendered and checked headless
      lnav:lnav  # bench/pretty.py compares logstd pretty with lnav
      valgrind:valgrind  # bench/tracing_overhead.py --instructions (cachegrind counts)
      pg_ctlcluster:postgresql  # tests/pg.py: initdb and pg_ctl of Debian's postgresql on loopback
      dockerd:docker.io debootstrap:debootstrap  # images and containers (scripts/docker.sh)
      gcc:gcc)  # builds logstd/*.c and tracing/*.c (the optional C extensions) at install
missing=()
for pair in "${need[@]}"; do
  tool=${pair%%:*}; pkg=${pair##*:}
  command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "system-deps: installing ${pkgs[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: need root to apt-get install ${pkgs[*]} (or install them yourself)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
for pair in "${need[@]}"; do
  tool=${pair%%:*}
  command -v "$tool" >/dev/null 2>&1 || { echo "system-deps: $tool still missing after install" >&2; exit 1; }
done
