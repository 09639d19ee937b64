"""``logstd pretty``'s streaming: bounded reads, follow mode, and the parallel workers.

Input is read in bytes, ``CHUNK`` at a time, and cut at the last newline; only whole lines
are formatted. A line longer than ``MAX_RECORD_BYTES`` is never held in memory: it is
streamed through as text, piece by piece. Memory therefore stays bounded whatever the
input (a few chunks plus one record).

Parallel mode (a file, or a pipe whose reads come back full, i.e. backed up) forks
``jobs`` workers; chunks go to them round robin and their results are written in the
order read, so the output is byte-identical to one process. A read that comes back short
(a live stream) drains every pending result first, so following stays immediate.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator

from logstd._forked import (
    ForkedWorker,
    cpu_count,
    grow_pipe,
    is_big_file,
    read_exact,
    read_into,
    write_parts,
)
from logstd._pretty import MAX_RECORD_BYTES, Pretty, encode
from logstd._render import DIM, RESET

# typing is not imported at run time (start-up of the streaming CLIs)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

CHUNK = 1 << 20
# regular files this large are formatted by several processes
PARALLEL_MIN_BYTES = 4 * CHUNK
FOLLOW_POLL_S = 0.02
_LEN = struct.Struct("<Q")
# a request's length word: its size, and the top bit when the chunk holds CRI partial lines
_PARTIALS = 1 << 63
_SIZE = _PARTIALS - 1

Write = Callable[[bytes | bytearray], object]


class _Item:
    """A piece of work in input order: whole lines to format, or bytes to pass as they are."""

    __slots__ = ("data", "full", "lines", "partials")

    def __init__(self, data: bytes, lines: bool, full: bool, partials: bool | None = None) -> None:
        self.data = data
        self.lines = lines
        self.full = full  # the read that produced it filled the buffer: input is backed up
        self.partials = partials  # whether it holds CRI partial lines (None: not looked)


class Reader:
    """Cuts a byte stream into whole-line chunks with bounded memory."""

    def __init__(self, pretty: Pretty) -> None:
        self.pretty = pretty
        self.pending = b""
        self.in_long = False  # inside a line longer than MAX_RECORD_BYTES
        self.lines_in = 0
        self._long_start = (DIM.encode() if pretty.color and not pretty.json else b"")
        self._long_end = (RESET.encode() if pretty.color and not pretty.json else b"")

    def feed(self, data: bytes, full: bool = False) -> Iterator[_Item]:
        if self.in_long:
            cut = data.find(b"\n")
            if cut < 0:
                if not self.pretty.filtering:
                    yield _Item(data, False, full)
                return
            if not self.pretty.filtering:
                yield _Item(data[:cut] + self._long_end + b"\n", False, full)
            self.lines_in += 1
            self.in_long = False
            data = data[cut + 1:]
        if self.pending:
            data = self.pending + data
            self.pending = b""
        cut = data.rfind(b"\n")
        if cut >= 0:
            whole, rest = data[:cut + 1], data[cut + 1:]
            # looked for once here, passed on with the chunk (a scan of every byte)
            partials = self.pretty.has_partials(whole)
            if partials:
                from logstd._cri import open_run_start

                k = open_run_start(whole)
                if k >= 0 and len(data) - k <= MAX_RECORD_BYTES:
                    # a run of CRI partial lines is held until its last line comes
                    whole, rest = whole[:k], data[k:]
            if whole:
                self.lines_in += whole.count(b"\n")
                yield _Item(whole, True, full, partials)
            data = rest
        if len(data) > MAX_RECORD_BYTES:
            self.in_long = True
            if not self.pretty.filtering:
                yield _Item(self._long_start + data, False, full)
        else:
            self.pending = data

    def close(self) -> Iterator[_Item]:
        """End of input: the last line, even without its newline."""
        if self.in_long:
            self.in_long = False
            self.lines_in += 1
            if not self.pretty.filtering:
                yield _Item(self._long_end + b"\n", False, False)
        elif self.pending:
            data, self.pending = self.pending, b""
            if not data.endswith(b"\n"):
                data += b"\n"
            self.lines_in += data.count(b"\n")  # held partial lines, if any, and the last
            yield _Item(data, True, False)


# --- workers --------------------------------------------------------------------------------


def _serve(pretty: Pretty) -> Callable[[int, int], None]:
    """A worker's loop: length-framed chunks of whole lines in, their output out."""

    def serve(requests: int, replies: int) -> None:  # pragma: no cover - in the child
        while True:
            try:
                n = _LEN.unpack(read_exact(requests, 8))[0]
                data = read_exact(requests, n & _SIZE)
            except EOFError:
                return
            out = pretty.format_chunk(data, bool(n & _PARTIALS))
            write_parts(replies, [_LEN.pack(len(out)), out])

    return serve


