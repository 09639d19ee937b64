"""Fault: the OTLP collector is down, refusing connections or accepting them and never
answering. Orders (a real process, tracing on by OTEL_EXPORTER_OTLP_ENDPOINT) answers every
request as before, and the spans it could not deliver are counted in
``tracing_spans_dropped_total{reason}`` on /metrics.

With FAULT_FIGURES=1 the request latencies (p50, p99) of an untraced run and of each fault
are written to stderr: figures for docs/reliability.md, never asserted.
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opsplane.testing.procs import free_port
from tests._service_procs import ORDERS, Service, wait_for

REQUESTS = 300


@pytest.fixture
def silent_collector() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(512)
    try:
        yield f"http://127.0.0.1:{s.getsockname()[1]}"
    finally:
        s.close()


def _dropped(metrics: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith("tracing_spans_dropped_total{"):
            labels, _, value = line.rpartition(" ")
            reason = labels.split('reason="', 1)[1].split('"', 1)[0]
            out[reason] = out.get(reason, 0.0) + float(value)
    return out


def _run(tmp_path: Path, name: str, endpoint: str | None) -> tuple[list[int], list[float],
                                                                      dict[str, float]]:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / f'{name}.db'}",
           "PAYMENTS_URL": "http://127.0.0.1:9", "OTEL_SDK_DISABLED": "true"}
    if endpoint is not None:
        env = {**env, "OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
               "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_TRACES_SAMPLER": "always_on",
               "OTEL_EXPORTER_OTLP_TIMEOUT": "1", "OTEL_BSP_SCHEDULE_DELAY": "100",
               "OTEL_BSP_MAX_QUEUE_SIZE": "64", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "32",
               "OTEL_BSP_EXPORT_TIMEOUT": "2000"}
    orders = Service("orders.app:app", ORDERS, tmp_path, env=env)
    statuses: list[int] = []
    took: list[float] = []
    try:
        orders.start()
        with httpx.Client(base_url=orders.url, timeout=10) as c:
            for _ in range(REQUESTS):
                t0 = time.perf_counter()
                r = c.get("/orders", params={"customerId": "C-1001"})
                took.append(time.perf_counter() - t0)
                statuses.append(r.status_code)
            dropped: dict[str, float] = {}
            if endpoint is not None:
                dropped = wait_for(lambda: (d := _dropped(c.get("/metrics").text))
                                   and sum(d.values()) > 0 and d, attempts=600)
    finally:
        orders.stop()
    return statuses, took, dropped


def _figures(name: str, took: list[float], dropped: dict[str, float]) -> None:
    if os.environ.get("FAULT_FIGURES"):
        q = statistics.quantiles(took, n=100)
        sys.stderr.write(f"FIGURES {name}: p50 {q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} "
                         f"ms, dropped {dropped}\n")


@pytest.mark.slow
def test_collector_refusing_or_silent_never_touches_requests(
        tmp_path: Path, silent_collector: str) -> None:
    statuses, took, _ = _run(tmp_path, "untraced", None)
    assert statuses == [200] * REQUESTS
    _figures("untraced", took, {})
    refusing = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for name, endpoint in (("refusing", refusing), ("silent", silent_collector)):
        statuses, took, dropped = _run(tmp_path, name, endpoint)
        assert statuses == [200] * REQUESTS, name
        assert sum(dropped.values()) > 0, name  # counted, not lost unseen
        assert set(dropped) <= {"export_failed", "queue_full"}
        _figures(name, took, dropped)
