"""Local stand-ins for the SaaS APIs alerts go to, checking each request's documented shape.

Slack incoming webhooks / ``chat.postMessage``, PagerDuty Events API v2, Jira REST API v2
and v3 (create issue, search, comment, transitions) and GitHub Issues (create, list by
label, comment, close). Each runs on loopback in a thread and records every request as a
:class:`Delivery` (``shape_ok`` and the problems found), for the alert drill and the tests::

    with Sinks() as sinks:                      # chat, pager and jira (or github) sinks
        sinks.endpoints()                       # {"chat": url, "pager": url, "ticket": url}
        sinks.deliveries                        # what arrived, in order

Not a vendor emulator: enough state (issues, labels, statuses) for the bridge's calls.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PD_SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass
class Delivery:
    """One request a sink received."""

    sink: str            # chat | pager | jira | github
    action: str          # message | trigger | resolve | create | comment | transition | ...
    at: float            # time.monotonic()
    shape_ok: bool
    problems: list[str]
    body: Any
    status: str = ""     # firing | resolved (when the request says)
    alert: str = ""      # alert name (when the request says)
    severity: str = ""


@dataclass
class _Issue:
    key: str
    summary: str
    labels: list[str]
    status: str = "open"
    comments: list[Any] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class Sink:
    """A loopback HTTP server; subclasses answer ``handle(method, path, query, body, headers)``."""

    name = "sink"

    def __init__(self, log: list[Delivery], lock: threading.Lock) -> None:
        self.log = log
        self.lock = lock
        self.available = True  # False: answer 503 (the system is down)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                parsed = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parsed.query))
                if not sink.available:
                    status, answer = 503, {"message": "unavailable"}
                else:
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        body = raw.decode(errors="replace")
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    with sink.lock:
                        status, answer = sink.handle(self.command, parsed.path, query, body,
                                                     headers)
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = _serve

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def record(self, action: str, problems: list[str], body: Any, **kw: str) -> None:
        self.log.append(Delivery(self.name, action, time.monotonic(), not problems, problems,
                                 body, **kw))

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: dict[str, str]) -> tuple[int, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


_SLACK_TITLE = re.compile(r"^\[(FIRING|RESOLVED)\] \[(\w*)\] (\w*): (.*)")


class SlackSink(Sink):
    """Slack incoming webhook / chat.postMessage: ``{"channel", "attachments"|"text"}``."""

    name = "chat"

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: dict[str, str]) -> tuple[int, Any]:
        problems = []
        status = alert = severity = ""
        if method != "POST":
            problems.append(f"{method}: Slack webhooks take POST")
        if not isinstance(body, dict):
            problems.append("body is not a JSON object")
            body = {}
        attachments = body.get("attachments")
        if not body.get("text") and not attachments and not body.get("blocks"):
            problems.append("neither text, attachments nor blocks")
        if attachments is not None:
            if not isinstance(attachments, list) or not all(isinstance(a, dict)
                                                             for a in attachments):
                problems.append("attachments is not a list of objects")
                attachments = []
            for a in attachments:
                if not (a.get("text") or a.get("fallback") or a.get("title")):
                    problems.append("an attachment without text, fallback or title")
                m = _SLACK_TITLE.match(str(a.get("title", "")))
                if m:
                    status, severity = m.group(1).lower(), m.group(2)
                    alert = m.group(4) or m.group(3)
        if "channel" in body and not str(body["channel"]).startswith(("#", "@", "C")):
            problems.append(f"channel {body['channel']!r} is not a channel name or id")
        self.record("message", problems, body, status=status, alert=alert, severity=severity)
        if path.startswith("/api/"):  # chat.postMessage answers JSON
            return 200, {"ok": True, "channel": body.get("channel"), "ts": str(time.time())}
        return 200, None


class PagerDutySink(Sink):
    """PagerDuty Events API v2: ``POST /v2/enqueue`` trigger / acknowledge / resolve."""

    name = "pager"

    def __init__(self, log: list[Delivery], lock: threading.Lock) -> None:
        super().__init__(log, lock)
        self.open: dict[str, tuple[str, str]] = {}  # dedup_key -> (summary, severity)

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: dict[str, str]) -> tuple[int, Any]:
        problems = []
        if method != "POST" or path != "/v2/enqueue":
            problems.append(f"{method} {path}: events go to POST /v2/enqueue")
        if not isinstance(body, dict):
            body = {}
            problems.append("body is not a JSON object")
        if not isinstance(body.get("routing_key"), str) or len(body["routing_key"]) == 0:
            problems.append("routing_key missing")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            problems.append(f"event_action {action!r} is not trigger, acknowledge or resolve")
        dedup = body.get("dedup_key")
        if not isinstance(dedup, str) or not dedup or len(dedup) > 255:
            problems.append("dedup_key missing or longer than 255 characters")
        payload = body.get("payload") or {}
        alert = severity = ""
        if action == "trigger":
            for key in ("summary", "source", "severity"):
                if not payload.get(key):
                    problems.append(f"payload.{key} missing")
            if payload.get("severity") and payload["severity"] not in PD_SEVERITIES:
                problems.append(f"payload.severity {payload['severity']!r} is not one of "
                                f"{sorted(PD_SEVERITIES)}")
            if len(str(payload.get("summary", ""))) > 1024:
                problems.append("payload.summary over 1024 characters")
            details = payload.get("custom_details") or {}
            alert = str(payload.get("summary") or details.get("alertname", ""))
            severity = str(details.get("severity", ""))
            if isinstance(dedup, str):
                self.open[dedup] = (alert, severity)
        elif action == "resolve" and isinstance(dedup, str):
            if dedup not in self.open:
                problems.append("resolve for a dedup_key that was never triggered")
            alert, severity = self.open.pop(dedup, ("", ""))
        status = {"trigger": "firing", "resolve": "resolved"}.get(str(action), "")
        self.record(str(action), problems, body, status=status, alert=alert,
                    severity=severity)
        if problems:
            return 400, {"status": "invalid event", "message": "Event object is invalid",
                         "errors": problems}
        return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup}


class JiraSink(Sink):
    """Jira REST API v2/v3: issue create, search by JQL label, comment, transitions."""

    name = "jira"
    _LABEL = re.compile(r'labels\s*=\s*"([^"]+)"')

    def __init__(self, log: list[Delivery], lock: threading.Lock) -> None:
        super().__init__(log, lock)
        self.issues: dict[str, _Issue] = {}

    def _doc_ok(self, v: str, value: Any) -> bool:
        if v == "2":
            return isinstance(value, str)
        return (isinstance(value, dict) and value.get("type") == "doc"
                and value.get("version") == 1 and isinstance(value.get("content"), list))

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: dict[str, str]) -> tuple[int, Any]:
        m = re.fullmatch(r"/rest/api/([23])/(.+)", path)
        if not m:
            return 404, {"errorMessages": [f"no such resource {path}"]}
        v, rest = m.groups()
        problems = [] if headers.get("authorization") else ["no Authorization header"]
        if method == "GET" and rest in ("search", "search/jql"):
            label = self._LABEL.search(query.get("jql", ""))
            if not label:
                return 400, {"errorMessages": ["jql without a labels clause"]}
            open_ = [i for i in self.issues.values()
                     if label.group(1) in i.labels and i.status != "done"]
            return 200, {"issues": [{"key": i.key, "fields": {"status": {"name": i.status}}}
                                    for i in open_]}
        if method == "POST" and rest == "issue":
            f = (body or {}).get("fields") if isinstance(body, dict) else None
            f = f if isinstance(f, dict) else {}
            if not isinstance(f.get("project"), dict) or not f["project"].get("key"):
                problems.append("fields.project.key missing")
            if not isinstance(f.get("summary"), str) or not f["summary"] \
                    or len(f["summary"]) > 255:
                problems.append("fields.summary missing or over 255 characters")
            if not isinstance(f.get("issuetype"), dict) or not (
                    f["issuetype"].get("name") or f["issuetype"].get("id")):
                problems.append("fields.issuetype.name missing")
            if "description" in f and not self._doc_ok(v, f["description"]):
                problems.append(f"fields.description is not API v{v}'s format")
            labels = f.get("labels", [])
            if not isinstance(labels, list) or any(not isinstance(x, str) or " " in x
                                                   for x in labels):
                problems.append("labels must be strings without spaces")
                labels = []
            self.record("create", problems, body, status="firing",
                        alert=str(f.get("summary", "")))
            if problems:
                return 400, {"errorMessages": problems, "errors": {}}
            key = f"{f['project']['key']}-{len(self.issues) + 1}"
            self.issues[key] = _Issue(key, f["summary"], labels)
            return 201, {"id": str(10000 + len(self.issues)), "key": key,
                         "self": f"{self.url}/rest/api/{v}/issue/{key}"}
        m = re.fullmatch(r"issue/([A-Z][A-Z0-9]*-\d+)/(comment|transitions)", rest)
        issue = self.issues.get(m.group(1)) if m else None
        if m is None or issue is None:
            return 404, {"errorMessages": ["Issue does not exist"]}
        if m.group(2) == "comment" and method == "POST":
            b = body.get("body") if isinstance(body, dict) else None
            if not self._doc_ok(v, b):
                problems.append(f"comment body is not API v{v}'s format")
            issue.comments.append(b)
            self.record("comment", problems, body, alert=issue.summary)
            return (400, {"errorMessages": problems}) if problems else (201, {"id": "1"})
        if method == "GET":
            return 200, {"transitions": [
                {"id": "11", "name": "In Progress",
                 "to": {"statusCategory": {"key": "indeterminate"}}},
                {"id": "31", "name": "Done", "to": {"statusCategory": {"key": "done"}}}]}
        t = body.get("transition") if isinstance(body, dict) else None
        if not isinstance(t, dict) or t.get("id") not in ("11", "31"):
            problems.append("transition.id missing or unknown")
        elif t["id"] == "31":
            issue.status = "done"
        self.record("transition", problems, body, status="resolved" if not problems else "",
                    alert=issue.summary)
        return (400, {"errorMessages": problems}) if problems else (204, None)


class GitHubSink(Sink):
    """GitHub Issues: create, list open by label, comment, close (``PATCH state=closed``)."""

    name = "github"

    def __init__(self, log: list[Delivery], lock: threading.Lock) -> None:
        super().__init__(log, lock)
        self.issues: dict[int, _Issue] = {}

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: dict[str, str]) -> tuple[int, Any]:
        m = re.fullmatch(r"/repos/[\w.-]+/[\w.-]+/issues(?:/(\d+)(/comments)?)?", path)
        if not m:
            return 404, {"message": "Not Found"}
        problems = []
        if not headers.get("authorization", "").startswith(("Bearer ", "token ")):
            problems.append("no Authorization: Bearer header")
        if headers.get("accept") != "application/vnd.github+json":
            problems.append("Accept is not application/vnd.github+json")
        number, comments = m.group(1), m.group(2)
        if number is None and method == "GET":
            want = set(filter(None, query.get("labels", "").split(",")))
            state = query.get("state", "open")
            return 200, [{"number": n, "title": i.summary,
                          "state": i.status, "labels": [{"name": x} for x in i.labels]}
                         for n, i in sorted(self.issues.items())
                         if want <= set(i.labels) and state in ("all", i.status)]
        if number is None and method == "POST":
            b = body if isinstance(body, dict) else {}
            if not isinstance(b.get("title"), str) or not b["title"]:
                problems.append("title missing")
            labels = b.get("labels", [])
            if not isinstance(labels, list) or any(not isinstance(x, str) or len(x) > 50
                                                   for x in labels):
                problems.append("labels must be strings of at most 50 characters")
                labels = []
            self.record("create", problems, body, status="firing", alert=str(b.get("title")))
            if problems:
                return 422, {"message": "Validation Failed", "errors": problems}
            n = len(self.issues) + 1
            self.issues[n] = _Issue(str(n), b["title"], labels)
            return 201, {"number": n, "state": "open", "title": b["title"]}
        issue = self.issues.get(int(number or 0))
        if issue is None:
            return 404, {"message": "Not Found"}
        b = body if isinstance(body, dict) else {}
        if comments and method == "POST":
            if not isinstance(b.get("body"), str) or not b["body"]:
                problems.append("comment body missing")
            issue.comments.append(b.get("body"))
            self.record("comment", problems, body, alert=issue.summary)
            return (422, {"message": "Validation Failed"}) if problems else (201, {"id": 1})
        if method == "PATCH":
            if b.get("state") not in ("open", "closed"):
                problems.append("state must be open or closed")
            if b.get("state_reason") not in (None, "completed", "not_planned", "reopened"):
                problems.append("state_reason unknown")
            if not problems:
                issue.status = b["state"]
            self.record("close", problems, body, status="resolved" if not problems else "",
                        alert=issue.summary)
            return (422, {"message": "Validation Failed"}) if problems else (
                200, {"number": issue.key, "state": issue.status})
        return 405, {"message": "Method not allowed"}


class Sinks:
    """The chat, pager and ticket sinks of one run, sharing one ordered delivery log."""

    def __init__(self, ticket: str = "jira") -> None:
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        self.chat = SlackSink(self.deliveries, self.lock)
        self.pager = PagerDutySink(self.deliveries, self.lock)
        self.ticket: JiraSink | GitHubSink = (JiraSink if ticket == "jira" else GitHubSink)(
            self.deliveries, self.lock)

    def endpoints(self) -> dict[str, str]:
        return {"chat": f"{self.chat.url}/api/chat.postMessage", "pager": self.pager.url,
                "ticket": self.ticket.url}

    def snapshot(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def __enter__(self) -> Sinks:
        for s in (self.chat, self.pager, self.ticket):
            s.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for s in (self.chat, self.pager, self.ticket):
            s.stop()
