"""Bench: what tracing costs per request on the reference endpoint, against the same app untraced.

    .venv/bin/python bench/tracing_overhead.py [--seconds 4] [--connections 8] [--rounds 3]
                                               [--baseline DIR]

Runs examples/orders under uvicorn on 127.0.0.1 three ways, interleaved: tracing off,
tracing on at sample ratio 0.0, and on at 1.0 exporting over real OTLP/HTTP to a receiver
this script runs on loopback. Load: wrk on ``GET /orders/{id}`` (a seeded order; SQLite).
``--baseline DIR`` runs every case a second time against another source tree (e.g.
``git archive main | tar -x -C DIR``), interleaved with this one: before and after in one run.
The receiver checks every request is valid OTLP (protobuf parse) and counts spans, without
flattening them into dicts: a real collector runs elsewhere, not on the cores under test.
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


def _start(env: dict[str, str], port: int, db: Path,
           tree: Path | None = None) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env, "LOGSTD_MODE": "json", "DATABASE_URL": f"sqlite:///{db}",
            "PAYMENTS_URL": "http://127.0.0.1:9"}
    if tree is not None:  # the baseline tree's packages come first on the path
        full["PYTHONPATH"] = str(tree)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "orders.app:app", "--host",
                             "127.0.0.1", "--port", str(port), "--no-access-log"],
                            cwd=(tree / "examples" / "orders") if tree else ORDERS, env=full,
                            stdout=subprocess.DEVNULL,
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
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="another source tree to run every case against too (before/after)")
    ns = ap.parse_args()
    if ns.baseline is not None and not (ns.baseline / "examples" / "orders").is_dir():
        print(f"bench: {ns.baseline} has no examples/orders (a source tree of opsplane?)",
              file=sys.stderr)
        return 2
    wrk = shutil.which("wrk")
    if wrk is None:
        print("bench: wrk is not installed (bash scripts/system-deps.sh)", file=sys.stderr)
        return 1
    from tracing.testing import OtlpReceiver

    trees: list[tuple[str, Path | None]] = [("", None)]
    if ns.baseline is not None:
        trees = [("before: ", ns.baseline.resolve()), ("after: ", None)]
    names = [prefix + name for prefix, _ in trees for name, _ in CASES]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    load = []
    with OtlpReceiver(decode=False) as rx, tempfile.TemporaryDirectory() as tmp:
        for _ in range(ns.rounds):
            for name, env in CASES:
                for prefix, tree in trees:
                    port = _free_port()
                    proc = _start({**env, "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint}, port,
                                  Path(tmp) / f"orders-{port}.db", tree)
                    try:
                        url = f"http://127.0.0.1:{port}/orders/{_an_order(port)}"
                        runs[prefix + name].append(
                            _wrk(wrk, url, ns.seconds, ns.connections, proc.pid))
                    finally:
                        os.kill(proc.pid, signal.SIGTERM)
                        proc.wait(timeout=30)
                    load.append(os.getloadavg()[0])
        spans = rx.received
    rows = [(name, {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]})
            for name in names]
    base = rows[0][1]
    print(f"# bench/tracing_overhead.py  GET /orders/{{id}} on examples/orders (SQLite), "
          f"uvicorn, wrk -t1 -c{ns.connections} -d{ns.seconds}s, median of {ns.rounds} "
          f"interleaved rounds, {os.cpu_count()} cores shared with wrk; load average "
          f"(1 min) {min(load):.1f}..{max(load):.1f}, median {statistics.median(load):.1f}")
    w = max(len(n) for n in names)
    print(f"{'case':<{w}} {'req/s':>7} {'vs untraced':>12} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'CPU us/req':>11} {'CPU vs untraced':>16}")
    for name, r in rows:
        if name.startswith("after: "):
            base = rows[len(CASES)][1]  # each tree against its own untraced run
        print(f"{name:<{w}} {r['rps']:>7.0f} {r['rps'] / base['rps']:>12.0%} {r['p50']:>7.2f} "
              f"{r['p99']:>7.2f} {r['cpu_us']:>11.0f} {r['cpu_us'] / base['cpu_us']:>16.0%}")
    print(f"spans received over OTLP (valid ExportTraceServiceRequests): {spans}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