class _Worker(ForkedWorker):
    def __init__(self, pretty: Pretty, siblings: list[_Worker]) -> None:
        super().__init__(_serve(pretty), siblings)

    def send(self, data: bytes, partials: bool | None) -> None:
        flag = _PARTIALS if partials or partials is None else 0  # None: the worker looks
        write_parts(self.to_w, [_LEN.pack(len(data) | flag), data])

    def receive(self) -> bytes | bytearray:
        n = _LEN.unpack(read_exact(self.from_r, 8))[0]
        return read_into(self.from_r, n)  # one buffer, no pieces joined


class Sink:
    """Formats items in order, in this process or in ``jobs`` forked workers.

    A worker that fails (killed, out of memory) costs nothing but speed: its chunk is
    formatted here and the rest of the input runs in this process.
    """

    def __init__(self, pretty: Pretty, write: Write, flush: Callable[[], object],
                 jobs: int = 1) -> None:
        self.pretty = pretty
        self.write = write
        self.flush = flush
        self.jobs = jobs
        self.workers: list[_Worker] = []
        self.queue: deque[tuple[_Worker, bytes]] = deque()
        self.next = 0
        self.failed = False

    def _drain(self, keep: int = 0) -> None:
        while len(self.queue) > keep:
            worker, data = self.queue.popleft()
            try:
                out = worker.receive()
            except (EOFError, OSError, struct.error):
                self.failed = True
                out = self.pretty.format_chunk(data)
            if out:
                self.write(out)

    def put(self, item: _Item) -> None:
        if not item.lines:
            self._drain()
            self.write(item.data)
        elif self.jobs > 1 and not self.failed and (self.workers or item.full):
            if not self.workers:
                for _ in range(self.jobs):
                    self.workers.append(_Worker(self.pretty, self.workers))
            self._drain(len(self.workers) - 1)
            worker = self.workers[self.next]
            self.next = (self.next + 1) % len(self.workers)
            try:
                worker.send(item.data, item.partials)
                self.queue.append((worker, item.data))
            except OSError:
                self.failed = True
                self._drain()
                self._local(item.data, item.partials)
            if not item.full:
                self._drain()
        else:
            self._drain()
            self._local(item.data, item.partials)
        if not item.full:
            self.flush()

    def _local(self, data: bytes, partials: bool | None = None) -> None:
        out = self.pretty.format_chunk(data, partials)
        if out:
            self.write(out)

    def finish(self) -> None:
        self._drain()
        self.flush()

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        for w in self.workers:
            w.wait()
        self.workers = []
        self.queue.clear()


# --- sources --------------------------------------------------------------------------------


def stream_fd(fd: int, sink: Sink, reader: Reader) -> None:
    """Everything from ``fd`` until end of input.

    A pipe gives at most its buffer per read: what is already waiting is gathered up to
    ``CHUNK``, so that a backed-up pipe yields full chunks (and goes parallel) while a
    live one yields each line as it comes.
    """
    pipe = not is_file(fd)
    if pipe:
        grow_pipe(fd)
    eof = False
    while not eof:
        data = os.read(fd, CHUNK)
        if not data:
            break
        if pipe and len(data) < CHUNK:
            import select

            parts = [data]
            n = len(data)
            while n < CHUNK:
                try:
                    ready = select.select([fd], [], [], 0)[0]
                except (OSError, ValueError):
                    break
                if not ready:
                    break
                more = os.read(fd, CHUNK - n)
                if not more:
                    eof = True
                    break
                parts.append(more)
                n += len(more)
            data = b"".join(parts) if len(parts) > 1 else data
        for item in reader.feed(data, full=len(data) == CHUNK):
            sink.put(item)
    for item in reader.close():
        sink.put(item)


