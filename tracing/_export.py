"""Export off the request path, with every span that could not be sent counted.

An unreachable or wrong collector must never block or fail requests: the SDK's batch
processor queues (bounded) off the request path and exports from its own thread. Spans that
could not be delivered are counted in ``tracing_spans_dropped_total{reason}`` and said once
in the log: ``export_failed`` (the exporter did not take them) and ``queue_full`` (the
collector is slower than the service and the queue is full).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

log = logging.getLogger("tracing")
_COUNTER: Any = None


def dropped_counter() -> Any:
    """tracing_spans_dropped_total{reason}, from the metric dictionary (default registry)."""
    global _COUNTER
    if _COUNTER is None:
        from prometheus_client import Counter

        from opsplane.spec.metrics import metrics

        name = "tracing_spans_dropped_total"
        m = metrics()[name]
        _COUNTER = Counter(name.removesuffix("_total"), m.description, list(m.labels))
    return _COUNTER


_SAID = {
    "export_failed": ("trace export failed; spans are dropped until the collector answers",
                      "tracing.export_failed"),
    "queue_full": ("span queue full (the collector is slower than the service); spans are "
                   "dropped until it catches up", "tracing.queue_full"),
}


class CountingExporter(SpanExporter):
    """Wraps an exporter: counts the spans it did not take, and every span it was handed."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.dropped = 0
        self.handled = 0  # spans handed to export (taken or not): they left the queue
        self._lock = threading.Lock()
        self._reported: set[str] = set()

    def _count(self, n: int, reason: str) -> None:
        """Count ``n`` dropped spans; the first drop of each reason is said in the log."""
        with self._lock:
            self.dropped += n
            first = reason not in self._reported
            self._reported.add(reason)
        with contextlib.suppress(Exception):  # metrics are best effort here
            dropped_counter().labels(reason=reason).inc(n)
        if first:
            message, event = _SAID[reason]
            log.warning(message, extra={"event": event, "count": n})

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:
            result = SpanExportResult.FAILURE
        with self._lock:
            self.handled += len(spans)
        if result != SpanExportResult.SUCCESS:
            self._count(len(spans), "export_failed")
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


def _env_size(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else default


class CountingBatchProcessor(SpanProcessor):
    """The SDK's BatchSpanProcessor (bounded queue, export off the request path), in front of
    which a span that would find the queue full is counted (``reason="queue_full"``) and
    dropped here, rather than evicted there unseen.

    The queue's fill is what ended minus what the exporter was handed: a batch being exported
    counts as queued until its export returns, so under a stalled collector the queue holds
    ``max_queue_size`` spans at most, the batch in flight included.
    """

    def __init__(self, exporter: CountingExporter, **kwargs: Any) -> None:
        self.counting = exporter
        self.max_queue = kwargs.get("max_queue_size") or _env_size(
            "OTEL_BSP_MAX_QUEUE_SIZE", 2048)  # the SDK's default
        self.batch = BatchSpanProcessor(exporter, **kwargs)
        self._ended = itertools.count()  # next() is one atomic step under the GIL
        self._full = 0
        self._base = 0
        if hasattr(os, "register_at_fork"):
            # the SDK's processor starts over with an empty queue in a forked child
            forked = weakref.WeakMethod(self._forked)
            os.register_at_fork(after_in_child=lambda: (m := forked()) and m())

    def _forked(self) -> None:
        self._ended = itertools.count()
        self._full = 0
        self._base = self.counting.handled

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: Any) -> None:
        if not span.context.trace_flags.sampled:
            return
        queued = next(self._ended) - self._full - (self.counting.handled - self._base)
        if queued >= self.max_queue:
            self._full += 1  # the request paths' thread: one at a time under the GIL
            self.counting._count(1, "queue_full")
            return
        self.batch.on_end(span)

    def shutdown(self) -> None:
        self.batch.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.batch.force_flush(timeout_millis))
