"""prometheus-client instruments named by the metric dictionary (``opsplane/spec/metrics.yaml``).

Each ``ServiceMetrics`` owns a registry (injected, or a fresh one with the process,
platform and GC collectors). Label children are cached so the hot path is one dict
lookup and one observe.

Under ``opsplane serve --workers N`` every worker is its own process, so one worker's
registry would count only the requests that worker served. There the supervisor sets
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's documented multiprocess mode): every
instrument writes its values to files in that directory, and ``/metrics`` answers from a
``MultiProcessCollector`` over all of them, whichever worker the scrape reaches. Gauges say
how workers combine (``GAUGE_MODES``); the in-flight counts become a live-summed gauge and
GC pauses a histogram. The process and platform collectors describe one process and have
no pod-wide sum: they are left out in that mode (prometheus_client's documentation says
the same of custom collectors).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from opsplane.runtime._gcpauses import gc_pauses, gc_pauses_histogram

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# how each gauge combines across worker processes (prometheus_client's multiprocess_mode):
# in-flight requests add up over the live workers; a health check reads as its most recent
# result in a live worker; the build info is 1 in every worker
GAUGE_MODES = {
    "http_server_active_requests": "livesum",
    "healthcheck_status": "livemostrecent",
    "app_build_info": "max",
}


def multiprocess_dir() -> str | None:
    """The multiprocess directory when this process is one of several workers, else None."""
    return os.environ.get(MULTIPROC_ENV) or None


def _instrument(registry: CollectorRegistry, name: str) -> Any:
    from prometheus_client import Counter, Gauge, Histogram

    from opsplane.spec.metrics import metrics

    m = metrics()[name]
    labels = list(m.labels)
    if m.type == "histogram":
        return Histogram(name, m.description, labels, registry=registry,
                         buckets=list(m.buckets or ()))
    if m.type == "counter":
        return Counter(name.removesuffix("_total"), m.description, labels, registry=registry)
    if m.type in ("gauge", "info"):
        return Gauge(name, m.description, labels, registry=registry,
                     multiprocess_mode=GAUGE_MODES.get(name, "livesum"))  # type: ignore[arg-type]
    raise ValueError(f"metric {name!r}: type {m.type} has no instrument here")


class _TracingDropped:
    """tracing_spans_dropped_total{reason} (tracing._export's counter) in a service registry."""

    def collect(self) -> Any:
        from tracing._export import dropped_counter

        return dropped_counter().collect()


class ServiceMetrics:
    """The standard instruments of one service."""

    def __init__(self, service: str, version: str,
                 registry: CollectorRegistry | None = None) -> None:
        from prometheus_client import (
            GC_COLLECTOR,
            PLATFORM_COLLECTOR,
            PROCESS_COLLECTOR,
            CollectorRegistry,
            disable_created_metrics,
        )

        # *_created series double the series count and no dashboard or alert reads them
        disable_created_metrics()  # type: ignore[no-untyped-call]

        multiproc = multiprocess_dir()
        if registry is None:
            registry = CollectorRegistry(auto_describe=True)
            if multiproc is None:
                for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                    registry.register(collector)
                registry.register(gc_pauses())
        self.registry = registry
        #: what /metrics exposes: the registry, or every worker's files in multiprocess mode
        self.scrape_registry = registry
        self.duration = _instrument(registry, "http_server_request_duration_seconds")
        self.active_counts: dict[str, int]
        if multiproc is None:
            # in-flight requests per method: plain ints read at scrape time (no lock per
            # request)
            self.active_counts = {}
            registry.register(_ActiveRequests(self.active_counts))
            # spans tracing could not deliver (collector down, queue full): counted by
            # tracing in the default registry, shown on this service's /metrics
            registry.register(_TracingDropped())
        else:
            from prometheus_client import multiprocess

            self.active_counts = _LiveCounts(_instrument(registry,
                                                         "http_server_active_requests"))
            gc_pauses_histogram(_instrument(registry, "python_gc_pause_seconds"))
            self.scrape_registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
                self.scrape_registry, multiproc)
        from opsplane.runtime._limiter import rejected_counter  # one counter per registry

        self.rejected_total = rejected_counter(registry)
        self.client_duration = _instrument(registry, "http_client_request_duration_seconds")
        self.check_status = _instrument(registry, "healthcheck_status")
        self.build_info = _instrument(registry, "app_build_info")
        self.build_info.labels(service=service, version=version).set(1)
        self._observe: dict[tuple[str, str, int], Any] = {}
        self._client: dict[tuple[str, str, str], Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        h = self._observe.get(key)
        if h is None:
            if len(self._observe) > 10_000:  # a runaway label set: stop caching, still count
                self.duration.labels(method, route, str(status)).observe(seconds)
                return
            h = self._observe[key] = self.duration.labels(method, route, str(status))
        h.observe(seconds)

    def observe_client(self, dependency: str, method: str, status: str, seconds: float) -> None:
        key = (dependency, method, status)
        h = self._client.get(key)
        if h is None:
            h = self._client[key] = self.client_duration.labels(dependency, method, status)
        h.observe(seconds)

    def rejected(self, reason: str) -> None:
        """Count a request answered 503 without being handled (reason: overload, draining)."""
        self.rejected_total.labels(reason).inc()

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The body and content type of /metrics (OpenMetrics when the scraper asks for it)."""
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept)
        return encoder(self.scrape_registry), content_type


class _LiveCounts(dict[str, int]):
    """The in-flight counts in multiprocess mode: each update also sets the gauge's file."""

    def __init__(self, gauge: Any) -> None:
        super().__init__()
        self.gauge = gauge

    def __setitem__(self, method: str, n: int) -> None:
        super().__setitem__(method, n)
        self.gauge.labels(method).set(n)


class _ActiveRequests:
    """Collector of http_server_active_requests from the counts the middleware keeps."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def describe(self) -> list[Any]:
        return list(self.collect())

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        from opsplane.spec.metrics import metrics

        name = "http_server_active_requests"
        m = metrics()[name]
        family = GaugeMetricFamily(name, m.description, labels=list(m.labels))
        for method, n in sorted(self.counts.items()):
            family.add_metric([method], n)
        yield family
