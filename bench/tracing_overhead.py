"""Bench: what tracing costs per request on the reference endpoint, against the same app untraced.

    .venv/bin/python bench/tracing_overhead.py [--seconds 4] [--connections 8] [--rounds 3]

Runs examples/orders under uvicorn on 127.0.0.1 three ways, interleaved: tracing off,
tracing on at sample ratio 0.0, and on at 1.0 exporting over real OTLP/HTTP to a receiver
this script runs on loopback. Load: wrk on ``GET /orders/{id}`` (a seeded order; SQLite).
Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ORDERS = ROOT / "examples" / "orders"
sys.path.insert(0, str(ROOT))

from service import _free_port, _wrk  # noqa: E402  (bench/service.py: the shared wrk harness)

CASES = (("untraced", {"OPSPLANE_TRACING": "false"}),
         ("traced, ratio 0.0", {"OPSPLANE_TRACING": "true", "OTEL_TRACES_SAMPLER_ARG": "0"}),
         ("traced, ratio 1.0", {"OPSPLANE_TRACING": "true", "OTEL_TRACES_SAMPLER_ARG": "1"}),
         ("ratio 1.0, no export", {"OPSPLANE_TRACING": "true", "OTEL_TRACES_SAMPLER_ARG": "1",
                                   "OTEL_TRACES_EXPORTER": "none"}))


def _start(env: dict[str, str], port: int, db: Path) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env, "LOGSTD_MODE": "json", "DATABASE_URL": f"sqlite:///{db}",
            "PAYMENTS_URL": "http://127.0.0.1:9"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "orders.app:app", "--host",
                             "127.0.0.1", "--port", str(port), "--no-access-log"],
                            cwd=ORDERS, env=full, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/ping", timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"bench: orders did not start on port {port}")


def _an_order(port: int) -> str:
    url = f"http://127.0.0.1:{port}/orders?customerId=C-1001"
    with urllib.request.urlopen(url, timeout=5) as r:
        return str(orjson.loads(r.read())["orders"][0]["id"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ns = ap.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("bench: wrk is not installed (bash scripts/system-deps.sh)", file=sys.stderr)
        return 1
    from tracing.testing import OtlpReceiver

    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in CASES}
    with OtlpReceiver() as rx, tempfile.TemporaryDirectory() as tmp:
        for _ in range(ns.rounds):
            for name, env in CASES:
                port = _free_port()
                proc = _start({**env, "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint}, port,
                              Path(tmp) / f"orders-{port}.db")
                try:
                    url = f"http://127.0.0.1:{port}/orders/{_an_order(port)}"
                    runs[name].append(_wrk(wrk, url, ns.seconds, ns.connections, proc.pid))
                finally:
                    os.kill(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=30)
        spans = len(rx.spans)
    rows = [(name, {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]})
            for name, _ in CASES]
    base = rows[0][1]
    print(f"# bench/tracing_overhead.py  GET /orders/{{id}} on examples/orders (SQLite), "
          f"uvicorn, wrk -t1 -c{ns.connections} -d{ns.seconds}s, median of {ns.rounds} "
          f"interleaved rounds, {os.cpu_count()} cores shared with wrk")
    print(f"{'case':<20} {'req/s':>7} {'vs untraced':>12} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'CPU us/req':>11} {'CPU vs untraced':>16}")
    for name, r in rows:
        print(f"{name:<20} {r['rps']:>7.0f} {r['rps'] / base['rps']:>12.0%} {r['p50']:>7.2f} "
              f"{r['p99']:>7.2f} {r['cpu_us']:>11.0f} {r['cpu_us'] / base['cpu_us']:>16.0%}")
    print(f"spans received over OTLP: {spans}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
