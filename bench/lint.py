"""Benchmark `logstd lint` and `logstd query --run`; prints a table (never asserted in tests).

    python bench/lint.py [--lines 500000] [--source-lines 50000] [--big-mb 1024]

1. lines/s of `logstd lint` on the bench log (bench/logdata.py, 500k lines, ~150 MB),
   text output to /dev/null, and with --statistics;
2. seconds to lint a generated 50k-line Python source tree;
3. `logstd query customer C-1100 --run` over a ~1 GB log vs jq doing the same filter
   (jq -R 'fromjson? | select(...)' on the same file). Files live in a temp dir, deleted after.
"""

from __future__ import annotations

import argparse
import os
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


def _time(cmd: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        rc = subprocess.run(cmd, stdout=null, stderr=subprocess.DEVNULL, check=False).returncode
    return time.perf_counter() - start, rc


def _count(cmd: list[str]) -> int:
    out = subprocess.run(cmd, capture_output=True, check=False).stdout
    return len(out.splitlines())


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=500_000)
    ap.add_argument("--source-lines", type=int, default=50_000)
    ap.add_argument("--big-mb", type=int, default=1024)
    ns = ap.parse_args()
    rows: list[tuple[str, str, str, str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="logstd-bench-"))
    try:
        log = generate(tmp / "bench.log", ns.lines)
        secs, _ = _time([LOGSTD, "lint", str(log)])
        findings = _count([LOGSTD, "lint", str(log)])
        rows.append((f"lint {ns.lines:,}-line log (text out)", f"{secs:.2f} s",
                     f"{ns.lines / secs:,.0f} lines/s ({findings:,} findings)",
                     "250,000 lines/s"))
        secs, _ = _time([LOGSTD, "lint", "--statistics", str(log)])
        rows.append(("  same, --statistics", f"{secs:.2f} s", f"{ns.lines / secs:,.0f} lines/s",
                     "250,000 lines/s"))
        secs, _ = _time([LOGSTD, "lint", "--select", "LS104,LS106,LS107,LS108", str(log)])
        rows.append(("  same, --select LS104,LS106-LS108", f"{secs:.2f} s",
                     f"{ns.lines / secs:,.0f} lines/s", ""))
        tree = tmp / "src"
        tree.mkdir()
        src_lines = source_tree(tree, ns.source_lines)
        secs, _ = _time([LOGSTD, "lint", str(tree)])
        rows.append((f"lint {src_lines:,}-line Python tree", f"{secs:.2f} s",
                     f"{src_lines / secs:,.0f} lines/s", "< 3 s"))
        big = tmp / "big.log"
        target = ns.big_mb * 1024 * 1024
        with big.open("wb") as out:
            chunk = log.read_bytes()
            while out.tell() < target:
                out.write(chunk)
        size_mb = big.stat().st_size / 1024 / 1024
        cmd = [LOGSTD, "query", "customer", "C-1100", "--run", str(big), "--format", "csv",
               "--limit", "100000000"]
        secs, rc = _time(cmd)
        hits = _count(cmd) - 1
        rows.append((f"query --run customer over {size_mb:,.0f} MB", f"{secs:.1f} s",
                     f"{size_mb / secs:,.0f} MB/s ({hits:,} rows, rc={rc})", ""))
        jq = shutil.which("jq")
        if jq:
            jq_cmd = [jq, "-c", "-R", JQ_FILTER, str(big)]
            secs, rc = _time(jq_cmd)
            rows.append(("  jq -R 'fromjson? | select(...)' same file", f"{secs:.1f} s",
                         f"{size_mb / secs:,.0f} MB/s (JSON-only lines; rc={rc})", ""))
        else:
            rows.append(("  jq", "-", "not installed", ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    widths = [max(len(r[i]) for r in [("what", "time", "rate", "goal"), *rows])
              for i in range(4)]
    print(f"logstd lint/query benchmark  (python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores, shared with other jobs)")
    for r in [("what", "time", "rate", "goal"), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
