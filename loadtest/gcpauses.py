"""GC pauses a load caused in a Python target that exposes ``python_gc_pause_seconds``.

``loadtest run`` reads the target's ``/metrics`` before Locust starts and after it ends
(``gc.json`` in the run directory); ``summarize`` turns the two readings into the pauses of
the run: collections and total pause per generation, the share of the run's wall time,
and the histogram bucket every pause fitted in. Services built on ``opsplane.instrument``
expose the histogram (``opsplane/runtime/_gcpauses.py``); a target that does not is simply not
reported.
"""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from typing import Any

NAME = "python_gc_pause_seconds"
# generation -> {"count": n, "sum": seconds, "buckets": {le: cumulative count}}
Reading = dict[str, dict[str, Any]]


def parse(exposition: str) -> Reading | None:
    """The histogram's series per generation, or None when the text has none."""
    from prometheus_client.parser import text_string_to_metric_families

    out: Reading = {}
    for family in text_string_to_metric_families(exposition):
        if family.name != NAME:
            continue
        for s in family.samples:
            gen = out.setdefault(s.labels.get("generation", "?"),
                                 {"count": 0.0, "sum": 0.0, "buckets": {}})
            if s.name.endswith("_bucket"):
                gen["buckets"][s.labels["le"]] = s.value
            elif s.name.endswith("_count"):
                gen["count"] = s.value
            elif s.name.endswith("_sum"):
                gen["sum"] = s.value
    return out or None


def scrape(target: str, path: str = "/metrics", timeout: float = 5.0) -> Reading | None:
    """The target's reading now; None when it has no such metric or no metrics page."""
    url = target.rstrip("/") + path
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            if r.status != 200:
                return None
            text = r.read(8 * 2**20).decode("utf-8", "replace")
    except (OSError, urllib.error.URLError, ValueError):
        return None
    try:
        return parse(text)
    except ValueError:  # not a Prometheus exposition
        return None


def _bound(le: str) -> float:
    return math.inf if le == "+Inf" else float(le)


def summarize(before: Reading, after: Reading, seconds: float) -> dict[str, Any]:
    """What happened between two readings: per generation and in total."""
    gens: dict[str, Any] = {}
    total_n, total_s, worst = 0, 0.0, 0.0
    for gen in sorted(after):
        a, b = after[gen], before.get(gen, {"count": 0, "sum": 0.0, "buckets": {}})
        n = round(a["count"] - b["count"])
        pause = max(0.0, a["sum"] - b["sum"])
        # the smallest bucket whose count grew by all n: every pause was at most that
        within = next((_bound(le) for le in sorted(a["buckets"], key=_bound)
                       if round(a["buckets"][le] - b["buckets"].get(le, 0)) >= n), math.inf)
        gens[gen] = {"collections": n, "pause_ms": round(pause * 1000, 3),
                     "max_pause_ms_at_most": None if n == 0 or math.isinf(within)
                     else round(within * 1000, 3)}
        total_n += n
        total_s += pause
        if n:
            worst = max(worst, within)
    return {"collections": total_n, "pause_ms": round(total_s * 1000, 3),
            "pause_share": round(total_s / seconds, 6) if seconds > 0 else None,
            "max_pause_ms_at_most": None if total_n == 0 or math.isinf(worst)
            else round(worst * 1000, 3),
            "generations": gens, "seconds": round(seconds, 3)}


def describe(summary: dict[str, Any]) -> str:
    """One line: collections, total pause, share of the run, the bound on each pause."""
    n = summary["collections"]
    share = summary.get("pause_share")
    per_gen = ", ".join(f"gen {g}: {v['collections']}"
                        for g, v in summary["generations"].items())
    text = f"{n} collections, {summary['pause_ms']:.1f} ms in all"
    if share is not None:
        text += f" ({share:.2%} of the run)"
    if summary.get("max_pause_ms_at_most") is not None:
        text += f", each at most {summary['max_pause_ms_at_most']:g} ms"
    return f"{text} ({per_gen})" if per_gen else text
