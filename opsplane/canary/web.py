"""The canary's HTTP face: the page, the JSON API, ``POST /runs`` and the Slack command.

    GET  /                 services x environments: last runs, failures, history (HTML)
    GET  /api/status       the same data as JSON
    GET  /api/runs         stored runs, newest first (?service=&environment=&limit=)
    GET  /api/runs/{id}    one run with each request's outcome
    POST /runs             {"service": ..., "environment": ...}; Authorization: Bearer TOKEN
    POST /slack/command    Slack slash command (signed); text: "SERVICE [ENVIRONMENT]"

The kit (``opsplane.instrument``) adds /healthz/* and /metrics around it.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from opsplane.canary.scheduler import Canary, collection_name
from opsplane.canary.slack import Verifier
from opsplane.canary.store import RunRecord

SLACK_WAIT_S = 2.5  # Slack wants an answer within 3 s; later results go to response_url
HISTORY = 20


def status(canary: Canary, history: dict[tuple[str, str, str], list[RunRecord]] | None = None,
           ) -> dict[str, Any]:
    """Every target x collection with its latest run and recent outcomes (JSON-ready)."""
    history = history or {}
    rows = []
    for t in canary.registry.targets:
        cols: list[dict[str, Any]] = []
        for c in t.collections:
            key = (t.service, t.environment, collection_name(c))
            last = canary.latest.get(key)
            past = history.get(key, [])
            cols.append({
                "collection": key[2],
                "last": last.as_dict() if last else None,
                "history": [{"id": r.id, "outcome": r.outcome, "startedAt": r.started_at}
                            for r in past],
            })
        rows.append({"service": t.service, "environment": t.environment,
                     "interval": t.interval, "collections": cols,
                     "ok": all(c["last"] is None or c["last"]["outcome"] == "passed"
                               for c in cols),
                     "broken": any(c["last"] is not None and c["last"]["outcome"] == "broken"
                                   for c in cols)})
    return {"generatedAt": time.time(), "targets": rows}


async def _history(canary: Canary) -> dict[tuple[str, str, str], list[RunRecord]]:
    store = canary.store
    if store is None:
        return {}
    out: dict[tuple[str, str, str], list[RunRecord]] = {}
    for t in canary.registry.targets:
        past = await asyncio.to_thread(store.history, t.service, t.environment, None,
                                       HISTORY * len(t.collections))
        for r in past:
            out.setdefault((r.service, r.environment, r.collection), []).append(r)
    return out


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d1d1f}
h1{font-size:20px;margin:0 0 4px}
table.grid{border-collapse:collapse;margin:16px 0}
table.grid th,table.grid td{border:1px solid #ccc;padding:8px 10px;vertical-align:top}
th{background:#f3f3f3;text-align:left}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600}
.passed{background:#1a7f37}.failed{background:#cf222e}.broken{background:#8250df}
.timeout{background:#bc4c00}.cut{background:#6e7781}.none{background:#afb8c1}
.hist span{display:inline-block;width:9px;height:14px;margin-right:2px;border-radius:2px}
.fail{margin:6px 0;padding:6px 8px;background:#fff5f5;border-left:3px solid #cf222e;
white-space:pre-wrap;font:12px ui-monospace,monospace}
.muted{color:#6e7781;font-size:12px}
"""


def _ago(ts: float, now: float) -> str:
    s = max(0, int(now - ts))
    return f"{s}s ago" if s < 120 else (f"{s // 60}m ago" if s < 7200 else f"{s // 3600}h ago")


