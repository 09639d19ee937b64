"""The alert drill: a service's alerts delivered end to end, on loopback, in about a minute.

    opsplane alerts drill examples/orders/service.yaml

Starts, each stopped by pid at the end:

- the service under ``opsplane serve`` with ``OPSPLANE_DRILL_FAULTS``
  (``opsplane.runtime._faults``);
- the vendor stand-ins (``alerts.sinks``): Slack, PagerDuty Events v2, Jira or GitHub;
- ``opsplane ticket-bridge`` in front of the ticket stand-in;
- a real Prometheus with the generated rules, the SLI windows compressed for the drill
  (:data:`DRILL_WINDOWS`: 5m -> 5s ... 3d -> 60s, every ``for`` -> :data:`DRILL_FOR`),
  scraping every second;
- a real Alertmanager with the generated routes (``--endpoints`` pointing at the stand-ins,
  ``group_wait`` 1 s), credentials in files.

Then steady traffic; faults on (every 5th request fails: the availability SLO pages; every
25th is slow: 4 % slow requests burn the latency budget between the ticket's 1x/3x and the
page's 6x thresholds, so it tickets); faults off once page, ticket and chat arrived; wait for
their resolves. One row per delivery, with the seconds since the first failing request.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from alerts.sinks import Delivery, Sinks
from opsplane.errors import MissingToolError, OpsplaneError, SpecError
from opsplane.spec.service import ChatRoute, PagerRoute, SecretRef, ServiceSpec, TicketRoute
from opsplane.testing.procs import ProcessGroup, free_port, wait_http

#: the SLI windows of the drill (same order, same roles, seconds instead of hours)
DRILL_WINDOWS = {"5m": "5s", "30m": "10s", "1h": "15s", "2h": "20s", "6h": "30s",
                 "1d": "40s", "3d": "60s"}
DRILL_FOR = "2s"
SCRAPE_S = 1.0
EVAL_S = 0.5        # rule evaluation: recorded SLIs, then the alerts reading them
GROUP_WAIT_S = 1.0
ERROR_EVERY = 5     # 20 % errors: far above any availability page threshold
SLOW_EVERY = 25     # 4 % slow: over the latency ticket's 3x (3 %), under the page's 6x (6 %)


@dataclass
class Row:
    receiver: str
    alert: str
    severity: str
    status: str
    shape_ok: bool
    seconds: float
    detail: str = ""


@dataclass
class DrillResult:
    rows: list[Row] = field(default_factory=list)
    page_seconds: float | None = None
    page_budget: float = 0.0
    delivered: dict[str, bool] = field(default_factory=dict)
    resolved: dict[str, bool] = field(default_factory=dict)
    requests: int = 0
    failed: int = 0

    @property
    def ok(self) -> bool:
        kinds = ("page", "ticket", "chat")
        return (all(self.delivered.get(k) for k in kinds)
                and all(self.resolved.get(k) for k in kinds)
                and all(r.shape_ok for r in self.rows))


def drill_rules(spec: ServiceSpec) -> dict[str, Any]:
    """The generated rules with the windows and ``for`` durations compressed."""
    from alerts.generate import rules

    data = rules(spec)
    for group in data["groups"]:
        group["interval"] = f"{int(EVAL_S * 1000)}ms"
        for rule in group["rules"]:
            rule["expr"] = re.sub(r"\[(\d+[mhd])\]",
                                  lambda m: f"[{DRILL_WINDOWS.get(m.group(1), '5s')}]",
                                  rule["expr"])
            if "for" in rule:
                rule["for"] = DRILL_FOR
    return data


def drill_spec(spec: ServiceSpec, secrets: Path) -> ServiceSpec:
    """The spec's routes with credentials in the drill's own files."""
    a = spec.alerting
    missing = [k for k in ("chat", "ticket", "pager") if getattr(a, k) is None]
    if missing:
        raise SpecError(f"alerting: the drill needs chat, ticket and pager routes; "
                        f"{', '.join(missing)} missing (set them in the spec or opsplane.yaml)")
    assert a.chat is not None
    assert a.ticket is not None
    assert a.pager is not None
    for name, value in (("chat-token", "xoxb-drill"), ("pager-key", "R0UT1NGKEYDRILL000000000"),
                        ("ticket-token", "drill-bridge-token")):
        (secrets / name).write_text(value)
    alerting = a.model_copy(update={
        "chat": ChatRoute(channel=a.chat.channel,
                          webhook=SecretRef(file=str(secrets / "chat-token"))),
        "ticket": TicketRoute(project=a.ticket.project,
                              webhook=SecretRef(file=str(secrets / "ticket-token"))),
        "pager": PagerRoute(service=a.pager.service,
                            routing_key=SecretRef(file=str(secrets / "pager-key")))})
    return spec.model_copy(update={"alerting": alerting})


def alertmanager_config(spec: ServiceSpec, endpoints: dict[str, str],
                        bridge_url: str) -> dict[str, Any]:
    from alerts.generate import alertmanager, ticket_url_for
    from opsplane.spec.org import Endpoints

    cfg = alertmanager([spec], endpoints=Endpoints(
        chat=endpoints["chat"], pager=endpoints["pager"], ticket=bridge_url),
        ticket_url=ticket_url_for(bridge_url, "0.25"))
    timing = {"group_wait": f"{GROUP_WAIT_S:g}s", "group_interval": "2s"}

    def fast(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route or route is cfg["route"]:
                route[key] = timing[key]
        for sub in route.get("routes", []):
            fast(sub)

    fast(cfg["route"])
    return cfg


class Traffic:
    """Steady requests from a few threads; remembers the first failing answer."""

    def __init__(self, url: str, rate: float = 60.0, workers: int = 6) -> None:
        self.url = url
        self.interval = workers / rate
        self.workers = workers
        self.stop = threading.Event()
        self.first_failure: float | None = None
        self.count = 0
        self.failed = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]

    def _run(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            status = 0
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            except OSError:
                status = 0
            with self.lock:
                self.count += 1
                if status >= 500 or status == 0:
                    self.failed += 1
                    if self.first_failure is None:
                        self.first_failure = began
            self.stop.wait(max(0.0, self.interval - (time.monotonic() - began)))

    def __enter__(self) -> Traffic:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)


def _kind(d: Delivery) -> str:
    return {"pager": "page", "chat": "chat"}.get(d.sink, "ticket")


def _row(d: Delivery, t0: float) -> Row:
    alert, severity = d.alert, d.severity
    if d.sink in ("jira", "github"):
        m = re.match(r"\[(\w+)\] (.*)", alert)
        severity, alert = (m.group(1), m.group(2)) if m else ("ticket", alert)
    return Row(receiver=d.sink, alert=alert, severity=severity,
               status=d.status or d.action, shape_ok=d.shape_ok,
               seconds=round(d.at - t0, 1), detail="; ".join(d.problems))


def _wait(check: Any, timeout: float, procs: list[tuple[str, subprocess.Popen[Any]]]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        for name, p in procs:
            if p.poll() is not None:
                raise OpsplaneError(f"drill: {name} exited with code {p.returncode}")
        time.sleep(0.2)
    return False


def run_drill(spec_path: str | Path, *, org: str | None = None, ticket_system: str = "jira",
              path: str = "/", timeout: float = 120.0, out: IO[str] | None = None,
              workdir: Path | None = None) -> DrillResult:
    """Run the drill; print the table to ``out``; the result (``ok``: exit 0)."""
    import shutil

    import yaml

    from opsplane.spec.org import apply_org, find_org
    from opsplane.spec.service import load_spec

    stream = out or sys.stdout
    spec_file = Path(spec_path).resolve()
    spec = apply_org(load_spec(spec_file), find_org(org))
    tools = {name: shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}") if os.path.exists(p)), None)
        for name in ("prometheus", "prometheus-alertmanager")}
    missing = [n for n, p in tools.items() if p is None]
    if missing:
        raise MissingToolError(f"drill: {', '.join(missing)} not installed "
                               "(scripts/system-deps.sh installs them)")
    tmp = workdir or Path(tempfile.mkdtemp(prefix="opsplane-alert-drill-"))
    (tmp / "secrets").mkdir(parents=True, exist_ok=True)
    spec = drill_spec(spec, tmp / "secrets")
    faults = tmp / "faults.json"
    faults.write_text("{}")
    result = DrillResult()

    def say(text: str) -> None:
        stream.write(text + "\n")
        stream.flush()
    with Sinks(ticket_system) as sinks, ProcessGroup() as group:
        logs: list[IO[str]] = []

        def start(name: str, argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
            log = (tmp / f"{name}.log").open("w")
            logs.append(log)
            return group.start(name, argv, stdout=log, **kw)

        try:
            svc_port, bridge_port, prom_port, am_port = (free_port() for _ in range(4))
            svc = start("service", [sys.executable, "-m", "opsplane.cli.main", "serve",
                                    "--spec", str(spec_file), "--host", "127.0.0.1",
                                    "--port", str(svc_port), "--drain-delay", "0",
                                    "--grace", "5"],
                        cwd=tmp, env={"OPSPLANE_DRILL_FAULTS": str(faults),
                                      "PYTHONPATH": os.pathsep.join(filter(None, [
                                          str(spec_file.parent),
                                          os.environ.get("PYTHONPATH")]))})
            extra = ["--repo", "drill/alerts"] if ticket_system == "github" else []
            bridge = start("ticket-bridge", [
                sys.executable, "-m", "opsplane.cli.main", "ticket-bridge", "--system",
                ticket_system, "--url", sinks.ticket.url, "--host", "127.0.0.1",
                "--port", str(bridge_port), "--token-file", str(tmp / "secrets" / "ticket-token"),
                "--drain-delay", "0", "--grace", "5", *extra])
            bridge_url = f"http://127.0.0.1:{bridge_port}"
            (tmp / "rules.yaml").write_text(yaml.safe_dump(drill_rules(spec), sort_keys=False))
            (tmp / "alertmanager.yaml").write_text(yaml.safe_dump(
                alertmanager_config(spec, sinks.endpoints(), bridge_url), sort_keys=False))
            (tmp / "prometheus.yml").write_text(yaml.safe_dump({
                "global": {"scrape_interval": f"{SCRAPE_S:g}s",
                           "evaluation_interval": f"{int(EVAL_S * 1000)}ms"},
                "rule_files": [str(tmp / "rules.yaml")],
                "alerting": {"alertmanagers": [{"static_configs": [
                    {"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [{"job_name": spec.name, "static_configs": [
                    {"targets": [f"127.0.0.1:{svc_port}"]}]}]}))
            am = start("alertmanager", [
                str(tools["prometheus-alertmanager"]),
                f"--config.file={tmp / 'alertmanager.yaml'}", f"--storage.path={tmp / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="])
            prom = start("prometheus", [
                str(tools["prometheus"]), f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'prom'}",
                f"--web.listen-address=127.0.0.1:{prom_port}"])
            watched = [("service", svc), ("ticket-bridge", bridge), ("alertmanager", am),
                       ("prometheus", prom)]
            wait_http(f"http://127.0.0.1:{svc_port}/healthz/ping", proc=svc, timeout=60)
            wait_http(f"{bridge_url}/healthz/ping", proc=bridge, timeout=60)
            wait_http(f"http://127.0.0.1:{am_port}/-/ready", proc=am, timeout=60)
            wait_http(f"http://127.0.0.1:{prom_port}/-/ready", proc=prom, timeout=60)
            say(f"drill: {spec.name} on :{svc_port}, prometheus :{prom_port}, alertmanager "
                f":{am_port}, ticket-bridge :{bridge_port} -> {ticket_system} stand-in; "
                f"logs in {tmp}")
            slow_ms = spec.slos.latency.threshold_ms * 1.5 + 50
            with Traffic(f"http://127.0.0.1:{svc_port}{path}") as traffic:
                # healthy first: the windows hold good traffic before the faults
                _wait(lambda: traffic.count >= 60, 30, watched)
                faults.write_text(json.dumps({"error_every": ERROR_EVERY,
                                              "slow_every": SLOW_EVERY, "slow_ms": slow_ms}))
                say(f"faults on: every {ERROR_EVERY}th request fails, every {SLOW_EVERY}th "
                    f"takes {slow_ms:g} ms")

                def arrived(kind: str, status: str) -> bool:
                    return any(_kind(d) == kind and (d.status == status)
                               for d in sinks.snapshot())

                fired = _wait(lambda: all(arrived(k, "firing") for k in ("page", "ticket",
                                                                          "chat")),
                              timeout / 2, watched)
                faults.write_text("{}")
                recovered_at = time.monotonic()
                say("faults off" + ("" if fired else " (not every receiver got the alert)"))
                _wait(lambda: all(arrived(k, "resolved") for k in ("page", "ticket", "chat"))
                      and not _open_tickets(sinks), timeout / 2, watched)
            result.requests, result.failed = traffic.count, traffic.failed
            t0 = traffic.first_failure or recovered_at
            deliveries = sinks.snapshot()
            result.rows = [_row(d, t0) for d in deliveries
                           if d.action not in ("comment",) or not d.shape_ok]
            for kind in ("page", "ticket", "chat"):
                mine = [d for d in deliveries if _kind(d) == kind]
                result.delivered[kind] = any(d.status == "firing" for d in mine)
                result.resolved[kind] = any(d.status == "resolved" for d in mine)
            pages = [d.at - t0 for d in deliveries if d.sink == "pager" and d.status == "firing"]
            result.page_seconds = round(min(pages), 1) if pages else None
            for_s = 0.0 if _page_rule_has_no_for(spec) else float(DRILL_FOR.rstrip("s"))
            result.page_budget = for_s + GROUP_WAIT_S + SCRAPE_S + 5
            _print(result, stream)
        finally:
            for log in logs:
                with contextlib.suppress(OSError):
                    log.close()
    return result


def _open_tickets(sinks: Sinks) -> bool:
    return any(i.status == "open" for i in sinks.ticket.issues.values())


def _page_rule_has_no_for(spec: ServiceSpec) -> bool:
    return all("for" not in r for r in drill_rules(spec)["groups"][1]["rules"]
               if r.get("alert") == "ErrorBudgetBurn")


def _print(result: DrillResult, out: IO[str]) -> None:
    head = ("receiver", "alert", "severity", "status", "shape", "s")
    rows = [(r.receiver, r.alert[:60], r.severity, r.status,
             "ok" if r.shape_ok else f"BAD: {r.detail}", f"{r.seconds:.1f}")
            for r in result.rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
             for line in (head, *rows)]
    lines.append(f"requests: {result.requests}, failed: {result.failed}")
    if result.page_seconds is None:
        lines.append("page: never delivered")
    else:
        verdict = "ok" if result.page_seconds <= result.page_budget else "SLOWER THAN GOAL"
        lines.append(f"first failing request -> page: {result.page_seconds:.1f} s (goal <= "
                     f"{result.page_budget:g} s = for + group_wait {GROUP_WAIT_S:g} s + "
                     f"scrape {SCRAPE_S:g} s + 5 s): {verdict}")
    for kind in ("page", "ticket", "chat"):
        lines.append(f"{kind}: {'delivered' if result.delivered.get(kind) else 'NOT delivered'}"
                     f", {'resolved' if result.resolved.get(kind) else 'NOT resolved'}")
    lines.append("drill: " + ("ok" if result.ok else "FAILED"))
    out.write("\n".join(lines) + "\n")
    out.flush()
