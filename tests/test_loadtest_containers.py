"""``--kubectl POD`` and ``--docker NAME`` sampling, through stand-ins for the two tools.

This machine has no Kubernetes cluster and no Docker engine, so ``kubectl`` and ``docker``
are stand-ins (``tests/apps/exec_standin.py``) put first on PATH: they run the sampler's real
``head`` command on a real directory the test fills with cgroup files (and rewrites while
the sampler reads). What is tested for real: the command lines the samplers run, the
parsing of their output (shared with ``--cgroup``), the error handling, and a real Locust
run sampled through the stand-in that keeps its samples when the "pod" disappears.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest._cli import main
from loadtest.errors import LoadtestError
from loadtest.sampling import CgroupSampler, docker_source, kubectl_source
from tests._service_procs import Service

APPS = Path(__file__).resolve().parent / "apps"
MI = 2**20


def _write(path: Path, text: str) -> None:
    """Atomically, as the kernel's files never show half a value."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def fill_v2(box: Path, *, usage_usec: int, current_mi: int, inactive_mi: int,
            oom_kill: int = 0, pids: str = "1\n7\n") -> None:
    _write(box / "cpu.stat", f"usage_usec {usage_usec}\nuser_usec {usage_usec // 2}\n"
                             f"system_usec {usage_usec // 2}\n")
    _write(box / "memory.current", f"{current_mi * MI}\n")
    _write(box / "memory.stat", f"anon {5 * MI}\nfile {inactive_mi * MI}\n"
                                f"inactive_file {inactive_mi * MI}\n")
    _write(box / "memory.events", f"low 0\nhigh 0\nmax 0\noom 0\noom_kill {oom_kill}\n")
    _write(box / "cgroup.procs", pids)


