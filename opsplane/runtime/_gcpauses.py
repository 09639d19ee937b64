"""How long the garbage collector stops this process: ``python_gc_pause_seconds``.

Python's own collector metrics count collections and objects, not time. A ``gc.callbacks``
hook times each collection (start to stop, per generation) into a histogram that
every service registry shares; ``loadtest`` reads it before and after a run to report
the GC pauses a load caused.
"""

from __future__ import annotations

import gc
import time
from typing import Any

NAME = "python_gc_pause_seconds"


class GcPauses:
    """A prometheus collector of collection pauses, fed by one gc callback."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        # per generation: bucket counts (non-cumulative, +Inf last), sum of seconds
        self.counts = [[0] * (len(buckets) + 1) for _ in range(3)]
        self.sums = [0.0, 0.0, 0.0]
        self._started = 0.0

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        gen = min(int(info.get("generation", 2)), 2)
        i = 0
        while i < len(self.buckets) and seconds > self.buckets[i]:
            i += 1
        self.counts[gen][i] += 1
        self.sums[gen] += seconds

    def describe(self) -> list[Any]:
        return list(self.collect())

    def collect(self) -> Any:
        from prometheus_client.core import HistogramMetricFamily

        from opsplane.spec.metrics import metrics

        m = metrics()[NAME]
        family = HistogramMetricFamily(NAME, m.description, labels=list(m.labels))
        for gen in range(3):
            running, cumulative = 0, []
            for le, n in zip((*map(repr, self.buckets), "+Inf"), self.counts[gen], strict=True):
                running += n
                cumulative.append((le, running))
            family.add_metric([str(gen)], cumulative, self.sums[gen])
        yield family


_pauses: GcPauses | None = None


def gc_pauses() -> GcPauses:
    """The process's one collector; its gc callback is installed on first use."""
    global _pauses
    if _pauses is None:
        from opsplane.spec.metrics import metrics

        _pauses = GcPauses(tuple(metrics()[NAME].buckets or ()))
        gc.callbacks.append(_pauses.callback)
    return _pauses


_histogram: Any = None


def gc_pauses_histogram(histogram: Any) -> None:
    """Multiprocess mode: time each collection into ``histogram`` (a prometheus_client
    Histogram labelled by generation, whose values the workers share through files) instead
    of the per-process collector; installed once per process."""
    global _histogram
    if _histogram is not None:
        return
    _histogram = histogram
    children = [histogram.labels(str(gen)) for gen in range(3)]
    started = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        children[min(int(info.get("generation", 2)), 2)].observe(
            time.perf_counter() - started[0])

    gc.callbacks.append(callback)
