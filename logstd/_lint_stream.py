"""Lint one log file in chunks of whole lines, here or in forked workers, output in order.

The file is read ``CHUNK`` bytes at a time and cut after its last newline; each chunk
knows the number of its first line. In one process the chunks go through one
``LogLinter`` in order. With ``jobs`` > 1 (a regular file of at least
``PARALLEL_MIN_BYTES``), ``jobs`` forked workers get the chunks round robin as
(offset, length, first line) and read them with ``pread``; each sends back the chunk's
rendered output and the message forms it saw (LS109 state). The parent writes the
outputs in input order and merges the states in that order, so the output is
byte-identical to one process, cross-chunk message variability included. A worker that
fails costs only speed: its chunk is linted here and the rest of the file too.

What a chunk turns into is the ``Job``'s business: text, json or github output, or
counts for ``--statistics``.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import orjson

from logstd._cri import RUN_LIMIT, join_partials, open_run_start, partials_finder
from logstd._forked import ForkedWorker, read_exact, read_into, write_all, write_parts
from logstd._forked import is_big_file as _is_big_file
from logstd._lint_logs import LogLinter, Variants

CHUNK = 4 << 20
PARALLEL_MIN_BYTES = 2 * CHUNK
_TASK = struct.Struct("<QQQ")  # offset, length, first line
_LEN = struct.Struct("<QQ")  # output bytes, state bytes
# a chunk's output as it reaches ``write``: read from a worker straight into a bytearray
Buffer = bytes | bytearray

# (linter, whole lines, first line number) -> (output, findings); called in the workers
Job = Callable[[LogLinter, list[bytes], int], tuple[bytes, int]]


_has_partials = partials_finder()


def split_lines(data: bytes) -> list[bytes]:
    """The lines of a chunk of whole lines (the last may lack its newline); a run of CRI
    partial lines joined into its first line, the others left empty (logstd._cri)."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    if _has_partials(data):
        lines = join_partials(lines, keep_places=True)
    return lines


def chunks(read: Callable[[int], bytes], size: int = CHUNK,
           offset: int = 0) -> Iterator[tuple[int, bytes, int]]:
    """(offset, whole lines, number of the first line) until ``read`` gives nothing;
    ``offset`` is where the input stands now."""
    first = 1
    held: list[bytes] = []  # the start of a line not yet ended (may be longer than a read)
    while True:
        data = read(size)
        if not data:
            break
        cut = data.rfind(b"\n") + 1
        if not cut:
            held.append(data)
            continue
        if held:
            start = b"".join(held)
            held = []
            data = start + data
            cut += len(start)
        if _has_partials(data):  # the test reads it all; the exact look only the lines
            k = open_run_start(data[:cut])
            if k >= 0 and len(data) - k <= RUN_LIMIT:
                # a run of CRI partial lines waits for its last line (no chunk splits it);
                # a longer one is linted as it comes (memory stays bounded)
                cut = k
        if not cut:
            held.append(data)
            continue
        whole = data[:cut] if cut < len(data) else data
        yield offset, whole, first
        offset += cut
        first += whole.count(b"\n")
        if cut < len(data):
            held.append(data[cut:])
    if held:
        yield offset, b"".join(held), first


def is_big_file(fd: int) -> bool:
    return _is_big_file(fd, PARALLEL_MIN_BYTES)


# --- workers --------------------------------------------------------------------------------


def _pack(out: bytes, n: int, variants: Variants) -> list[bytes]:
    """A chunk's reply as parts written in one go (the output is not copied)."""
    state = orjson.dumps([n, variants])
    return [_LEN.pack(len(out), len(state)), out, state]


