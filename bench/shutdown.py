"""The shutdown drills with larger numbers; prints tables (never asserted).

    .venv/bin/python bench/shutdown.py                      # HTTP drill, then NATS drill
    .venv/bin/python bench/shutdown.py --rate 400 --messages 5000
    .venv/bin/python bench/shutdown.py --orders --skip-nats   # the reference service

HTTP: tests/apps/slowapp.py under `opsplane serve` (a subprocess), steady load from this
process (one connection per request, every 5th request slow), SIGTERM mid-run, the
kubelet's SIGKILL after drain_delay + grace + 5 s. NATS: a real nats-server, N messages,
worker 1 gets SIGTERM mid-way, worker 2 takes the rest; counts of processed, duplicates
and lost messages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "apps"
sys.path.insert(0, str(ROOT))

from opsplane.testing.drill import ServedApp, free_port, run_drill, table  # noqa: E402


def http_drill(args: argparse.Namespace) -> None:
    payments = None
    paths: dict[str, str] = {}
    if args.orders:  # the reference service, with its payments stub and a fresh SQLite file
        orders = ROOT / "examples" / "orders"
        payments = ServedApp("payments_stub:app", orders, drain_delay=0, grace=2)
        payments.wait_ready()
        db = Path(tempfile.mkdtemp(prefix="opsplane-bench-orders-")) / "orders.db"
        served = ServedApp(None, orders, drain_delay=args.drain_delay, grace=args.grace,
                           max_in_flight=args.max_in_flight,
                           env={"PAYMENTS_URL": f"http://127.0.0.1:{payments.port}",
                                "DATABASE_URL": f"sqlite:///{db}"})
        paths = {"slow_path": "/orders/slow?ms={ms}", "fast_path": "/orders?customerId=C-1001"}
    else:
        served = ServedApp("slowapp:app", APPS, drain_delay=args.drain_delay,
                           grace=args.grace, max_in_flight=args.max_in_flight)
    try:
        served.wait_ready()
        report = run_drill(served, rate=args.rate, before=args.before,
                           after=args.drain_delay + args.after, slow_every=5,
                           slow_ms=args.slow_ms, **paths)
    finally:
        served.stop()
        if payments is not None:
            payments.stop()
    counts = report.counts()
    done = report.events("shutdown.completed")
    probes_after = [p.status for p in report.probes if p.sent > 0]
    target = "examples/orders" if args.orders else "tests/apps/slowapp.py"
    print(f"HTTP drill on {target}: {args.rate:g} req/s, SIGTERM after {args.before:g} s, "
          f"drain_delay {args.drain_delay:g} s, grace {args.grace:g} s, "
          f"every 5th request sleeps {args.slow_ms} ms")
    print(table([counts], list(counts)))
    first = next((p for p in report.probes if p.sent > 0), None)
    first_text = "no probe after the signal" if first is None else (
        f"the first probe after the signal (sent {first.sent * 1000:.0f} ms after it) got "
        f"{first.status}")
    print(f"exit code {report.exit_code}, killed by the kubelet: {report.killed}, "
          f"shutdown completed {done[0]['durationMs'] if done else '?'} ms after the signal")
    print(f"readiness: {first_text}; all probes after the signal: "
          f"{dict(Counter(probes_after))} (None = connection refused)")
    details = Counter(o.detail for o in report.outcomes if o.result != "completed")
    if details:
        print("not completed, by cause:", dict(details))


def nats_drill(args: argparse.Namespace) -> None:
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not os.path.exists(binary):
        print("NATS drill skipped: nats-server not installed")
        return
    import nats

    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    store = tempfile.mkdtemp(prefix="opsplane-bench-nats-")
    server = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    logs = [tempfile.NamedTemporaryFile(prefix="opsplane-bench-w", delete=False)  # noqa: SIM115
            for _ in range(2)]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        time.sleep(0.5)

        async def setup() -> None:
            nc = await nats.connect(url)
            js = nc.jetstream()
            await js.add_stream(name="BENCH", subjects=["bench.jobs"])
            for i in range(args.messages):
                await js.publish("bench.jobs", f"m{i}".encode())
            await nc.close()

        asyncio.run(setup())

        def start(i: int) -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, str(APPS / "nats_worker.py"), url, "BENCH", "bench.jobs",
                 "workers", str(args.worker_in_flight), str(args.message_ms),
                 str(args.grace)], stdout=logs[i], stderr=subprocess.STDOUT,
                env={**os.environ, "LOGSTD_MODE": "json", "PYTHONUNBUFFERED": "1"})

        def processed(i: int) -> list[str]:
            out = []
            for line in Path(logs[i].name).read_text().splitlines():
                if '"worker.processed"' in line:
                    out.append(json.loads(line)["messageId"])
            return out

        workers.append(start(0))
        while len(processed(0)) < args.messages // 3:
            time.sleep(0.02)
        workers[0].send_signal(signal.SIGTERM)
        code1 = workers[0].wait(timeout=args.grace + 10)
        workers.append(start(1))
        deadline = time.monotonic() + 120
        while len(processed(0)) + len(processed(1)) < args.messages and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        workers[1].send_signal(signal.SIGTERM)
        code2 = workers[1].wait(timeout=args.grace + 10)
        ids = Counter(processed(0) + processed(1))
        expected = {f"BENCH:{i}" for i in range(1, args.messages + 1)}
        row = {"published": args.messages, "worker1": len(processed(0)),
               "worker2": len(processed(1)), "processed_once": sum(v == 1 for v in ids.values()),
               "duplicates": sum(v > 1 for v in ids.values()),
               "lost": len(expected - set(ids)), "exit_codes": f"{code1},{code2}"}
        print(f"\nNATS drill: {args.messages} messages, {args.message_ms} ms each, "
              f"{args.worker_in_flight} in flight per worker, SIGTERM to worker 1 after "
              f"{args.messages // 3} processed")
        print(table([row], list(row)))
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
        server.terminate()
        server.wait()
        for f in logs:
            f.close()
            os.unlink(f.name)
        shutil.rmtree(store, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=150, help="requests per second")
    p.add_argument("--before", type=float, default=3, help="seconds of load before SIGTERM")
    p.add_argument("--after", type=float, default=3, help="seconds of load after drain_delay")
    p.add_argument("--drain-delay", type=float, default=2)
    p.add_argument("--grace", type=float, default=10)
    p.add_argument("--slow-ms", type=int, default=3000)
    p.add_argument("--max-in-flight", type=int, default=2000)
    p.add_argument("--messages", type=int, default=3000)
    p.add_argument("--message-ms", type=int, default=20)
    p.add_argument("--worker-in-flight", type=int, default=32)
    p.add_argument("--skip-nats", action="store_true")
    p.add_argument("--orders", action="store_true",
                   help="drill the reference service (examples/orders) instead of slowapp")
    args = p.parse_args()
    print(f"machine: {os.cpu_count()} cores, shared with other work while measuring; "
          "server and load generator on the same host (127.0.0.1)\n")
    http_drill(args)
    if not args.skip_nats:
        nats_drill(args)


if __name__ == "__main__":
    main()