def page(data: dict[str, Any]) -> str:
    """The HTML page (no script: what the server sends is what a person sees)."""
    e = html.escape
    now = data["generatedAt"]
    services = sorted({r["service"] for r in data["targets"]})
    envs = sorted({r["environment"] for r in data["targets"]})
    cell = {(r["service"], r["environment"]): r for r in data["targets"]}
    out = ["<!doctype html><html lang=en><head><meta charset=utf-8>",
           "<meta http-equiv=refresh content=30><title>opsplane canary</title>",
           f"<style>{_CSS}</style></head><body>",
           "<h1>Production canary</h1>",
           f"<div class=muted>{len(data['targets'])} targets; refreshed every 30 s</div>",
           "<table class=grid id=grid><tr><th>service</th>"]
    out += [f"<th>{e(env)}</th>" for env in envs]
    out.append("</tr>")
    failures: list[str] = []
    for svc in services:
        out.append(f"<tr><th>{e(svc)}</th>")
        for env in envs:
            row = cell.get((svc, env))
            if row is None:
                out.append("<td class=muted>-</td>")
                continue
            out.append(f"<td id='cell-{e(svc)}-{e(env)}' data-ok='{str(row['ok']).lower()}'>")
            for c in row["collections"]:
                last = c["last"]
                outcome = last["outcome"] if last else "none"
                label = outcome if last else "not run yet"
                out.append(f"<div><b>{e(c['collection'])}</b> "
                           f"<span class='badge {outcome}'>{e(label)}</span>")
                if last:
                    out.append(f" <span class=muted>{_ago(last['started_at'], now)}, "
                               f"{last['duration_s'] * 1000:.0f} ms, {last['passed']} passed, "
                               f"{last['failed']} failed</span>")
                hist = "".join(f"<span class={h['outcome']} title='{h['outcome']}'></span>"
                               for h in reversed(c["history"]))
                if hist:
                    out.append(f"<div class=hist>{hist}</div>")
                out.append("</div>")
                if last and outcome != "passed":
                    lines = [last["message"]] if last["message"] else []
                    lines += [f"{r['method']} {r['url']} -> {r['status'] or '-'}\n{r['detail']}"
                              for r in last["results"] if r["outcome"] != "passed"]
                    failures.append(
                        f"<div class=fail id='fail-{e(svc)}-{e(env)}-{e(c['collection'])}'>"
                        f"<b>{e(svc)} / {e(env)} / {e(c['collection'])}: {e(outcome)}</b>\n"
                        + e("\n".join(lines)) + "</div>")
            out.append("</td>")
        out.append("</tr>")
    out.append("</table><h2>Failures</h2>")
    out += failures or ["<p class=muted>none: every last run passed</p>"]
    out.append("</body></html>")
    return "".join(out)


def _summary_text(runs: list[RunRecord]) -> str:
    lines = []
    for r in runs:
        mark = ":white_check_mark:" if r.ok else ":x:"
        tail = f": {r.message}" if r.message else ""
        lines.append(f"{mark} {r.service}/{r.environment} {r.collection} {r.outcome} "
                     f"({r.passed} passed, {r.failed} failed, {r.duration_s * 1000:.0f} ms)"
                     f"{tail}")
    return "\n".join(lines)


