"""uvicorn with the drain sequence (imported only by ``opsplane.runtime.serve``: uvicorn is heavy).

Timeline after the first SIGTERM or SIGINT (``t`` = the signal)::

    t                 State.draining = True (readiness 503, responses carry Connection: close)
    t .. +drain_delay keep serving: the cluster is still removing the pod from its endpoints
    +drain_delay      close the listening sockets (new connections are refused), ask every
                      connection to close after its current response
    .. +grace         in-flight requests finish; what still runs at the end of grace is cut
    then              app lifespan shutdown, State hooks (pools, traces, logs), exit

A signal during startup skips the drain (nothing was ready) and abandons the startup.
A second signal ends the process at once (exit 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Generator
from types import FrameType

import uvicorn

from opsplane.runtime.lifecycle import State

log = logging.getLogger("opsplane.runtime.serve")
HANDLED = (signal.SIGTERM, signal.SIGINT)
SETTLE_S = 0.5  # after closing the listeners, before closing idle connections


def _flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()


class StartupAbandoned(BaseException):
    """Raised out of the signal handler while the app module is being imported."""


class Drain:
    """Receives the signals from the moment ``opsplane serve`` starts, before the app loads."""

    def __init__(self, state: State, drain_delay: float, grace: float,
                 hooks_timeout: float = 2.0) -> None:
        self.state = state
        self.drain_delay = drain_delay
        self.grace = grace
        self.hooks_timeout = hooks_timeout
        self.signals = 0
        self.signal_name = ""
        self.t_signal: float | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: DrainingServer | None = None
        self.cut = 0
        self.importing = False  # True while the app module is imported (no loop yet)
        self._previous: dict[int, object] = {}

    @contextlib.contextmanager
    def installed(self) -> Generator[None, None, None]:
        self._previous = {sig: signal.signal(sig, self.on_signal) for sig in HANDLED}
        try:
            yield
        finally:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)  # type: ignore[arg-type]

    def on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.signals > 1:
            self.force(sig)
            return
        self.state.start_draining()  # readiness answers 503 from this instant
        self.t_signal = time.monotonic()
        self.signal_name = signal.Signals(sig).name
        if self.importing:
            raise StartupAbandoned
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.begin)

    def begin(self) -> None:
        """In the event loop, right after the first signal."""
        server = self.server
        serving = server is not None and server.started
        delay = self.drain_delay if serving else 0.0
        log.info("shutdown signal received: draining (readiness 503), serving through the "
                 "drain delay, then waiting up to the grace period for in-flight work",
                 extra={"event": "shutdown.started", "action": self.signal_name,
                        "inFlight": self.state.in_flight})
        if server is None:
            return
        if not serving:
            server.abandon_startup()
        elif delay > 0 and self.loop is not None:
            self.loop.call_later(delay, server.stop)
        else:
            server.stop()

    def force(self, sig: int) -> None:
        """A second signal: end now, cutting whatever runs (runs inside the signal handler)."""
        with contextlib.suppress(Exception):
            log.warning("second signal: exiting at once",
                        extra={"event": "shutdown.forced", "action": signal.Signals(sig).name,
                               "inFlight": self.state.in_flight})
            _flush_logs()
        os._exit(1)

    def elapsed_ms(self) -> float:
        if self.t_signal is None:
            return 0.0
        return round((time.monotonic() - self.t_signal) * 1000, 1)

    async def finish(self) -> None:
        """Hooks (close pools, flush traces), then the closing record."""
        await self.state.run_hooks(timeout=self.hooks_timeout)
        if self.signals:
            log.info("shutdown completed", extra={
                "event": "shutdown.completed", "durationMs": self.elapsed_ms(),
                "count": self.cut, "outcome": "failure" if self.cut else "success"})
        _flush_logs()


class DrainingServer(uvicorn.Server):
    """uvicorn.Server whose shutdown is the drain sequence of :class:`Drain`."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain
        drain.server = self
        self._task: asyncio.Task[None] | None = None
        self._abandoned = False

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Drain owns the handlers (installed before the app was imported); uvicorn's own
        # would re-raise the signal after shutdown and turn exit 0 into "killed by SIGTERM".
        yield

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.drain.on_signal(sig, frame)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.drain.loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        if self.drain.signals:  # the signal came before the event loop ran: never serve
            self.should_exit = True
            self.drain.begin()  # server not started: logs, and abandon_startup() is a no-op
            await self.drain.finish()
            return
        try:
            await super().serve(sockets)  # with our capture_signals: Drain owns the signals
        except asyncio.CancelledError:
            if not self._abandoned:
                raise
            log.info("startup abandoned: a signal arrived before the app was ready",
                     extra={"event": "shutdown.startup_abandoned"})
            if self._task is not None:
                self._task.uncancel()
        await self.drain.finish()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.drain.state.mark_started()

    def abandon_startup(self) -> None:
        if self.should_exit:  # already on the way out (or never started)
            return
        self.should_exit = True
        self._abandoned = True
        if self._task is not None and not self.started:
            self._task.cancel()

    def stop(self) -> None:
        """End of drain_delay: main_loop notices and calls :meth:`shutdown`."""
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        state = self.server_state
        log.info("stopped accepting connections; waiting up to the grace period for in-flight "
                 "requests",
                 extra={"event": "shutdown.stop_accepting", "inFlight": len(state.tasks)})
        deadline = time.monotonic() + self.drain.grace
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        # A connection accepted an instant ago may not have sent its request yet: give the
        # bytes on the wire a moment to arrive, so that what was accepted gets served
        # (with Connection: close) instead of closed unanswered.
        await asyncio.sleep(min(SETTLE_S, self.drain.grace / 4))
        for connection in list(state.connections):
            connection.shutdown()  # idle: closed now; busy: closed after this response
        while (state.tasks or state.connections) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if state.tasks:
            self.drain.cut = len(state.tasks)
            log.error("cut requests still running after the grace period",
                      extra={"event": "shutdown.cut", "count": self.drain.cut,
                             "inFlight": self.drain.state.in_flight})
            for task in list(state.tasks):
                task.cancel("cut: grace period over")
            await asyncio.wait(list(state.tasks), timeout=0.5)
        for connection in list(state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.close()
        try:
            await asyncio.wait_for(self.lifespan.shutdown(), self.drain.hooks_timeout)
        except TimeoutError:
            log.error("app lifespan shutdown did not finish within the hooks timeout",
                      extra={"event": "shutdown.hooks_timeout"})
