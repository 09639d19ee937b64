"""Bench: what instrument() costs on a trivial endpoint (bare ASGI app vs instrumented).

    .venv/bin/python bench/service.py [--seconds 4] [--connections 16] [--rounds 3]

Runs the same Starlette app under uvicorn on 127.0.0.1 (one process each, one at a time):
bare; wrapped by ``opsplane.instrument`` (request log to /dev/null as JSON, metrics, request
ids); and the same with tracing on (spans created and sampled, no exporter). The load
generator is ``wrk`` (Debian package, installed by scripts/system-deps.sh), one thread, the
same settings for every row. Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from opsplane.testing.procs import free_port as _free_port

HERE = Path(__file__).resolve().parent


# -- the apps under test (imported by uvicorn as service:bare / service:instrumented) ---------
def _build(instrumented: bool, traced: bool = False) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/hello", hello)])
    if not instrumented:
        return app
    import opsplane
    from opsplane.spec.service import ServiceSpec

    return opsplane.instrument(app, ServiceSpec(name="bench", team="bench", app="service:app",
                                                tracing=traced))


def __getattr__(name: str) -> Any:
    if name in ("bare", "instrumented", "traced"):
        return _build(name != "bare", traced=name == "traced")
    raise AttributeError(name)


# -- the runner -----------------------------------------------------------------------------

def _start(app: str, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", f"service:{app}", "--app-dir", str(HERE),
           "--host", "127.0.0.1", "--port", str(port)]
    if app == "bare":
        cmd.append("--no-access-log")
    env = {**os.environ, "LOGSTD_MODE": "json"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"bench: {app} did not start on port {port}")


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def _cpu_seconds(pid: int) -> float:
    """user+system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(wrk: str, url: str, seconds: int, connections: int, pid: int, *,
         warm: bool = True) -> dict[str, float]:
    """One wrk run: req/s, p50/p99 ms, non-2xx answers, the server's CPU us per request
    (``warm``: after a second of load not counted)."""
    if warm:
        subprocess.run([wrk, "-t1", "-c4", "-d1s", url], capture_output=True, check=False)
    cpu0 = _cpu_seconds(pid)
    out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    cpu = _cpu_seconds(pid) - cpu0
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, flags=re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": _ms(lat.get("50", "")), "p99": _ms(lat.get("99", "")),
            "errors": float(errors.group(1)) if errors else 0.0,
            "cpu_us": cpu / total * 1e6 if total else float("nan")}


def _in_process(n: int) -> dict[str, float]:
    """CPU microseconds per request calling each app directly (no server, no sockets)."""
    import asyncio
    import io
    import logging

    import logstd

    apps = {"bare": _build(False), "instrumented": _build(True)}
    logstd.configure(service="bench", mode="json", stream=io.BytesIO())
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/hello", "raw_path": b"/hello",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 40000),
             "server": ("127.0.0.1", 8080), "headers": [(b"host", b"bench"),
                                                        (b"user-agent", b"bench")]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def run(app: Any) -> float:
        for _ in range(200):
            await app(dict(scope), receive, send)
        best = float("inf")
        for _ in range(5):  # best of 5: the least disturbed by other work
            t = time.process_time()
            for _ in range(n):
                await app(dict(scope), receive, send)
            best = min(best, (time.process_time() - t) / n * 1e6)
        return best

    try:
        return {name: asyncio.run(run(app)) for name, app in apps.items()}
    finally:
        logstd.reset()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs; medians shown")
    parser.add_argument("--requests", type=int, default=3000, help="in-process requests")
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("bench: wrk is not installed (bash scripts/system-deps.sh)", file=sys.stderr)
        return 1
    cases = (("bare", "/hello"), ("instrumented", "/hello"), ("traced", "/hello"),
             ("instrumented", "/healthz/ping"))
    runs: dict[tuple[str, str], list[dict[str, float]]] = {c: [] for c in cases}
    for _ in range(args.rounds):  # interleaved, so that a noisy neighbour hits every case
        for app, path in cases:
            port = _free_port()
            proc = _start(app, port)
            try:
                runs[(app, path)].append(_wrk(wrk, f"http://127.0.0.1:{port}{path}",
                                              args.seconds, args.connections, proc.pid))
            finally:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
    rows = [(app, path, {k: statistics.median(r[k] for r in runs[(app, path)])
                         for k in runs[(app, path)][0]}) for app, path in cases]
    base = rows[0][2]
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s, uvicorn (h11, asyncio), one "
          f"worker; median of {args.rounds} interleaved rounds; {os.cpu_count()} cores shared "
          "with the load generator and other work")
    print("server CPU/req: the server process's CPU time / requests served (robust when the")
    print("cores are shared); capacity = req/s one core sustains at that cost")
    print(f"{'app':<14} {'endpoint':<15} {'req/s':>7} {'vs bare':>8} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'CPU us/req':>11} {'capacity':>9} {'vs bare':>8} {'non-2xx':>8}")
    for app, path, r in rows:
        cap = 1e6 / r["cpu_us"]
        print(f"{app:<14} {path:<15} {r['rps']:>7.0f} {r['rps'] / base['rps']:>8.0%} "
              f"{r['p50']:>7.2f} {r['p99']:>7.2f} {r['cpu_us']:>11.0f} {cap:>9.0f} "
              f"{base['cpu_us'] / r['cpu_us']:>8.0%} {r['errors']:>8.0f}")
    cpu = _in_process(args.requests)
    print()
    print(f"in-process, no server: CPU us per /hello request (best of 5 x {args.requests})")
    print(f"{'bare':<14} {cpu['bare']:>7.1f}")
    print(f"{'instrumented':<14} {cpu['instrumented']:>7.1f}   (kit overhead "
          f"{cpu['instrumented'] - cpu['bare']:.1f} us per request)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
