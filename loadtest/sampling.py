"""Resource samplers: CPU (cores) and memory of the target, read from outside it.

- ``PidSampler``: a process and all its descendants (psutil): CPU seconds summed over the
  tree, memory = RSS summed over the tree.
- ``CgroupSampler``: a cgroup's files, read from one of two sources that share the parsing
  below (``cgroup_counters``):

  - ``LocalCgroup``: a cgroup v2 directory on this machine (``--cgroup PATH``);
  - ``ExecCgroup``: the container's own ``/sys/fs/cgroup``, read by running a command in the
    container (``--kubectl POD``: ``kubectl exec``; ``--docker NAME``: ``docker exec``);
    cgroup v2 first, v1 when the container has no v2 files.

  v2: CPU = ``cpu.stat`` ``usage_usec``; memory working set = ``memory.current`` -
  ``inactive_file`` of ``memory.stat`` (what the kubelet calls working set); OOM kills from
  ``memory.events``. v1: CPU = ``cpuacct.usage`` (ns); working set =
  ``memory.usage_in_bytes`` - ``total_inactive_file``; OOM kills from ``memory.oom_control``.

CPU in cores is the CPU-seconds delta divided by the wall-clock delta between two reads.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from loadtest.errors import LoadtestError, OptionError


class TargetGone(LoadtestError):
    """The sampled process exited (or the cgroup or container vanished) during the run."""


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
            raise OptionError(f"--pid {pid}: no such process") from e
        except psutil.AccessDenied as e:
            raise OptionError(f"--pid {pid}: not allowed to read this process") from e
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


# --- cgroup files: one parser, two sources --------------------------------------------------

V2_FILES = ("cpu.stat", "memory.current", "memory.stat", "memory.events", "cgroup.procs")
V1_FILES = ("cpuacct/cpuacct.usage", "memory/memory.usage_in_bytes", "memory/memory.stat",
            "memory/memory.oom_control", "memory/cgroup.procs")


@dataclass(frozen=True)
class CgroupCounters:
    cpu_seconds: float
    memory_bytes: int    # working set
    procs: int
    oom_kills: int


def parse_keyed(text: str) -> dict[str, int]:
    """``key value`` lines (cpu.stat, memory.stat, memory.events) -> {key: value}."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if v.strip().isdigit():
            out[k] = int(v)
    return out


def cgroup_counters(files: Mapping[str, str]) -> CgroupCounters:
    """The counters from the texts of V2_FILES or V1_FILES, keyed by those names.

    ``memory.events`` / ``memory.oom_control`` and ``cgroup.procs`` may be missing.
    Raises ValueError when a required file is missing or not a number.
    """
    if "cpu.stat" in files:
        cpu = parse_keyed(files["cpu.stat"])["usage_usec"] / 1e6
        current = int(files["memory.current"].strip())
        inactive = parse_keyed(files.get("memory.stat", "")).get("inactive_file", 0)
        oom = parse_keyed(files.get("memory.events", "")).get("oom_kill", 0)
        procs = files.get("cgroup.procs", "")
    else:
        cpu = int(files["cpuacct/cpuacct.usage"].strip()) / 1e9
        current = int(files["memory/memory.usage_in_bytes"].strip())
        stat = parse_keyed(files.get("memory/memory.stat", ""))
        inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
        oom = parse_keyed(files.get("memory/memory.oom_control", "")).get("oom_kill", 0)
        procs = files.get("memory/cgroup.procs", "")
    return CgroupCounters(cpu, max(0, current - inactive), len(procs.split()), oom)


class CgroupSource(Protocol):
    describe: str

    def read(self) -> dict[str, str]:
        """The cgroup files' texts, keyed by the names of V2_FILES or V1_FILES."""


