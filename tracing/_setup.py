"""The TracerProvider: resource, sampler, OTLP exporter from the standard OTEL_* variables.

No exporter configured means no span processor at all: spans still carry ids (for log
correlation and propagation) but nothing is queued or sent.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger("tracing")
_lock = threading.Lock()
_provider: Any = None  # tracing._lean.LeanProvider, or the one setup() was given
_providers_registered = False
# the provider's sampler drops every new trace's root span whatever its id (ratio 0,
# always_off and their parentbased_ forms): known from the settings setup() made it with
_drops_roots = False

# downward-API variables the chart sets -> resource attributes
_K8S_ENV = {"POD_NAME": "k8s.pod.name", "POD_NAMESPACE": "k8s.namespace.name",
            "NODE_NAME": "k8s.node.name", "CONTAINER_NAME": "k8s.container.name"}


@dataclass(frozen=True)
class TracingConfig:
    """What setup() decided, from arguments and the environment."""

    service: str
    version: str | None = None
    environment: str | None = None
    exporter: str = "none"  # none | otlp
    protocol: str = "http/protobuf"  # http/protobuf | grpc
    endpoint: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    sampler: str = "parentbased_traceidratio"
    ratio: float = 1.0
    resource: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        where = f" to {self.endpoint} ({self.protocol})" if self.exporter == "otlp" else ""
        return f"tracing {self.service}: sampler {self.sampler} {self.ratio:g}, " \
               f"exporter {self.exporter}{where}"


def _parse_headers(raw: str) -> dict[str, str]:
    out = {}
    for part in raw.split(","):
        if "=" in part:
            k, _, v = part.partition("=")
            out[k.strip()] = v.strip()
    return out


def _true(env: Mapping[str, str], name: str) -> bool:
    """An OpenTelemetry boolean variable: true only when it says ``true`` (any case)."""
    return env.get(name, "").strip().lower() == "true"


def wanted(enabled: bool | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Whether a service traces, by OpenTelemetry's environment conventions.

    ``OTEL_SDK_DISABLED=true`` turns it off whatever else says (the SDK's own switch). Then
    ``enabled`` (the service spec's ``tracing:``), when not None, decides. Otherwise spans
    are on where an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) or ``OTEL_TRACES_EXPORTER=otlp`` asks for the
    exporter's default endpoint, unless ``OTEL_TRACES_EXPORTER=none``.
    """
    env = os.environ if env is None else env
    if _true(env, "OTEL_SDK_DISABLED"):
        return False
    if enabled is not None:
        return enabled
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    endpoint = (env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip() or
                env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip())
    return bool(endpoint) or exporter == "otlp"


def resolve_config(service: str, version: str | None = None, environment: str | None = None,
                   ratio: float | None = None,
                   env: Mapping[str, str] | None = None, *,
                   sampler: str | None = None) -> TracingConfig:
    """Settings from arguments first (``sampler`` and ``ratio`` instead of
    OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG), then the standard OTEL_* variables."""
    from tracing.errors import TracingError

    env = os.environ if env is None else env
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT")
    exporter = env.get("OTEL_TRACES_EXPORTER", "otlp" if endpoint else "none").strip().lower()
    if exporter not in ("otlp", "none", ""):
        raise TracingError(f"OTEL_TRACES_EXPORTER={exporter!r} is not supported (otlp or none)")
    protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or
                env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip()
    if protocol not in ("http/protobuf", "grpc"):
        raise TracingError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported "
                           "(http/protobuf or grpc)")
    known = ("always_on", "always_off", "traceidratio", "parentbased_always_on",
             "parentbased_always_off", "parentbased_traceidratio")
    if sampler is not None:
        if sampler not in known:
            raise TracingError(f"sampler {sampler!r} is not one of {', '.join(known)}")
    else:
        sampler = env.get("OTEL_TRACES_SAMPLER", "").strip() or "parentbased_traceidratio"
        if sampler not in known:
            raise TracingError(
                f"OTEL_TRACES_SAMPLER={sampler!r} is not one of {', '.join(known)}")
    if ratio is None:
        raw = env.get("OTEL_TRACES_SAMPLER_ARG", "1.0")
        try:
            ratio = float(raw)
        except ValueError:
            raise TracingError(f"OTEL_TRACES_SAMPLER_ARG={raw!r} is not a number") from None
    if not 0.0 <= ratio <= 1.0:
        raise TracingError(f"sampling ratio {ratio} is outside 0..1")
    resource = {"service.name": env.get("OTEL_SERVICE_NAME") or service}
    version = version or env.get("SERVICE_VERSION")
    environment = environment or env.get("DEPLOYMENT_ENVIRONMENT")
    if version:
        resource["service.version"] = version
    if environment:
        resource["deployment.environment.name"] = environment
    for var, attr in _K8S_ENV.items():
        if env.get(var):
            resource[attr] = env[var]
    for part in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        if "=" in part:
            k, _, v = part.partition("=")
            resource.setdefault(k.strip(), v.strip())
    headers = _parse_headers(env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or
                             env.get("OTEL_EXPORTER_OTLP_HEADERS", ""))
    return TracingConfig(service=resource["service.name"], version=version,
                         environment=environment, exporter="otlp" if exporter == "otlp" else
                         "none", protocol=protocol, endpoint=endpoint, headers=headers,
                         sampler=sampler, ratio=ratio, resource=resource)


