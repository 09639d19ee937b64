"""The ticket bridge: Alertmanager webhooks in, one ticket per alert group in Jira or GitHub.

A service built with the kit (``opsplane.instrument``, served by ``opsplane serve``: health
endpoints, metrics, request logs, graceful shutdown, the standard chart)::

    opsplane ticket-bridge --system github --url https://api.github.com --repo org/alerts \\
        --token-file /etc/ticket-bridge/token

``POST /alerts/{project}`` takes Alertmanager's webhook (version 4):

- ``firing`` and no open ticket of the group: create one (Jira ``POST /rest/api/N/issue``,
  GitHub ``POST /repos/O/R/issues``); an open ticket: add a comment;
- ``resolved``: comment and resolve it (Jira: the first transition into the *done* status
  category; GitHub: ``PATCH state=closed``).

The group is found again through the ticket system itself: every ticket carries the label
``opsplane-<hash of the groupKey>``, searched before each change (Jira JQL, GitHub's issue
list by label), so the bridge keeps no state on disk and a restart changes nothing.
Answers: 200 done, 400 a malformed webhook (JSON error), 401 a wrong webhook token, 502/503
the ticket system failed or is unreachable -- Alertmanager retries 5xx, so an accepted alert
is never lost. Credentials come from files only (``TICKET_TOKEN_FILE``,
``TICKET_WEBHOOK_TOKEN_FILE``, or files in the secrets directory); never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from opsplane.runtime.settings import Settings
from opsplane.spec.service import ServiceSpec

log = logging.getLogger("alerts.bridge")

SPEC = ServiceSpec(name="ticket-bridge", team="platform", port=9095,
                   app="alerts.bridge:app",
                   description="Alertmanager webhooks to Jira or GitHub Issues tickets")
LABEL = "opsplane"
GITHUB_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class BridgeSettings(Settings):
    """Facts from ``TICKET_*`` variables; the tokens are secrets (``*_FILE`` or mounted)."""

    ticket_system: Literal["jira", "github"] = "jira"
    ticket_url: str = Field("http://127.0.0.1:8080", description="Jira base or GitHub API URL")
    ticket_repo: str | None = Field(None, pattern=r"^[\w.-]+/[\w.-]+$",
                                    description="GitHub owner/name")
    ticket_jira_api: Literal["2", "3"] = "2"
    ticket_issue_type: str = "Bug"
    ticket_token: SecretStr | None = None
    ticket_webhook_token: SecretStr | None = None


class Alert(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str = ""
    endsAt: str = ""
    fingerprint: str = ""


class Webhook(BaseModel):
    """Alertmanager's webhook body (``version: "4"``)."""

    model_config = ConfigDict(extra="allow")
    version: Literal["4"]
    groupKey: str = Field(min_length=1)
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str]
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)


class TicketSystemError(Exception):
    """The ticket system failed (status) or could not be reached (status None)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def group_label(group_key: str) -> str:
    """The label that finds a group's ticket again (short, no spaces: Jira and GitHub)."""
    return f"opsplane-{hashlib.sha256(group_key.encode()).hexdigest()[:16]}"


def title(hook: Webhook) -> str:
    labels = hook.commonLabels or hook.groupLabels
    summary = hook.commonAnnotations.get("summary") or labels.get("alertname", "alert")
    severity = labels.get("severity", "")
    return f"[{severity}] {summary}"[:250] if severity else summary[:250]


def text(hook: Webhook) -> str:
    """The ticket's body or comment: what fired, where to look, every alert."""
    a = hook.commonAnnotations
    lines = [f"Alertmanager: {hook.status}, {len(hook.alerts)} alert(s), "
             f"receiver {hook.receiver}."]
    for key in ("description", "runbook_url", "dashboard_url"):
        if a.get(key):
            lines.append(f"{key.replace('_url', '')}: {a[key]}")
    for alert in hook.alerts:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        lines.append(f"- {alert.status} since {alert.startsAt}: {labels}")
    if hook.externalURL:
        lines.append(f"alertmanager: {hook.externalURL}")
    return "\n".join(lines)