class LocalCgroup:
    """A cgroup v2 directory on this machine."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.describe = f"cgroup {self.path}"
        for f in ("cpu.stat", "memory.current"):
            if not (self.path / f).is_file():
                raise OptionError(f"--cgroup {self.path}: no {f} here "
                                  "(a cgroup v2 directory is needed)")

    def read(self) -> dict[str, str]:
        files: dict[str, str] = {}
        for name in V2_FILES:
            try:
                files[name] = (self.path / name).read_text()
            except FileNotFoundError:
                if name in ("cpu.stat", "memory.current"):
                    raise TargetGone(f"cgroup {self.path} vanished during the run") from None
            except OSError as e:
                raise TargetGone(f"cgroup {self.path} vanished during the run") from e
        return files


class ExecCgroup:
    """The container's ``/sys/fs/cgroup``, read by a command run inside the container.

    One exec per reading: ``head -n 1000 FILE...`` prints ``==> FILE <==`` before each file,
    so several files come back in one call and stay apart (``cat`` would run them together).
    The container needs ``head`` (coreutils or busybox); distroless images lack it.
    """

    ROOT = "/sys/fs/cgroup"

    def __init__(self, prefix: Sequence[str], flag: str, timeout: float = 15.0) -> None:
        self.prefix = list(prefix)   # e.g. ["kubectl", "exec", "orders-0", "-n", "shop", "--"]
        self.flag = flag              # e.g. "--kubectl orders-0", for messages
        self.describe = flag.lstrip("-")
        self.timeout = timeout
        self.names: tuple[str, ...] = V2_FILES
        self._started = False

    def _head(self, names: Sequence[str]) -> tuple[int, str, str]:
        argv = [*self.prefix, "head", "-n", "1000", *(f"{self.ROOT}/{n}" for n in names)]
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                               check=False, stdin=subprocess.DEVNULL)
        except FileNotFoundError as e:
            raise OptionError(f"{self.flag}: {argv[0]} is not on PATH") from e
        except subprocess.TimeoutExpired:
            return -1, "", f"{argv[0]} did not answer in {self.timeout:g}s"
        return p.returncode, p.stdout, p.stderr

    def _split(self, out: str, names: Sequence[str]) -> dict[str, str]:
        by_path = {f"{self.ROOT}/{n}": n for n in names}
        files: dict[str, str] = {}
        current: str | None = None
        for line in out.splitlines():
            if line.startswith("==> ") and line.endswith(" <=="):
                current = by_path.get(line[4:-4])
                if current is not None:
                    files[current] = ""
                continue
            if current is not None:
                files[current] += line + "\n"
        return files

    def read(self) -> dict[str, str]:
        if not self._started:
            return self._first_read()
        code, out, err = self._head(self.names)
        if code != 0:
            raise TargetGone(f"{self.flag}: {_first_line(err) or f'exit {code}'} "
                             "(the container went away during the run)")
        return self._split(out, self.names)

    def _first_read(self) -> dict[str, str]:
        """Choose cgroup v2 or v1 files; fail with the tool's own one-line reason."""
        reason = ""
        for names in (V2_FILES, V1_FILES):
            required = names[:2]
            code, out, err = self._head(names)
            files = self._split(out, names)
            if all(n in files for n in required):
                self.names = tuple(n for n in names if n in files)
                self._started = True
                return files
            if code != 0 and not any(f in err for f in ("No such file", "can't open")):
                # the exec itself failed (pod not found, daemon down, not allowed...)
                raise LoadtestError(f"{self.flag}: {self.prefix[0]} failed (exit {code}): "
                                    f"{_first_line(err) or 'no output'}")
            reason = _first_line(err)
        raise LoadtestError(f"{self.flag}: no cgroup v2 or v1 files under {self.ROOT} in the "
                            f"container ({reason or 'unreadable'})")


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def kubectl_source(pod: str, container: str | None = None,
                   namespace: str | None = None) -> ExecCgroup:
    """``kubectl exec POD [-c C] [-n NS] -- head ...``."""
    import shutil

    if shutil.which("kubectl") is None:
        raise OptionError("--kubectl needs kubectl on PATH; it is not installed "
                          "(use --pid or --cgroup on this machine)")
    prefix = ["kubectl", "exec", pod]
    if container:
        prefix += ["-c", container]
    if namespace:
        prefix += ["-n", namespace]
    where = f"{namespace}/{pod}" if namespace else pod
    return ExecCgroup([*prefix, "--"], f"--kubectl {where}")


def docker_source(name: str) -> ExecCgroup:
    """``docker exec NAME head ...``.

    ``docker stats --no-stream`` would need no tool in the container, but it takes a second
    or more per call (it waits for two samples) and reports rounded CPU percentages.
    """
    import shutil

    if shutil.which("docker") is None:
        raise OptionError("--docker needs docker on PATH; it is not installed "
                          "(use --pid or --cgroup on this machine)")
    return ExecCgroup(["docker", "exec", name], f"--docker {name}")


class CgroupSampler:
    """Samples a cgroup through a source: a local directory, or a container by exec."""

    def __init__(self, source: CgroupSource | str | Path, kind: str = "cgroup") -> None:
        self.source: CgroupSource = (LocalCgroup(source) if isinstance(source, str | Path)
                                     else source)
        self.kind = kind
        self.describe = self.source.describe
        self.oom_kills_at_start = 0
        self._last_oom = 0
        self.read()  # fails early, with the source's own reason
        self.oom_kills_at_start = self._last_oom

    def oom_kills(self) -> int:
        """OOM kills counted by the cgroup at the last reading."""
        return self._last_oom

    def read(self) -> Reading:
        before = time.monotonic()
        files = self.source.read()
        after = time.monotonic()
        try:
            c = cgroup_counters(files)
        except (KeyError, ValueError) as e:
            raise TargetGone(f"{self.describe}: unreadable cgroup files during the run "
                             f"({e})") from e
        self._last_oom = c.oom_kills
        # an exec takes a while: the counters were read about half-way through it
        mid = (before + after) / 2
        return Reading(time.time() - (after - mid), mid, c.cpu_seconds, c.memory_bytes,
                       c.procs)


Sampler = PidSampler | CgroupSampler
