"""Resource samplers: CPU (cores) and memory of the target, read from outside it.

- ``PidSampler``: a process and all its descendants (psutil): CPU seconds summed over the
  tree, memory = RSS summed over the tree.
- ``CgroupSampler``: a cgroup v2 directory: ``cpu.stat`` usage, memory working set =
  ``memory.current`` - ``inactive_file`` (what the kubelet calls working set); OOM kills
  from ``memory.events``.

CPU in cores is the CPU-seconds delta divided by the wall-clock delta between two reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from loadtest.errors import LoadtestError


class TargetGone(LoadtestError):
    """The sampled process exited (or the cgroup vanished) during the run."""


@dataclass(frozen=True)
class Reading:
    wall: float          # time.time()
    mono: float          # time.monotonic()
    cpu_seconds: float   # cumulative CPU seconds of the target
    memory_bytes: int    # RSS of the tree, or cgroup working set
    procs: int


class PidSampler:
    kind = "pid"

    def __init__(self, pid: int) -> None:
        import psutil

        try:
            self._root = psutil.Process(pid)
            self._root.cpu_times()
        except psutil.NoSuchProcess as e:
            raise LoadtestError(f"--pid {pid}: no such process") from e
        except psutil.AccessDenied as e:
            raise LoadtestError(f"--pid {pid}: not allowed to read this process") from e
        self.pid = pid
        self.describe = f"pid {pid}"
        self._seen: dict[int, float] = {}

    def read(self) -> Reading:
        import psutil

        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess as e:
            raise TargetGone(f"target pid {self.pid} exited during the run") from e
        if not self._root.is_running() or self._root.status() == psutil.STATUS_ZOMBIE:
            raise TargetGone(f"target pid {self.pid} exited during the run")
        cpu, rss, alive = 0.0, 0, 0
        for p in procs:
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    rss += p.memory_info().rss
                cpu_p = t.user + t.system
                # keep the last CPU time of children that exit, so the sum never goes back
                self._seen[p.pid] = cpu_p
                alive += 1
            except psutil.NoSuchProcess:
                continue
        cpu = sum(self._seen.values())
        return Reading(time.time(), time.monotonic(), cpu, rss, alive)


class CgroupSampler:
    kind = "cgroup"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.describe = f"cgroup {self.path}"
        for f in ("cpu.stat", "memory.current"):
            if not (self.path / f).is_file():
                raise LoadtestError(f"--cgroup {self.path}: no {f} here "
                                    "(a cgroup v2 directory is needed)")
        self.oom_kills_at_start = self.oom_kills()

    def _stat(self, name: str) -> dict[str, int]:
        out: dict[str, int] = {}
        try:
            text = (self.path / name).read_text()
        except OSError as e:
            raise TargetGone(f"cgroup {self.path} vanished during the run") from e
        for line in text.splitlines():
            k, _, v = line.partition(" ")
            if v.strip().isdigit():
                out[k] = int(v)
        return out

    def oom_kills(self) -> int:
        if not (self.path / "memory.events").is_file():
            return 0
        return self._stat("memory.events").get("oom_kill", 0)

    def read(self) -> Reading:
        usage = self._stat("cpu.stat").get("usage_usec", 0) / 1e6
        try:
            current = int((self.path / "memory.current").read_text().strip())
            nprocs = len((self.path / "cgroup.procs").read_text().split())
        except (OSError, ValueError) as e:
            raise TargetGone(f"cgroup {self.path} vanished during the run") from e
        inactive = self._stat("memory.stat").get("inactive_file", 0)
        return Reading(time.time(), time.monotonic(), usage, max(0, current - inactive), nprocs)


Sampler = PidSampler | CgroupSampler