@pytest.fixture
def standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``kubectl`` and ``docker`` stand-ins first on PATH; returns STANDIN_ROOT."""
    bin_dir, root = tmp_path / "bin", tmp_path / "containers"
    bin_dir.mkdir()
    root.mkdir()
    for tool in ("kubectl", "docker"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{APPS / "exec_standin.py"}" '
                          f'{tool} "$@"\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_ROOT", str(root))
    return root


def _calls(root: Path) -> list[str]:
    return (root / "calls.log").read_text().splitlines()


def test_kubectl_reads_the_pod_cgroup_v2(standins: Path) -> None:
    box = standins / "orders-0"
    fill_v2(box, usage_usec=2_000_000, current_mi=300, inactive_mi=100, oom_kill=1,
            pids="1\n7\n42\n")
    s = CgroupSampler(kubectl_source("orders-0", container="app", namespace="shop"),
                      kind="kubectl")
    assert s.describe == "kubectl shop/orders-0"
    assert s.oom_kills_at_start == 1
    first = s.read()
    assert (first.cpu_seconds, first.memory_bytes, first.procs) == (2.0, 200 * MI, 3)
    fill_v2(box, usage_usec=2_750_000, current_mi=320, inactive_mi=90, oom_kill=2)
    second = s.read()
    assert second.cpu_seconds == 2.75
    assert second.memory_bytes == 230 * MI  # working set = memory.current - inactive_file
    assert s.oom_kills() - s.oom_kills_at_start == 1
    assert second.mono > first.mono
    call = _calls(standins)[-1]
    assert call.startswith("kubectl exec orders-0 -c app -n shop -- head -n 1000 "
                           "/sys/fs/cgroup/cpu.stat /sys/fs/cgroup/memory.current ")


def test_docker_falls_back_to_cgroup_v1(standins: Path) -> None:
    box = standins / "orders"
    _write(box / "cpuacct" / "cpuacct.usage", f"{1_500_000_000}\n")  # nanoseconds
    _write(box / "memory" / "memory.usage_in_bytes", f"{250 * MI}\n")
    _write(box / "memory" / "memory.stat", f"cache {60 * MI}\ninactive_file {1 * MI}\n"
                                           f"total_inactive_file {50 * MI}\n")
    _write(box / "memory" / "cgroup.procs", "1\n")
    # no memory.oom_control: the optional files may be missing
    s = CgroupSampler(docker_source("orders"), kind="docker")
    r = s.read()
    assert (r.cpu_seconds, r.memory_bytes, r.procs) == (1.5, 200 * MI, 1)
    assert s.oom_kills() == 0
    assert _calls(standins)[-1].startswith(
        "docker exec orders head -n 1000 /sys/fs/cgroup/cpuacct/cpuacct.usage ")


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.rstrip("\n")


def test_tools_missing_from_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither kubectl nor docker here
    assert main(["run", "--target", "http://127.0.0.1:1", "--kubectl", "orders-0"]) == 2
    assert _err_line(capsys) == ("error: --kubectl needs kubectl on PATH; it is not installed "
                                 "(use --pid or --cgroup on this machine)")
    assert main(["run", "--target", "http://127.0.0.1:1", "--docker", "orders"]) == 2
    assert _err_line(capsys) == ("error: --docker needs docker on PATH; it is not installed "
                                 "(use --pid or --cgroup on this machine)")


def test_pod_or_container_not_found(standins: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["run", "--target", "http://127.0.0.1:1", "--kubectl", "orders-9",
                 "-n", "shop", "--out", str(out)]) == 1
    assert _err_line(capsys) == ('error: --kubectl shop/orders-9: kubectl failed (exit 1): '
                                 'Error from server (NotFound): pods "orders-9" not found')
    assert main(["run", "--target", "http://127.0.0.1:1", "--docker", "gone"]) == 1
    assert _err_line(capsys) == ("error: --docker gone: docker failed (exit 1): "
                                 "Error response from daemon: No such container: gone")
    assert not out.exists()


def test_container_without_cgroup_files(standins: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (standins / "bare").mkdir()
    assert main(["run", "--target", "http://127.0.0.1:1", "--docker", "bare"]) == 1
    line = _err_line(capsys)
    assert line.startswith("error: --docker bare: no cgroup v2 or v1 files under "
                           "/sys/fs/cgroup in the container (head: ")


def test_kubectl_flags_need_kubectl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--target", "http://127.0.0.1:1", "--pid", "1", "-n", "shop"]) == 2
    assert _err_line(capsys) == "error: --container and --namespace go with --kubectl POD"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Service]:
    svc = Service("orders_like:app", APPS, tmp_path)
    try:
        yield svc.start()
    finally:
        svc.stop()


def test_run_sampled_through_kubectl_keeps_samples_when_the_pod_goes(
        app: Service, standins: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A real Locust run against the app; the "pod" is rewritten while sampled, then removed."""
    box = standins / "orders-0"
    fill_v2(box, usage_usec=1_000_000, current_mi=100, inactive_mi=20)
    written: set[int] = {80 * MI}
    done = threading.Event()

    def churn() -> None:
        usage, step = 1_000_000, 0
        while not done.is_set():
            calls = len(_calls(standins)) if (standins / "calls.log").exists() else 0
            if calls >= 30:  # the pod goes away after 30 reads, mid-run
                gone = box.with_name(box.name + ".gone")
                box.rename(gone)  # at once: a read never sees a half-removed pod
                shutil.rmtree(gone)
                return
            step += 1
            usage += 25_000
            current = 100 + step % 7
            written.add((current - 20) * MI)
            fill_v2(box, usage_usec=usage, current_mi=current, inactive_mi=20)
            done.wait(0.05)

    worker = threading.Thread(target=churn)
    worker.start()
    out = tmp_path / "run"
    try:
        rc = main(["run", "--profile", "read", "--users", "2", "--spawn-rate", "2",
                   "--duration", "40s", "--interval", "0.1", "--target", app.url,
                   "--kubectl", "orders-0", "--out", str(out)])
    finally:
        done.set()
        worker.join()
    assert rc == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ('error: --kubectl orders-0: Error from server (NotFound): pods '
                       '"orders-0" not found (the container went away during the run); '
                       'the run stopped, samples so far are kept')
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "target_exited"
    assert meta["sampler"]["kind"] == "kubectl"
    with (out / "samples.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert meta["samples"] == len(rows) >= 20
    assert {int(r["memory_bytes"]) for r in rows} <= written  # the files' working sets
    assert any(float(r["cpu_cores"]) > 0 for r in rows)  # usage_usec grew between reads
    assert all(r["procs"] == "2" for r in rows)


def test_library_refuses_two_samplers() -> None:
    from loadtest.run import RunOptions, run_load

    with pytest.raises(LoadtestError, match=r"^give one of --pid, --cgroup, --kubectl or "
                                            r"--docker, not --pid and --docker$"):
        run_load(RunOptions(profile="read", users=1, spawn_rate=1, duration=1,
                            target="http://127.0.0.1:1", pid=1, docker="orders"))
