"""`opsplane demo --fast` end to end, Ctrl-C mid-run, and the README's tour commands.

The demo runs once per module (about 30 s) as a real subprocess from the repository root;
its artifacts are checked by parsing them, its summary by its lines, and every pid it
reported is checked to be gone.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import yaml

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parent.parent
OPSPLANE = [sys.executable, "-m", "opsplane.cli.main"]
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
TRACEBACK = re.compile(r"^Traceback \(most recent call last\):$", re.M)
PROCESSES = re.compile(r"^processes: (.*) -- all stopped$", re.M)


@dataclass
class DemoRun:
    out: Path
    stdout: str
    code: int


def _pids(stdout: str) -> dict[str, int]:
    m = PROCESSES.search(stdout)
    assert m, "the demo did not report its processes"
    pairs = (item.rsplit(" pid ", 1) for item in m.group(1).split(", "))
    return {name: int(pid) for name, pid in pairs}


def _assert_gone(pids: dict[str, int], out: Path) -> None:
    deadline = time.monotonic() + 10
    alive = dict(pids)
    while alive and time.monotonic() < deadline:
        alive = {n: p for n, p in alive.items() if psutil.pid_exists(p)}
        time.sleep(0.1)
    assert alive == {}, f"left running: {alive}"
    leftover = _mentioning(out)
    assert leftover == [], f"processes still mention {out}: {leftover}"


def _mentioning(out: Path) -> list[tuple[int, str]]:
    """Processes whose command line or working directory is in ``out`` (Locust's is)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(out) in cmdline or str(out) in (proc.info["cwd"] or ""):
            found.append((proc.info["pid"], cmdline))
    return found


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    out = tmp_path_factory.mktemp("demo") / "out"
    p = subprocess.run([*OPSPLANE, "demo", "--fast", "--out", str(out)], cwd=ROOT, env=ENV,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=240, check=False)
    return DemoRun(out, p.stdout, p.returncode)


def _has_prometheus() -> bool:
    return shutil.which("prometheus") is not None or os.environ.get("CI") == "true"


def test_demo_exits_0_and_every_stage_ran(demo_run: DemoRun) -> None:
    assert demo_run.code == 0, demo_run.stdout[-3000:]
    skipped = re.findall(r"^skipped: (.*)$", demo_run.stdout, re.M)
    if _has_prometheus():
        assert skipped == []
    else:
        assert all(s.startswith("prometheus") for s in skipped), skipped
    after_logging = demo_run.stdout[demo_run.stdout.index("== 2. "):]  # stage 1 shows one
    assert not TRACEBACK.search(after_logging)
    for n in range(1, 12):
        assert re.search(rf"^== {n}\. ", demo_run.stdout, re.M), f"stage {n} missing"


def test_summary_lines(demo_run: DemoRun) -> None:
    text = demo_run.stdout
    summary = text[text.index("== summary"):]
    assert re.search(r"^smoke test\s+passed$", summary, re.M)
    m = re.search(r"^graceful shutdown\s+dropped (\d+) of (\d+) requests, exit code 0$",
                  summary, re.M)
    assert m, summary
    assert m.group(1) == "0"
    assert int(m.group(2)) > 0
    m = re.search(r"^recommended resources\s+requests cpu (\d+)m memory (\d+)Mi", summary, re.M)
    assert m, summary
    m = re.search(r"^log records for C-1001\s+(\d+)$", summary, re.M)
    assert m
    assert int(m.group(1)) >= 3  # create, its access line, the list at least
    assert re.search(r"^log lint findings\s+\d+$", summary, re.M)
    if _has_prometheus():
        m = re.search(r"^dashboard queries with data\s+(\d+) of (\d+)$", summary, re.M)
        assert m, summary
        assert int(m.group(1)) >= 2
    for where in ("dashboards/", "alerts/", "values.yaml", "logs/", "values-resources.yaml",
                  "smoke-report.json"):
        assert where in summary
    assert "next commands to try:" in summary


def test_slow_requests_were_in_flight_at_sigterm(demo_run: DemoRun) -> None:
    m = re.search(r"slow requests in flight at SIGTERM: (\d+); orders exited with code 0",
                  demo_run.stdout)
    assert m
    assert int(m.group(1)) >= 1
    log = (demo_run.out / "logs" / "orders.log").read_text(encoding="utf-8")
    events = [json.loads(line).get("event") for line in log.splitlines() if line.startswith("{")]
    assert events.index("shutdown.started") < events.index("shutdown.completed")


def test_artifacts_exist_and_parse(demo_run: DemoRun) -> None:
    out = demo_run.out
    board = json.loads((out / "dashboards" / "svc-orders.json").read_text(encoding="utf-8"))
    assert board["uid"] == "svc-orders"
    assert board["panels"]
    rules = yaml.safe_load((out / "alerts" / "orders.rules.yaml").read_text(encoding="utf-8"))
    assert any(r.get("alert") for g in rules["groups"] for r in g["rules"])
    routes = yaml.safe_load(next((out / "alerts").rglob("alertmanager.yaml"))
                            .read_text(encoding="utf-8"))
    assert routes["route"]["receiver"]
    values = yaml.safe_load((out / "values.yaml").read_text(encoding="utf-8"))
    assert isinstance(values, dict)
    assert values
    resources = yaml.safe_load(
        (out / "values-resources.yaml").read_text(encoding="utf-8"))["resources"]
    assert re.fullmatch(r"\d+m", resources["requests"]["cpu"])
    assert re.fullmatch(r"\d+Mi", resources["requests"]["memory"])
    report = json.loads((out / "smoke-report.json").read_text(encoding="utf-8"))
    assert report
    for name in ("orders", "payments"):
        lines = (out / "logs" / f"{name}.log").read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        assert records, f"{name}.log is empty"
        assert {r.get("service") for r in records} == {name}
    assert (out / "loadtest-run" / "samples.csv").stat().st_size > 0


def test_no_process_left_behind(demo_run: DemoRun) -> None:
    pids = _pids(demo_run.stdout)
    assert {"orders", "payments", "logstd pretty", "loadtest run"} <= set(pids)
    if _has_prometheus():
        assert "prometheus" in pids
    _assert_gone(pids, demo_run.out)


def test_no_secret_in_generated_files(demo_run: DemoRun) -> None:
    # the demo's own scenario logs a bearer token and a card number: neither may land anywhere
    for path in demo_run.out.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".yaml", ".log", ".yml"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            assert "eyJhbGciOi.secret" not in text, path
            assert "4111111111111111" not in text, path


def _lines(proc: subprocess.Popen[str], q: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        q.put(line)
    q.put(None)


def test_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen([*OPSPLANE, "demo", "--fast", "--out", str(out)], cwd=ROOT,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    q: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(proc, q), daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = q.get(timeout=120)
            if line is None:
                break
            seen.append(line)
            if line.startswith("$ loadtest run"):
                break
        # interrupt once Locust runs (its working directory is the run directory in out/)
        run_dir = out / "loadtest-run"
        while time.monotonic() < deadline and not any(
                "locust" in cmd for _pid, cmd in _mentioning(run_dir)):
            time.sleep(0.1)
        assert any("locust" in cmd for _pid, cmd in _mentioning(run_dir)), "".join(seen)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the foreground
        code = proc.wait(timeout=60)
        while (line := q.get(timeout=10)) is not None:
            seen.append(line)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    text = "".join(seen)
    assert code == 130, text[-2000:]
    assert "interrupted: every process was stopped" in text
    pids = _pids(text)
    assert {"orders", "payments", "loadtest run"} <= set(pids)
    _assert_gone(pids, out)


# ----------------------------------------------------------------- the README's tour

TOUR = re.compile(r"<!-- tour:test -->\s*\n```sh\n(.*?)```", re.S)


def tour_blocks() -> list[str]:
    return TOUR.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_marks_tour_blocks() -> None:
    blocks = tour_blocks()
    assert len(blocks) >= 2
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count("<!-- tour:test -->") == len(blocks), "a marker not followed by ```sh"


@pytest.mark.parametrize("index", range(len(tour_blocks())))
def test_readme_tour_block_runs(index: int, demo_run: DemoRun, tmp_path: Path) -> None:
    """Each marked block, as written, in a checkout where `make demo` has run: the
    repository's entries linked into a scratch directory whose out/ is the demo's."""
    assert demo_run.code == 0
    for entry in ROOT.iterdir():
        if entry.name not in {"out", ".git"}:
            (tmp_path / entry.name).symlink_to(entry)
    (tmp_path / "out").symlink_to(demo_run.out)
    block = tour_blocks()[index]
    for binary in ("promtool", "amtool", "jq"):  # external tools a block may use
        if re.search(rf"(^|[|;&(]\s*){binary}\b", block, re.M):
            require_tool(binary)
    p = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, env=ENV,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=120, check=False)
    assert p.returncode == 0, f"block {index}:\n{block}\n--- output\n{p.stdout[-3000:]}"
    assert p.stdout.strip(), f"block {index} printed nothing"
    assert not TRACEBACK.search(p.stdout)


def test_every_piece_is_available() -> None:
    from opsplane.cli import demo

    assert {p: demo.available(p) for p in demo._PIECES} == dict.fromkeys(demo._PIECES, True)


def test_dashboard_queries_have_no_variables_left(demo_run: DemoRun) -> None:
    from opsplane.cli.demo import dashboard_queries

    queries = dashboard_queries(demo_run.out / "dashboards")
    assert len(queries) >= 4
    assert {title for title, _ in queries} >= {"Requests/s", "p99 latency"}
    # Grafana variables ($cluster, ${namespace}, $__rate_interval) filled; ${1} is PromQL's
    leftover = [expr for _, expr in queries if re.search(r"\$\{?[A-Za-z_]", expr)]
    assert leftover == []


def test_a_missing_piece_is_skipped_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    import io

    from opsplane.cli import demo

    monkeypatch.setitem(demo._PIECES, "logstd lint", ("no_such_module_here", None, None))
    monkeypatch.setitem(demo._PIECES, "logstd query",
                        ("logstd._cmd_query", "logstd._cli", "no-such-command"))
    out = io.StringIO()
    d = demo.Demo(out_dir=tmp_path, stream=out, tmp=tmp_path / "scratch")
    assert demo.lint_stage(d) == {}
    assert demo.query_stage(d) == {}
    assert out.getvalue() == ("skipped: logstd lint not available\n"
                              "skipped: logstd query not available\n")
    assert d.skipped == ["logstd lint", "logstd query"]
    assert "skipped: logstd lint not available" in demo.summary(d)


def test_tool_not_found_message() -> None:
    from opsplane.cli.demo import tool
    from opsplane.errors import OpsplaneError

    with pytest.raises(OpsplaneError) as e:
        tool("no-such-tool-xyz")
    assert str(e.value) == (f"no-such-tool-xyz: command not found next to {sys.executable} "
                            "or on PATH (pip install -e . installs it)")
