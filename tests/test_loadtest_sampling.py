"""Samplers: a real process tree by pid; the cgroup v2 file formats."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from loadtest.errors import LoadtestError
from loadtest.sampling import CgroupSampler, PidSampler, TargetGone


def test_pid_sampler_sums_the_tree() -> None:
    code = ("import subprocess, sys, time\n"
            "c = subprocess.Popen([sys.executable, '-c', 'import time; x = bytearray(30_000_000);"
            " time.sleep(30)'])\n"
            "print('ready', flush=True); time.sleep(30)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "ready"
        s = PidSampler(parent.pid)
        for _ in range(50):  # the child may still be allocating
            r = s.read()
            if r.procs == 2 and r.memory_bytes > 30_000_000:
                break
            time.sleep(0.05)
        kids = psutil.Process(parent.pid).children(recursive=True)
        assert r.procs == 2 == 1 + len(kids)
        assert r.memory_bytes > 30_000_000  # the child's 30 MB bytearray is counted
        assert r.cpu_seconds > 0
    finally:
        for k in psutil.Process(parent.pid).children(recursive=True):
            k.kill()
        parent.kill()
        parent.wait()
        assert parent.stdout is not None
        parent.stdout.close()
    with pytest.raises(TargetGone, match=f"target pid {parent.pid} exited during the run"):
        s.read()


def test_cgroup_v2_files(tmp_path: Path) -> None:
    (tmp_path / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    (tmp_path / "memory.current").write_text(str(300 * 2**20) + "\n")
    (tmp_path / "memory.stat").write_text(f"anon 1000\ninactive_file {100 * 2**20}\n")
    (tmp_path / "memory.events").write_text("low 0\noom 0\noom_kill 0\n")
    (tmp_path / "cgroup.procs").write_text("12\n13\n")
    s = CgroupSampler(tmp_path)
    r = s.read()
    assert r.cpu_seconds == 2.5
    assert r.memory_bytes == 200 * 2**20  # working set = current - inactive_file
    assert r.procs == 2
    (tmp_path / "memory.events").write_text("low 0\noom 1\noom_kill 1\n")
    s.read()  # OOM kills are counted as of the last reading
    assert s.oom_kills() - s.oom_kills_at_start == 1


def test_cgroup_not_v2(tmp_path: Path) -> None:
    with pytest.raises(LoadtestError) as e:
        CgroupSampler(tmp_path)
    assert str(e.value) == (f"--cgroup {tmp_path}: no cpu.stat here "
                            "(a cgroup v2 directory is needed)")
