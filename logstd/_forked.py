"""Forked workers on pipes: what ``logstd pretty`` and ``logstd lint`` share to use every core.

A ``ForkedWorker`` is a child process that runs ``serve(requests_fd, replies_fd)`` until
its input ends; the parent sends framed requests and reads framed replies in the order
sent. Each tool frames its own messages and keeps, per request, what it needs to redo
the work itself should a worker fail.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
from collections.abc import Callable, Sequence

PIPE_BYTES = 1 << 20


def cpu_count() -> int:
    """Cores this process may run on (not the machine's count under a CPU mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def is_big_file(fd: int, min_bytes: int) -> bool:
    """A regular file of at least ``min_bytes``: worth several processes."""
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size >= min_bytes


def read_exact(fd: int, n: int) -> bytes:
    """Exactly ``n`` bytes; EOFError when the other end closed first."""
    parts = []
    while n:
        b = os.read(fd, min(n, 1 << 22))
        if not b:
            raise EOFError
        parts.append(b)
        n -= len(b)
    return b"".join(parts)


def read_into(fd: int, n: int) -> bytearray:
    """``read_exact`` read straight into one buffer (no pieces joined)."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if not k:
            raise EOFError
        got += k
    return buf


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_parts(fd: int, parts: list[bytes]) -> None:
    """``write_all(fd, b"".join(parts))`` without joining them."""
    views = [memoryview(p) for p in parts if p]
    while views:
        n = os.writev(fd, views)
        while views and n >= len(views[0]):
            n -= len(views[0])
            views.pop(0)
        if n:
            views[0] = views[0][n:]


def grow_pipe(fd: int, size: int = PIPE_BYTES) -> None:
    """A bigger pipe buffer where Linux allows it (fewer, larger reads and writes)."""
    with contextlib.suppress(OSError, AttributeError):
        import fcntl

        fcntl.fcntl(fd, 1031, size)  # F_SETPIPE_SZ


class ForkedWorker:
    """A forked child answering requests on a pipe, in the order they come."""

    pid: int
    to_w: int
    from_r: int

    def __init__(self, serve: Callable[[int, int], None],
                 siblings: Sequence[ForkedWorker] = ()) -> None:
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        grow_pipe(to_w)
        grow_pipe(from_w)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                os.close(to_w)
                os.close(from_r)
                for other in siblings:  # else a sibling never sees its end of input
                    os.close(other.to_w)
                    os.close(other.from_r)
                serve(to_r, from_w)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(to_r)
        os.close(from_w)
        self.pid = pid
        self.to_w = to_w
        self.from_r = from_r

    def stop(self) -> None:
        """Close both pipes: the child sees the end of its input and exits."""
        for fd in (self.to_w, self.from_r):
            with contextlib.suppress(OSError):
                os.close(fd)

    def wait(self) -> None:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(self.pid, 0)

    def close(self) -> None:
        self.stop()
        self.wait()
