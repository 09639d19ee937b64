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

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

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


class CountingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.dropped = 0
        self._reported = False

    def _count(self, n: int, reason: str) -> None:
        self.dropped += n
        with contextlib.suppress(Exception):  # metrics are best effort here
            dropped_counter().labels(reason=reason).inc(n)
        if not self._reported:
            self._reported = True
            log.warning("trace export failed; spans are dropped until the collector answers",
                        extra={"event": "tracing.export_failed", "count": n})

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
