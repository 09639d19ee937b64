"""Bad input, every command that reads a file or a stream (the matrix of docs/reliability.md).

Each command gets each of ten bad inputs in the place of the file it reads: a missing file,
a directory, an empty file, random bytes, invalid UTF-8, truncated YAML/JSON, the right shape
with wrong types, a 50 MB file, a symlink loop and an unreadable file. Expected of each:

- a refusal: exit 2 (1 where the command's job is reporting findings), one line on stderr
  starting ``error:`` and naming the file (the field or line where it can), or
- for the streaming readers (pretty, lint, query --run) given content they can read around:
  a bad line passed through or skipped, exit 0 or 1 (findings), never a traceback;
- never a traceback, and nothing written or half-written (the output folder or file named by
  ``-o`` is not created, the working directory stays as it was).

Commands run in process (``main(argv)``) except the unreadable case: the tests run as root,
which reads any file whatever its mode, so that case runs the command in a subprocess without
the capabilities that let root ignore file modes (``setpriv --bounding-set
-dac_override,-dac_read_search``), on a file of mode 000: a real EACCES.
``BAD_INPUT_TABLE=FILE pytest tests/test_bad_input.py`` writes the matrix as a table (the
figures in docs/reliability.md).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opsplane.cli._clidocs import CLI_MODULES

ROOT = Path(__file__).resolve().parent.parent
ORDERS_SPEC = (ROOT / "examples" / "orders" / "service.yaml").read_text(encoding="utf-8")
BIG_BYTES = 50 * 1024 * 1024

INPUTS = ("missing", "directory", "empty", "random-bytes", "invalid-utf8", "truncated",
          "wrong-types", "50mb", "symlink-loop", "unreadable")

LOG_LINE = (b'{"timestamp":"2026-12-06T10:00:00.000Z","level":"info","service":"orders",'
            b'"message":"order created","customerId":"C-1001","durationMs":12.5}\n')

# what each family of file holds for the content inputs
CONTENT: dict[str, dict[str, bytes]] = {
    "log": {
        "invalid-utf8": LOG_LINE + b'{"level":"error","message":"caf\xe9 \xff\xfe"}\n' + LOG_LINE,
        "truncated": LOG_LINE + b'{"timestamp":"2026-12-06T10:00:01Z","level":"err',
        "wrong-types": b'{"timestamp":[1],"level":5,"message":{"a":1},"durationMs":"x"}\n',
    },
    "spec": {
        "invalid-utf8": ORDERS_SPEC.replace("description: Orders", "description: Ord\udcffers")
        .encode("utf-8", "surrogateescape"),
        "truncated": b"version: 1\nname: orders\nslos:\n  latency: {threshold_ms: 300, tar",
        "wrong-types": ORDERS_SPEC.replace("port: 8080", "port: eighty").encode(),
    },
    "values": {
        "invalid-utf8": b"name: orders\nimage: {repository: \xff\xfe}\n",
        "truncated": b"name: orders\nimage: {repository: orders, tag",
        "wrong-types": b"name: orders\nimage: {repository: orders}\nreplicaCount: three\n",
    },
    "org": {
        "invalid-utf8": b"version: 1\nteams:\n  commerce: {ticket: {project: \xe9}}\n",
        "truncated": b"version: 1\nteams:\n  commerce: {ticket: {proj",
        "wrong-types": b"version: 1\nteams: [commerce]\n",
    },
    "collection": {
        "invalid-utf8": b"version: 1\nname: x\nrequests:\n  - name: \xff\n    url: /\n",
        "truncated": b"version: 1\nname: x\nrequests:\n  - {name: a, url: /hea",
        "wrong-types": b"version: 1\nname: x\nrequests: {name: a}\n",
    },
    "postman": {
        "invalid-utf8": b'{"info": {"name": "caf\xe9"}, "item": []}',
        "truncated": b'{"info": {"name": "orders"}, "item": [{"name": "a", "req',
        "wrong-types": b'{"info": 5, "item": "x"}',
    },
    "run-metadata": {
        "invalid-utf8": b'{"format": "\xff\xfe"}',
        "truncated": b'{"format": "opsplane-loadtest-run", "vers',
        "wrong-types": b'{"format": ["x"], "version": "one"}',
    },
    "run-samples": {
        "invalid-utf8": b"elapsed_s,time,cpu_cores,memory_bytes,procs,users\n\xff\xfe,1,2,3,4,5\n",
        "truncated": b"elapsed_s,time,cpu_cores,memory_bytes,procs,users\n0.5,1800000000.5,0.",
        "wrong-types": b"elapsed_s,time,cpu_cores,memory_bytes,procs,users\nx,y,z,w,v,u\n",
    },
}


@dataclass(frozen=True)
class Command:
    """One command and where the bad input goes."""

    name: str
    family: str  # what the file is (a key of CONTENT)
    argv: Callable[[Path, Path], list[str]]  # (bad file, output path) -> argv
    tool: str  # logstd | opsplane | loadtest
    reads_around: frozenset[str] = frozenset()  # inputs it reads (bad lines passed/skipped)
    refusal_exit: int = 2
    run_dir: bool = False  # the bad file sits inside a valid run directory
    findings: frozenset[str] = frozenset()  # inputs it reports findings in (exit 1, a list)


STREAM_CONTENT = frozenset({"empty", "random-bytes", "invalid-utf8", "truncated",
                            "wrong-types", "50mb"})

COMMANDS = [
    Command("logstd pretty", "log", lambda f, o: ["pretty", "--color", "never", str(f)],
            "logstd", STREAM_CONTENT),
    Command("logstd lint", "log", lambda f, o: ["lint", "-j", "1", str(f)], "logstd",
            STREAM_CONTENT | {"directory"}),  # a directory: lints the tree (its job)
    Command("logstd query --run", "log",
            lambda f, o: ["query", "errors", "--run", str(f)], "logstd", STREAM_CONTENT),
    Command("logstd --dictionary", "spec",
            lambda f, o: ["--dictionary", str(f), "keys", "show", "customerId"], "logstd"),
    Command("opsplane spec check", "spec", lambda f, o: ["spec", "check", str(f)], "opsplane"),
    Command("opsplane generate dashboards", "spec",
            lambda f, o: ["generate", "dashboards", str(f), "-o", str(o)], "opsplane"),
    Command("opsplane generate alerts", "spec",
            lambda f, o: ["generate", "alerts", str(f), "-o", str(o)], "opsplane"),
    Command("opsplane generate alerts --org", "org",
            lambda f, o: ["generate", "alerts", str(ROOT / "examples/orders/service.yaml"),
                          "--org", str(f), "-o", str(o)], "opsplane"),
    Command("opsplane chart values --spec", "spec",
            lambda f, o: ["chart", "values", "--spec", str(f), "-o", str(o)], "opsplane"),
    Command("opsplane chart render -f", "values",
            lambda f, o: ["chart", "render", "-f", str(f)], "opsplane"),
    Command("opsplane chart lint -f", "values",  # its job: findings (exit 1) in what it reads
            lambda f, o: ["chart", "lint", "-f", str(f)], "opsplane",
            findings=frozenset({"empty", "wrong-types"})),
    Command("opsplane init --org", "org",
            lambda f, o: ["init", "invoices", "--org", str(f), "--dir", str(o)], "opsplane"),
    Command("opsplane test -t", "collection",
            lambda f, o: ["test", "--dir", str(f.parent), "-t", f.name[5:-5],
                          "--base-url", "http://127.0.0.1:9", "--report", "json",
                          "--out", str(o)], "opsplane"),
    Command("opsplane test --from-postman", "postman",
            lambda f, o: ["test", "--from-postman", str(f), "-t", "imported", "--dir", str(o)],
            "opsplane"),
    Command("opsplane secrets scan", "values", lambda f, o: ["secrets", "scan", str(f)],
            "opsplane", STREAM_CONTENT | {"directory"}),  # content: scanned (or said skipped)
    Command("loadtest recommend-limits (metadata.json)", "run-metadata",
            lambda f, o: ["recommend-limits", str(f.parent), "-o", str(o)], "loadtest",
            run_dir=True),
    Command("loadtest recommend-limits (samples.csv)", "run-samples",
            lambda f, o: ["recommend-limits", str(f.parent), "-o", str(o)], "loadtest",
            run_dir=True),
    Command("loadtest report (metadata.json)", "run-metadata",
            lambda f, o: ["report", str(f.parent), "-o", str(o)], "loadtest", run_dir=True),
    Command("loadtest report (samples.csv)", "run-samples",
            lambda f, o: ["report", str(f.parent), "-o", str(o)], "loadtest", run_dir=True),
]

FILE_NAMES = {"log": "app.log", "spec": "service.yaml", "values": "values.yaml",
              "org": "opsplane.yaml", "collection": "test.bad.yaml", "postman": "c.json",
              "run-metadata": "metadata.json", "run-samples": "samples.csv"}


def _main(tool: str) -> Callable[[list[str]], int]:
    if tool == "logstd":
        from logstd._cli import main as logstd_main
        return logstd_main
    if tool == "opsplane":
        from opsplane.cli.main import main as opsplane_main
        return opsplane_main
    from loadtest._cli import main as loadtest_main
    return loadtest_main


@pytest.fixture(scope="session")
def big_file() -> Iterator[Path]:
    """50 MB of log records, made once per session (hard-linked into each case's folder)."""
    d = Path(tempfile.mkdtemp(prefix="bad-input-big-"))
    path = d / "big"
    with path.open("wb") as f:
        f.write(LOG_LINE * (BIG_BYTES // len(LOG_LINE) + 1))
    yield path
    shutil.rmtree(d, ignore_errors=True)


def _make_run(d: Path) -> None:
    from tests.loadtest_helpers import make_run

    make_run(d, [0.4] * 40, [120.0] * 40, users=[5] * 40)


def make_input(kind: str, family: str, where: Path, big: Path) -> Path:
    """The bad input ``kind`` for a ``family`` file, at ``where``/<its usual name>."""
    if family.startswith("run-"):
        _make_run(where)
    path = where / FILE_NAMES[family]
    if path.exists() or path.is_symlink():
        path.unlink()
    where.mkdir(parents=True, exist_ok=True)
    if kind == "missing":
        pass
    elif kind == "directory":
        path.mkdir()
        (path / "inner.txt").write_text("x\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "random-bytes":
        path.write_bytes(random.Random(7).randbytes(64 * 1024))
    elif kind == "50mb":
        os.link(big, path)
    elif kind == "symlink-loop":
        other = where / "loop-other"
        other.symlink_to(path)
        path.symlink_to(other)
    elif kind == "unreadable":
        path.write_bytes(CONTENT[family]["wrong-types"])
        path.chmod(0)
    else:
        path.write_bytes(CONTENT[family][kind])
    return path


@dataclass
class Outcome:
    code: int | None
    err: str
    out: str
    crashed: str = ""  # the traceback's last line, when there was one


def _snapshot(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def run_in_process(cmd: Command, argv: list[str], capfd: pytest.CaptureFixture[str]) -> Outcome:
    main = _main(cmd.tool)
    crashed = ""
    try:
        code: int | None = main(argv)
    except SystemExit as e:  # argparse
        code = int(e.code) if isinstance(e.code, int) else 2
    except Exception as e:
        code = None
        crashed = f"{type(e).__name__}: {e}"
        traceback.print_exc()
    out, err = capfd.readouterr()
    return Outcome(code, err, out, crashed)


def run_without_file_override(cmd: Command, argv: list[str], cwd: Path) -> Outcome:
    """The command in a subprocess that file modes bind: as root, without the capabilities
    that override them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), dropped by util-linux's
    ``setpriv``; as any other user, plainly."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            if os.environ.get("CI") == "true":
                pytest.fail("setpriv (util-linux) is needed for the unreadable-file case")
            pytest.skip("setpriv (util-linux) not installed: root reads a mode 000 file")
        drop = "-dac_override,-dac_read_search"
        prefix = [setpriv, "--bounding-set", drop, "--inh-caps", drop]
    code = f"import sys; from {CLI_MODULES[cmd.tool]} import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.run([*prefix, sys.executable, "-c", code, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    crashed = ("Traceback" in proc.stderr and proc.stderr.strip().splitlines()[-1]) or ""
    return Outcome(proc.returncode, proc.stderr, proc.stdout, crashed)


def judge(cmd: Command, kind: str, path: Path, outcome: Outcome, written: list[str]) -> str:
    """'' when the outcome is right, else what is wrong with it."""
    if outcome.crashed or "Traceback" in outcome.err:
        return f"traceback: {outcome.crashed or outcome.err.strip().splitlines()[-1]}"
    if written:
        return f"wrote {written}"
    if kind in cmd.findings:
        if outcome.code != 1 or "finding" not in outcome.err:
            return f"exit {outcome.code}, expected findings (1): {outcome.err.strip()[:300]}"
        return ""
    if kind in cmd.reads_around:
        if outcome.code not in (0, 1):
            return f"exit {outcome.code} reading around bad content: {outcome.err.strip()}"
        return ""
    lines = outcome.err.strip().splitlines()
    if outcome.code != cmd.refusal_exit:
        return f"exit {outcome.code}, expected {cmd.refusal_exit}: {outcome.err.strip()[:300]}"
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr: {outcome.err.strip()[:300]}"
    named = str(path.parent) if cmd.run_dir and kind in ("directory",) else str(path)
    if not lines[0].startswith("error: ") or (named not in lines[0]
                                             and str(path.parent) not in lines[0]):
        return f"does not name {named}: {lines[0]}"
    return ""


CASES = [(c, k) for c in COMMANDS for k in INPUTS]


def run_case(cmd: Command, kind: str, tmp: Path, big: Path,
             capfd: pytest.CaptureFixture[str] | None) -> tuple[str, Outcome]:
    case_dir = tmp / "case"
    case_dir.mkdir(parents=True)
    work = tmp / "cwd"
    work.mkdir()
    out = tmp / "out" / ("values.yaml" if "recommend" in cmd.name or "chart values" in cmd.name
                         else "report.html" if "report" in cmd.name else "generated")
    path = make_input(kind, cmd.family, case_dir, big)
    argv = cmd.argv(path, out)
    before = _snapshot(work)
    if kind == "unreadable":
        outcome = run_without_file_override(cmd, argv, work)
    else:
        old = Path.cwd()
        os.chdir(work)
        try:
            assert capfd is not None
            outcome = run_in_process(cmd, argv, capfd)
        finally:
            os.chdir(old)
    written = [str(p) for p in (out, out.parent) if p.exists()]
    if _snapshot(work) != before:
        written.append(f"cwd: {_snapshot(work)}")
    return judge(cmd, kind, path, outcome, written), outcome


@pytest.mark.slow
@pytest.mark.parametrize(("cmd", "kind"), CASES, ids=[f"{c.name}|{k}" for c, k in CASES])
def test_bad_input(cmd: Command, kind: str, tmp_path: Path, big_file: Path,
                   capfd: pytest.CaptureFixture[str]) -> None:
    if cmd.name.startswith("opsplane chart"):
        pytest.importorskip("helm_python")
    problem, outcome = run_case(cmd, kind, tmp_path, big_file, capfd)
    RESULTS[cmd.name, kind] = ("FAIL " if problem else "") + (
        f"findings ({outcome.code})" if kind in cmd.findings else
        f"read ({outcome.code})" if kind in cmd.reads_around else f"refused ({outcome.code})")
    assert not problem, f"{cmd.name} on {kind}: {problem}"


RESULTS: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module", autouse=True)
def _table() -> Iterator[None]:
    """With BAD_INPUT_TABLE=FILE, write the matrix as a Markdown table (docs/reliability.md)."""
    yield
    dest = os.environ.get("BAD_INPUT_TABLE")
    if not dest or not RESULTS:
        return
    lines = ["| command | " + " | ".join(INPUTS) + " |", "|---" * (len(INPUTS) + 1) + "|"]
    for cmd in COMMANDS:
        lines.append("| " + " | ".join([cmd.name] + [RESULTS.get((cmd.name, k), "-")
                                                      for k in INPUTS]) + " |")
    Path(dest).write_text("\n".join(lines) + "\n", encoding="utf-8")
