"""Run a collection against an environment: wait until ready, send, capture, assert.

Library entry points: :func:`run` (sync wrapper), :func:`run_async`, :func:`wait_until_ready`.
Every string that leaves a result (URL, failure line, response excerpt) has the
environment's resolved secrets masked.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opsplane.testing.blackbox._checks import NOTHING, Failure, check_response, find, show
from opsplane.testing.blackbox.collection import VAR, Collection, Request, variables_used
from opsplane.testing.blackbox.environment import Environment
from opsplane.testing.blackbox.errors import CollectionError, NotReadyError

EXCERPT = 400
BUILTINS = ("baseUrl", "$uuid", "$timestamp", "$iteration")


@dataclass(frozen=True)
class RequestResult:
    """The outcome of one request in one iteration."""

    name: str
    index: int
    iteration: int
    method: str
    url: str
    tags: tuple[str, ...]
    status: int | None
    elapsed_ms: float
    failures: tuple[Failure, ...] = ()
    error: str | None = None
    excerpt: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None

    @property
    def outcome(self) -> str:
        return "passed" if self.passed else ("error" if self.error else "failed")

    def lines(self) -> list[str]:
        """The failure lines: the transport error or each failed check."""
        return ([self.error] if self.error else []) + [f.line() for f in self.failures]


@dataclass
class RunResult:
    """A whole run: every request result in (iteration, order)."""

    collection: str
    source: str
    environment: str
    base_url: str
    iterations: int
    concurrency: int
    tags: tuple[str, ...]
    results: list[RequestResult] = field(default_factory=list)
    duration_s: float = 0.0
    bailed: bool = False
    not_run: int = 0

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.outcome == "failed" for r in self.results)

    @property
    def errors(self) -> int:
        return sum(r.outcome == "error" for r in self.results)

    @property
    def ok(self) -> bool:
        return bool(self.results) and self.passed == len(self.results) and not self.bailed


class _Undefined(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def render(value: Any, scope: dict[str, Any]) -> Any:
    """Substitute ``{{name}}`` in strings, dict keys and values, list items.

    A string that is exactly one ``{{name}}`` takes the variable's own JSON type
    (so a captured number stays a number in a JSON body).
    """
    if isinstance(value, str):
        whole = VAR.fullmatch(value.strip())
        if whole and value.strip() == value:
            return _lookup(whole.group(1), scope)

        def sub(m: Any) -> str:
            v = _lookup(m.group(1), scope)
            return v if isinstance(v, str) else json.dumps(v)

        return VAR.sub(sub, value)
    if isinstance(value, dict):
        return {render(k, scope): render(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, scope) for v in value]
    return value


def _lookup(name: str, scope: dict[str, Any]) -> Any:
    if name == "$uuid":
        return str(uuid.uuid4())
    if name == "$timestamp":
        return int(time.time())
    if name not in scope:
        raise _Undefined(name)
    return scope[name]


def select(collection: Collection, tags: Sequence[str] = ()) -> list[tuple[int, Request]]:
    """The requests to run, with their index: all, or those carrying any of ``tags``."""
    if not tags:
        return list(enumerate(collection.requests))
    return [(i, r) for i, r in enumerate(collection.requests) if set(r.tags) & set(tags)]


def check_variables(collection: Collection, env: Environment, tags: Sequence[str] = (),
                    source: str = "collection") -> None:
    """Every ``{{variable}}`` is defined before use: by the env, the collection or a capture."""
    known = set(BUILTINS) | set(collection.variables) | set(env.variables) | set(env.secrets)
    captured_by: dict[str, str] = {}
    for r in collection.requests:
        for name in r.capture:
            captured_by.setdefault(name, r.name)
    chosen = select(collection, tags)
    chosen_names = {r.name for _, r in chosen}
    line = collection.line_of("headers")
    _check_known(collection.headers, known, f"{source}:{line}: headers" if line else
                 f"{source}: headers", captured_by, chosen=chosen_names, tags=tags)
    _check_known(env.headers, known, f"{env.source}: headers", captured_by,
                 chosen=chosen_names, tags=tags)
    available: set[str] = set()
    for i, r in chosen:
        for part, value in (("url", r.url), ("headers", r.headers), ("query", r.query),
                            ("json", r.json_), ("body", r.body),
                            ("expect", [c.equals for c in r.expect.json_ if c.has_equals]
                             + [[h.equals, h.contains] for h in r.expect.headers.values()])):
            line = collection.line_of("requests", i, part) or collection.line_of("requests", i)
            where = f"{source}:{line}" if line else source
            _check_known(value, known | available, f"{where}: requests[{i}].{part}",
                         captured_by, chosen=chosen_names, tags=tags)
        available |= set(r.capture)


def _check_known(value: Any, known: set[str], where: str, captured_by: dict[str, str], *,
                 chosen: set[str], tags: Sequence[str]) -> None:
    for name in variables_used(value):
        if name in known:
            continue
        if name in captured_by:
            by = captured_by[name]
            why = (f"which --tags {','.join(tags)} leaves out" if by not in chosen
                   else "which runs later")
            raise CollectionError(f"{where}: {{{{{name}}}}} is captured by {by!r}, {why}")
        raise CollectionError(
            f"{where}: unknown variable {{{{{name}}}}} (not in the environment's variables "
            "or secrets, the collection's variables, or an earlier capture)")


async def wait_until_ready(env: Environment, timeout_s: float, *,
                           on_wait: Callable[[str], None] | None = None) -> int:
    """Poll the readiness path until it answers 200, with backoff; returns the attempts made.

    Raises :class:`NotReadyError` with the last answer when ``timeout_s`` runs out.
    """
    import httpx

    url = env.base_url + env.readiness
    deadline = time.monotonic() + timeout_s
    delay = 0.1
    attempts = 0
    last = "no answer"
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            attempts += 1
            remaining = deadline - time.monotonic()
            try:
                resp = await client.get(url, timeout=max(0.1, min(2.0, remaining)))
                if resp.status_code == 200:
                    return attempts
                last = f"{resp.status_code} {_excerpt(resp.content, 160)}"
            except httpx.ConnectError as e:
                last = _connect_error(e)
            except httpx.TimeoutException:
                last = "timed out"
            except httpx.HTTPError as e:
                last = type(e).__name__
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotReadyError(
                    f"service not ready: {env.mask(url)} did not answer 200 within "
                    f"{timeout_s:g}s ({attempts} attempts; last: {env.mask(last)})")
            if on_wait and attempts == 1:
                on_wait(f"waiting for {env.mask(url)} (up to {timeout_s:g}s)")
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 2.0)


def _connect_error(e: BaseException) -> str:
    """'connection refused', 'cannot resolve host', or the error itself, from the cause chain."""
    import socket

    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return f"cannot resolve host ({seen.strerror or seen})"
        seen = seen.__cause__ or seen.__context__
    return f"cannot connect: {e}"


def _excerpt(body: bytes, limit: int = EXCERPT) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def _one(client: Any, req: Request, index: int, iteration: int, *, scope: dict[str, Any],
               collection: Collection, env: Environment) -> RequestResult:
    import httpx

    mask = env.mask
    try:
        url = str(render(req.url, scope))
        headers = {**collection.headers, **env.headers, **req.headers}
        headers = {str(k): str(v) for k, v in render(headers, scope).items()}
        params = {k: str(v) for k, v in render(req.query, scope).items()}
        body = render(req.json_, scope) if req.has_json else None
        text = render(req.body, scope) if req.body is not None else None
    except _Undefined as e:
        return RequestResult(req.name, index, iteration, req.method, mask(req.url), tuple(req.tags),
                             None, 0.0, error=f"variable {{{{{e.name}}}}} has no value "
                             "(its capture failed earlier)")
    if url.startswith("/"):
        url = env.base_url + url
    joined = "&".join(f"{k}={v}" for k, v in params.items())
    shown = mask(url + (("&" if "?" in url else "?") + joined if params else ""))
    timeout = (req.timeout_ms or collection.timeout_ms) / 1000
    start = time.perf_counter()
    try:
        resp = await client.request(req.method, url, headers=headers, params=params or None,
                                    json=body if req.has_json else None,
                                    content=text.encode() if isinstance(text, str) else None,
                                    timeout=timeout)
        content = resp.content
    except httpx.TimeoutException:
        return RequestResult(req.name, index, iteration, req.method, shown, tuple(req.tags), None,
                             (time.perf_counter() - start) * 1000,
                             error=f"no response within {timeout * 1000:g} ms (timeout)")
    except httpx.HTTPError as e:
        what = _connect_error(e) if isinstance(e, httpx.ConnectError) else (
            f"{type(e).__name__}: {e}")
        return RequestResult(req.name, index, iteration, req.method, shown, tuple(req.tags), None,
                             (time.perf_counter() - start) * 1000, error=mask(what))
    elapsed = (time.perf_counter() - start) * 1000
    try:
        expect = _render_expect(req, scope)
    except _Undefined as e:  # an expected value needs a capture that failed earlier
        return RequestResult(req.name, index, iteration, req.method, shown, tuple(req.tags),
                             resp.status_code, round(elapsed, 3),
                             error=f"variable {{{{{e.name}}}}} has no value (its capture failed "
                                   "earlier)", excerpt=mask(_excerpt(content)))
    failures, doc = check_response(expect, resp.status_code, resp.headers, content, elapsed)
    for name, path in req.capture.items():
        value = find(doc, path) if doc is not None else NOTHING
        if value is NOTHING:
            failures.append(Failure(f"capture {name}", f"a value at {path}", show(value)))
        else:
            scope[name] = value
    return RequestResult(req.name, index, iteration, req.method, shown, tuple(req.tags),
                         resp.status_code, round(elapsed, 3),
                         tuple(f.masked(mask) for f in failures), None,
                         mask(_excerpt(content)))


def _render_expect(req: Request, scope: dict[str, Any]) -> Any:
    """The request's expectations with ``{{variables}}`` in expected values substituted."""
    exp = req.expect
    if not any(c.has_equals and variables_used(c.equals) for c in exp.json_) and not any(
            variables_used([h.equals, h.contains]) for h in exp.headers.values()):
        return exp
    checks = [c.model_copy(update={"equals": render(c.equals, scope)}) if c.has_equals else c
              for c in exp.json_]
    headers = {k: h.model_copy(update={"equals": render(h.equals, scope),
                                       "contains": render(h.contains, scope)})
               for k, h in exp.headers.items()}
    return exp.model_copy(update={"json_": checks, "headers": headers})


