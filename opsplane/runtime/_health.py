"""Health checks and the three probe bodies (IETF draft ``application/health+json``).

- ping: always pass, no work.
- liveness: the process can make progress (uptime, a no-op through the worker thread pool);
  never calls a dependency.
- readiness: startup finished (configuration loaded), not draining, every critical
  dependency reachable. Dependency checks run concurrently, each with its own timeout,
  and their results are cached for ``cache_ttl`` seconds (one evaluation in flight at a
  time), so probes from many kubelets cannot turn into load on the dependencies.

A check is an async callable returning None (the kit measures the response time), a
number (the observed value) or a ``CheckResult``; raising or timing out is a failure
whose one-line output never carries credentials.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from opsplane.runtime._metrics import ServiceMetrics
    from opsplane.runtime.lifecycle import State

Status = Literal["pass", "warn", "fail"]
CheckFn = Callable[[], Awaitable[Any]]
_USERINFO = re.compile(r"(?<=//)[^/@\s]*@")
_SECRETISH = re.compile(r"(?i)(password|passwd|pwd|token|secret|api[_-]?key)=[^&\s;]+")


def redact(text: str) -> str:
    """Remove credentials from a URL or message (userinfo, password=... pairs)."""
    return _SECRETISH.sub(r"\1=***", _USERINFO.sub("***@", text))


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


@dataclass(frozen=True)
class CheckResult:
    """What a check may return instead of a bare number."""

    observed_value: Any = None
    observed_unit: str | None = None
    status: Status = "pass"
    output: str | None = None


@dataclass
class HealthCheck:
    """One entry of ``checks``: ``name`` is ``component:measurement``."""

    name: str
    fn: CheckFn
    component_type: str = "component"
    timeout: float = 1.0
    critical: bool = True  # a failure fails readiness; non-critical ones only warn
    probe: Literal["readiness", "liveness"] = "readiness"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[^:\s]+(:[^:\s]+)?", self.name):
            raise ValueError(f"check name {self.name!r} must be component:measurement")


@dataclass
class _Cached:
    at: float
    results: dict[str, dict[str, Any]] = field(default_factory=dict)


async def run_check(check: HealthCheck) -> dict[str, Any]:
    """Run one check under its timeout; the IETF check object (never raises)."""
    start = time.perf_counter()
    entry: dict[str, Any] = {"componentType": check.component_type}
    try:
        value = await asyncio.wait_for(check.fn(), check.timeout)
    except TimeoutError:
        entry.update(observedValue=round(check.timeout * 1000, 3), observedUnit="ms",
                     status="fail", output=f"timed out after {check.timeout * 1000:g} ms")
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else ""
        entry.update(status="fail",
                     output=redact(f"{type(e).__name__}: {msg}" if msg else type(e).__name__))
    else:
        elapsed_ms = round((time.perf_counter() - start) * 1000, 3)
        if isinstance(value, CheckResult):
            entry["observedValue"] = elapsed_ms if value.observed_value is None \
                else value.observed_value
            entry["observedUnit"] = value.observed_unit or (
                "ms" if value.observed_value is None else None)
            entry["status"] = value.status
            if value.output:
                entry["output"] = redact(value.output)
        elif value is None:
            entry.update(observedValue=elapsed_ms, observedUnit="ms", status="pass")
        else:
            entry.update(observedValue=value, status="pass")
    if entry["status"] != "pass" and not entry.get("output"):
        entry["output"] = f"check reported {entry['status']}"
    if entry.get("observedUnit") is None:
        entry.pop("observedUnit", None)
    entry["time"] = now_iso()
    return entry


def _overall(entries: list[tuple[dict[str, Any], bool]]) -> Status:
    status: Status = "pass"
    for entry, critical in entries:
        if entry["status"] == "fail" and critical:
            return "fail"
        if entry["status"] != "pass":
            status = "warn"
    return status


class Health:
    """The checks of one service and the probe bodies built from them."""

    def __init__(self, state: State, *, service_id: str, version: str,
                 release_id: str | None = None, description: str = "",
                 metrics: ServiceMetrics | None = None, cache_ttl: float = 1.0) -> None:
        self.state = state
        self.service_id = service_id
        self.version = version
        self.release_id = release_id
        self.description = description
        self.metrics = metrics
        self.cache_ttl = cache_ttl
        self.checks: dict[str, HealthCheck] = {}
        self.settings_loaded: bool | None = None  # None: the service declared no settings
        self.started_at = time.monotonic()
        self._cache: _Cached | None = None
        self._inflight: asyncio.Future[dict[str, dict[str, Any]]] | None = None
        self.runs = 0  # dependency evaluations so far (the cache keeps this low)

    def add(self, check: HealthCheck) -> HealthCheck:
        self.checks[check.name] = check
        self._cache = None
        return check

    def _head(self, status: Status) -> dict[str, Any]:
        body: dict[str, Any] = {"status": status, "version": self.version}
        if self.release_id:
            body["releaseId"] = self.release_id
        body["serviceId"] = self.service_id
        if self.description:
            body["description"] = self.description
        return body

    def ping(self) -> dict[str, Any]:
        return self._head("pass")

    async def _evaluate(self, probe: str) -> dict[str, dict[str, Any]]:
        checks = [c for c in self.checks.values() if c.probe == probe]
        self.runs += 1
        results = await asyncio.gather(*(run_check(c) for c in checks))
        out = {c.name: r for c, r in zip(checks, results, strict=True)}
        if self.metrics is not None:
            for name, r in out.items():
                self.metrics.check_status.labels(name).set(1 if r["status"] == "pass" else 0)
        return out

    async def dependency_results(self) -> dict[str, dict[str, Any]]:
        """Readiness check results, from the cache when fresh; one evaluation at a time."""
        cached = self._cache
        if cached is not None and time.monotonic() - cached.at < self.cache_ttl:
            return cached.results
        if self._inflight is not None and not self._inflight.done():
            return await asyncio.shield(self._inflight)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[dict[str, dict[str, Any]]] = loop.create_future()
        self._inflight = fut
        try:
            results = await self._evaluate("readiness")
        except BaseException as e:  # pragma: no cover - run_check never raises
            fut.set_exception(e)
            fut.exception()
            raise
        self._cache = _Cached(time.monotonic(), results)
        fut.set_result(results)
        return results

    def _lifecycle_entries(self) -> dict[str, dict[str, Any]]:
        st = self.state
        now = now_iso()
        started: dict[str, Any] = {"componentType": "system", "observedValue": st.started,
                                   "status": "pass" if st.started and not st.startup_error
                                   else "fail", "time": now}
        if st.startup_error:
            started["output"] = redact(st.startup_error)
        elif not st.started:
            started["output"] = "startup has not finished"
        out = {"startup:finished": started}
        if self.settings_loaded is not None:
            cfg: dict[str, Any] = {"componentType": "system",
                                   "observedValue": self.settings_loaded,
                                   "status": "pass" if self.settings_loaded else "fail",
                                   "time": now}
            if not self.settings_loaded:
                cfg["output"] = "configuration not loaded"
            out["config:loaded"] = cfg
        draining: dict[str, Any] = {"componentType": "system", "observedValue": st.draining,
                                    "status": "fail" if st.draining else "pass", "time": now}
        if st.draining:
            draining["output"] = "shutting down: draining in-flight requests"
        out["shutdown:draining"] = draining
        return out

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        entries = self._lifecycle_entries()
        critical = dict.fromkeys(entries, True)
        deps = await self.dependency_results()
        for name, r in deps.items():
            entries[name] = r
            check = self.checks.get(name)
            critical[name] = check.critical if check is not None else True
        status = _overall([(e, critical[n]) for n, e in entries.items()])
        body = self._head(status)
        failing = [f"{n}: {e.get('output', 'fail')}" for n, e in entries.items()
                   if e["status"] == "fail" and critical[n]]
        if failing:
            body["output"] = "; ".join(failing)
        body["checks"] = {n: [e] for n, e in entries.items()}
        return (503 if status == "fail" else 200), body

    async def liveness(self) -> tuple[int, dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {
            "uptime": {"componentType": "system",
                       "observedValue": round(time.monotonic() - self.started_at, 3),
                       "observedUnit": "s", "status": "pass", "time": now_iso()},
        }
        pool = HealthCheck("threadpool:responseTime", _threadpool_noop, "system", timeout=5.0,
                           probe="liveness")
        live = [pool, *(c for c in self.checks.values() if c.probe == "liveness")]
        results = await asyncio.gather(*(run_check(c) for c in live))
        for c, r in zip(live, results, strict=True):
            entries[c.name] = r
        status = _overall([(e, True) for e in entries.values()])
        body = self._head(status)
        body["checks"] = {n: [e] for n, e in entries.items()}
        return (503 if status == "fail" else 200), body


async def _threadpool_noop() -> None:
    """A no-op through the worker thread pool: fails when the pool is exhausted or stuck."""
    import anyio.to_thread

    await anyio.to_thread.run_sync(_noop)


def _noop() -> None:
    return None