def _sampler(cfg: TracingConfig) -> Any:
    from opentelemetry.sdk.trace import sampling as s

    return {
        "always_on": s.ALWAYS_ON, "always_off": s.ALWAYS_OFF,
        "traceidratio": s.TraceIdRatioBased(cfg.ratio),
        "parentbased_always_on": s.ParentBased(s.ALWAYS_ON),
        "parentbased_always_off": s.ParentBased(s.ALWAYS_OFF),
        "parentbased_traceidratio": s.ParentBased(s.TraceIdRatioBased(cfg.ratio)),
    }[cfg.sampler]


def _otlp_exporter(cfg: TracingConfig) -> SpanExporter:
    from tracing._otlp import otlp_exporter

    endpoint = cfg.endpoint
    if cfg.protocol != "grpc" and endpoint and \
            not os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"  # the base endpoint gets the signal path
    exporter: SpanExporter = otlp_exporter(cfg.protocol, endpoint, cfg.headers)
    return exporter


def setup(
    service: str,
    version: str | None = None,
    environment: str | None = None,
    *,
    sampler: str | None = None,
    ratio: float | None = None,
    exporter: SpanExporter | None = None,
    processors: Sequence[Any] = (),
    provider: Any = None,
    log_ids: bool = True,
) -> Any:
    """Create (or replace) the process's TracerProvider; returns it.

    ``sampler`` and ``ratio`` win over OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
    ``exporter`` overrides the OTLP exporter the environment names (tests pass an in-memory
    one); ``provider`` injects a ready provider (an SDK TracerProvider, say) instead of
    tracing's own (tracing._lean). Log records written inside a span get
    traceId and spanId unless ``log_ids`` is false.
    """
    global _provider, _drops_roots
    from opentelemetry import propagate
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from tracing._export import CountingBatchProcessor, CountingExporter
    from tracing._lean import LeanProvider

    cfg = resolve_config(service, version, environment, ratio, sampler=sampler)
    drops_roots = False
    if provider is None:
        drops_roots = cfg.sampler in ("always_off", "parentbased_always_off") or (
            cfg.sampler in ("traceidratio", "parentbased_traceidratio") and cfg.ratio == 0)
        provider = LeanProvider(resource=Resource.create(cfg.resource), sampler=_sampler(cfg))
        chosen = exporter or (_otlp_exporter(cfg) if cfg.exporter == "otlp" else None)
        if chosen is not None:
            provider.add_span_processor(CountingBatchProcessor(
                CountingExporter(chosen), **batch_settings(os.environ)))
        for p in processors:
            provider.add_span_processor(p)
    propagate.set_global_textmap(CompositePropagator(
        [TraceContextTextMapPropagator(), W3CBaggagePropagator()]))
    with _lock:
        old, _provider, _drops_roots = _provider, provider, drops_roots
    if old is not None and old is not provider:
        old.shutdown()
    _set_global_provider(provider)
    if log_ids:
        import logstd
        from tracing._logs import trace_ids

        logstd.add_context_provider(trace_ids)
    log.debug(cfg.describe())
    return provider


