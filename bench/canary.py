"""Bench: the canary driving many targets on one core.

    .venv/bin/python bench/canary.py [--targets 200] [--interval 30] [--seconds 150]
                                     [--failing 0.05] [--store-url URL]

Starts a tiny HTTP target server (plain asyncio, keep-alive, pinned to the second core)
and ``opsplane canary`` itself (the real service: uvicorn, the kit, the store) pinned to
the first core with ``taskset``. Each target runs a two-request collection; ``--failing``
of them expect a status they never get (their failure details are stored). After the
first interval (the starts spread over it) it samples the canary's CPU time from
/proc for the rest of the run. Afterwards it reads the store: each scheduled run's start
skew against its schedule (p50/p99/max), and the bytes stored per run, scaled to a day.
Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import yaml

from opsplane.testing.procs import free_port

TICK = os.sysconf("SC_CLK_TCK")
SERVER = textwrap.dedent("""
    import asyncio, sys
    BODY = b'{"status":"pass","orders":[]}'
    HEAD = (b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\ncontent-length: "
            + str(len(BODY)).encode() + b"\\r\\n\\r\\n")
    async def handle(reader, writer):
        try:
            while True:
                line = await reader.readuntil(b"\\r\\n\\r\\n")
                if not line:
                    break
                writer.write(HEAD + BODY)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=1024)
        async with server:
            await server.serve_forever()
    asyncio.run(main())
""")
COLLECTION = """\
version: 1
name: bench
requests:
  - name: readiness
    url: /healthz/readiness
    expect: {status: 200}
  - name: list orders
    url: /orders
    query: {customerId: C-1}
    expect:
      status: {status}
      json:
        - {path: $.orders, type: array}
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def _pin(core: int) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(core)] if taskset and (os.cpu_count() or 1) > 1 else []


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def run(targets: int, interval: float, seconds: float, failing: float,
        store_url: str | None) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="canary-bench-"))
    tport, cport = free_port(), free_port()
    (work / "target.py").write_text(SERVER)
    (work / "test.ok.yaml").write_text(COLLECTION.replace("{status}", "200"))
    (work / "test.bad.yaml").write_text(COLLECTION.replace("{status}", "201"))
    n_bad = round(targets * failing)
    registry = {
        "version": 1, "concurrency": 32, "jitter": 0.1,
        "store": {"url": store_url or "sqlite:///canary.db", "retention": "14d"},
        "targets": [{"service": f"s{i:03d}", "environment": "prod",
                     "baseUrl": f"http://127.0.0.1:{tport}",
                     "collections": ["test.bad.yaml" if i < n_bad else "test.ok.yaml"],
                     "interval": f"{interval:g}s"} for i in range(targets)]}
    (work / "canary.yaml").write_text(yaml.safe_dump(registry))
    env = {**os.environ, "LOGSTD_MODE": "json"}
    server = subprocess.Popen([*_pin(1), sys.executable, str(work / "target.py"), str(tport)])
    log = (work / "canary.log").open("wb")
    canary = subprocess.Popen(
        [*_pin(0), sys.executable, "-m", "opsplane.cli.main", "canary", "-c",
         str(work / "canary.yaml"), "--host", "127.0.0.1", "--port", str(cport),
         "--drain-delay", "0", "--grace", "5"], cwd=work, env=env, stdout=log, stderr=log)
    try:
        _wait_up(f"http://127.0.0.1:{cport}/healthz/readiness", canary)
        t_start = time.monotonic()
        warm = min(interval, seconds / 3)
        time.sleep(warm)  # the first starts spread over one interval
        cpu0, t0 = _cpu_seconds(canary.pid), time.monotonic()
        time.sleep(max(0.0, seconds - warm))
        cpu1, t1 = _cpu_seconds(canary.pid), time.monotonic()
        rss_kib = next(int(line.split()[1]) for line in
                       Path(f"/proc/{canary.pid}/status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
    finally:
        canary.terminate()
        canary.wait(timeout=60)
        server.terminate()
        server.wait(timeout=10)
        log.close()
    out: dict[str, float] = {"cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0),
                             "seconds": t1 - t_start, "rss_mib": rss_kib / 1024}
    if store_url is None:
        db = work / "canary.db"
        con = sqlite3.connect(db)
        try:
            skews = [r[0] for r in con.execute(
                "SELECT skew_s FROM runs WHERE trigger = 'schedule'")]
            outcomes = dict(con.execute("SELECT outcome, COUNT(*) FROM runs GROUP BY 1")
                            .fetchall())
            con.execute("VACUUM")
            runs = len(skews)
        finally:
            con.close()
        size = db.stat().st_size
        per_day = targets * 86400 / interval
        out.update(runs=runs, skew_p50_ms=1000 * _pct(skews, 50),
                   skew_p99_ms=1000 * _pct(skews, 99), skew_max_ms=1000 * max(skews),
                   bytes_per_run=size / max(runs, 1),
                   store_mib_per_day=size / max(runs, 1) * per_day / 2**20,
                   failed_runs=outcomes.get("failed", 0))
    shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", type=int, default=200)
    p.add_argument("--interval", type=float, default=30.0)
    p.add_argument("--seconds", type=float, default=150.0)
    p.add_argument("--failing", type=float, default=0.05)
    p.add_argument("--store-url", help="a PostgreSQL URL (skew and growth are then not read)")
    a = p.parse_args()
    r = run(a.targets, a.interval, a.seconds, a.failing, a.store_url)
    print(f"canary bench: {a.targets} targets, {a.interval:g} s interval, "
          f"{a.failing:.0%} failing, {r['seconds']:.0f} s run (CPU sampled after the first "
          "interval), canary pinned to one core")
    rows = [("CPU (one core)", f"{r['cpu_pct']:.1f} %", "< 10 %"),
            ("RSS", f"{r['rss_mib']:.0f} MiB", "")]
    if "runs" in r:
        rows += [("scheduled runs stored", f"{r['runs']:.0f} ({r['failed_runs']:.0f} failed)",
                  ""),
                 ("start skew p50", f"{r['skew_p50_ms']:.1f} ms", ""),
                 ("start skew p99", f"{r['skew_p99_ms']:.1f} ms", "< 1000 ms"),
                 ("start skew max", f"{r['skew_max_ms']:.1f} ms", ""),
                 ("store per run", f"{r['bytes_per_run']:.0f} B", ""),
                 ("store growth per day", f"{r['store_mib_per_day']:.0f} MiB "
                  f"({a.targets * 86400 / a.interval:,.0f} runs)", "")]
    width = max(len(k) for k, _, _ in rows)
    print(f"| {'measure':{width}} | value | goal |")
    print(f"|{'-' * (width + 2)}|-------|------|")
    for k, v, goal in rows:
        print(f"| {k:{width}} | {v} | {goal} |")


if __name__ == "__main__":
    main()