async def run_async(collection: Collection, env: Environment, *, iterations: int = 1,
                    concurrency: int = 1, tags: Sequence[str] = (), bail: bool = False,
                    wait_s: float = 0.0, source: str = "collection",
                    on_result: Callable[[RequestResult], None] | None = None,
                    on_wait: Callable[[str], None] | None = None,
                    client: Any = None) -> RunResult:
    """Run ``iterations`` passes of the collection, ``concurrency`` at a time.

    ``client``: an ``httpx.AsyncClient`` to send with (a long-running caller such as the
    canary shares one, with its pool and TLS context); by default the run opens its own.
    """
    import httpx

    if iterations < 1 or concurrency < 1:
        raise CollectionError("-n and -c must be at least 1")
    chosen = select(collection, tags)
    if not chosen:
        raise CollectionError(f"{source}: no request is tagged {', '.join(tags)}")
    check_variables(collection, env, tags, source)
    if wait_s > 0:
        await wait_until_ready(env, wait_s, on_wait=on_wait)
    result = RunResult(collection.name, source, env.name, env.base_url, iterations,
                       min(concurrency, iterations), tuple(tags))
    stop = asyncio.Event()
    counter = iter(range(iterations))
    started = time.perf_counter()

    async def worker(client: httpx.AsyncClient) -> None:
        for it in counter:
            if stop.is_set():
                result.not_run += len(chosen)
                continue
            scope: dict[str, Any] = {**collection.variables, **env.variables, **env.secrets,
                                     "baseUrl": env.base_url, "$iteration": it + 1}
            for pos, (index, req) in enumerate(chosen):
                if stop.is_set():
                    result.not_run += len(chosen) - pos
                    break
                r = await _one(client, req, index, it + 1, scope=scope, collection=collection,
                               env=env)
                result.results.append(r)
                if on_result:
                    on_result(r)
                if bail and not r.passed:
                    stop.set()

    if client is not None:
        await asyncio.gather(*(worker(client) for _ in range(result.concurrency)))
    else:
        limits = httpx.Limits(max_connections=max(concurrency, 1))
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as own:
            await asyncio.gather(*(worker(own) for _ in range(result.concurrency)))
    result.duration_s = time.perf_counter() - started
    result.bailed = stop.is_set()
    result.results.sort(key=lambda r: (r.iteration, r.index))
    return result


def not_ready_result(collection: Collection, env: Environment, source: str,
                     tags: Sequence[str], message: str) -> RunResult:
    """A run that never started: one error result for the readiness wait (for reports)."""
    result = RunResult(collection.name, source, env.name, env.base_url, 1, 1, tuple(tags))
    result.results.append(RequestResult(
        "wait until ready", -1, 1, "GET", env.mask(env.base_url + env.readiness), (), None, 0.0,
        error=env.mask(message)))
    result.not_run = len(select(collection, tags))
    return result


def run(collection: Collection, env: Environment, **kwargs: Any) -> RunResult:
    """Synchronous :func:`run_async` (for scripts and the CLI)."""
    return asyncio.run(run_async(collection, env, **kwargs))
