"""Processes a tool starts and must stop: free ports, readiness waits, stop by pid.

    with ProcessGroup() as procs:
        p = procs.start("orders", ["opsplane", "serve", "--port", str(port)], cwd=...)
        wait_http(f"http://127.0.0.1:{port}/healthz/ping", proc=p)
    # every process started in the block is stopped here, also on Ctrl-C or an error
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from opsplane.errors import OpsplaneError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[Any] | None = None,
              expect: int = 200) -> None:
    """Poll ``url`` until it answers ``expect``; fail with one line on timeout or exit."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise OpsplaneError(f"{url}: the process exited with code {proc.returncode} "
                                "before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == expect:
                    return
                last = f"HTTP {r.status}"
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}"
            if e.code == expect:
                return
        except (urllib.error.URLError, OSError) as e:
            last = str(getattr(e, "reason", e))
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    raise OpsplaneError(f"{url}: not ready after {timeout:g}s (last: {last})")


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0, *,
                 group: bool = False) -> int:
    """SIGTERM, wait up to ``timeout``, then SIGKILL (the whole process group with
    ``group``, for a process started in its own session); its exit code."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                if group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
    return proc.wait()


class ProcessGroup:
    """Starts subprocesses and stops every one of them, by pid, when the block ends."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[Any]]] = []

    def start(self, name: str, argv: Sequence[str], *, cwd: str | Path | None = None,
              env: Mapping[str, str] | None = None, stdout: IO[Any] | int | None = None,
              stderr: IO[Any] | int | None = subprocess.STDOUT,
              stdin: IO[Any] | int | None = subprocess.DEVNULL) -> subprocess.Popen[Any]:
        full_env = {**os.environ, **(env or {})}
        p = subprocess.Popen(list(argv), cwd=cwd, env=full_env, stdout=stdout, stderr=stderr,
                             stdin=stdin, start_new_session=True)
        self.procs.append((name, p))
        return p

    def stop(self, proc: subprocess.Popen[Any], timeout: float = 30.0) -> int:
        """SIGTERM, wait, then SIGKILL the process (and its group) if it lingers."""
        return stop_process(proc, timeout, group=True)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        for _name, p in reversed(self.procs):
            self.stop(p, timeout=15)
        self.procs.clear()
