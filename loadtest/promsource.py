"""CPU and memory of a load test's target from Prometheus, per pod, for ``recommend-limits``.

As krr does with cAdvisor: over the run's time range, every pod's CPU rate
(``container_cpu_usage_seconds_total``) and working set (``container_memory_working_set_bytes``)
at each step; with ``metrics="process"`` a process's own ``process_cpu_seconds_total`` and
``process_resident_memory_bytes`` stand in (what prometheus-client exports: the tests, or a
cluster without cAdvisor). The run directory still gives the time line (users, warm-up),
Locust's request and failure counts and the run's status.

Several replicas: each pod gets its own recommendation (the local rule, on its points), and
the combined one takes the highest pod's figures, so that every replica fits its own load.
Each pod must have enough loaded points on its own: fewer gets the refusal a short local run
gets.
"""

from __future__ import annotations

import bisect
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from typing import Any

from loadtest.analysis import Recommendation, Run, recommend
from loadtest.errors import LoadtestError, RunDirError
from opsplane.errors import BadInputError, UsageError

METRICS = {
    "cadvisor": ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes"),
    "process": ("process_cpu_seconds_total", "process_resident_memory_bytes"),
}


class PrometheusError(LoadtestError, BadInputError):
    """Prometheus cannot be reached, refuses the query, or the selector matches nothing."""


@dataclass(frozen=True)
class Source:
    url: str
    selector: str
    metrics: str = "cadvisor"
    pod_label: str = "pod"
    rate_window: str = "30s"
    timeout: float = 10.0

    def matchers(self) -> str:
        """The selector as the inside of ``{...}`` (braces optional on input)."""
        inner = self.selector.strip()
        if inner.startswith("{") and inner.endswith("}"):
            inner = inner[1:-1].strip()
        if not inner or not re.fullmatch(r'(\s*[A-Za-z_]\w*\s*(=|!=|=~|!~)\s*"[^"]*"\s*,?)+',
                                         inner):
            raise UsageError(f"--selector {self.selector!r}: give label matchers, e.g. "
                             "'namespace=\"staging\",pod=~\"orders-.*\"'")
        return inner.rstrip(",")

    def queries(self) -> tuple[str, str]:
        if self.metrics not in METRICS:
            raise UsageError(f"--metrics {self.metrics!r}: one of {', '.join(METRICS)}")
        if not re.fullmatch(r"\d+(ms|s|m|h)", self.rate_window):
            raise UsageError(f"--rate-window {self.rate_window!r}: a duration like 30s or 1m")
        cpu, mem = METRICS[self.metrics]
        sel = self.matchers()
        return (f"sum by ({self.pod_label}) (rate({cpu}{{{sel}}}[{self.rate_window}]))",
                f"max by ({self.pod_label}) ({mem}{{{sel}}})")


