"""The schedule: every target's collections, each interval (with jitter), a bounded number
at once, each target cut at its timeout.

One asyncio task keeps a heap of due times and starts each due target as its own task, so
a slow or failing target holds one slot of ``concurrency`` at most until its timeout and
never delays the others' starts. A target still running when it falls due again is not
started twice (the start is counted as skipped). Runs go to the metrics at once and to the
store in batches (about once a second, in a thread).

Shutdown (:meth:`Canary.stop`, or on its own when the lifecycle state starts draining):
no new starts; runs in flight finish, or are cut at the deadline (the signal + the grace
period) and stored with outcome ``cut``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsplane.canary.metrics import CanaryMetrics
from opsplane.canary.registry import Registry, Target
from opsplane.canary.store import ResultRecord, RunRecord, Store
from opsplane.errors import OpsplaneError
from opsplane.runtime.lifecycle import STATE, State

log = logging.getLogger("opsplane.canary")
FLUSH_S = 1.0
PRUNE_S = 3600.0
TICK_S = 0.5  # the loop looks at the draining flag at least this often


def collection_name(path: str) -> str:
    """``tests/test.smoke.yaml`` -> ``smoke`` (the label, known even when the file is not)."""
    name = Path(path).name
    for suffix in (".yaml", ".yml", ".json"):
        name = name.removesuffix(suffix)
    return name.removeprefix("test.")


class _Files:
    """Collections and environment files, re-read only when they change on disk."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[tuple[int, int], Any]] = {}

    def get(self, kind: str, path: Path, load: Callable[[Path], Any]) -> Any:
        st = path.stat()  # FileNotFoundError -> broken target
        stamp = (st.st_mtime_ns, st.st_size)
        hit = self._cache.get((kind, str(path)))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        value = load(path)
        self._cache[(kind, str(path))] = (stamp, value)
        return value


