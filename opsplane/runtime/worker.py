"""The worker idiom: fetch work from a broker, a bound on messages in flight, drain on SIGTERM.

    from opsplane.runtime.worker import NatsJetStream, Worker, run

    async def handle(msg):                 # raise to have the message redelivered
        ...

    broker = NatsJetStream("nats://127.0.0.1:4222", stream="ORDERS", subject="orders.created",
                           durable="billing")
    sys.exit(run(Worker(broker, handle, max_in_flight=16, grace=20)))

On the first SIGTERM/SIGINT the worker stops fetching (a fetch already under way is awaited,
not abandoned, and what it brings is returned at once with nak), lets the handlers it holds
finish within ``grace`` and acks them, cuts and naks what still runs after that, closes the
broker, runs the ``State`` hooks and exits (0; 1 when something was cut). A second signal
naks what it holds and exits at once. A message is acked only after its handler returned:
delivery is at least once, and nothing held at shutdown is lost -- it goes back to the broker.

The broker interface is small (:class:`Broker`, :class:`Message`) so that another broker
(SQS, Kafka, RabbitMQ) needs only an adapter like :class:`NatsJetStream`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from opsplane.runtime.lifecycle import STATE, State

log = logging.getLogger("opsplane.runtime.worker")


class Message(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def delivery(self) -> int:
        """1 on the first delivery, more on redeliveries."""
        ...

    async def ack(self) -> None: ...
    async def nak(self) -> None: ...


class Broker(Protocol):
    async def connect(self) -> None: ...

    async def fetch(self, max_messages: int, timeout: float) -> list[Message]:
        """Up to ``max_messages``; an empty list when none came within ``timeout``."""
        ...

    async def close(self) -> None: ...


Handler = Callable[[Message], Awaitable[None]]


@dataclass
class WorkerStats:
    acked: int = 0
    failed: int = 0  # handler raised: nak, redelivered later
    returned: int = 0  # fetched after the stop signal: nak without handling
    cut: int = 0  # still running at the end of grace: cancelled and nak


class Worker:
    def __init__(self, broker: Broker, handler: Handler, *, max_in_flight: int = 16,
                 grace: float = 20.0, fetch_timeout: float = 1.0, state: State = STATE,
                 hooks_timeout: float = 2.0) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.broker = broker
        self.handler = handler
        self.max_in_flight = max_in_flight
        self.grace = grace
        self.fetch_timeout = fetch_timeout
        self.state = state
        self.hooks_timeout = hooks_timeout
        self.stats = WorkerStats()
        self.stopping = asyncio.Event()
        self.signals = 0
        self.t_signal: float | None = None
        self._active: set[asyncio.Task[None]] = set()
        self.running = 0  # handlers that have not returned yet
        self.acking = 0  # handlers returned, their ack not yet confirmed by the broker

    # --- signals -------------------------------------------------------------------------
    def request_stop(self, reason: str = "stop requested") -> None:
        """The stop-fetch signal (SIGTERM calls it; tests and embedders may too)."""
        self.signals += 1
        if self.signals > 1:
            log.warning("second signal: returning in-flight messages and exiting at once",
                        extra={"event": "shutdown.forced", "inFlight": self.held()})
            for task in list(self._active):
                task.cancel("forced")
            return
        self.t_signal = time.monotonic()
        self.state.start_draining()
        self.stopping.set()
        log.info("stop fetching: finishing in-flight messages within the grace period",
                 extra={"event": "shutdown.started", "action": reason,
                        "inFlight": self.held() - self.acking})

    def held(self) -> int:
        """Messages the worker holds: handler tasks not done yet, started or not, acked or
        being acked.

        (``running`` counts handlers that have begun; a task created just before the signal
        has not, yet it will be finished, so the shutdown log counts tasks, less those whose
        handler already returned and which only wait for the broker to confirm their ack.)
        """
        return sum(not t.done() for t in self._active)

    # --- the loop ------------------------------------------------------------------------
    async def run(self) -> int:
        """Consume until :meth:`request_stop`; returns 0, or 1 when something was cut."""
        await self.broker.connect()
        self.state.mark_started()
        stop_wait = asyncio.create_task(self.stopping.wait())
        try:
            while not self.stopping.is_set():
                free = self.max_in_flight - self.held()
                if free <= 0:
                    await asyncio.wait({*self._active, stop_wait},
                                       return_when=asyncio.FIRST_COMPLETED)
                    continue
                fetch = asyncio.create_task(self.broker.fetch(free, self.fetch_timeout))
                await asyncio.wait({fetch, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                try:
                    messages = await fetch  # never abandon a fetch: its messages would be lost
                except Exception as e:  # a broker hiccup must not drop what the worker holds
                    log.error("fetch failed; retrying", extra={
                        "event": "worker.fetch_failed", "errorType": type(e).__name__,
                        "errorMessage": str(e)})
                    await asyncio.wait({stop_wait}, timeout=self.fetch_timeout)
                    continue
                for msg in messages:
                    if self.stopping.is_set():
                        await self._return(msg)
                    else:
                        task = asyncio.create_task(self._handle(msg))
                        self._active.add(task)
                        task.add_done_callback(self._active.discard)
        finally:
            stop_wait.cancel()
        return await self._drain()

    async def _handle(self, msg: Message) -> None:
        self.state.in_flight += 1
        self.running += 1
        try:
            await self.handler(msg)
        except asyncio.CancelledError:
            self.stats.cut += 1
            with contextlib.suppress(Exception):
                await msg.nak()
            return
        except Exception as e:
            self.stats.failed += 1
            log.error("handler failed; message returned for redelivery",
                      extra={"event": "worker.handler_failed", "messageId": msg.id,
                             "queue": msg.subject, "errorType": type(e).__name__,
                             "errorMessage": str(e)})
            with contextlib.suppress(Exception):
                await msg.nak()
            return
        finally:
            self.state.in_flight -= 1
            self.running -= 1
        self.acking += 1
        try:
            await msg.ack()
        finally:
            self.acking -= 1
        self.stats.acked += 1

    async def _return(self, msg: Message) -> None:
        self.stats.returned += 1
        with contextlib.suppress(Exception):
            await msg.nak()

    async def _drain(self) -> int:
        log.info("stopped fetching and returned the fetched messages; waiting up to the grace "
                 "period for in-flight messages",
                 extra={"event": "shutdown.stop_fetching", "inFlight": self.running,
                        "count": self.stats.returned})
        if self._active:
            _, pending = await asyncio.wait(set(self._active), timeout=self.grace)
            if pending:
                log.error("cut messages still running after the grace period; returned to "
                          "the broker",
                          extra={"event": "shutdown.cut", "count": len(pending)})
                for task in pending:
                    task.cancel("cut: grace period over")
                await asyncio.wait(pending, timeout=0.5)  # cancelled handlers nak
        try:
            await asyncio.wait_for(self.broker.close(), self.hooks_timeout)
        except TimeoutError:
            log.error("broker close did not finish within the hooks timeout",
                      extra={"event": "shutdown.hooks_timeout"})
        await self.state.run_hooks(timeout=self.hooks_timeout)
        duration = 0.0 if self.t_signal is None else (time.monotonic() - self.t_signal) * 1000
        log.info("shutdown completed",
                 extra={"event": "shutdown.completed", "durationMs": round(duration, 1),
                        "count": self.stats.cut,
                        "outcome": "failure" if self.stats.cut else "success"})
        return 1 if self.stats.cut else 0


def run(worker: Worker) -> int:
    """Run a worker in this process with SIGTERM/SIGINT as its stop-fetch signal."""

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.request_stop, f"{signal.Signals(sig).name} "
                                    "received")
        try:
            return await worker.run()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    return asyncio.run(main())


# --- NATS JetStream ----------------------------------------------------------------------
class NatsMessage:
    """A JetStream message seen through :class:`Message`."""

    def __init__(self, msg: Any) -> None:
        self._msg = msg
        meta = msg.metadata
        self._id = f"{meta.stream}:{meta.sequence.stream}"
        self._delivery = int(meta.num_delivered)

    @property
    def id(self) -> str:
        return self._id

    @property
    def subject(self) -> str:
        return str(self._msg.subject)

    @property
    def data(self) -> bytes:
        return bytes(self._msg.data)

    @property
    def delivery(self) -> int:
        return self._delivery

    async def ack(self) -> None:
        await self._msg.ack_sync()  # confirmed by the server: no redelivery after exit

    async def nak(self) -> None:
        await self._msg.nak()


class NatsJetStream:
    """Pull consumer on a JetStream stream; workers sharing ``durable`` share the work."""

    def __init__(self, servers: str | list[str], *, stream: str, subject: str, durable: str,
                 ack_wait: float = 30.0, connect_timeout: float = 5.0,
                 max_reconnect_attempts: int = 10) -> None:
        self.servers = servers
        self.stream = stream
        self.subject = subject
        self.durable = durable
        self.ack_wait = ack_wait
        self.connect_timeout = connect_timeout
        self.max_reconnect_attempts = max_reconnect_attempts
        self._nc: Any = None
        self._sub: Any = None

    async def connect(self) -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig

        from opsplane.errors import OpsplaneError

        async def error_cb(e: Exception) -> None:  # one record, not nats-py's traceback
            log.warning("NATS error", extra={"event": "worker.broker_error",
                                             "dependency": "nats",
                                             "errorType": type(e).__name__,
                                             "errorMessage": str(e)})

        try:
            self._nc = await nats.connect(
                self.servers, connect_timeout=self.connect_timeout, error_cb=error_cb,
                max_reconnect_attempts=self.max_reconnect_attempts, reconnect_time_wait=0.5)
        except Exception as e:
            raise OpsplaneError(f"cannot connect to NATS at {self.servers}: "
                                f"{type(e).__name__}: {e}") from e
        js = self._nc.jetstream()
        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait)
        try:
            self._sub = await js.pull_subscribe(self.subject, durable=self.durable,
                                                stream=self.stream, config=config)
        except Exception as e:
            await self._nc.close()
            raise OpsplaneError(f"cannot consume {self.subject!r} from stream "
                                f"{self.stream!r}: {e}") from e

    async def fetch(self, max_messages: int, timeout: float) -> list[Message]:
        try:
            msgs = await self._sub.fetch(batch=max_messages, timeout=timeout)
        except TimeoutError:  # nats.errors.TimeoutError, or asyncio's from inside fetch
            return []
        return [NatsMessage(m) for m in msgs]

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.flush()
            await self._nc.close()
