"""The NATS drill: a JetStream worker stops fetching on SIGTERM; no message is lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require_tool

from opsplane.testing.procs import free_port

APPS = Path(__file__).parent / "apps"


@pytest.fixture(scope="module")
def nats_url() -> Iterator[str]:
    binary = require_tool("nats-server")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="opsplane-nats-") as store:
        proc = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            import socket

            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield f"nats://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


async def _setup(url: str, stream: str, bodies: list[bytes]) -> None:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.jobs"])
    for body in bodies:
        await js.publish(f"{stream.lower()}.jobs", body)
    await nc.close()


async def _consumer_state(url: str, stream: str) -> tuple[int, int] | None:
    """(messages not yet delivered, delivered and not acked); None before the consumer exists."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(stream, "workers")
    except NotFoundError:
        return None
    finally:
        await nc.close()
    return int(info.num_pending or 0), int(info.num_ack_pending or 0)


class WorkerProc:
    def __init__(self, url: str, stream: str, max_in_flight: int, ms: int, grace: float):
        self.log = tempfile.NamedTemporaryFile(prefix="opsplane-worker-", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(APPS / "nats_worker.py"), url, stream,
             f"{stream.lower()}.jobs", "workers", str(max_in_flight), str(ms), str(grace)],
            stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, "LOGSTD_MODE": "json", "PYTHONUNBUFFERED": "1"})

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in Path(self.log.name).read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def processed(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == "worker.processed"]

    def wait_processed(self, n: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.processed()) < n:
            assert self.proc.poll() is None, Path(self.log.name).read_text()
            assert time.monotonic() < deadline, f"fewer than {n} processed"
            time.sleep(0.02)

    def stop(self, timeout: float) -> tuple[int | None, bool]:
        """SIGTERM, then wait like a kubelet; (exit code, killed)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None, True

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def _index(records: list[dict[str, Any]], event: str) -> int:
    return next(i for i, r in enumerate(records) if r.get("event") == event)


def test_sigterm_mid_run_loses_nothing(nats_url: str) -> None:
    n = 40
    asyncio.run(_setup(nats_url, "DRILL", [f"m{i}".encode() for i in range(n)]))
    first = WorkerProc(nats_url, "DRILL", max_in_flight=4, ms=150, grace=5)
    second = None
    try:
        first.wait_processed(8)
        code, killed = first.stop(timeout=5 + 5)
        assert (code, killed) == (0, False)
        recs = first.records()
        started = recs[_index(recs, "shutdown.started")]
        after = [r for r in recs[_index(recs, "shutdown.started"):]
                 if r.get("event") == "worker.processed"]
        # everything it held was finished
        assert len(after) == started["inFlight"], "\n".join(map(str, recs))
        assert recs[-1]["event"] == "shutdown.completed"
        assert recs[-1]["outcome"] == "success"
        done_by_first = len(first.processed())
        assert done_by_first < n  # the signal really came mid-run

        second = WorkerProc(nats_url, "DRILL", max_in_flight=4, ms=10, grace=5)
        second.wait_processed(n - done_by_first)
        assert second.stop(timeout=10) == (0, False), Path(second.log.name).read_text()
        ids = Counter(r["messageId"] for w in (first, second) for r in w.processed())
        assert sorted(ids) == sorted(f"DRILL:{i}" for i in range(1, n + 1))  # none lost
        assert set(ids.values()) == {1}  # none processed twice
        assert asyncio.run(_consumer_state(nats_url, "DRILL")) == (0, 0)
    finally:
        first.close()
        if second is not None:
            second.close()


def test_cut_and_failed_messages_are_redelivered_to_the_next_worker(nats_url: str) -> None:
    bodies = [b"a", b"hang", b"b", b"fail", b"c"]
    asyncio.run(_setup(nats_url, "REDO", bodies))
    first = WorkerProc(nats_url, "REDO", max_in_flight=4, ms=10, grace=1)
    second = None
    try:
        first.wait_processed(4)  # a, b, c and fail (on its second delivery)
        code, killed = first.stop(timeout=1 + 5)
        assert killed is False
        assert code == 1  # it had to cut the hanging one
        cut = [r for r in first.records() if r.get("event") == "shutdown.cut"]
        assert len(cut) == 1
        assert cut[0]["count"] == 1
        failed = [r for r in first.records() if r.get("event") == "worker.handler_failed"]
        assert [r["messageId"] for r in failed] == ["REDO:4"]

        second = WorkerProc(nats_url, "REDO", max_in_flight=4, ms=10, grace=1)
        second.wait_processed(1)
        assert second.stop(timeout=6) == (0, False), Path(second.log.name).read_text()
        by_id = {r["messageId"]: r["attempt"] for w in (first, second) for r in w.processed()}
        assert by_id == {"REDO:1": 1, "REDO:2": 2, "REDO:3": 1, "REDO:4": 2, "REDO:5": 1}
        assert [r["messageId"] for r in second.processed()] == ["REDO:2"]
        assert asyncio.run(_consumer_state(nats_url, "REDO")) == (0, 0)
    finally:
        first.close()
        if second is not None:
            second.close()


def test_unreachable_broker_is_one_line_error() -> None:
    from opsplane.errors import OpsplaneError
    from opsplane.runtime.worker import NatsJetStream

    url = f"nats://127.0.0.1:{free_port()}"
    broker = NatsJetStream(url, stream="S", subject="s", durable="d", connect_timeout=1,
                           max_reconnect_attempts=1)
    with pytest.raises(OpsplaneError) as err:
        asyncio.run(broker.connect())
    assert str(err.value) == (f"cannot connect to NATS at {url}: NoServersError: "
                              "nats: no servers available for connection")


def test_missing_stream_is_one_line_error(nats_url: str) -> None:
    from opsplane.errors import OpsplaneError
    from opsplane.runtime.worker import NatsJetStream

    broker = NatsJetStream(nats_url, stream="NOPE", subject="nope.x", durable="d")
    with pytest.raises(OpsplaneError, match=r"^cannot consume 'nope.x' from stream 'NOPE': "):
        asyncio.run(broker.connect())


def test_second_sigterm_returns_what_it_holds_and_exits(nats_url: str) -> None:
    asyncio.run(_setup(nats_url, "TWICE", [b"hang"]))
    worker = WorkerProc(nats_url, "TWICE", max_in_flight=2, ms=10, grace=60)
    try:
        deadline = time.monotonic() + 20
        while asyncio.run(_consumer_state(nats_url, "TWICE")) != (0, 1):  # hang is held
            assert time.monotonic() < deadline
            time.sleep(0.05)
        worker.proc.send_signal(signal.SIGTERM)
        while not any(r.get("event") == "shutdown.started" for r in worker.records()):
            time.sleep(0.02)
        code, killed = worker.stop(timeout=10)  # a grace of 60 s would outlast this wait
        assert (code, killed) == (1, False)
        assert "shutdown.forced" in [r.get("event") for r in worker.records()]
    finally:
        worker.close()
    second = WorkerProc(nats_url, "TWICE", max_in_flight=2, ms=10, grace=5)
    try:
        second.wait_processed(1)  # it was returned, not lost: the next worker gets it
        # attempt 2, or 3 when a fetch still under way at the signal got it back once more
        assert [r["messageId"] for r in second.processed()] == ["TWICE:1"]
        assert second.processed()[0]["attempt"] >= 2
        assert second.stop(timeout=10) == (0, False)
    finally:
        second.close()
