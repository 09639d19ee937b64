"""Read a run directory and turn its samples into a resource recommendation.

The rule (``recommend``), applied to the *loaded* samples only: samples with at least one
user, after the warm-up (default: the spawn time users / spawn-rate, at most half the run)
counted from the first loaded sample, and without the last second of load (cool-down).

- percentiles are nearest-rank: the value at rank ceil(p/100 x n) of the sorted samples;
- CPU request = p95 of CPU (cores) x margin, rounded up to 10m, at least 10m;
- CPU limit = p99 of CPU x margin, rounded up to 10m, at least the request
  (``cpu_limit=False`` leaves it out: no CFS throttling, at the price of noisy neighbours);
- memory request = limit = peak memory x margin (after an OOM kill or a restart:
  max(that + 100Mi, that x 1.2)), rounded up to 8Mi, at least 64Mi.

Refused, with the reason: a run that did not finish, fewer than ``min_samples`` loaded
samples, no requests, or a failure ratio above ``max_failure_ratio`` (a saturated service
gives wrong figures).

The arithmetic on samples and Locust's history (the loaded window, percentiles, the memory
slope, the step levels) is done with pandas, imported inside the functions that need it:
importing ``loadtest`` (the CLI, ``loadtest run``) does not load it.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtest.errors import RefusedError, RunDirError
from loadtest.gcpauses import summarize as summarize_gc
from loadtest.leak import judge as judge_leak
from loadtest.run import RUN_FORMAT, RUN_VERSION, SAMPLE_FIELDS

if TYPE_CHECKING:
    import pandas as pd

MI = 2**20
CPU_STEP_M = 10
MEM_STEP_MI = 8
MEM_FLOOR_MI = 64
OOM_BUMP_MI = 100
COOLDOWN_S = 1.0


@dataclass
class Run:
    path: Path
    meta: dict[str, Any]
    samples: list[dict[str, float]]
    history: list[dict[str, str]]
    requests: int
    failures: int


@dataclass
class Recommendation:
    cpu_request_m: int
    cpu_limit_m: int | None
    memory_mi: int
    margin: float
    percentile: float
    limit_percentile: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, dict[str, str]]:
        limits = {"memory": f"{self.memory_mi}Mi"}
        if self.cpu_limit_m is not None:
            limits = {"cpu": f"{self.cpu_limit_m}m", **limits}
        return {"requests": {"cpu": f"{self.cpu_request_m}m", "memory": f"{self.memory_mi}Mi"},
                "limits": limits}

    def to_json(self) -> dict[str, Any]:
        return {"resources": self.resources, "margin": self.margin,
                "percentile": self.percentile, "limit_percentile": self.limit_percentile,
                "statistics": self.stats}


def load_run(path: str | Path) -> Run:
    """A run directory, checked: metadata of our format and version, samples, Locust stats."""
    d = Path(path)
    if not d.is_dir():
        raise RunDirError(f"{d}: no such run directory")
    meta_path = d / "metadata.json"
    if not meta_path.is_file():
        raise RunDirError(f"{d}: not a loadtest run directory (no metadata.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RunDirError(f"{meta_path}: unreadable metadata ({e})") from e
    if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
        raise RunDirError(f"{meta_path}: not a loadtest run (format is not {RUN_FORMAT})")
    if meta.get("version") != RUN_VERSION:
        raise RunDirError(f"{meta_path}: run format version {meta.get('version')!r} is not "
                          f"supported (this loadtest reads version {RUN_VERSION})")
    samples = _read_samples(d / "samples.csv")
    history = _read_csv(d / "locust_stats_history.csv", required=False)
    stats = _read_csv(d / "locust_stats.csv", required=False)
    agg = next((r for r in stats if r.get("Name") == "Aggregated"), None)
    try:
        requests = int(agg["Request Count"]) if agg else 0
        failures = int(agg["Failure Count"]) if agg else 0
    except (KeyError, ValueError) as e:
        raise RunDirError(f"{d / 'locust_stats.csv'}: Aggregated row is malformed") from e
    return Run(d, meta, samples, history, requests, failures)


def _read_csv(p: Path, required: bool = True) -> list[dict[str, str]]:
    try:
        with p.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError as e:
        if required:
            raise RunDirError(f"{p.parent}: incomplete run directory (no {p.name})") from e
        return []
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        raise RunDirError(f"{p}: unreadable ({e})") from e


def _read_samples(p: Path) -> list[dict[str, float]]:
    rows = _read_csv(p)
    if not rows:
        raise RunDirError(f"{p}: no samples (an empty or header-only file)")
    out: list[dict[str, float]] = []
    for i, row in enumerate(rows, start=2):
        try:
            out.append({k: float(row[k]) for k in SAMPLE_FIELDS})
        except (KeyError, TypeError, ValueError) as e:
            raise RunDirError(f"{p}:{i}: malformed sample row (need "
                              f"{','.join(SAMPLE_FIELDS)})") from e
    return out


def _frame(samples: list[dict[str, float]]) -> pd.DataFrame:
    """Samples as a DataFrame, one column per sample field, in sampling order."""
    import pandas as pd

    return pd.DataFrame.from_records(samples, columns=list(SAMPLE_FIELDS))


def _nearest_rank(values: pd.Series, p: float) -> float:
    """Nearest-rank percentile of a Series: the value at rank ceil(p/100 x n), 1-based."""
    n = len(values)
    if not n:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(round(p / 100 * n, 9)))
    return float(values.sort_values(ignore_index=True).iloc[min(rank, n) - 1])


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the value at rank ceil(p/100 x n), 1-based, of sorted values."""
    import pandas as pd

    return _nearest_rank(pd.Series(values, dtype="float64"), p)


