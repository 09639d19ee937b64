"""logstd pretty against its peers on one deterministic mixed log, side by side in one run.

    python bench/pretty.py [--lines 500000] [--skip-slow]

Measures lines/s, MB/s and peak memory (GNU time's max RSS) of: cat (the floor),
``logstd pretty --color always`` (one process, parallel on the file, parallel on a pipe),
pino-pretty (npm, installed on first use into ~/.cache/opsplane/bench-tools),
``jq -R -r -C 'fromjson? // .'`` and ``lnav -n`` with a JSON format file. Then the start-up
time of ``echo '{}' | logstd pretty`` (hyperfine) and the follow latency (a line appended
to a followed file, or written to a pipe, until it is on logstd's stdout).
A tool that is not installed shows 'missing'. Numbers are for orientation: the machine's
cores may be shared with other work, so CPU seconds (user + system, every process of the
pipeline) are shown too: lines per CPU second suffer least from a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "_data"
# npm tools live outside the repository (the secrets scan and git never see them)
TOOLS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "opsplane" / \
    "bench-tools"
sys.path.insert(0, str(HERE))

from logdata import generate  # noqa: E402

# the console script next to this interpreter (what a user runs), else the module
_SCRIPT = Path(sys.executable).parent / "logstd"
LOGSTD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "logstd._cli"]

LNAV_FORMAT = {
    "$schema": "https://lnav.org/schemas/format-v1.schema.json",
    "opsplane_bench_json": {
        "title": "opsplane bench JSON lines",
        "description": "the bench log's JSON records (one timestamp spelling only)",
        "json": True,
        "file-pattern": r".*pretty-.*\.log",
        "timestamp-field": "timestamp",
        "level-field": "level",
        "body-field": "message",
        "hide-extra": False,
        "line-format": [
            {"field": "__timestamp__"}, " ", {"field": "__level__"}, " ",
            {"field": "message", "default-value": ""},
        ],
        "value": {
            "level": {"kind": "string"}, "message": {"kind": "string"},
            "service": {"kind": "string", "identifier": True},
        },
    },
}


def pino_pretty() -> str | None:
    exe = TOOLS / "node_modules" / ".bin" / "pino-pretty"
    if not exe.exists() and shutil.which("npm"):
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                        str(TOOLS), "pino-pretty"], check=False, capture_output=True)
    return str(exe) if exe.exists() else None


def lnav_home() -> str | None:
    if not shutil.which("lnav"):
        return None
    home = tempfile.mkdtemp(prefix="lnav-home-")
    fmt = Path(home) / "bench-format.json"
    fmt.write_text(json.dumps(LNAV_FORMAT))
    subprocess.run(["lnav", "-i", str(fmt)], env={**os.environ, "HOME": home},
                   capture_output=True, check=False)
    return home


def measure(cmd: str, env: dict[str, str] | None = None) -> tuple[float, float, int, int]:
    """(wall s, CPU s of all its processes, peak RSS KiB of the largest, exit code) of a
    shell command, output to /dev/null."""
    with tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%U %S %M", "sh", "-c",
                            f"{cmd} > /dev/null"], env={**os.environ, **(env or {})},
                           check=False, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        fields = tf.read().split()
    try:
        cpu, rss = float(fields[-3]) + float(fields[-2]), int(fields[-1])
    except (IndexError, ValueError):
        cpu, rss = 0.0, 0
    return wall, cpu, rss, r.returncode


def startup_ms(runs: int) -> str:
    # as installed by pip: bytecode compiled (PYTHONDONTWRITEBYTECODE may be set here)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "logstd")],
                   check=False, capture_output=True)
    cmd = f"echo '{{}}' | {shlex.join(LOGSTD)} pretty"
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile("r", suffix=".json") as tf:
            subprocess.run(["hyperfine", "-w", "3", "-r", str(runs), "--export-json", tf.name,
                            cmd], check=False, capture_output=True)
            try:
                res = json.load(open(tf.name))["results"][0]  # noqa: SIM115
                return f"{res['mean'] * 1000:.0f} ms mean, {res['min'] * 1000:.0f} ms min " \
                       f"(hyperfine, {runs} runs)"
            except (ValueError, KeyError, IndexError):
                pass
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, shell=True, check=False, capture_output=True)
        times.append(time.perf_counter() - t0)
    return f"{statistics.median(times) * 1000:.0f} ms median ({runs} runs)"


def _latency(proc: subprocess.Popen[bytes], send: object, n: int) -> list[float]:
    import select

    assert proc.stdout is not None
    out = proc.stdout.fileno()
    got: list[float] = []
    for i in range(n):
        line = json.dumps({"level": "info", "msg": f"ping {i}"}).encode() + b"\n"
        t0 = time.perf_counter()
        send(line)  # type: ignore[operator]
        buf = b""
        while f"ping {i}".encode() not in buf:
            ready, _, _ = select.select([out], [], [], 5)
            if not ready:
                return got
            buf += os.read(out, 65536)
        got.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.03)
    return got


def follow_latency(n: int = 20) -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "app.log"
        path.write_bytes(b"")
        proc = subprocess.Popen([*LOGSTD, "pretty", "--follow", str(path)],
                                stdout=subprocess.PIPE)
        try:
            time.sleep(1.0)
            with path.open("ab", buffering=0) as f:
                file_ms = _latency(proc, f.write, n)
        finally:
            proc.terminate()
            proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()
    proc = subprocess.Popen([*LOGSTD, "pretty"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None

    def to_pipe(b: bytes) -> None:
        assert proc.stdin is not None
        proc.stdin.write(b)
        proc.stdin.flush()

    try:
        pipe_ms = _latency(proc, to_pipe, n)
    finally:
        proc.stdin.close()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()

    def fmt(ms: list[float]) -> str:
        if not ms:
            return "no line seen"
        return f"median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms ({len(ms)} lines)"

    return fmt(file_ms), fmt(pipe_ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=500_000)
    ap.add_argument("--skip-slow", action="store_true", help="leave out pino-pretty and lnav")
    ns = ap.parse_args()
    DATA.mkdir(exist_ok=True)
    log = DATA / f"pretty-{ns.lines}.log"
    if not log.exists():
        generate(log, ns.lines)
    size_mb = log.stat().st_size / 1e6
    lines = ns.lines
    f = shlex.quote(str(log))
    lg = shlex.join(LOGSTD)
    pino = None if ns.skip_slow else pino_pretty()
    home = None if ns.skip_slow else lnav_home()
    rows: list[tuple[str, str, str | None, dict[str, str] | None]] = [
        ("cat (floor)", f"cat {f}", "cat", None),
        ("logstd pretty, 1 process", f"{lg} pretty --color always -j 1 {f}", "python", None),
        ("logstd pretty, parallel (file)", f"{lg} pretty --color always -j 2 {f}", "python",
         None),
        ("logstd pretty, parallel (pipe)", f"cat {f} | {lg} pretty --color always", "python",
         None),
        ("pino-pretty --colorize", f"{shlex.quote(pino)} --colorize < {f}" if pino else "",
         pino, None),
        ("jq -R -r -C 'fromjson? // .'", f"jq -R -r -C 'fromjson? // .' {f}", "jq", None),
        ("lnav -n (JSON format)", f"lnav -n {f}", "lnav" if home else None,
         {"HOME": home} if home else None),
    ]
    print(f"input: {log} ({lines:,} lines, {size_mb:.0f} MB); cores: {os.cpu_count()} "
          "(shared with other work: orientation only)\n")
    print(f"| {'tool':34} | {'lines/s':>10} | {'MB/s':>7} | {'peak MiB':>8} | {'seconds':>7} "
          f"| {'CPU s':>6} | {'lines/CPU s':>11} |")
    print(f"|{'-' * 36}|{'-' * 12}|{'-' * 9}|{'-' * 10}|{'-' * 9}|{'-' * 8}|{'-' * 13}|")
    for name, cmd, tool, env in rows:
        if not tool or (tool not in ("python",) and not (Path(tool).exists()
                                                         or shutil.which(tool))):
            print(f"| {name:34} | {'missing':>10} | {'':>7} | {'':>8} | {'':>7} | {'':>6} "
                  f"| {'':>11} |")
            continue
        wall, cpu, rss, code = measure(cmd, env)
        flag = "" if code == 0 else f" (exit {code})"
        per_cpu = f"{lines / cpu:,.0f}" if cpu else "-"
        print(f"| {name + flag:34} | {lines / wall:>10,.0f} | {size_mb / wall:>7.1f} | "
              f"{rss / 1024:>8.1f} | {wall:>7.2f} | {cpu:>6.2f} | {per_cpu:>11} |", flush=True)
    print(f"\nstart-up, echo '{{}}' | logstd pretty: {startup_ms(20)}")
    file_lat, pipe_lat = follow_latency()
    print(f"follow latency, --follow on a file: {file_lat}")
    print(f"follow latency, stdin pipe:         {pipe_lat}")
    if home:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