def _set_global_provider(provider: Any) -> None:
    """OpenTelemetry allows one global set per process; later setups swap ours in place."""
    global _providers_registered
    from opentelemetry import trace

    if not _providers_registered:
        from tracing._proxy import ProxyProvider

        trace.set_tracer_provider(ProxyProvider(lambda: _provider))
        _providers_registered = True


# (provider id, name) -> (provider, its tracer); the provider is kept and compared so that a
# new provider at a freed one's address never gets its old tracers
_tracers: dict[tuple[int, str], tuple[Any, Any]] = {}


# The batch processor's settings when OTEL_BSP_* does not say: spans leave every 5 s (the
# SDK's delay) or as soon as 8192 are queued (about 1.8 MB, under the Collector's default
# request limits), and at most 16384 wait (about 4 MB while a collector is away). Each export
# request keeps the batch thread busy for a while, taking the GIL from the request path at
# every I/O of the request thread; under wrk at ratio 1.0 the SDK-sized requests (512) every
# 0.5 s cost the service about 85 us of CPU a request more than almost none, so fewer,
# larger requests cost it less.
_BATCH_DEFAULTS = {"OTEL_BSP_MAX_QUEUE_SIZE": ("max_queue_size", 16384),
                   "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": ("max_export_batch_size", 8192),
                   "OTEL_BSP_SCHEDULE_DELAY": ("schedule_delay_millis", 5000),
                   "OTEL_BSP_EXPORT_TIMEOUT": ("export_timeout_millis", 10000)}


def batch_settings(env: Mapping[str, str]) -> dict[str, int]:
    """BatchSpanProcessor arguments: tracing's defaults for what OTEL_BSP_* leaves unset (the
    SDK reads the variables that are set itself)."""
    out = {arg: default for var, (arg, default) in _BATCH_DEFAULTS.items()
           if not env.get(var, "").strip()}
    queue = env.get("OTEL_BSP_MAX_QUEUE_SIZE", "").strip()
    if "max_export_batch_size" in out and queue.isdigit() and int(queue) > 0:
        # a batch may not be larger than the queue the variable asks for
        out["max_export_batch_size"] = min(out["max_export_batch_size"], int(queue))
    return out


def tracer(name: str = "opsplane") -> Any:
    """The tracer ``name`` of the current provider (cached: get_tracer is costly per call);
    a no-op tracer when tracing is not set up."""
    p = _provider
    if p is None:
        from opentelemetry import trace

        return trace.NoOpTracer()
    key = (id(p), name)
    hit = _tracers.get(key)
    if hit is None or hit[0] is not p:
        if len(_tracers) > 64:
            _tracers.clear()
        hit = _tracers[key] = (p, p.get_tracer(name))
    return hit[1]


def drops_every_root() -> bool:
    """The current provider's sampler drops every new trace whatever its id (ratio 0,
    always_off and their parentbased_ forms), as far as setup() knows: False for an injected
    provider."""
    return _drops_roots and _provider is not None


def is_enabled() -> bool:
    return _provider is not None


def current_ids() -> tuple[str, str] | None:
    """(traceId, spanId) of the active span as 32/16 hex digits, or None."""
    from tracing._logs import trace_ids

    ids = trace_ids()
    return (ids["traceId"], ids["spanId"]) if ids else None


def shutdown(timeout_s: float = 5.0) -> None:
    """Flush what is queued (bounded by timeout) and stop exporting."""
    global _provider
    with _lock:
        p, _provider = _provider, None
    if p is not None:
        p.force_flush(int(timeout_s * 1000))
        p.shutdown()
    import logstd
    from tracing._logs import trace_ids

    logstd.remove_context_provider(trace_ids)


def reset() -> None:
    """For tests: drop the provider without flushing."""
    global _provider
    with _lock:
        p, _provider = _provider, None
    if p is not None:
        p.shutdown()
    import logstd
    from tracing._logs import trace_ids

    logstd.remove_context_provider(trace_ids)