class Canary:
    """Runs the registry's targets on their schedule; keeps the latest run of each."""

    def __init__(self, registry: Registry, store: Store | None = None,
                 metrics: CanaryMetrics | None = None, *, state: State = STATE,
                 grace: float = 20.0, rng: random.Random | None = None) -> None:
        self.registry = registry
        self.store = store
        self.metrics = metrics
        self.state = state
        self.grace = grace
        self.rng = rng or random.Random()
        self.latest: dict[tuple[str, str, str], RunRecord] = {}
        self.skews: deque[float] = deque(maxlen=100_000)
        self.skipped = 0
        self.started_runs = 0
        self.pending: list[RunRecord] = []
        self.running: set[asyncio.Task[Any]] = set()
        self.busy: set[str] = set()
        self.stopping = False
        self._files = _Files()
        self._sem: asyncio.Semaphore | None = None
        self._client: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._closing: asyncio.Task[None] | None = None
        self._last_prune = 0.0
        self._quieted: dict[str, int] = {}

    # -- lifecycle ------------------------------------------------------------------
    async def start(self, *, schedule: bool = True) -> None:
        import httpx

        # httpx logs every request's URL at INFO: a credential in a query would leak, and
        # the canary's own record per failed run says what matters. Quiet while the canary
        # runs; stop() gives the loggers their levels back (a process's logging is shared).
        self._quieted = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
        for name in self._quieted:
            logging.getLogger(name).setLevel(logging.WARNING)
        # the runner's modules load now, not inside the first runs (their starts would slip)
        import opsplane.testing.blackbox.collection
        import opsplane.testing.blackbox.runner  # noqa: F401

        self._sem = asyncio.Semaphore(self.registry.model.concurrency)
        limits = httpx.Limits(max_connections=self.registry.model.concurrency * 4,
                              max_keepalive_connections=self.registry.model.concurrency * 2)
        self._client = httpx.AsyncClient(limits=limits, follow_redirects=False)
        if schedule:
            self._tasks.append(asyncio.create_task(self._loop(), name="canary-schedule"))
        self._tasks.append(asyncio.create_task(self._flusher(), name="canary-flush"))
        log.info("canary started", extra={"event": "canary.started",
                                          "count": len(self.registry.targets)})

    async def stop(self, deadline: float | None = None) -> None:
        """Stop starting runs; let those in flight finish until ``deadline`` (loop time;
        default: now + grace), cut the rest (stored as ``cut``); flush the store."""
        if self._closing is None:
            loop = asyncio.get_running_loop()
            self._closing = asyncio.create_task(
                self._close(deadline if deadline is not None else loop.time() + self.grace))
        await asyncio.shield(self._closing)

    async def _close(self, deadline: float) -> None:
        self.stopping = True
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        for task in self._tasks:
            if task.get_name() == "canary-schedule" and task is not current:
                task.cancel()
        if self.running:
            log.info("canary stopping: waiting for runs in flight",
                     extra={"event": "canary.stopping", "inFlight": len(self.running)})
            await asyncio.wait(set(self.running), timeout=max(0.0, deadline - loop.time()))
        if self.running:
            left = set(self.running)
            log.error("canary runs cut at the grace period",
                      extra={"event": "canary.cut", "count": len(left)})
            for task in left:
                task.cancel("cut: grace period over")
            await asyncio.wait(left, timeout=2.0)
        for task in self._tasks:
            if task is not current and not task.done():
                task.cancel()
        await self.flush()
        if self._client is not None:
            await self._client.aclose()
        for name, level in self._quieted.items():
            logging.getLogger(name).setLevel(level)
        log.info("canary stopped", extra={"event": "canary.stopped"})

    # -- the schedule ---------------------------------------------------------------
    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        jitter = self.registry.model.jitter
        heap: list[tuple[float, int, Target]] = []
        now = loop.time()
        for i, t in enumerate(self.registry.targets):  # first starts spread over an interval
            heapq.heappush(heap, (now + self.rng.uniform(0, t.interval), i, t))
        while heap:
            if self.state.draining:
                since = self.state.draining_since or time.monotonic()
                deadline = loop.time() - (time.monotonic() - since) + self.grace
                self._closing = self._closing or asyncio.create_task(self._close(deadline))
                return
            due, i, t = heap[0]
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(min(delay, TICK_S))
                continue
            heapq.heappop(heap)
            following = due + t.interval * (1 + self.rng.uniform(-jitter, jitter))
            heapq.heappush(heap, (max(following, loop.time() + t.interval / 2), i, t))
            if t.key in self.busy:
                self.skipped += 1
                log.warning("canary target still running at its next start: skipped",
                            extra={"event": "canary.skipped", "dependency": t.key})
                continue
            self._spawn(t, "schedule", due)

    def _spawn(self, target: Target, trigger: str, due: float | None
               ) -> asyncio.Task[list[RunRecord]]:
        task = asyncio.create_task(self.run_target(target, trigger, due))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return task

    async def run_now(self, service: str, environment: str | None = None,
                      trigger: str = "api") -> list[RunRecord]:
        """Run a service's targets now (every environment, or one); their runs."""
        targets = self.registry.target(service, environment)
        tasks = [self._spawn(t, trigger, None) for t in targets]
        out: list[RunRecord] = []
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                out.extend(await asyncio.shield(task))
        return out

    async def run_target(self, target: Target, trigger: str = "schedule",
                         due: float | None = None) -> list[RunRecord]:
        """Every collection of one target, in order, within the target's timeout."""
        assert self._sem is not None, "start() first"
        loop = asyncio.get_running_loop()
        self.busy.add(target.key)
        records: list[RunRecord] = []
        try:
            async with self._sem:
                began = loop.time()
                skew = began - due if due is not None else 0.0
                if due is not None:
                    self.skews.append(skew)
                    self.started_runs += 1
                    if self.metrics:
                        self.metrics.started(skew)
                deadline = began + target.run_timeout
                scheduled_at = time.time() - skew if due is not None else None
                for cpath in target.collections:
                    rec = await self._run_collection(target, cpath, trigger=trigger,
                                                     scheduled_at=scheduled_at, skew=skew,
                                                     deadline=deadline)
                    records.append(rec)
                    if rec.outcome == "cut":
                        break
        finally:
            self.busy.discard(target.key)
        return records

    # -- one collection -------------------------------------------------------------
    def _environment(self, target: Target) -> Any:
        from opsplane.testing.blackbox.environment import load_environment, parse_environment

        reg = self.registry
        if target.env is not None:
            env = self._files.get("env", reg.path(target.env), load_environment)
        else:
            env = parse_environment({"baseUrl": target.baseUrl,
                                     "variables": dict(target.variables)},
                                    f"{reg.source}: {target.key}", name=target.environment)
        creds = {name: reg.read_ref(ref, f"{target.key}: credentials.{name}")
                 for name, ref in target.credentials.items()}
        variables = {**env.variables, **target.variables} if target.env else env.variables
        return dataclasses.replace(env, name=target.environment, variables=variables,
                                   secrets={**env.secrets, **creds})

    async def _run_collection(self, target: Target, cpath: str, *, trigger: str,
                              scheduled_at: float | None, skew: float,
                              deadline: float) -> RunRecord:
        from opsplane.testing.blackbox.collection import load_collection
        from opsplane.testing.blackbox.runner import RequestResult, run_async

        loop = asyncio.get_running_loop()
        name = collection_name(cpath)
        started_at = time.time()
        t0 = loop.time()
        partial: list[RequestResult] = []
        outcome, message, results = "broken", "", []
        mask: Callable[[str], str] = str
        try:
            path = self.registry.path(cpath)
            try:
                collection = self._files.get("collection", path, load_collection)
            except FileNotFoundError as e:
                raise OpsplaneError(f"{path}: collection file does not exist") from e
            env = self._environment(target)
            mask = env.mask
            result = await asyncio.wait_for(
                run_async(collection, env, tags=target.tags, source=str(path),
                          on_result=partial.append, client=self._client),
                timeout=max(0.001, deadline - loop.time()))
            results = result.results
            outcome = "passed" if result.ok else "failed"
            bad = next((r for r in results if not r.passed), None)
            if bad is not None:
                message = f"{bad.name}: {bad.lines()[0]}"
        except TimeoutError:
            outcome, results = "timeout", list(partial)
            message = f"no result within the target's {target.run_timeout:g}s timeout"
        except asyncio.CancelledError:
            self._finish(self._record(
                target, name, trigger=trigger, scheduled_at=scheduled_at,
                started_at=started_at, duration=loop.time() - t0, skew=skew, outcome="cut",
                message="cut at shutdown: the grace period ran out", results=list(partial),
                mask=mask))
            raise
        except (OpsplaneError, OSError) as e:
            outcome, message = "broken", str(e)
        rec = self._record(target, name, trigger=trigger, scheduled_at=scheduled_at,
                           started_at=started_at, duration=loop.time() - t0, skew=skew,
                           outcome=outcome, message=message, results=results, mask=mask)
        self._finish(rec)
        return rec

    @staticmethod
    def _record(target: Target, name: str, *, trigger: str, scheduled_at: float | None,
                started_at: float, duration: float, skew: float, outcome: str, message: str,
                results: list[Any], mask: Callable[[str], str]) -> RunRecord:
        rows = []
        for r in results:
            detail = "" if r.passed else "\n".join(
                [*r.lines(), *([f"response: {r.excerpt}"] if r.excerpt else [])])
            rows.append(ResultRecord(r.index, r.iteration, r.name, r.method, mask(r.url),
                                     r.status, r.elapsed_ms, r.outcome, mask(detail)))
        return RunRecord(
            id=uuid.uuid4().hex, service=target.service, environment=target.environment,
            collection=name, trigger=trigger, scheduled_at=scheduled_at, started_at=started_at,
            duration_s=round(duration, 6), skew_s=round(skew, 6), outcome=outcome,
            passed=sum(r.passed for r in results),
            failed=sum(not r.passed for r in results), message=mask(message),
            results=tuple(rows))

    def _finish(self, rec: RunRecord) -> None:
        self.latest[(rec.service, rec.environment, rec.collection)] = rec
        self.pending.append(rec)
        if self.metrics:
            self.metrics.observe(rec)
        if rec.outcome != "passed":
            log.warning("canary run did not pass", extra={
                "event": "canary.run", "outcome": "failure", "errorCode": rec.outcome,
                "dependency": f"{rec.service}/{rec.environment}",
                "errorMessage": rec.message, "durationMs": round(rec.duration_s * 1000, 1)})

    # -- the store ------------------------------------------------------------------
    async def flush(self) -> None:
        batch, self.pending = self.pending, []
        if self.store is None or not batch:
            return
        try:
            await asyncio.to_thread(self.store.write, batch)
        except Exception as e:  # a store outage must not stop the canary
            log.error("canary store write failed", extra={
                "event": "canary.store_failed", "errorType": type(e).__name__,
                "errorMessage": str(e), "count": len(batch)})
            self.pending[:0] = batch[-10_000:]

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            await self.flush()
            if self.store is not None and time.time() - self._last_prune > PRUNE_S:
                self._last_prune = time.time()
                before = time.time() - self.registry.model.store.retention
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.store.prune, before)
