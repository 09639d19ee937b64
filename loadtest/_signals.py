"""SIGTERM stops a run or a worker the way Ctrl-C does.

``with StopSignals() as stop:`` makes SIGTERM raise ``Terminated`` (a KeyboardInterrupt) in
the main thread, once: the caller's ``except KeyboardInterrupt`` / ``finally`` then stops
every Locust process it started and keeps what was sampled. Further SIGTERMs during that
cleanup are ignored (the cleanup is bounded: SIGTERM, wait, SIGKILL). ``stop.held()`` defers
the signal while processes are being started, so none escapes the list of pids to stop.
Outside the main thread (where Python cannot install handlers) it does nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived."""


class StopSignals:
    def __init__(self) -> None:
        self.received = False
        self._pending = False
        self._holding = 0
        self._old: Any = None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)
            self._old = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received:
            return  # already stopping
        self.received = True
        if self._holding:
            self._pending = True
        else:
            raise Terminated

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Defer SIGTERM until the block ends."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
        if self._pending and not self._holding:
            self._pending = False
            raise Terminated