def warmup_seconds(run: Run, warmup: float | None = None) -> float:
    return float(run.meta.get("warmup_s", 0.0) if warmup is None else warmup)


def _loaded_frame(run: Run, warmup: float | None = None) -> pd.DataFrame:
    df = _frame(run.samples)
    loaded = df[df["users"] > 0]
    if loaded.empty:
        return loaded
    elapsed = loaded["elapsed_s"]
    start = float(elapsed.iloc[0]) + warmup_seconds(run, warmup)
    end = float(elapsed.iloc[-1]) - COOLDOWN_S
    return loaded[(elapsed >= start) & (elapsed <= end)]


def loaded_samples(run: Run, warmup: float | None = None) -> list[dict[str, float]]:
    """Samples with users > 0, from the first such sample + warm-up, without the last
    second of load (Locust stopping its users)."""
    return [{str(k): float(v) for k, v in row.items()}
            for row in _loaded_frame(run, warmup).to_dict("records")]


def cpu_millicores(cores: float) -> int:
    """Cores -> millicores rounded up to 10m, at least 10m."""
    m = math.ceil(round(cores * 1000 / CPU_STEP_M, 6)) * CPU_STEP_M
    return max(CPU_STEP_M, m)


def memory_mebibytes(nbytes: float) -> int:
    """Bytes -> MiB rounded up to 8Mi, at least 64Mi."""
    mi = math.ceil(round(nbytes / MI / MEM_STEP_MI, 6)) * MEM_STEP_MI
    return max(MEM_FLOOR_MI, mi)


def memory_growth(samples: list[dict[str, float]] | pd.DataFrame) -> dict[str, float | None]:
    """Least-squares slope of memory over time in MiB per hour, with a 95 % interval."""
    df = _frame(samples) if isinstance(samples, list) else samples
    n = len(df)
    if n < 3:
        return {"slope_mib_per_h": None, "ci95_mib_per_h": None}
    x = df["elapsed_s"] / 3600
    y = df["memory_bytes"] / MI
    dx, dy = x - x.mean(), y - y.mean()
    sxx = float((dx * dx).sum())
    if sxx == 0:
        return {"slope_mib_per_h": None, "ci95_mib_per_h": None}
    slope = float((dx * dy).sum()) / sxx
    resid = float(((dy - slope * dx) ** 2).sum())
    se = math.sqrt(resid / (n - 2) / sxx)
    return {"slope_mib_per_h": round(slope, 3), "ci95_mib_per_h": round(1.96 * se, 3)}


def saturation_point(run: Run) -> int | None:
    """For a step run: the first user level whose p99 doubles the first level's, or whose
    failures exceed 1 % of requests."""
    import pandas as pd

    cols = ["Name", "User Count", "99%", "Requests/s", "Failures/s"]
    hist = pd.DataFrame.from_records(run.history).reindex(columns=cols)
    hist = hist[hist["Name"] == "Aggregated"]
    num = {c: pd.to_numeric(hist[c], errors="coerce") for c in cols[1:]}
    users = num["User Count"]
    # a level is a whole number of users; a row without one or without a p99 is skipped
    ok = users.notna() & (users == users.round()) & num["99%"].notna() & (users > 0)
    steps = pd.DataFrame({"users": users[ok].astype("int64"), "p99": num["99%"][ok],
                          "rps": num["Requests/s"][ok], "fails": num["Failures/s"][ok]})
    base: float | None = None
    for _, level in steps.groupby("users", sort=True):
        users_at_level = int(level["users"].iloc[0])
        p99 = _nearest_rank(level["p99"], 50)
        rps = float(level["rps"].sum())
        fails = float(level["fails"].sum())
        if base is None:
            base = p99
            continue
        if p99 > 2 * base or (rps > 0 and fails / rps > 0.01):
            return users_at_level
    return None


