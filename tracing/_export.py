"""An exporter wrapper that counts what could not be sent and says so once in the log.

An unreachable or wrong collector must never block or fail requests: the batch processor
queues (bounded) off the request path; spans the exporter could not deliver are counted in
``tracing_spans_dropped_total`` and reported once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from tracing._wire import preencode as _preencode

log = logging.getLogger("tracing")
_COUNTER: Any = None


def dropped_counter() -> Any:
    """tracing_spans_dropped_total{reason}, from the metric dictionary (default registry)."""
    global _COUNTER
    if _COUNTER is None:
        from prometheus_client import Counter

        from opsplane.metricdict import metrics

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
    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.dropped = 0
        self._reported: set[str] = set()

    def _count(self, n: int, reason: str) -> None:
        """Count ``n`` dropped spans; the first drop of each reason is said in the log."""
        self.dropped += n
        with contextlib.suppress(Exception):  # metrics are best effort here
            dropped_counter().labels(reason=reason).inc(n)
        if reason not in self._reported:
            self._reported.add(reason)
            message, event = _SAID[reason]
            log.warning(message, extra={"event": event, "count": n})

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:
            result = SpanExportResult.FAILURE
        if result != SpanExportResult.SUCCESS:
            self._count(len(spans), "export_failed")
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        flush = getattr(self.inner, "force_flush", None)
        return bool(flush(timeout_millis)) if flush else True


class _QueueFullOnce(logging.Filter):
    """The SDK warns once per span dropped from a full queue: CountingBatchProcessor counts
    them and says it once instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Queue full")


class CountingBatchProcessor(BatchSpanProcessor):
    """The SDK's batch processor (bounded queue, export off the request path) whose
    queue-full drops are counted too (``reason="queue_full"``), not only failed exports."""

    def __init__(self, exporter: CountingExporter, **kwargs: Any) -> None:
        super().__init__(exporter, **kwargs)
        self.counting = exporter
        self._batch = getattr(self, "_batch_processor", None)  # the SDK's queue (1.3x and later)
        # tracing's own OTLP exporters read spans encoded as they end (tracing._wire)
        self.preencode = getattr(exporter.inner, "reads_preencoded", False)
        sdk_log = logging.getLogger("opentelemetry.sdk._shared_internal")
        if not any(isinstance(f, _QueueFullOnce) for f in sdk_log.filters):
            sdk_log.addFilter(_QueueFullOnce())

    def on_end(self, span: Any) -> None:
        if not span.context.trace_flags.sampled:
            return
        self.emit(span)

    def emit(self, span: Any) -> None:
        """Queue a sampled, ended span (LeanSpan.end comes here directly when this is the
        provider's only processor): a full queue drops the oldest span, counted."""
        batch = self._batch
        if batch is None:
            super().on_end(span)
            return
        # its queue is read each time: the SDK makes a new one in a forked child
        if len(batch._queue) >= batch._max_queue_size:
            self.counting._count(1, "queue_full")
        item = _preencode(span) if self.preencode else None
        batch.emit(span if item is None else item)
