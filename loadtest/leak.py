"""Memory leaks: judged on every run long enough, whatever its shape.

The verdict comes from the least-squares slope of memory over the loaded window (after the
warm-up, before the cool-down; ``analysis.memory_growth``) and its 95 % interval:

- **judged** when the window is at least ``MIN_WINDOW_S`` seconds with at least
  ``MIN_SAMPLES`` samples; a shorter run is "not judged" (said, never taken as clean);
- a **probable leak** when memory is still rising at the end, and fast enough to matter:
  the slope's lower bound is above zero over the whole window *and* over its second half
  (a service that warms up levels off; a leak keeps climbing), and at that lower bound the
  memory would outgrow the recommended limit's headroom (limit - peak) within
  ``HORIZON_H`` hours.

``loadtest recommend-limits`` refuses a probable leak (exit 1, the slope and the window in
one line) unless ``--accept-leak``: limits sized on a leaking run only delay the OOM kill.
"""

from __future__ import annotations

import math
from typing import Any

from loadtest.errors import RefusedError

MIN_WINDOW_S = 20.0
MIN_SAMPLES = 20
HORIZON_H = 24.0
_MI = 2**20


def _slope(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """(slope, 95 % half-width) of y over x, or None with fewer than 3 distinct x."""
    n = len(points)
    if n < 3:
        return None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    resid = sum((y - my - slope * (x - mx)) ** 2 for x, y in points)
    return slope, 1.96 * math.sqrt(resid / (n - 2) / sxx)


def judge(growth: dict[str, Any], loaded: list[dict[str, float]], limit_mib: float,
          peak_mib: float) -> dict[str, Any]:
    """``growth`` (slope and interval, MiB/h) with the verdict: ``window_s``, ``judged``,
    ``probable_leak``, ``hours_to_limit`` (at the slope's lower bound; None when flat)."""
    slope, ci = growth.get("slope_mib_per_h"), growth.get("ci95_mib_per_h")
    window = loaded[-1]["elapsed_s"] - loaded[0]["elapsed_s"] if loaded else 0.0
    judged = (window >= MIN_WINDOW_S and len(loaded) >= MIN_SAMPLES and slope is not None
              and ci is not None)
    hours = None
    probable = False
    if judged and slope is not None and ci is not None and slope - ci > 0:
        half = loaded[len(loaded) // 2:]
        late = _slope([(s["elapsed_s"] / 3600, s["memory_bytes"] / _MI) for s in half])
        still_rising = late is not None and late[0] - late[1] > 0
        hours = max(limit_mib - peak_mib, 0.0) / (slope - ci)
        probable = still_rising and hours <= HORIZON_H
    return {**growth, "window_s": round(window, 1), "judged": judged,
            "probable_leak": probable,
            "hours_to_limit": None if hours is None else round(hours, 2)}


def describe(g: dict[str, Any]) -> str:
    """``+112.0 ± 8.1 MiB/h over a 35 s window`` (or why it was not judged)."""
    window = g.get("window_s")
    if g.get("slope_mib_per_h") is None:
        return f"memory growth not measured ({window} s window)"
    text = (f"{g['slope_mib_per_h']:+.1f} ± {g['ci95_mib_per_h']:.1f} MiB/h "
            f"over a {window:g} s window")
    if not g.get("judged"):
        return (f"{text} (not judged: a leak is judged on {MIN_WINDOW_S:g} s and "
                f"{MIN_SAMPLES} samples or more)")
    if g.get("probable_leak"):
        return f"{text}: probable leak (the limit reached in {g['hours_to_limit']:g} h)"
    return f"{text}: no leak"


def refuse(stats: dict[str, Any], where: object) -> None:
    """RefusedError when the run shows a probable leak (``--accept-leak`` skips this)."""
    g = stats.get("memory_growth") or {}
    if g.get("probable_leak"):
        raise RefusedError(
            f"{where}: probable memory leak: {g['slope_mib_per_h']:+.1f} ± "
            f"{g['ci95_mib_per_h']:.1f} MiB/h over a {g['window_s']:g} s window (the "
            f"limit reached in {g['hours_to_limit']:g} h); limits from a leaking run only "
            "delay the OOM kill: fix the leak, or pass --accept-leak")