def gc_pauses(run: Run) -> dict[str, Any] | None:
    """The target's GC pauses during the run (``gc.json``), when it exposed them."""
    name = run.meta.get("gc_pauses")
    if not name:
        return None
    path = run.path / str(name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return summarize_gc(data["before"], data["after"], float(data["seconds"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise RunDirError(f"{path}: unreadable GC readings ({e})") from e


def recommend(run: Run, *, margin: float = 1.5, request_percentile: float = 95,
              limit_percentile: float = 99, cpu_limit: bool = True, min_samples: int = 40,
              max_failure_ratio: float = 0.05, warmup: float | None = None) -> Recommendation:
    """The recommendation for one run (rule in the module docstring)."""
    where = run.path
    if margin < 1:
        raise RefusedError(f"--margin {margin:g}: a margin below 1 would under-provision")
    if not 0 < request_percentile <= 100 or not 0 < limit_percentile <= 100:
        raise RefusedError("percentiles must be in (0, 100]")
    status = run.meta.get("status")
    if status != "completed":
        why = run.meta.get("message") or status
        raise RefusedError(f"{where}: the run did not finish ({why}); "
                           "no recommendation from a partial run")
    loaded = _loaded_frame(run, warmup)
    if len(loaded) < min_samples:
        raise RefusedError(f"{where}: only {len(loaded)} loaded samples after the warm-up "
                           f"(need at least {min_samples}); run longer")
    if run.requests == 0:
        raise RefusedError(f"{where}: Locust recorded no requests")
    ratio = run.failures / run.requests
    if ratio > max_failure_ratio:
        raise RefusedError(f"{where}: failure ratio {ratio:.1%} exceeds {max_failure_ratio:.1%}"
                           ": the service was saturated and its figures would be wrong")
    cpu, mem = loaded["cpu_cores"], loaded["memory_bytes"]
    cpu_p, cpu_lp = _nearest_rank(cpu, request_percentile), _nearest_rank(cpu, limit_percentile)
    peak = float(mem.max())
    request_m = cpu_millicores(cpu_p * margin)
    limit_m = max(request_m, cpu_millicores(cpu_lp * margin)) if cpu_limit else None
    mem_bytes = peak * margin
    incidents = int(run.meta.get("oom_kills", 0) or 0) + int(run.meta.get("restarts", 0) or 0)
    if incidents:
        mem_bytes = max(mem_bytes + OOM_BUMP_MI * MI, mem_bytes * 1.2)
    growth = memory_growth(loaded)
    stats: dict[str, Any] = {
        "run": run.path.name, "profile": run.meta.get("profile"), "shape": run.meta.get("shape"),
        "users": run.meta.get("users"), "sampler": run.meta.get("sampler", {}).get("kind"),
        "interval_s": run.meta.get("sampler", {}).get("interval_s"),
        "samples": len(run.samples), "loaded_samples": len(loaded),
        "warmup_s": warmup_seconds(run, warmup),
        "cpu_cores": {f"p{request_percentile:g}": round(cpu_p, 4),
                      f"p{limit_percentile:g}": round(cpu_lp, 4),
                      "max": round(float(cpu.max()), 4)},
        "memory_mib": {"peak": round(peak / MI, 2), "min": round(float(mem.min()) / MI, 2)},
        "requests": run.requests, "failures": run.failures, "failure_ratio": round(ratio, 5),
        "oom_kills_or_restarts": incidents,
        # judged on every run long enough, whatever its shape (loadtest/leak.py)
        "memory_growth": judge_leak(growth, loaded_samples(run, warmup),
                                    memory_mebibytes(mem_bytes), peak / MI),
        "saturation_users": saturation_point(run) if run.meta.get("shape") == "step" else None,
        "gc_pauses": gc_pauses(run),
    }
    return Recommendation(request_m, limit_m, memory_mebibytes(mem_bytes), margin,
                          request_percentile, limit_percentile, stats)
