"""Bench: what tracing costs per request on the reference endpoint, against the same app untraced.

    .venv/bin/python bench/tracing_overhead.py [--seconds 1] [--connections 8] [--rounds 8]
                                               [--servers 4] [--baseline DIR] [--in-process N]
                                               [--instructions N] [--no-pin]

Runs examples/orders under uvicorn on 127.0.0.1 five ways, each in ``--servers`` processes with
their own hash seeds (two processes of the same code can differ by a few percent: dict layouts),
all up for the whole run:
tracing off, tracing on at sample ratio 0.0, on at 1.0 exporting over real OTLP/HTTP to a
receiver this script runs on loopback, at 1.0 without an exporter, and tracing off again (a
control: how far two identical servers differ in this run). Load: wrk on ``GET /orders/{id}``
(a seeded order; SQLite) in short slices, one server at a time, the order turning each round,
so the machine's drift in speed hits every case alike. The servers share one core (a pod with
a one-core limit: the export thread competes with requests); wrk and the receiver run on the
others (``--no-pin``: wherever the scheduler puts them).
``--baseline DIR`` runs every case a second time against another source tree (e.g.
``git archive main | tar -x -C DIR``), interleaved with this one: before and after in one run.
The receiver checks every request is valid OTLP (protobuf parse) and counts spans, without
flattening them into dicts: a real collector runs elsewhere, not on the cores under test.
``--instructions N`` runs each case's server under cachegrind instead (valgrind) and counts the
instructions it executes per request over N requests, one at a time: no wrk, slow (minutes),
but the count does not move with the machine's speed, so a cost of a percent shows.
``--in-process N`` replaces server and wrk by calling the ASGI app directly, N requests per
round in a process per case, and reports the least CPU per request of 5 rounds (all threads,
the export thread included, queued spans flushed inside the round): far less noisy than req/s
on shared cores, but without the server's own HTTP cost, so the percentages run higher.
Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
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
# nothing of opsplane is imported at module level: a --child imports the tree it measures

CASES = (("untraced (a)", {"OPSPLANE_TRACING": "false"}),
         ("traced, ratio 0.0", {"OPSPLANE_TRACING": "true", "OTEL_TRACES_SAMPLER_ARG": "0"}),
         ("traced, ratio 1.0", {"OPSPLANE_TRACING": "true", "OTEL_TRACES_SAMPLER_ARG": "1"}),
         ("ratio 1.0, no export", {"OPSPLANE_TRACING": "true", "OTEL_TRACES_SAMPLER_ARG": "1",
                                   "OTEL_TRACES_EXPORTER": "none"}),
         # untraced again: the baseline is both untraced groups pooled, and how far the two
         # differ is this run's noise floor (smaller differences are not told apart)
         ("untraced (b)", {"OPSPLANE_TRACING": "false"}))
BASE = "untraced (a+b)"


_SERVER_CPU: int | None = None  # --pin: the server's core (wrk and the receiver get the rest)


def _case_env(env: dict[str, str], db: Path, tree: Path | None) -> dict[str, str]:
    """One case's orders process environment: the case's variables over this one's, JSON
    logs, its own SQLite file, payments unreachable (GET /orders/{id} never calls it), and
    the tree measured first on the path (a --baseline tree)."""
    full = {**os.environ, **env, "LOGSTD_MODE": "json", "DATABASE_URL": f"sqlite:///{db}",
            "PAYMENTS_URL": "http://127.0.0.1:9"}
    if tree is not None:
        full["PYTHONPATH"] = str(tree)
    return full


def _orders_dir(tree: Path | None) -> Path:
    return (tree / "examples" / "orders") if tree else ORDERS


def _start(env: dict[str, str], port: int, db: Path,
           tree: Path | None = None) -> subprocess.Popen[bytes]:
    # hash seed 0 unless the case gives one (--servers gives each of a case's servers its own)
    full = _case_env({"PYTHONHASHSEED": "0", **env}, db, tree)
    pin = ["taskset", "-c", str(_SERVER_CPU)] if _SERVER_CPU is not None else []
    proc = subprocess.Popen([*pin, sys.executable, "-m", "uvicorn", "orders.app:app", "--host",
                             "127.0.0.1", "--port", str(port), "--no-access-log"],
                            cwd=_orders_dir(tree), env=full,
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


def _child(n: int) -> None:
    """--child N: one case in this process (env already set); prints {"cpu_us": best}."""
    import asyncio
    import io

    sys.path.insert(0, os.getcwd())  # examples/orders of the tree measured (PYTHONPATH: its root)
    sys.stdout = io.TextIOWrapper(io.BytesIO())  # the app's JSON logs: written, not shown
    out = sys.__stdout__
    from orders.app import app

    async def run() -> float:
        lifespan: dict[str, object] = {}
        inbox: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        outbox: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})
        task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"},
                                        "state": lifespan}, inbox.get, outbox.put))
        started = await outbox.get()
        if started["type"] != "lifespan.startup.complete":
            raise SystemExit(f"bench: orders did not start: {started}")
        bodies: list[bytes] = []

        def scope(path: str, query: bytes = b"") -> dict[str, object]:
            return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                    "method": "GET", "scheme": "http", "path": path,
                    "raw_path": path.encode(), "query_string": query, "root_path": "",
                    "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080),
                    "headers": [(b"host", b"bench"), (b"user-agent", b"bench")],
                    "state": dict(lifespan)}

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.body":
                bodies.append(message.get("body", b""))  # type: ignore[arg-type]

        await app(scope("/orders", b"customerId=C-1001"), receive, send)
        path = f"/orders/{orjson.loads(bodies[-1])['orders'][0]['id']}"
        import tracing._setup

        best = float("inf")
        for r in range(6):  # the first round warms up
            bodies.clear()
            t = time.process_time()
            for _ in range(n):
                await app(scope(path), receive, send)
            provider = tracing._setup._provider
            if provider is not None:
                provider.force_flush()
            if r:
                best = min(best, (time.process_time() - t) / n * 1e6)
        if len(bodies) != n or b'"id"' not in bodies[-1]:
            raise SystemExit("bench: GET /orders/{id} did not answer an order")
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task
        return best

    import tracing

    print(orjson.dumps({"cpu_us": asyncio.run(run()), "tracing": tracing.__file__}).decode(),
          file=out)


def _in_process(env: dict[str, str], n: int, db: Path, tree: Path | None) -> dict[str, float]:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(n)],
                         cwd=_orders_dir(tree), env=_case_env(env, db, tree),
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"bench: in-process case failed: {out.stderr.strip()[-500:]}")
    answer = orjson.loads(out.stdout.strip().splitlines()[-1])
    expected = (tree or ROOT).resolve() / "tracing"
    if Path(answer["tracing"]).resolve().parent != expected:
        raise SystemExit(f"bench: the case imported {answer['tracing']}, not {expected}")
    cpu = float(answer["cpu_us"])
    return {"rps": 1e6 / cpu, "p50": float("nan"), "p99": float("nan"), "cpu_us": cpu}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=1)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--servers", type=int, default=4, metavar="K",
                    help="server processes a case, each with its own hash seed (default 4)")
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="another source tree to run every case against too (before/after)")
    ap.add_argument("--in-process", type=int, metavar="N", default=0,
                    help="call the app directly, N requests a round (no server, no wrk)")
    ap.add_argument("--instructions", type=int, metavar="N", default=0,
                    help="count the server's instructions per request under cachegrind over "
                         "N requests a case (no wrk; noise-free, slow)")
    ap.add_argument("--no-pin", action="store_true",
                    help="let the scheduler place server, wrk and receiver (default: the "
                         "server alone on core 0, as a pod with a one-core limit)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.child:
        _child(ns.child)
        return 0
    global _SERVER_CPU
    cores = sorted(os.sched_getaffinity(0))
    if not ns.no_pin and len(cores) >= 2 and shutil.which("taskset"):
        _SERVER_CPU = cores[0]
        os.sched_setaffinity(0, cores[1:])  # this process (the receiver) and wrk
    sys.path.insert(0, str(ROOT))
    from service import _free_port  # bench/service.py: the shared wrk harness
    if ns.baseline is not None and not (ns.baseline / "examples" / "orders").is_dir():
        print(f"bench: {ns.baseline} has no examples/orders (a source tree of opsplane?)",
              file=sys.stderr)
        return 2
    wrk = shutil.which("wrk")
    if wrk is None and not (ns.in_process or ns.instructions):
        print("bench: wrk is not installed (bash scripts/system-deps.sh)", file=sys.stderr)
        return 1
    if ns.instructions and shutil.which("valgrind") is None:
        print("bench: valgrind is not installed (bash scripts/system-deps.sh)", file=sys.stderr)
        return 1
    from tracing.testing import OtlpReceiver

    trees: list[tuple[str, Path | None]] = [("", None)]
    if ns.baseline is not None:
        trees = [("before: ", ns.baseline.resolve()), ("after: ", None)]
    names = [prefix + name for prefix, _ in trees for name, _ in CASES]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    load = []
    if ns.instructions:
        return _instruction_table(ns.instructions, trees)
    with OtlpReceiver(decode=False) as rx, tempfile.TemporaryDirectory() as tmp:
        if ns.in_process:
            for r in range(ns.rounds):
                # the order turns each round: no case always runs first (or after the same one)
                for name, env in CASES[r % len(CASES):] + CASES[:r % len(CASES)]:
                    for prefix, tree in trees:
                        runs[prefix + name].append(_in_process(
                            {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint}, ns.in_process,
                            Path(tmp) / f"orders-{len(load)}.db", tree))
                        load.append(os.getloadavg()[0])
        else:
            # every server runs the whole time (idle but for its slice): the load turns
            # between them in short slices, so the machine's drift hits every case alike
            # several servers a case, each with its own hash seed (and so its own dict
            # layouts): one process can run a few percent faster or slower than another of
            # the same code, and a case measured on one would carry that as its own cost
            servers: dict[str, list[tuple[subprocess.Popen[bytes], str]]] = {n: [] for n in names}
            try:
                for name, env in CASES:
                    for prefix, tree in trees:
                        for k in range(ns.servers):
                            port = _free_port()
                            proc = _start({**env, "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint,
                                           "PYTHONHASHSEED": str(k)},
                                          port, Path(tmp) / f"orders-{port}.db", tree)
                            servers[prefix + name].append(
                                (proc, f"http://127.0.0.1:{port}/orders/{_an_order(port)}"))
                everyone = [(name, k) for name in names for k in range(ns.servers)]
                for name, k in everyone:  # warm: imports, caches, first batches
                    subprocess.run([str(wrk), "-t1", "-c4", "-d1s", servers[name][k][1]],
                                   capture_output=True, check=False)
                for r in range(ns.rounds):
                    turn = r * len(everyone) // ns.rounds
                    got: dict[str, list[dict[str, float]]] = {n: [] for n in names}
                    for name, k in everyone[turn:] + everyone[:turn]:
                        proc, url = servers[name][k]
                        got[name].append(_load(str(wrk), url, ns.seconds, ns.connections,
                                               proc.pid))
                    for name, slices in got.items():  # the case's servers, averaged
                        runs[name].append({key: statistics.fmean(x[key] for x in slices)
                                           for key in slices[0]})
                    load.append(os.getloadavg()[0])
            finally:
                started = [proc for each in servers.values() for proc, _ in each]
                for proc in started:
                    os.kill(proc.pid, signal.SIGTERM)
                for proc in started:
                    proc.wait(timeout=30)
        spans = rx.received
    shown: list[str] = []
    tree_of: dict[str, str] = {}  # each row's tree prefix ("" or "before: " / "after: ")
    for prefix, _ in trees:  # per tree: the two untraced groups pooled are its baseline
        a, b = runs[prefix + CASES[0][0]], runs[prefix + CASES[-1][0]]
        runs[prefix + BASE] = [{k: statistics.fmean((x[k], y[k])) for k in x}
                               for x, y in zip(a, b, strict=True)]
        mine = [prefix + BASE, *(prefix + n for n, _ in CASES[1:-1]),
                prefix + CASES[0][0], prefix + CASES[-1][0]]
        shown += mine
        tree_of.update(dict.fromkeys(mine, prefix))
    rows = {name: {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
            for name in shown}
    how = (f"in process (no server), best of 5 rounds of {ns.in_process} requests (req/s = "
           f"1e6 / CPU us)" if ns.in_process else
           f"uvicorn, {ns.servers} servers a case (hash seeds 0..{ns.servers - 1}), wrk -t1 "
           f"-c{ns.connections} -d{ns.seconds}s on each in turn")
    print(f"# bench/tracing_overhead.py  GET /orders/{{id}} on examples/orders (SQLite), "
          f"{how}, median of {ns.rounds} "
          f"interleaved rounds (order turning), {os.cpu_count()} cores"
          f"{'' if ns.in_process else _placement()}; load average (1 min) "
          f"{min(load):.1f}..{max(load):.1f}, median {statistics.median(load):.1f}")
    w = max(len(n) for n in shown)
    print(f"{'case':<{w}} {'req/s':>7} {'vs untraced':>12} {'paired (q1-q3)':>16} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>11} {'CPU vs untraced':>16}")
    for name in shown:
        base_name = tree_of[name] + BASE  # each tree against its own baseline
        r, base = rows[name], rows[base_name]
        p50, p99 = (f"{r[k]:>7.2f}" if r[k] == r[k] else f"{'-':>7}" for k in ("p50", "p99"))
        print(f"{name:<{w}} {r['rps']:>7.0f} {r['rps'] / base['rps']:>12.0%} "
              f"{_paired(runs[name], runs[base_name]):>16} {p50} {p99} "
              f"{r['cpu_us']:>11.0f} {r['cpu_us'] / base['cpu_us']:>16.0%}")
    print(f"{BASE}: the two untraced groups pooled, the baseline; (a) and (b) are the same "
          "code, so how far apart they are is this run's noise floor")
    print("paired: the median over rounds of req/s against the baseline of the same round "
          "(the machine's speed drifts less within a round than across the run)")
    print(f"spans received over OTLP (valid ExportTraceServiceRequests): {spans}")
    return 0


def _load(wrk: str, url: str, seconds: int, connections: int, pid: int) -> dict[str, float]:
    """One slice of load on one (already warm) server: bench/service.py's wrk run."""
    from service import _wrk

    result = _wrk(wrk, url, seconds, connections, pid, warm=False)
    if result.pop("errors"):
        raise SystemExit(f"bench: {url} answered errors under load")
    return result