class Tickets:
    """One ticket system's calls (``find``, ``create``, ``comment``, ``resolve``)."""

    def __init__(self, settings: BridgeSettings, client: Any) -> None:
        self.s = settings
        self.client = client
        token = settings.ticket_token.get_secret_value().strip() if settings.ticket_token else ""
        self.headers: dict[str, str] = dict(GITHUB_HEADERS) if settings.ticket_system == \
            "github" else {"Accept": "application/json"}
        if token:
            if settings.ticket_system == "jira" and ":" in token:  # Jira Cloud email:api-token
                import base64

                basic = base64.b64encode(token.encode()).decode()
                self.headers["Authorization"] = f"Basic {basic}"
            else:
                self.headers["Authorization"] = f"Bearer {token}"

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        url = f"{self.s.ticket_url.rstrip('/')}{path}"
        try:
            r = await self.client.request(method, url, headers=self.headers, **kw)
        except httpx.HTTPError as e:
            raise TicketSystemError(f"{self.s.ticket_system} unreachable: "
                                    f"{type(e).__name__}") from None
        if r.status_code >= 300:
            raise TicketSystemError(f"{self.s.ticket_system} answered {r.status_code} to "
                                    f"{method} {path.split('?', maxsplit=1)[0]}", r.status_code)
        return r.json() if r.content else None

    # -- Jira (REST API v2 or v3: v3 takes Atlassian Document Format bodies) --
    def _jira_doc(self, body: str) -> Any:
        if self.s.ticket_jira_api == "2":
            return body
        return {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]}
            for line in body.splitlines() if line]}

    async def find(self, label: str) -> str | None:
        if self.s.ticket_system == "github":
            found = await self._call("GET", f"/repos/{self.s.ticket_repo}/issues",
                                     params={"labels": label, "state": "open", "per_page": "5"})
            return str(found[0]["number"]) if found else None
        v = self.s.ticket_jira_api
        path = f"/rest/api/{v}/search" if v == "2" else "/rest/api/3/search/jql"
        jql = f'labels = "{label}" AND statusCategory != Done ORDER BY created ASC'
        found = await self._call("GET", path, params={"jql": jql, "fields": "status",
                                                      "maxResults": "5"})
        issues = found.get("issues") or []
        return str(issues[0]["key"]) if issues else None

    async def create(self, project: str, label: str, hook: Webhook) -> str:
        labels = [LABEL, label]
        service = hook.commonLabels.get("service")
        if service:
            labels.append(f"service-{service}")
        if self.s.ticket_system == "github":
            made = await self._call("POST", f"/repos/{self.s.ticket_repo}/issues", json={
                "title": title(hook), "body": text(hook), "labels": labels})
            return str(made["number"])
        v = self.s.ticket_jira_api
        made = await self._call("POST", f"/rest/api/{v}/issue", json={"fields": {
            "project": {"key": project}, "summary": title(hook),
            "description": self._jira_doc(text(hook)),
            "issuetype": {"name": self.s.ticket_issue_type}, "labels": labels}})
        return str(made["key"])

    async def comment(self, ticket: str, hook: Webhook) -> None:
        if self.s.ticket_system == "github":
            await self._call("POST", f"/repos/{self.s.ticket_repo}/issues/{ticket}/comments",
                             json={"body": text(hook)})
            return
        v = self.s.ticket_jira_api
        await self._call("POST", f"/rest/api/{v}/issue/{ticket}/comment",
                         json={"body": self._jira_doc(text(hook))})

    async def resolve(self, ticket: str) -> None:
        if self.s.ticket_system == "github":
            await self._call("PATCH", f"/repos/{self.s.ticket_repo}/issues/{ticket}",
                             json={"state": "closed", "state_reason": "completed"})
            return
        v = self.s.ticket_jira_api
        path = f"/rest/api/{v}/issue/{ticket}/transitions"
        got = await self._call("GET", path)
        done = [t for t in got.get("transitions", [])
                if t.get("to", {}).get("statusCategory", {}).get("key") == "done"]
        if not done:
            raise TicketSystemError(f"jira: issue {ticket} has no transition to a done status",
                                    409)
        await self._call("POST", path, json={"transition": {"id": str(done[0]["id"])}})


def create_app() -> Any:
    """The bridge's ASGI app, instrumented by the kit."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    import opsplane
    from opsplane import ApiError, read_json

    locks: dict[str, asyncio.Lock] = {}
    holder: dict[str, Tickets] = {}

    async def receive(request: Request) -> Response:
        settings: BridgeSettings = app.settings
        expected = settings.ticket_webhook_token
        if expected is not None:
            given = request.headers.get("authorization", "")
            want = f"Bearer {expected.get_secret_value().strip()}"
            if not hmac.compare_digest(given.encode(), want.encode()):
                raise ApiError(401, "UNAUTHORIZED", "missing or wrong bearer token")
        try:
            hook = await read_json(request, Webhook)
        except ApiError as e:
            if e.status != 422:
                raise
            raise ApiError(400, "MALFORMED_WEBHOOK",
                           f"not an Alertmanager webhook: {e.message}") from None
        project = request.path_params.get("project") or ""
        if "tickets" not in holder:
            holder["tickets"] = Tickets(settings, app.http_client(
                "ticket-system", timeout=10.0))
        tickets = holder["tickets"]
        label = group_label(hook.groupKey)
        lock = locks.setdefault(label, asyncio.Lock())
        extra = {"event": f"ticket.{hook.status}", "dependency": "ticket-system",
                 "count": len(hook.alerts)}
        try:
            async with lock:
                ticket = await tickets.find(label)
                if hook.status == "firing":
                    if ticket is None:
                        ticket = await tickets.create(project, label, hook)
                        action = "created"
                    else:
                        await tickets.comment(ticket, hook)
                        action = "commented"
                elif ticket is not None:
                    await tickets.comment(ticket, hook)
                    await tickets.resolve(ticket)
                    action = "resolved"
                else:
                    action = "none"
        except TicketSystemError as e:
            log.warning("ticket system failed; Alertmanager will retry",
                        extra={**extra, "outcome": "failure", "errorMessage": str(e)})
            status = 503 if e.status is None else 502
            raise ApiError(status, "TICKET_SYSTEM_FAILED", str(e)) from None
        log.info("webhook handled", extra={**extra, "action": action, "outcome": "success"})
        import orjson

        return Response(orjson.dumps({"action": action, "ticket": ticket}),
                        media_type="application/json")

    routes = [Route("/alerts/{project}", receive, methods=["POST"]),
              Route("/alerts", receive, methods=["POST"])]
    app = opsplane.instrument(Starlette(routes=routes), SPEC, settings=BridgeSettings)
    return app


def __getattr__(name: str) -> Any:
    """``alerts.bridge:app`` is made on first use (importing has no side effects)."""
    if name == "app":
        made = create_app()
        globals()["app"] = made
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
