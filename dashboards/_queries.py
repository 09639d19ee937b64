"""PromQL of every dashboard panel: pure strings from the spec and the metric dictionary.

Selectors carry the dashboard variables ``$cluster`` and ``$namespace``; range selectors use
``$__rate_interval`` except the SLO burn-rate and budget panels, whose windows are part of
the definition (5m, 1h, 6h; the SLO window).
"""

from __future__ import annotations

from opsplane.spec.service import ServiceSpec
from opsplane.spec.slo import SLO, metric, num, sli_error_ratio

RI = "$__rate_interval"


def sel(spec: ServiceSpec, extra: str = "") -> str:
    base = f'job="{spec.name}",cluster="$cluster",namespace="$namespace"'
    return "{" + base + (f",{extra}" if extra else "") + "}"


def ksel(spec: ServiceSpec, extra: str = "") -> str:
    base = f'cluster="$cluster",namespace="$namespace",container="{spec.name}"'
    return "{" + base + (f",{extra}" if extra else "") + "}"


def _req(spec: ServiceSpec) -> str:
    return metric(spec, "http_server_request_duration_seconds")


def requests_rate(spec: ServiceSpec) -> str:
    return f"sum(rate({_req(spec)}_count{sel(spec)}[{RI}]))"


def error_ratio(spec: ServiceSpec) -> str:
    bad = sel(spec, 'http_response_status_code=~"5.."')
    return (f"(sum(rate({_req(spec)}_count{bad}[{RI}])) or vector(0)) / "
            f"sum(rate({_req(spec)}_count{sel(spec)}[{RI}]))")


def latency_quantile(spec: ServiceSpec, q: float, by: str = "") -> str:
    group = f"le,{by}" if by else "le"
    return (f"histogram_quantile({num(q)}, sum by ({group}) "
            f"(rate({_req(spec)}_bucket{sel(spec)}[{RI}])))")


def budget_remaining(spec: ServiceSpec, slo: SLO) -> str:
    window = f"{spec.slos.window_days}d"
    ratio = _scoped(sli_error_ratio(spec, slo, window), spec)
    return f"1 - (({ratio}) / {num(slo.budget)})"


def burn_rate(spec: ServiceSpec, slo: SLO, window: str) -> str:
    ratio = _scoped(sli_error_ratio(spec, slo, window), spec)
    return f"({ratio}) / {num(slo.budget)}"


def canary(spec: ServiceSpec, name: str, reduce: str = "min") -> str:
    """A canary series of this service (the canary runs in its own namespace: no
    ``$namespace``), by environment and collection."""
    m = metric(spec, name)
    return (f'{reduce} by (environment, collection) '
            f'({m}{{service="{spec.name}",cluster="$cluster"}})')


def canary_failed_checks(spec: ServiceSpec) -> str:
    m = metric(spec, "probe_check_success")
    return (f'min by (environment, collection, check) '
            f'({m}{{service="{spec.name}",cluster="$cluster"}}) == 0')


def _scoped(expr: str, spec: ServiceSpec) -> str:
    """Add the cluster/namespace variables to the job matcher of an SLI expression."""
    return expr.replace(f'job="{spec.name}"',
                        f'job="{spec.name}",cluster="$cluster",namespace="$namespace"')


def by_status_class(spec: ServiceSpec) -> str:
    return ('sum by (status_class) (label_replace('
            f'rate({_req(spec)}_count{sel(spec)}[{RI}]), '
            '"status_class", "${1}xx", "http_response_status_code", "([0-9]).*"))')


def cpu_usage(spec: ServiceSpec) -> str:
    return (f"sum by (pod) (rate({metric(spec, 'container_cpu_usage_seconds_total')}"
            f"{ksel(spec)}[{RI}]))")


def resource(spec: ServiceSpec, kind: str, res: str) -> str:
    name = metric(spec, f"kube_pod_container_resource_{kind}")
    extra = f'resource="{res}"'
    return f"max({name}{ksel(spec, extra)})"