def _instructions(env: dict[str, str], n: int, tmp: Path, tree: Path | None,
                  endpoint: str) -> float:
    """Instructions the server executes per request, counted by cachegrind: the same server
    run twice, 200 warm-up requests then 200 or 200 + n more, one at a time on one kept-alive
    connection; the difference over n. Counts do not change with the machine's speed or with
    what else runs, so small costs show (instructions are not time: a cache miss costs more
    than an add, but the cases run the same kind of code)."""
    import http.client

    from service import _free_port

    totals = []
    for extra in (200, 200 + n):
        port = _free_port()
        full = _case_env({"PYTHONHASHSEED": "0", **env, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint},
                         tmp / f"orders-{port}.db", tree)
        proc = subprocess.Popen(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no",
             f"--cachegrind-out-file={tmp / 'cachegrind.out.%p'}", sys.executable, "-m",
             "uvicorn", "orders.app:app", "--host", "127.0.0.1", "--port", str(port),
             "--no-access-log"],
            cwd=_orders_dir(tree), env=full,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            conn = None
            for _ in range(2400):  # start-up under cachegrind: a minute or two
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    conn.request("GET", "/healthz/ping")
                    conn.getresponse().read()
                    break
                except OSError:
                    conn = None
                    time.sleep(0.25)
            if conn is None:
                raise SystemExit("bench: orders did not start under cachegrind")
            conn.request("GET", "/orders?customerId=C-1001")
            order = orjson.loads(conn.getresponse().read())["orders"][0]["id"]
            for _ in range(200 + extra):
                conn.request("GET", f"/orders/{order}")
                answer = conn.getresponse()
                answer.read()
                if answer.status != 200:
                    raise SystemExit(f"bench: GET /orders/{order} answered {answer.status}")
            conn.close()
            time.sleep(1)  # the batch thread's last export of ratio 1.0, counted too
        finally:
            proc.send_signal(signal.SIGTERM)
            err = proc.communicate(timeout=600)[1]
        found = re.search(r"I\s+refs:\s+([\d,]+)", err)
        if found is None:
            raise SystemExit(f"bench: no instruction count from cachegrind: {err[-300:]}")
        totals.append(int(found.group(1).replace(",", "")))
    return (totals[1] - totals[0]) / n