def query_range(src: Source, expr: str, start: float, end: float, step: float,
                ) -> list[dict[str, Any]]:
    """``/api/v1/query_range``; one line on any failure (no traceback, no retry)."""
    params = urllib.parse.urlencode({"query": expr, "start": f"{start:.3f}",
                                     "end": f"{end:.3f}", "step": f"{step:g}"})
    url = f"{src.url.rstrip('/')}/api/v1/query_range?{params}"
    try:
        with urllib.request.urlopen(url, timeout=src.timeout) as r:
            body = json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            why = json.loads(e.read()).get("error", e.reason)
        except ValueError:
            why = e.reason
        raise PrometheusError(f"--prometheus {src.url}: query refused (HTTP {e.code}): "
                              f"{why}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise PrometheusError(f"--prometheus {src.url}: cannot reach: {reason}") from None
    if body.get("status") != "success":
        raise PrometheusError(f"--prometheus {src.url}: {body.get('error', 'query failed')}")
    return list(body.get("data", {}).get("result", []))


def _series(result: list[dict[str, Any]], label: str) -> dict[str, dict[float, float]]:
    out: dict[str, dict[float, float]] = {}
    for s in result:
        metric = s.get("metric", {})
        pod = metric.get(label) or metric.get("instance") or "(no pod label)"
        out[pod] = {round(float(t), 3): float(v) for t, v in s.get("values", [])}
    return out


def pod_runs(run: Run, src: Source, *, step: float | None = None) -> dict[str, Run]:
    """The run once per pod, its samples replaced by that pod's points from Prometheus."""
    if not run.samples:
        raise RunDirError(f"{run.path}: no samples to take the time line from")
    step = float(step or run.meta.get("sampler", {}).get("interval_s") or 1.0)
    t0 = run.samples[0]["time"] - run.samples[0]["elapsed_s"]
    start, end = run.samples[0]["time"], run.samples[-1]["time"]
    cpu_q, mem_q = src.queries()
    cpu = _series(query_range(src, cpu_q, start, end, step), src.pod_label)
    mem = _series(query_range(src, mem_q, start, end, step), src.pod_label)
    if not cpu or not mem:
        raise PrometheusError(f"--selector {src.selector}: no {METRICS[src.metrics][0]} or "
                              f"{METRICS[src.metrics][1]} series in {src.url} between "
                              f"{start:.0f} and {end:.0f}")
    times = [s["time"] for s in run.samples]

    def users_at(t: float) -> float:
        # the last local sample at or before t: the users Locust had then
        return run.samples[max(0, bisect.bisect_right(times, t) - 1)]["users"]

    runs = {}
    for pod in sorted(set(cpu) & set(mem)):
        points = sorted(set(cpu[pod]) & set(mem[pod]))
        samples = [{"elapsed_s": t - t0, "time": t, "cpu_cores": cpu[pod][t],
                    "memory_bytes": mem[pod][t], "procs": 1.0, "users": users_at(t)}
                   for t in points]
        runs[pod] = replace(run, samples=samples)
    return runs


def recommend_from_prometheus(run: Run, src: Source, *, step: float | None = None,
                              **kwargs: Any) -> Recommendation:
    """One recommendation per pod (each refused like a short local run when it has too few
    points), combined: every figure the highest pod's, so that each replica fits its own
    load (an idle replica would pull a percentile over the pooled points down);
    ``stats["pods"]`` has each pod's figures."""
    pods = pod_runs(run, src, step=step)
    per_pod = {pod: recommend(r, **kwargs) for pod, r in pods.items()}
    top = max(per_pod, key=lambda p: (per_pod[p].cpu_request_m, per_pod[p].memory_mi))
    limits = [r.cpu_limit_m for r in per_pod.values() if r.cpu_limit_m is not None]
    first = per_pod[top]
    stats = dict(first.stats)
    stats["cpu_cores"] = {k: max(r.stats["cpu_cores"][k] for r in per_pod.values())
                          for k in first.stats["cpu_cores"]}
    stats["memory_mib"] = {"peak": max(r.stats["memory_mib"]["peak"] for r in per_pod.values()),
                           "min": min(r.stats["memory_mib"]["min"] for r in per_pod.values())}
    stats["loaded_samples"] = min(r.stats["loaded_samples"] for r in per_pod.values())
    # the values file's `# measured:` line names where the figures came from
    stats["sampler"] = f"prometheus ({src.metrics}, {len(pods)} pods)"
    stats["interval_s"] = float(step or run.meta.get("sampler", {}).get("interval_s") or 1.0)
    stats["source"] = {"prometheus": src.url, "selector": src.selector,
                       "metrics": src.metrics, "pods": len(pods)}
    stats["pods"] = {pod: {"loaded_samples": r.stats["loaded_samples"],
                           "cpu_cores": r.stats["cpu_cores"],
                           "memory_mib": r.stats["memory_mib"],
                           "resources": r.resources} for pod, r in per_pod.items()}
    return Recommendation(max(r.cpu_request_m for r in per_pod.values()),
                          max(limits) if limits else None,
                          max(r.memory_mi for r in per_pod.values()), first.margin,
                          first.percentile, first.limit_percentile, stats)