def throttling(spec: ServiceSpec) -> str:
    thr = metric(spec, "container_cpu_cfs_throttled_periods_total")
    per = metric(spec, "container_cpu_cfs_periods_total")
    return (f"sum by (pod) (rate({thr}{ksel(spec)}[{RI}])) / "
            f"sum by (pod) (rate({per}{ksel(spec)}[{RI}]))")


def memory(spec: ServiceSpec) -> str:
    return f"sum by (pod) ({metric(spec, 'container_memory_working_set_bytes')}{ksel(spec)})"


def restarts(spec: ServiceSpec) -> str:
    name = metric(spec, "kube_pod_container_status_restarts_total")
    return f"sum by (pod) (increase({name}{ksel(spec)}[{RI}]))"


def oom_kills(spec: ServiceSpec) -> str:
    name = metric(spec, "kube_pod_container_status_last_terminated_reason")
    extra = 'reason="OOMKilled"'
    return f"sum by (pod) ({name}{ksel(spec, extra)})"


def _deps(spec: ServiceSpec) -> str:
    names = sorted(d.name for d in spec.dependencies if d.kind == "http")
    return "|".join(names)


def dependency_latency(spec: ServiceSpec) -> str:
    name = metric(spec, "http_client_request_duration_seconds")
    s = sel(spec, f'dependency=~"{_deps(spec)}"')
    return f"histogram_quantile(0.99, sum by (le,dependency) (rate({name}_bucket{s}[{RI}])))"


def dependency_errors(spec: ServiceSpec) -> str:
    name = metric(spec, "http_client_request_duration_seconds")
    s = sel(spec, f'dependency=~"{_deps(spec)}"')
    bad = sel(spec, f'dependency=~"{_deps(spec)}",http_response_status_code=~"5.."')
    return (f"(sum by (dependency) (rate({name}_count{bad}[{RI}])) or "
            f"0 * sum by (dependency) (rate({name}_count{s}[{RI}]))) / "
            f"sum by (dependency) (rate({name}_count{s}[{RI}]))")


def dependency_health(spec: ServiceSpec) -> str:
    names = "|".join(sorted(d.name for d in spec.dependencies))
    extra = f'check=~"({names})(:.*)?"'
    return f"min by (check) ({metric(spec, 'healthcheck_status')}{sel(spec, extra)})"


# -- the overview of all services (one row per job) -------------------------------------

def _jobs(specs: list[ServiceSpec]) -> str:
    return "|".join(sorted(s.name for s in specs))


def overview(specs: list[ServiceSpec]) -> dict[str, str]:
    """refId -> instant query, each ``by (job)``, over every service."""
    base = metric(specs[0], "http_server_request_duration_seconds")
    s = f'{{job=~"{_jobs(specs)}",cluster="$cluster"}}'
    bad = f'{{job=~"{_jobs(specs)}",cluster="$cluster",http_response_status_code=~"5.."}}'
    total = f"sum by (job) (rate({base}_count{s}[{RI}]))"
    return {
        "A": total,
        "B": f"(sum by (job) (rate({base}_count{bad}[{RI}])) or 0 * {total}) / {total}",
        "C": f"histogram_quantile(0.99, sum by (le,job) (rate({base}_bucket{s}[{RI}])))",
        "D": " or ".join(
            f'label_replace(1 - (({_scoped_all(spec)}) / {num(1 - spec.slos.availability / 100)}),'
            f' "job", "{spec.name}", "", "")' for spec in sorted(specs, key=lambda x: x.name)),
    }


def _scoped_all(spec: ServiceSpec) -> str:
    from opsplane.spec.slo import slos

    avail = slos(spec)[0]
    return sli_error_ratio(spec, avail, f"{spec.slos.window_days}d").replace(
        f'job="{spec.name}"', f'job="{spec.name}",cluster="$cluster"')