def follow_files(paths: list[str], sink: Sink, pretty: Pretty,
                 stop: Callable[[], bool] = lambda: False,
                 poll: float = FOLLOW_POLL_S) -> None:
    """``tail -f`` over files: what is there, then every line appended (truncation and
    rotation to a new file of the same name are followed)."""
    opened: list[tuple[str, int, Reader, os.stat_result]] = []
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        opened.append((p, fd, Reader(pretty), os.fstat(fd)))
    try:
        while not stop():
            idle = True
            for i, (path, fd, reader, st) in enumerate(opened):
                data = os.read(fd, CHUNK)
                if data:
                    idle = False
                    for item in reader.feed(data, full=False):
                        sink.put(item)
                    continue
                try:
                    now = os.stat(path)
                except OSError:
                    continue
                pos = os.lseek(fd, 0, os.SEEK_CUR)
                if now.st_ino != st.st_ino or now.st_dev != st.st_dev:
                    os.close(fd)  # rotated: read the new file from its start
                    new_fd = os.open(path, os.O_RDONLY)
                    opened[i] = (path, new_fd, reader, os.fstat(new_fd))
                    idle = False
                elif now.st_size < pos:
                    os.lseek(fd, 0, os.SEEK_SET)  # truncated
                    idle = False
            if idle:
                time.sleep(poll)
    finally:
        for _, fd, _, _ in opened:
            with contextlib.suppress(OSError):
                os.close(fd)


def pretty_stream(pretty: Pretty, inputs: list[str], out: BinaryIO, *, jobs: int = 0,
                  follow: bool = False) -> list[str]:
    """Format ``inputs`` (paths; "-" is stdin) to ``out``. Returns the paths not readable.

    ``jobs``: 0 picks by itself (every core for a big file or a backed-up pipe, one
    process otherwise); N > 1 forks N workers once a read comes back full.
    """
    failed: list[str] = []
    _keep_freed_memory()
    sink = Sink(pretty, out.write, out.flush)
    try:
        if follow and any(p != "-" for p in inputs):
            files = []
            for p in inputs:
                if p != "-" and os.path.isfile(p) and os.access(p, os.R_OK):
                    files.append(p)
                elif p != "-":
                    failed.append(p)
            if files:
                follow_files(files, sink, pretty)
            return failed
        for path in inputs:
            if path == "-":
                fd, close = 0, False
            else:
                try:
                    fd, close = os.open(path, os.O_RDONLY), True
                except OSError:
                    failed.append(path)
                    continue
            try:
                if jobs > 1:
                    sink.jobs = jobs
                elif jobs == 1:
                    sink.jobs = 1
                else:
                    parallel = is_big_file(fd, PARALLEL_MIN_BYTES) or not is_file(fd)
                    sink.jobs = cpu_count() if parallel else 1
                stream_fd(fd, sink, Reader(pretty))
                sink.finish()
            except IsADirectoryError:
                failed.append(path)
            finally:
                if close:
                    os.close(fd)
    finally:
        sink.close()
    return failed


def _keep_freed_memory() -> None:
    """Megabyte chunks come and go all the time: the C library keeps them for reuse instead of
    handing them back to the kernel and faulting them in again (logstd._speedups, glibc)."""
    from logstd._native import pure_python

    if pure_python():
        return
    try:
        from logstd._speedups import keep_freed_memory
    except ImportError:
        return
    keep_freed_memory()


def is_file(fd: int) -> bool:
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return False


def encode_lines(pretty: Pretty, lines: list[bytes]) -> bytes:
    """Format lines without newlines (tests, library callers)."""
    out = pretty.format_lines(lines)
    return encode("\n".join(out) + "\n", out) if out else b""
