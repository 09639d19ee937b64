"""Locust's processes under ``loadtest``: remote workers, and SIGTERM stopping all of them.

Real processes on 127.0.0.1 only: the orders-like app under uvicorn, ``loadtest run`` as a
Locust master, ``loadtest worker`` as a separate process standing for another machine.
Bounded: at most 6 users, runs of at most 40 s, every process stopped by its pid.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from loadtest._cli import main
from opsplane.testing.procs import ProcessGroup, free_port
from tests._service_procs import Service, wait_for
from tests.conftest import ROOT

APPS = Path(__file__).resolve().parent / "apps"
LOADTEST = [sys.executable, "-m", "loadtest._cli"]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = Service("orders_like:app", APPS, tmp_path_factory.mktemp("app"))
    try:
        yield svc.start()
    finally:
        svc.stop()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_master_with_remote_workers(app: Service, tmp_path: Path) -> None:
    """`loadtest run --expect-workers 2` waits for 2 workers that `loadtest worker` starts."""
    assert app.proc is not None
    port, out = free_port(), tmp_path / "run"
    master_err, worker_err = tmp_path / "master.err", tmp_path / "worker.err"
    with ProcessGroup() as procs, master_err.open("w") as m_err, worker_err.open("w") as w_err:
        master = procs.start("master", [
            *LOADTEST, "run", "--profile", "mixed", "--users", "6", "--spawn-rate", "6",
            "--duration", "8s", "--interval", "0.2", "--target", app.url,
            "--pid", str(app.proc.pid), "--out", str(out), "--expect-workers", "2",
            "--master-port", str(port), "--worker-wait", "60"],
            cwd=ROOT, stderr=m_err)
        worker = procs.start("worker", [
            *LOADTEST, "worker", "--master-host", "127.0.0.1", "--master-port", str(port),
            "--processes", "2", "--profile", "mixed"], cwd=tmp_path, stderr=w_err)
        assert master.wait(timeout=150) == 0, master_err.read_text()
        assert worker.wait(timeout=60) == 0, worker_err.read_text()
    m_lines = master_err.read_text().splitlines()
    assert m_lines[0] == (f"Locust master on 127.0.0.1:{port}: waiting for 2 remote worker(s) "
                          f"(loadtest worker --master-host HOST --master-port {port} ...)")
    w_lines = worker_err.read_text().splitlines()
    assert any(re.fullmatch(rf"2 Locust worker\(s\) \(pids \d+ \d+\) working for the master "
                            rf"at 127\.0\.0\.1:{port}", line) for line in w_lines), w_lines
    assert w_lines[-1] == "the master ended the run"
    meta = json.loads((out / "metadata.json").read_text())
    assert (meta["status"], meta["workers"], meta["expect_workers"], meta["master"]) == (
        "completed", 0, 2, f"127.0.0.1:{port}")
    # the master runs no users itself: every request counted came from the remote workers
    agg = next(r for r in _rows(out / "locust_stats.csv") if r["Name"] == "Aggregated")
    assert int(agg["Request Count"]) > 20
    assert int(agg["Failure Count"]) == 0
    assert max(int(r["User Count"]) for r in _rows(out / "locust_stats_history.csv")) == 6
    assert any(int(r["users"]) == 6 for r in _rows(out / "samples.csv"))
    assert not (out / "locust-worker.log").exists()  # no local worker was started


def test_master_gives_up_on_missing_workers(app: Service, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert app.proc is not None
    port, out = free_port(), tmp_path / "run"
    rc = main(["run", "--users", "2", "--duration", "5s", "--target", app.url,
               "--pid", str(app.proc.pid), "--out", str(out), "--expect-workers", "1",
               "--master-port", str(port), "--worker-wait", "2"])
    assert rc == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: only 0 of 1 Locust workers connected to 127.0.0.1:{port} within 2s")
    assert json.loads((out / "metadata.json").read_text())["status"] == "locust_failed"


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--workers", "2", "--expect-workers", "1"],
     "--expect-workers 1: must be at least 1 and at least --workers (2)"),
    (["run", "--master-port", "70000", "--workers", "1"], "--master-port 70000: not a TCP port"),
    (["worker", "--master-host", "10.0.0.5", "--profile", "replay"],
     "--profile replay needs --collection FILE"),
    (["worker", "--master-host", "10.0.0.5", "--processes", "0"],
     "--processes must be 1 or more"),
    (["worker", "--master-host", "10.0.0.5", "--path", "orders"],
     "--path 'orders': use NAME=/path, e.g. orders=/api/orders"),
])
def test_distribution_flags_are_checked(argv: list[str], message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    if argv[0] == "run":
        argv = [*argv, "--target", "http://127.0.0.1:1", "--pid", str(os.getpid())]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_sigterm_stops_locust_and_keeps_the_samples(app: Service, tmp_path: Path) -> None:
    """SIGTERM to `loadtest run` (master + 2 local workers): no Locust process survives."""
    assert app.proc is not None
    out, err_path = tmp_path / "run", tmp_path / "run.err"
    with ProcessGroup() as procs, err_path.open("w") as err, \
            (tmp_path / "run.out").open("w") as stdout:
        run = procs.start("run", [
            *LOADTEST, "run", "--profile", "read", "--users", "4", "--spawn-rate", "4",
            "--duration", "40s", "--interval", "0.2", "--workers", "2",
            "--target", app.url, "--pid", str(app.proc.pid), "--out", str(out)],
            cwd=ROOT, stdout=stdout, stderr=err)
        # load is flowing: a progress line shows users from the runner and requests/s
        wait_for(lambda: re.search(r"users +[1-9].*req/s +[0-9.]*[1-9]", err_path.read_text()),
                 attempts=900, pause=0.1)
        locusts = psutil.Process(run.pid).children(recursive=True)
        assert len(locusts) == 3  # the Locust master and its 2 workers
        assert all("locust" in " ".join(p.cmdline()) for p in locusts)
        os.kill(run.pid, signal.SIGTERM)
        assert run.wait(timeout=90) == 1
    assert [p.pid for p in locusts if p.is_running()] == []
    lines = err_path.read_text().splitlines()
    assert lines[-1] == "error: stopped by SIGTERM; Locust stopped, samples so far are kept"
    assert "Traceback" not in err_path.read_text()
    assert (tmp_path / "run.out").read_text().splitlines()[-1] == str(out)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "interrupted"
    rows = _rows(out / "samples.csv")
    assert meta["samples"] == len(rows) > 5
    assert any(int(r["users"]) > 0 for r in rows)


def test_sigterm_stops_the_workers_of_loadtest_worker(tmp_path: Path) -> None:
    """A `loadtest worker` whose master is not up yet (Locust keeps dialling) gets SIGTERM."""
    err_path = tmp_path / "worker.err"
    with ProcessGroup() as procs, err_path.open("w") as err:
        worker = procs.start("worker", [
            *LOADTEST, "worker", "--master-host", "127.0.0.1", "--master-port",
            str(free_port()), "--processes", "2", "--profile", "read"],
            cwd=tmp_path, stderr=err)
        wait_for(lambda: "working for the master" in err_path.read_text(),
                 attempts=600, pause=0.1)
        locusts = psutil.Process(worker.pid).children(recursive=True)
        assert len(locusts) == 2
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.wait(timeout=60) == 1
    assert [p.pid for p in locusts if p.is_running()] == []
    assert err_path.read_text().splitlines()[-1] == (
        "error: stopped by SIGTERM; Locust workers stopped")


def test_a_worker_with_another_profile_is_refused(app: Service, tmp_path: Path) -> None:
    """Master `mixed`, remote worker `read`: the run stops and both sides say why."""
    assert app.proc is not None
    port, out = free_port(), tmp_path / "run"
    master_err, worker_err = tmp_path / "master.err", tmp_path / "worker.err"
    with ProcessGroup() as procs, master_err.open("w") as m_err, worker_err.open("w") as w_err:
        master = procs.start("master", [
            *LOADTEST, "run", "--profile", "mixed", "--users", "2", "--duration", "30s",
            "--target", app.url, "--pid", str(app.proc.pid), "--out", str(out),
            "--expect-workers", "1", "--master-port", str(port)], cwd=ROOT, stderr=m_err)
        worker = procs.start("worker", [
            *LOADTEST, "worker", "--master-host", "127.0.0.1", "--master-port", str(port),
            "--profile", "read"], cwd=tmp_path, stderr=w_err)
        assert master.wait(timeout=120) == 1
        assert worker.wait(timeout=60) == 1
    assert master_err.read_text().splitlines()[-1] == (
        "error: a Locust worker runs another profile than the master; start `loadtest worker` "
        "with the master's --profile, --path, --spec, --collection/--env and --user-class")
    assert json.loads((out / "metadata.json").read_text())["status"] == "locust_failed"
    w_text = worker_err.read_text()
    assert "refused by the master: this worker's profile differs from the master's" in w_text
    assert w_text.splitlines()[-1] == (
        "error: a Locust worker exited with status 1 (Locust's messages are above)")