def _serve(fd: int, linter: LogLinter, job: Job) -> Callable[[int, int], None]:
    """A worker's loop: (offset, length, first line) in, the chunk's output and state out."""

    def serve(requests: int, replies: int) -> None:  # pragma: no cover - in the child
        import gc

        while True:
            # what the chunks left (plans, memos) lives on: collections look at new objects
            gc.freeze()
            try:
                offset, length, first = _TASK.unpack(read_exact(requests, _TASK.size))
            except EOFError:
                return
            data = os.pread(fd, length, offset)
            if len(data) != length:
                raise EOFError  # the file changed under us: the parent redoes it
            out, n = job(linter, split_lines(data), first)
            write_parts(replies, _pack(out, n, linter.take_variants()))

    return serve


class _Worker(ForkedWorker):
    """A forked process linting the chunks it is sent, in the order sent."""

    def __init__(self, fd: int, linter: LogLinter, job: Job, siblings: list[_Worker]) -> None:
        super().__init__(_serve(fd, linter, job), siblings)

    def send(self, offset: int, length: int, first: int) -> None:
        write_all(self.to_w, _TASK.pack(offset, length, first))

    def receive(self) -> tuple[Buffer, int, Variants]:
        n_out, n_state = _LEN.unpack(read_exact(self.from_r, _LEN.size))
        out = read_into(self.from_r, n_out)
        n, variants = orjson.loads(read_exact(self.from_r, n_state))
        return out, n, [(t, line, forms) for t, line, forms in variants]


def lint_stream(read: Callable[[int], bytes], linter: LogLinter, job: Job,
                write: Callable[[Buffer, int], Any], chunk: int | None = None) -> int:
    """``lint_fd`` in this process, over any input (stdin included)."""
    total = 0
    for _offset, data, first in chunks(read, chunk or CHUNK):
        out, n = job(linter, split_lines(data), first)
        write(out, n)
        total += n
    return total


def lint_fd(fd: int, linter: LogLinter, job: Job, write: Callable[[Buffer, int], Any],
            *, jobs: int = 1, chunk: int | None = None,
            read: Callable[[int], bytes] | None = None) -> int:
    """Lint everything readable from the regular file ``fd`` with ``job``, passing its
    outputs (and their numbers of findings) to ``write`` in input order, with ``jobs``
    processes; returns the number of findings. The LS109 state is left in ``linter``.
    ``read`` reads ``fd`` in the parent (default ``os.read``)."""
    chunk = chunk or CHUNK
    read = read or partial(os.read, fd)
    total = 0
    if jobs <= 1:
        for _offset, data, first in chunks(read, chunk):
            out, n = job(linter, split_lines(data), first)
            write(out, n)
            total += n
        return total
    workers: list[_Worker] = []
    pending: deque[tuple[_Worker, int, bytes, int]] = deque()
    failed = False

    def settle() -> int:
        nonlocal failed
        worker, _offset, data, first = pending.popleft()
        if not failed:
            try:
                out, n, variants = worker.receive()
                linter.merge_variants(variants)
                write(out, n)
                return n
            except (EOFError, OSError, struct.error, orjson.JSONDecodeError, ValueError):
                failed = True
        out, n = job(linter, split_lines(data), first)
        write(out, n)
        return n

    try:
        start = os.lseek(fd, 0, os.SEEK_CUR)  # stdin redirected from a file may not be at 0
        for i, (offset, data, first) in enumerate(chunks(read, chunk, start)):
            if failed:
                while pending:
                    total += settle()
                out, n = job(linter, split_lines(data), first)
                write(out, n)
                total += n
                continue
            if not workers:
                # the parent's state so far is empty: workers start from the same caches
                for _ in range(jobs):
                    workers.append(_Worker(fd, linter, job, workers))
            worker = workers[i % jobs]
            while len(pending) >= 2 * jobs:
                total += settle()
            try:
                worker.send(offset, len(data), first)
            except OSError:
                failed = True
            # the parent keeps the chunk to redo it should the worker fail
            pending.append((worker, offset, data, first))
        while pending:
            total += settle()
    finally:
        for w in workers:
            w.close()
    return total
