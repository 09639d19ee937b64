"""prometheus-client instruments named by the metric dictionary (``opsplane/metrics.yaml``).

Each ``ServiceMetrics`` owns a registry (injected, or a fresh one with the process,
platform and GC collectors). Label children are cached so the hot path is one dict
lookup and one observe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsplane._gcpauses import gc_pauses

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


def _instrument(registry: CollectorRegistry, name: str) -> Any:
    from prometheus_client import Counter, Gauge, Histogram

    from opsplane.metricdict import metrics

    m = metrics()[name]
    labels = list(m.labels)
    if m.type == "histogram":
        return Histogram(name, m.description, labels, registry=registry,
                         buckets=list(m.buckets or ()))
    if m.type == "counter":
        return Counter(name.removesuffix("_total"), m.description, labels, registry=registry)
    if m.type in ("gauge", "info"):
        return Gauge(name, m.description, labels, registry=registry)
    raise ValueError(f"metric {name!r}: type {m.type} has no instrument here")


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

        if registry is None:
            registry = CollectorRegistry(auto_describe=True)
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                registry.register(collector)
            registry.register(gc_pauses())
        self.registry = registry
        self.duration = _instrument(registry, "http_server_request_duration_seconds")
        # in-flight requests per method: plain ints read at scrape time (no lock per request)
        self.active_counts: dict[str, int] = {}
        registry.register(_ActiveRequests(self.active_counts))
        self.rejected_total = _instrument(registry, "http_server_rejected_requests_total")
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
        return encoder(self.registry), content_type


class _ActiveRequests:
    """Collector of http_server_active_requests from the counts the middleware keeps."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def describe(self) -> list[Any]:
        return list(self.collect())

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        from opsplane.metricdict import metrics

        name = "http_server_active_requests"
        m = metrics()[name]
        family = GaugeMetricFamily(name, m.description, labels=list(m.labels))
        for method, n in sorted(self.counts.items()):
            family.add_metric([method], n)
        yield family
