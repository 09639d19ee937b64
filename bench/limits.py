"""Accuracy check of recommend-limits: does the service survive its recommended memory limit?

1. run the target (tests/apps/orders_like.py under uvicorn) with the `mixed` profile and
   U users, and take the recommendation;
2. restart it under RLIMIT_AS = the recommended memory limit (address space: stricter than a
   cgroup memory limit, which counts resident memory only) and load it with 1.5 x U users;
3. print a table: killed or not, failures, peak RSS / peak address space vs the limit.

Loopback only, bounded (two runs of DURATION seconds). Usage:
    .venv/bin/python bench/limits.py [USERS] [DURATION_S]   (defaults 10 users, 35 s)
Numbers depend on the machine; note how many cores were shared when you quote them.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from opsplane.testing.procs import free_port

ROOT = Path(__file__).resolve().parent.parent
MI = 2**20


def _start(limit_bytes: int | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "orders_like:app", "--app-dir",
         str(ROOT / "tests" / "apps"), "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"], stderr=subprocess.DEVNULL)
    if limit_bytes:  # set on the running process: its allocations from here on are capped
        resource.prlimit(proc.pid, resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with urllib.request.urlopen(url + "/healthz/ping", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("target did not start")


def _vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _run(url: str, pid: int, users: int, duration: int, out: Path) -> int:
    return subprocess.run(
        [sys.executable, "-m", "loadtest._cli", "run", "--profile", "mixed", "--users",
         str(users), "--spawn-rate", str(users), "--duration", f"{duration}s", "--target", url,
         "--pid", str(pid), "--out", str(out)], cwd=ROOT, capture_output=True,
        check=False).returncode


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    duration = int(sys.argv[2]) if len(sys.argv) > 2 else 35
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as tmp:
        proc, url = _start(None)
        try:
            rc = _run(url, proc.pid, users, duration, Path(tmp) / "measure")
        finally:
            proc.terminate()
            proc.wait()
        if rc != 0:
            raise SystemExit("measuring run failed")
        done = subprocess.run(
            [sys.executable, "-m", "loadtest._cli", "recommend-limits",
             str(Path(tmp) / "measure"), "--format", "json"], cwd=ROOT, capture_output=True,
            text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(done.stderr.strip())
        rec = json.loads(done.stdout)
        limit = int(rec["resources"]["limits"]["memory"].removesuffix("Mi")) * MI
        proc, url = _start(limit)
        try:
            rc = _run(url, proc.pid, users * 3 // 2, duration, Path(tmp) / "check")
            alive = proc.poll() is None
            peak_vm = _vm(proc.pid, "VmPeak") if alive else 0
            peak_rss = _vm(proc.pid, "VmHWM") if alive else 0
        finally:
            proc.terminate()
            proc.wait()
        meta = json.loads((Path(tmp) / "check" / "metadata.json").read_text())
        import csv

        with (Path(tmp) / "check" / "locust_stats.csv").open() as f:
            agg = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    rows = [
        ("measured users", users),
        ("recommended", f"{rec['resources']}"),
        ("check users (1.5x)", users * 3 // 2),
        ("memory limit (RLIMIT_AS)", f"{limit / MI:.0f} MiB"),
        ("target killed", "no" if alive and meta["status"] == "completed" else "YES"),
        ("requests / failures", f"{agg['Request Count']} / {agg['Failure Count']}"),
        ("peak RSS (VmHWM)", f"{peak_rss / MI:.1f} MiB ({peak_rss / limit:.0%} of limit)"),
        ("peak address space", f"{peak_vm / MI:.1f} MiB ({peak_vm / limit:.0%} of limit)"),
        ("headroom (limit - peak RSS)", f"{(limit - peak_rss) / MI:.1f} MiB"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    _ = rc


if __name__ == "__main__":
    main()