def _instruction_table(n: int, trees: list[tuple[str, Path | None]]) -> int:
    """--instructions N: every case of every tree under cachegrind, as many at once as there
    are cores; a table of instructions per request against the untraced baseline."""
    from concurrent.futures import ThreadPoolExecutor

    from tracing.testing import OtlpReceiver

    jobs = [(prefix, tree, name, env) for name, env in CASES for prefix, tree in trees]
    for _, tree in trees:  # bytecode compiled ahead: no run pays for compiling what it imports
        subprocess.run([sys.executable, "-m", "compileall", "-q",
                        *(str((tree or ROOT) / d) for d in ("logstd", "tracing", "opsplane",
                                                             "examples"))],
                       capture_output=True, check=False)
    with OtlpReceiver(decode=False) as rx, tempfile.TemporaryDirectory() as tmp, \
            ThreadPoolExecutor(max_workers=max(1, len(os.sched_getaffinity(0)))) as pool:
        counts = dict(zip(
            [prefix + name for prefix, _, name, _ in jobs],
            pool.map(lambda job: _instructions(job[3], n, Path(tmp), job[1], rx.endpoint),
                     jobs), strict=True))
        spans = rx.received
    print(f"# bench/tracing_overhead.py --instructions {n}  GET /orders/{{id}} on examples/orders "
          f"(SQLite), uvicorn under cachegrind, one request at a time; instructions the server "
          f"executes per request (all threads), the difference of a run of 200 + {n} requests "
          f"and one of 200, after 200 to warm up")
    w = max(len(k) for k in counts) + 2
    print(f"{'case':<{w}} {'instructions/req':>17} {'vs untraced':>12}")
    for prefix, _ in trees:
        base = statistics.fmean((counts[prefix + CASES[0][0]], counts[prefix + CASES[-1][0]]))
        print(f"{prefix + BASE:<{w}} {base:>17,.0f} {'100.0%':>12}")
        for name, _ in (*CASES[1:-1], CASES[0], CASES[-1]):
            c = counts[prefix + name]
            print(f"{prefix + name:<{w}} {c:>17,.0f} {c / base:>12.1%}")
    print(f"spans received over OTLP (valid ExportTraceServiceRequests): {spans}")
    return 0


def _placement() -> str:
    if _SERVER_CPU is None:
        return " shared with wrk"
    return f" (server pinned to core {_SERVER_CPU}; wrk and the OTLP receiver on the others)"


def _paired(case: list[dict[str, float]], base: list[dict[str, float]]) -> str:
    """Median and quartiles of the per-round req/s ratios, e.g. '96% (93-98)'."""
    ratios = [c["rps"] / b["rps"] for c, b in zip(case, base, strict=True) if b["rps"]]
    if len(ratios) < 2:
        return f"{ratios[0]:.0%}" if ratios else "-"
    q1, q2, q3 = statistics.quantiles(ratios, n=4)
    return f"{q2:.0%} ({q1 * 100:.0f}-{q3 * 100:.0f})"


if __name__ == "__main__":
    sys.exit(main())
