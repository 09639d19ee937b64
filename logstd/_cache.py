"""The per-user cache of the CLIs (``$XDG_CACHE_HOME/logstd``): what start-up would
otherwise parse again on every run. Entries are named by checksums of what they were
made from; ``LOGSTD_NO_CACHE`` turns the cache off. A read-only home only costs time."""

from __future__ import annotations

import os
import zlib
from pathlib import Path


def enabled() -> bool:
    return not os.environ.get("LOGSTD_NO_CACHE")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "logstd"


def checksum(data: bytes) -> str:
    """Two 32-bit checksums and the length (hashlib costs start-up)."""
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}{len(data):x}"


def store(path: Path, data: bytes) -> None:
    """Write an entry atomically; errors are ignored (the cache is only a shortcut)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass
