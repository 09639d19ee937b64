"""The canary's series, in blackbox_exporter's convention (``probe_success``,
``probe_duration_seconds``) plus per-check series, labelled service / environment /
collection. Names come from the metric dictionary (``opsplane/spec/metrics.yaml``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsplane.canary.store import RunRecord

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class CanaryMetrics:
    """Instruments registered on the service's registry (the one ``/metrics`` serves)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        from opsplane.runtime._metrics import _instrument

        self.success = _instrument(registry, "probe_success")
        self.duration = _instrument(registry, "probe_duration_seconds")
        self.check_success = _instrument(registry, "probe_check_success")
        self.check_duration = _instrument(registry, "probe_check_duration_seconds")
        self.consecutive = _instrument(registry, "canary_consecutive_failures")
        self.broken = _instrument(registry, "canary_target_broken")
        self.runs = _instrument(registry, "canary_runs_total")
        self.skew = _instrument(registry, "canary_start_skew_seconds")
        self._streak: dict[tuple[str, str, str], int] = {}

    def observe(self, run: RunRecord) -> None:
        """Update the series from one finished run (a cut run is counted, nothing else)."""
        key = (run.service, run.environment, run.collection)
        self.runs.labels(*key, run.outcome).inc()
        if run.outcome == "cut":
            return
        self.success.labels(*key).set(1 if run.ok else 0)
        self.duration.labels(*key).set(run.duration_s)
        self.broken.labels(*key).set(1 if run.outcome == "broken" else 0)
        streak = 0 if run.ok else self._streak.get(key, 0) + 1
        self._streak[key] = streak
        self.consecutive.labels(*key).set(streak)
        for r in run.results:
            if r.iteration != 1:
                continue
            self.check_success.labels(*key, r.name).set(1 if r.outcome == "passed" else 0)
            self.check_duration.labels(*key, r.name).set(r.elapsed_ms / 1000)

    def started(self, skew_s: float) -> None:
        self.skew.observe(max(skew_s, 0.0))
