"""SLO arithmetic and PromQL selectors shared by the dashboard and alert generators.

Pure functions over :class:`opsplane.spec.service.ServiceSpec`; every metric name comes from the
metric dictionary (``metrics.yaml``) or from :data:`KUBERNETES_METRICS` (the standard
cAdvisor and kube-state-metrics names a cluster exposes about the service's pods).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opsplane.errors import SpecError
from opsplane.spec.service import LatencySLO, ServiceSpec

#: The standard cAdvisor / kube-state-metrics series the generators read (not exposed by
#: the service itself, so not in metrics.yaml): name -> (type, description).
KUBERNETES_METRICS: dict[str, tuple[str, str]] = {
    "up": ("gauge", "Prometheus: 1 when the last scrape of the target succeeded"),
    "container_cpu_usage_seconds_total": ("counter", "cAdvisor: CPU time used"),
    "container_cpu_cfs_periods_total": ("counter", "cAdvisor: CFS periods elapsed"),
    "container_cpu_cfs_throttled_periods_total": ("counter", "cAdvisor: CFS periods throttled"),
    "container_memory_working_set_bytes": ("gauge", "cAdvisor: memory working set"),
    "kube_pod_container_resource_requests": ("gauge", "kube-state-metrics: requests"),
    "kube_pod_container_resource_limits": ("gauge", "kube-state-metrics: limits"),
    "kube_pod_container_status_restarts_total": ("counter", "kube-state-metrics: restarts"),
    "kube_pod_container_status_last_terminated_reason": (
        "gauge", "kube-state-metrics: why the container last terminated (OOMKilled, ...)"),
    "kube_pod_container_status_waiting_reason": (
        "gauge", "kube-state-metrics: why the container waits (CrashLoopBackOff, ...)"),
    "kube_pod_status_ready": ("gauge", "kube-state-metrics: pod readiness by condition"),
}

#: The SLI windows recorded for every SLO (Google SRE workbook, multi-window alerts).
WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


@dataclass(frozen=True)
class BurnAlert:
    """One multi-window multi-burn-rate condition: both windows above factor x budget."""

    severity: str
    long: str
    short: str
    factor: float


#: page: fast burn (2% of a 30d budget in 1h, 5% in 6h); ticket: slow burn.
BURN_ALERTS: tuple[BurnAlert, ...] = (
    BurnAlert("page", "1h", "5m", 14.4),
    BurnAlert("page", "6h", "30m", 6.0),
    BurnAlert("ticket", "1d", "2h", 3.0),
    BurnAlert("ticket", "3d", "6h", 1.0),
)
PAGE_FACTORS: tuple[float, ...] = (14.4, 6.0)


@dataclass(frozen=True)
class SLO:
    """One objective of a service, ready for PromQL."""

    name: str            # label value: availability | latency | latency:/route
    objective: float     # percent
    route: str | None    # a route template, or None for the whole service
    le: str | None       # histogram bucket (latency SLOs), formatted as the client writes it
    field: str           # where it came from in service.yaml, for error messages

    @property
    def budget(self) -> float:
        """Allowed error ratio, e.g. 0.001 for 99.9%."""
        return round(1.0 - self.objective / 100.0, 12)


def num(x: float) -> str:
    """A float as PromQL reads it: shortest form, no trailing .0 noise."""
    text = repr(round(float(x), 12))
    return text.removesuffix(".0") if text.endswith(".0") else text


def le_label(seconds: float) -> str:
    """A bucket bound as prometheus_client writes the ``le`` label (0.25, 1.0, 10.0)."""
    return repr(float(seconds))


def job(spec: ServiceSpec) -> str:
    """Label matcher selecting the service's own series (job = service name)."""
    return f'job="{spec.name}"'


def _bucket_for(spec: ServiceSpec, slo: LatencySLO, field: str) -> str:
    from opsplane.spec.metrics import metrics

    hist = metrics()[metric(spec, "http_server_request_duration_seconds")]
    buckets = sorted(hist.buckets or ())
    threshold = slo.threshold_ms / 1000.0
    usable = [b for b in buckets if b <= threshold + 1e-12]
    if not usable:
        raise SpecError(
            f"{field}.threshold_ms: {num(slo.threshold_ms)} is below the smallest latency "
            f"bucket ({num(buckets[0] * 1000)} ms) of http_server_request_duration_seconds")
    # The largest bucket at or below the threshold: a request between that bucket and the
    # threshold counts as slow, which errs on the side of alerting.
    return le_label(usable[-1])


