"""A worker for the NATS drills: ``python nats_worker.py URL STREAM SUBJECT DURABLE MAX MS GRACE``.

Each message sleeps MS ms, then is logged (event=worker.processed, messageId, attempt =
delivery count) and acked. A message whose body is ``hang`` never finishes on its first
delivery (cut at grace, redelivered); a message ``fail`` raises on its first delivery.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import logstd
from opsplane.runtime.worker import Message, NatsJetStream, Worker, run

log = logging.getLogger("nats_worker")


def main(argv: list[str]) -> int:
    url, stream, subject, durable, max_in_flight, ms, grace = argv
    logstd.configure(service="nats-worker")

    async def handle(msg: Message) -> None:
        if msg.data == b"hang" and msg.delivery == 1:
            await asyncio.Event().wait()
        if msg.data == b"fail" and msg.delivery == 1:
            raise RuntimeError("first delivery fails")
        await asyncio.sleep(int(ms) / 1000)
        log.info("processed", extra={"event": "worker.processed", "messageId": msg.id,
                                     "attempt": msg.delivery})

    broker = NatsJetStream(url, stream=stream, subject=subject, durable=durable)
    log.info("worker up", extra={"event": "worker.started"})
    return run(Worker(broker, handle, max_in_flight=int(max_in_flight), grace=float(grace),
                      fetch_timeout=0.5))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