def build_app(canary: Canary, *, api_token: Callable[[], str | None] = lambda: None,
              slack_secret: str | None = None, post: Any = None, lifespan: Any = None) -> Any:
    """The Starlette app (wrap it with ``opsplane.instrument``)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    verifier = Verifier(slack_secret) if slack_secret else None
    background: set[asyncio.Task[Any]] = set()

    def err(code: int, kind: str, message: str) -> JSONResponse:
        return JSONResponse({"error": {"code": kind, "message": message}}, status_code=code)

    async def index(request: Request) -> Response:
        return HTMLResponse(page(status(canary, await _history(canary))))

    async def api_status(request: Request) -> Response:
        return JSONResponse(status(canary, await _history(canary)))

    async def api_runs(request: Request) -> Response:
        if canary.store is None:
            return JSONResponse({"runs": []})
        q = request.query_params
        try:
            limit = min(max(int(q.get("limit", "50")), 1), 1000)
        except ValueError:
            return err(400, "BAD_REQUEST", "limit: give a number")
        runs = await asyncio.to_thread(canary.store.history, q.get("service"),
                                       q.get("environment"), q.get("collection"), limit)
        return JSONResponse({"runs": [r.summary() for r in runs]})

    async def api_run(request: Request) -> Response:
        run_id = request.path_params["id"]
        found = await asyncio.to_thread(canary.store.run, run_id) if canary.store else None
        if found is None:
            found = next((r for r in canary.latest.values() if r.id == run_id), None)
        if found is None:
            return err(404, "NOT_FOUND", f"no run {run_id}")
        return JSONResponse(found.as_dict())

    async def start(service: str, environment: str | None, trigger: str
                    ) -> tuple[int, list[RunRecord] | str]:
        if canary.state.draining or canary.stopping:
            return 503, "the canary is shutting down"
        if not canary.registry.target(service, environment):
            where = f" in {environment}" if environment else ""
            return 404, f"no canary target for {service}{where}"
        return 200, await canary.run_now(service, environment, trigger)

    async def post_runs(request: Request) -> Response:
        token = api_token()
        given = request.headers.get("authorization", "")
        if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return err(401, "UNAUTHORIZED", "give Authorization: Bearer <token>")
        try:
            body = await request.json()
            service, environment = body["service"], body.get("environment")
            if not isinstance(service, str) or not isinstance(environment, str | None):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return err(400, "BAD_REQUEST",
                       'body: {"service": NAME, "environment": NAME (optional)}')
        code, runs = await start(service, environment, "api")
        if isinstance(runs, str):
            return err(code, "NOT_FOUND" if code == 404 else "UNAVAILABLE", runs)
        return JSONResponse({"ok": all(r.ok for r in runs),
                             "runs": [r.as_dict() for r in runs]})

    async def slack(request: Request) -> Response:
        body = await request.body()
        if verifier is None:
            return err(404, "NOT_FOUND", "no slack signing secret configured")
        why = verifier.check(request.headers.get("x-slack-request-timestamp"),
                             request.headers.get("x-slack-signature"), body)
        if why is not None:
            return err(401, "UNAUTHORIZED", why)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        words = form.get("text", "").split()
        if not words or len(words) > 2:
            return JSONResponse({"response_type": "ephemeral",
                                 "text": "usage: /canary SERVICE [ENVIRONMENT]"})
        service, environment = words[0], (words[1] if len(words) > 1 else None)
        task = asyncio.create_task(start(service, environment, "slack"))
        done, _ = await asyncio.wait({task}, timeout=SLACK_WAIT_S)
        if not done:
            background.add(task)
            task.add_done_callback(background.discard)
            url = form.get("response_url")
            if url and post is not None:
                def deliver(t: asyncio.Task[tuple[int, list[RunRecord] | str]]) -> None:
                    if not t.cancelled() and t.exception() is None:
                        _, runs = t.result()
                        text = runs if isinstance(runs, str) else _summary_text(runs)
                        follow = asyncio.create_task(post(url, {"response_type": "in_channel",
                                                                "text": text}))
                        background.add(follow)
                        follow.add_done_callback(background.discard)
                task.add_done_callback(deliver)
            return JSONResponse({"response_type": "in_channel",
                                 "text": f"canary run of {' '.join(words)} started; the result "
                                         "follows here"})
        code, runs = task.result()
        text = runs if isinstance(runs, str) else _summary_text(runs)
        return JSONResponse({"response_type": "in_channel" if code == 200 else "ephemeral",
                             "text": text})

    return Starlette(routes=[
        Route("/", index, methods=["GET"]),
        Route("/api/status", api_status, methods=["GET"]),
        Route("/api/runs", api_runs, methods=["GET"]),
        Route("/api/runs/{id}", api_run, methods=["GET"]),
        Route("/runs", post_runs, methods=["POST"]),
        Route("/slack/command", slack, methods=["POST"]),
    ], lifespan=lifespan)
