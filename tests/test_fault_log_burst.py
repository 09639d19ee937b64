"""Fault: a log burst. 200k records written at once from threads and asyncio tasks give 200k
whole JSON lines, and each writer's bound context stays its own (no key of one task or thread
in another's records)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import Counter
from pathlib import Path

import pytest

import logstd

THREADS, PER_THREAD = 8, 12_500  # 100k from threads
TASKS, PER_TASK = 200, 500  # 100k from asyncio tasks


@pytest.mark.slow
def test_200k_records_from_threads_and_tasks_are_whole_and_isolated(tmp_path: Path) -> None:
    out = tmp_path / "burst.log"
    log = logging.getLogger("burst")
    with out.open("w", encoding="utf-8") as stream:
        logstd.configure(service="burst", mode="json", stream=stream, level="INFO")
        start = threading.Barrier(THREADS + 1)

        def thread_writer(n: int) -> None:
            logstd.bind(customerId=f"C-T{n}")
            start.wait()
            for i in range(PER_THREAD):
                log.info("thread record", extra={"orderId": f"T{n}-{i}"})

        async def task_writer(n: int) -> None:
            logstd.bind(customerId=f"C-A{n}")
            for i in range(PER_TASK):
                log.info("task record", extra={"orderId": f"A{n}-{i}"})
                if i % 50 == 0:
                    await asyncio.sleep(0)  # let the other tasks interleave

        async def tasks() -> None:
            await asyncio.gather(*(task_writer(n) for n in range(TASKS)))

        threads = [threading.Thread(target=thread_writer, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        start.wait()  # every thread writes while the tasks do
        asyncio.run(tasks())
        for t in threads:
            t.join()
        logstd.reset()

    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b""  # the last line ends too
    lines.pop()
    assert len(lines) == THREADS * PER_THREAD + TASKS * PER_TASK == 200_000
    per_writer: Counter[str] = Counter()
    for raw in lines:
        rec = json.loads(raw)  # every line is one whole record
        order = rec["orderId"]
        writer = order.split("-", 1)[0]
        # the bound key is the writer's own: no other thread's or task's context
        assert rec["customerId"] == f"C-{writer}", rec
        per_writer[writer] += 1
    assert len(per_writer) == THREADS + TASKS
    assert all(per_writer[f"T{n}"] == PER_THREAD for n in range(THREADS))
    assert all(per_writer[f"A{n}"] == PER_TASK for n in range(TASKS))
