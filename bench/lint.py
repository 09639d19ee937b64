"""Benchmark `logstd lint` and `logstd query --run`; prints a table (never asserted in tests).

    python bench/lint.py [--lines 500000] [--source-lines 50000] [--big-mb 1024]

1. lines/s of `logstd lint` on the bench log (bench/logdata.py, 500k lines, ~135 MB),
   text output to a file (the goal row: the default command, every core), then the same in
   one process (-j 1), with --statistics, --group, --format json, with fewer rules, and
   on a log that follows the dictionary;
2. seconds to lint a generated 50k-line Python source tree;
3. `logstd query customer C-1100 --run` over a ~1 GB log vs jq doing the same filter
   (jq -R 'fromjson? | select(...)' on the same file; --big-mb 0 skips it).
Files live in a temp dir, deleted after.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from logdata import generate  # noqa: E402

BIN = Path(sys.executable).parent
LOGSTD = str(BIN / "logstd")
JQ_FILTER = ('fromjson? | select(.customerId == "C-1100" or .customer_id == "C-1100" '
             'or .custId == "C-1100" or .cust_id == "C-1100" or .customerID == "C-1100" '
             'or .customer_ref == "C-1100")')


def _time(cmd: list[str], out: Path | None = None) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds of the child, exit code, lines written)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(out or os.devnull, "wb") as sink:
        rc = subprocess.run(cmd, stdout=sink, stderr=subprocess.DEVNULL, check=False).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = 0
    if out is not None:
        with out.open("rb") as f:
            lines = sum(1 for _ in f)
        out.unlink()
    return wall, cpu, rc, lines


def clean_log(path: Path, lines: int, seed: int = 42) -> Path:
    """A log that follows the dictionary (what logstd.configure writes): few findings."""
    import json
    import random

    rng = random.Random(seed)
    routes = ["/orders", "/orders/{id}", "/orders/{id}/cancel", "/healthz/ping"]
    with path.open("w", encoding="utf-8") as f:
        for i in range(lines):
            rec = {"timestamp": f"2026-11-28T20:{(i // 600) % 60:02d}:{(i // 10) % 60:02d}."
                                f"{i % 1000:03d}Z",
                   "level": rng.choice(["info", "info", "debug", "warning", "error"]),
                   "message": rng.choice(["request finished", "order created", "cache miss"]),
                   "service": "orders", "logger": "orders.api",
                   "customerId": f"C-{rng.randrange(1000, 1200)}",
                   "httpRoute": rng.choice(routes), "httpStatus": rng.choice([200, 201, 404]),
                   "durationMs": round(rng.random() * 300, 2),
                   "traceId": f"{rng.getrandbits(128):032x}"}
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
    return path


def source_tree(folder: Path, lines: int) -> int:
    """Python modules with logging calls, some good, some bad; returns the line count."""
    body = '''
def handler_{i}(order, request, user):
    log.info("order created", extra={{"orderId": order.id, "customerId": order.customer}})
    log.info(f"charged {{order.total}}", extra={{"customer_id": order.customer}})
    log.warning("retrying", extra={{"attempt": 2, "durationMs": 12.5}})
    if request.slow:
        log.error("upstream %s failed", request.upstream, extra={{"dependency": "payments"}})
    result = compute(order, request)
    total = sum(item.price * item.quantity for item in order.items)
    return {{"id": order.id, "total": total, "result": result}}
'''
    header = '"""Generated module for the lint benchmark."""\nimport logging\n\n' \
             'log = logging.getLogger(__name__)\n'
    per_func = body.count("\n")
    funcs_per_file = 50
    written = 0
    n = 0
    while written < lines:
        text = header + "".join(body.format(i=i) for i in range(funcs_per_file))
        pkg = folder / f"pkg{n // 20}"
        pkg.mkdir(exist_ok=True)
        (pkg / f"mod{n}.py").write_text(text)
        written += text.count("\n")
        n += 1
    assert per_func
    return written


class _Done(Exception):
    """The rows asked for are measured."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=500_000)
    ap.add_argument("--source-lines", type=int, default=50_000)
    ap.add_argument("--big-mb", type=int, default=1024)
    ns = ap.parse_args()
    rows: list[tuple[str, ...]] = []
    load_start = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="logstd-bench-"))
    try:
        log = generate(tmp / "bench.log", ns.lines)
        wall, cpu, _, found = _time([LOGSTD, "lint", str(log)], tmp / "out.txt")
        rows.append((f"lint {ns.lines:,}-line log, text out", f"{wall:.1f}", f"{cpu:.1f}",
                     f"{ns.lines / wall:,.0f} lines/s ({ns.lines / cpu:,.0f}/CPU-s); "
                     f"{found:,} findings", "250,000 lines/s"))
        wall, cpu, _, found = _time([LOGSTD, "lint", "-j", "1", str(log)], tmp / "out.txt")
        rows.append(("  same, one process (-j 1)", f"{wall:.1f}", f"{cpu:.1f}",
                     f"{ns.lines / wall:,.0f} lines/s ({ns.lines / cpu:,.0f}/CPU-s); "
                     f"{found:,} findings", ""))
        wall, cpu, _, _ = _time([LOGSTD, "lint", "--statistics", str(log)])
        rows.append(("  same, --statistics", f"{wall:.1f}", f"{cpu:.1f}",
                     f"{ns.lines / wall:,.0f} lines/s ({ns.lines / cpu:,.0f}/CPU-s)", ""))
        wall, cpu, _, found = _time([LOGSTD, "lint", "--group", str(log)], tmp / "out.txt")
        rows.append(("  same, --group", f"{wall:.1f}", f"{cpu:.1f}",
                     f"{ns.lines / wall:,.0f} lines/s ({ns.lines / cpu:,.0f}/CPU-s); "
                     f"{found:,} lines out", ""))
        wall, cpu, _, _ = _time([LOGSTD, "lint", "--format", "json", str(log)])
        rows.append(("  same, --format json (to /dev/null)", f"{wall:.1f}", f"{cpu:.1f}",
                     f"{ns.lines / wall:,.0f} lines/s ({ns.lines / cpu:,.0f}/CPU-s)", ""))
        wall, cpu, _, _ = _time([LOGSTD, "lint", "--select", "LS104,LS106,LS107,LS108",
                                 str(log)])
        rows.append(("  same, --select LS104,LS106-LS108", f"{wall:.1f}", f"{cpu:.1f}",
                     f"{ns.lines / wall:,.0f} lines/s ({ns.lines / cpu:,.0f}/CPU-s)", ""))
        clean = clean_log(tmp / "clean.log", ns.lines)
        wall, cpu, _, found = _time([LOGSTD, "lint", str(clean)], tmp / "out.txt")
        rows.append((f"lint {ns.lines:,}-line log that follows the dictionary", f"{wall:.1f}",
                     f"{cpu:.1f}", f"{ns.lines / wall:,.0f} lines/s ({ns.lines / cpu:,.0f}/CPU-s);"
                     f" {found:,} findings", "250,000 lines/s"))
        tree = tmp / "src"
        tree.mkdir()
        src_lines = source_tree(tree, ns.source_lines)
        wall, cpu, _, found = _time([LOGSTD, "lint", str(tree)], tmp / "out.txt")
        rows.append((f"lint {src_lines:,}-line Python tree", f"{wall:.1f}", f"{cpu:.1f}",
                     f"{src_lines / wall:,.0f} lines/s; {found:,} findings", "< 3 s"))
        if not ns.big_mb:
            raise _Done
        big = tmp / "big.log"
        target = ns.big_mb * 1024 * 1024
        with big.open("wb") as out:
            chunk = log.read_bytes()
            while out.tell() < target:
                out.write(chunk)
        size_mb = big.stat().st_size / 1024 / 1024
        cmd = [LOGSTD, "query", "customer", "C-1100", "--run", str(big), "--format", "csv",
               "--limit", "100000000"]
        wall, cpu, rc, found = _time(cmd, tmp / "out.txt")
        rows.append((f"query --run customer C-1100, {size_mb:,.0f} MB", f"{wall:.1f}",
                     f"{cpu:.1f}", f"{size_mb / wall:,.1f} MB/s; {found - 1:,} rows (rc={rc})",
                     ""))
        jq = shutil.which("jq")
        if jq:
            wall, cpu, rc, found = _time([jq, "-c", "-R", JQ_FILTER, str(big)],
                                         tmp / "out.txt")
            rows.append(("  jq -R 'fromjson? | select(...)', same file", f"{wall:.1f}",
                         f"{cpu:.1f}", f"{size_mb / wall:,.1f} MB/s; {found:,} rows "
                         "(skips kubectl-prefixed lines)", ""))
        else:
            rows.append(("  jq", "-", "-", "not installed", ""))
    except _Done:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    head = ("what", "wall s", "CPU s", "rate", "goal")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(f"logstd lint/query benchmark  (python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores shared with other jobs; load average "
          f"{load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)")
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
