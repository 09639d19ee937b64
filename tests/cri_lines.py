"""CRI partial lines for the tests of pretty and lint: a record as a container runtime writes
a line longer than its buffer into /var/log/pods."""

from __future__ import annotations


def cri_lines(record: bytes, pieces: int, stream: bytes = b"stdout",
              second: int = 0) -> list[bytes]:
    """``record`` as ``pieces`` lines, all but the last partial (``P``), the last ``F``."""
    size = max(1, -(-len(record) // pieces))
    parts = [record[i:i + size] for i in range(0, len(record), size)]
    return [b"2026-11-28T10:00:%02d.%09dZ %s %s %s" % (second, n, stream,
                                                      b"F" if n == len(parts) - 1 else b"P", part)
            for n, part in enumerate(parts)]