def slos(spec: ServiceSpec) -> list[SLO]:
    """The service's objectives: availability, latency, then one per route (sorted)."""
    out = [
        SLO("availability", spec.slos.availability, None, None, "slos.availability"),
        SLO("latency", spec.slos.latency.target, None,
            _bucket_for(spec, spec.slos.latency, "slos.latency"), "slos.latency.target"),
    ]
    for route in sorted(spec.slos.routes):
        lat = spec.slos.routes[route]
        field = f"slos.routes[{route}]"
        out.append(SLO(f"latency:{route}", lat.target, route, _bucket_for(spec, lat, field),
                       f"{field}.target"))
    return out


def metric(spec: ServiceSpec, name: str) -> str:
    """``name`` after checking it is in the metric dictionary or a Kubernetes standard name."""
    from opsplane.spec.metrics import metrics

    if name in KUBERNETES_METRICS or name in metrics().metrics:
        return name
    raise SpecError(f"{spec.name}: metric {name!r} is neither in the metric dictionary "
                    "(opsplane/spec/metrics.yaml) nor a standard cAdvisor/kube-state-metrics name")


def validate(spec: ServiceSpec, source: str = "service.yaml") -> None:
    """What the generators need beyond the spec model; raises SpecError naming the field."""
    try:
        objectives = slos(spec)
    except SpecError as e:
        raise SpecError(f"{source}: {e}") from e
    for slo in objectives:
        # a page at 14.4x burn needs an error ratio of 14.4 x budget: it must be possible.
        worst = max(PAGE_FACTORS) * slo.budget
        if worst >= 1.0:
            least = 100.0 * (1.0 - 1.0 / max(PAGE_FACTORS))
            raise SpecError(
                f"{source}: {slo.field}: {num(slo.objective)}% leaves an error budget so large "
                f"that a {num(max(PAGE_FACTORS))}x burn can never happen; "
                f"use at least {least:.2f}")
    for i, dep in enumerate(spec.dependencies):
        if dep.kind == "http" and dep.check is not None and not dep.check.startswith("/"):
            raise SpecError(f"{source}: dependencies[{i}].check: {dep.check!r} must be a path "
                            "starting with /")
    for required in ("http_server_request_duration_seconds", "http_client_request_duration_seconds",
                     "healthcheck_status"):
        metric(spec, required)


def validate_all(specs: Sequence[ServiceSpec], sources: Sequence[str] | None = None) -> None:
    """:func:`validate` each spec, and refuse two specs naming the same service."""
    if not specs:
        raise SpecError("no service.yaml given")
    names = sources or [f"{s.name}/service.yaml" for s in specs]
    seen: dict[str, str] = {}
    for spec, source in zip(specs, names, strict=True):
        if spec.name in seen:
            raise SpecError(f"{source}: name: service {spec.name!r} is also defined in "
                            f"{seen[spec.name]}")
        seen[spec.name] = source
        validate(spec, source)


def sli_error_ratio(spec: ServiceSpec, slo: SLO, window: str) -> str:
    """PromQL: the fraction of bad events over ``window`` (raw series, no recording rules)."""
    base = metric(spec, "http_server_request_duration_seconds")
    sel = job(spec) + (f',http_route="{slo.route}"' if slo.route else "")
    total = f"sum(rate({base}_count{{{sel}}}[{window}]))"
    if slo.le is None:
        bad = f'sum(rate({base}_count{{{sel},http_response_status_code=~"5.."}}[{window}]))'
        return f"({bad} or vector(0)) / {total}"
    good = f'sum(rate({base}_bucket{{{sel},le="{slo.le}"}}[{window}]))'
    return f"1 - ({good} / {total})"


def recorded(slo: SLO, window: str, service: str) -> str:
    """The recording-rule series holding one SLI window."""
    return f'slo:sli_error:ratio_rate{window}{{service="{service}",slo="{slo.name}"}}'
