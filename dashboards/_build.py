"""grafanalib objects for the dashboards (imported only when a dashboard is generated)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from grafanalib._gen import DashboardEncoder
from grafanalib.core import (
    Dashboard,
    DashboardLink,
    GridPos,
    RowPanel,
    Stat,
    Table,
    Target,
    Template,
    Templating,
    Threshold,
    Time,
    TimeSeries,
)

from dashboards import _queries as q
from opsplane.alertmap import DEFAULT_RUNBOOKS, panel_alerts, runbook_url
from opsplane.slo import PAGE_FACTORS, num, slos
from opsplane.spec import ServiceSpec

DS = "${datasource}"
FULL = 24


class _Layout:
    """Places panels left to right in rows of 24 columns; a row header starts a new band."""

    def __init__(self) -> None:
        self.y = 0
        self.x = 0
        self.h = 0
        self.panels: list[Any] = []

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(RowPanel(title=title, gridPos=GridPos(h=1, w=FULL, x=0, y=self.y)))
        self.y += 1

    def add(self, panel_cls: Any, w: int, h: int, **kw: Any) -> None:
        if self.x + w > FULL:
            self._newline()
        self.panels.append(panel_cls(gridPos=GridPos(h=h, w=w, x=self.x, y=self.y),
                                     dataSource=DS, **kw))
        self.x += w
        self.h = max(self.h, h)

    def _newline(self) -> None:
        self.y += self.h
        self.x = 0
        self.h = 0


def _t(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> Target:
    return Target(expr=expr, legendFormat=legend, refId=ref, instant=instant,
                  format="table" if instant else "time_series", datasource=DS)


def _steps(*pairs: tuple[float | None, str]) -> list[Threshold]:
    return [Threshold(color=c, index=i, value=float(v or 0)) for i, (v, c) in enumerate(pairs)]


def _explore(datasource: str, query: dict[str, Any]) -> str:
    """An Explore URL; ``$`` stays literal so Grafana fills in the dashboard variables."""
    left = {"datasource": datasource, "queries": [dict(query, refId="A")],
            "range": {"from": "now-1h", "to": "now"}}
    return "/explore?left=" + urllib.parse.quote(json.dumps(left, sort_keys=True,
                                                            separators=(",", ":")), safe="$")


def _variables(job_matcher: str, with_namespace: bool = True) -> Templating:
    out = [
        Template(name="datasource", label="Data source", type="datasource", query="prometheus",
                 refresh=1),
        Template(name="cluster", label="Cluster", dataSource=DS, refresh=2, sort=1,
                 query=f"label_values(up{{{job_matcher}}}, cluster)"),
    ]
    if with_namespace:
        out.append(Template(name="namespace", label="Namespace", dataSource=DS, refresh=2,
                            sort=1,
                            query=f'label_values(up{{{job_matcher},cluster="$cluster"}}, '
                                  "namespace)"))
    return Templating(list=out)


def _raw(dash: Dashboard) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(dash.to_json_data(), cls=DashboardEncoder))
    return data


def _alert_links(spec: ServiceSpec, panels: list[Any], base: str) -> None:
    """Each panel that shows an alert links to the alert's runbook (opsplane.alertmap)."""
    by_panel = panel_alerts(spec)
    for panel in panels:
        for alert in by_panel.get(getattr(panel, "title", ""), []):
            panel.links.append({
                "title": f"Alert {alert}: runbook", "type": "link", "icon": "doc",
                "tooltip": f"what {alert} means and the first steps", "tags": [],
                "asDropdown": False, "targetBlank": True, "includeVars": False,
                "keepTime": False, "url": runbook_url(base, spec, alert)})


def service(spec: ServiceSpec, header: str, logs_datasource: str,
            traces_datasource: str, runbooks: str = DEFAULT_RUNBOOKS) -> dict[str, Any]:
    """The raw grafanalib JSON of one service's dashboard."""
    objectives = slos(spec)
    avail, latency = objectives[0], objectives[1]
    lay = _Layout()
    lay.row("Overview")
    lay.add(Stat, 6, 4, title="Requests/s", targets=[_t(q.requests_rate(spec))], format="reqps",
            reduceCalc="lastNotNull", thresholds=_steps((None, "blue")))
    lay.add(Stat, 6, 4, title="Error ratio", description=f"5xx share; SLO allows "
            f"{num(avail.budget * 100)}%", targets=[_t(q.error_ratio(spec))],
            format="percentunit", reduceCalc="lastNotNull", decimals=3,
            thresholds=_steps((None, "green"), (avail.budget, "red")))
    lay.add(Stat, 6, 4, title="p99 latency", description=f"SLO threshold "
            f"{num(spec.slos.latency.threshold_ms)} ms",
            targets=[_t(q.latency_quantile(spec, 0.99))], format="s", reduceCalc="lastNotNull",
            thresholds=_steps((None, "green"), (spec.slos.latency.threshold_ms / 1000, "red")))
    lay.add(Stat, 6, 4, title="Error budget remaining",
            description=f"availability, {spec.slos.window_days}-day window",
            targets=[_t(q.budget_remaining(spec, avail))], format="percentunit",
            reduceCalc="lastNotNull", decimals=1,
            thresholds=_steps((None, "red"), (0.25, "orange"), (0.5, "green")))

    lay.row("Traffic")
    lay.add(TimeSeries, 8, 8, title="Requests/s by status class", unit="reqps",
            targets=[_t(q.by_status_class(spec), "{{status_class}}")])
    lay.add(TimeSeries, 8, 8, title="Error ratio", unit="percentunit",
            targets=[_t(q.error_ratio(spec), "5xx ratio")], thresholdsStyleMode="line",
            thresholds=_steps((None, "green"), (avail.budget, "red")))
    lay.add(TimeSeries, 8, 8, title="Latency by route", unit="s", targets=[
        _t(q.latency_quantile(spec, p, "http_route"), f"p{int(p * 100)} {{{{http_route}}}}",
           ref)
        for p, ref in ((0.5, "A"), (0.9, "B"), (0.99, "C"))])

    lay.row("SLO burn rate")
    marks = sorted(PAGE_FACTORS)
    for slo in (avail, latency):
        lay.add(TimeSeries, 12, 8, title=f"{slo.name.capitalize()} burn rate",
                description=f"1 = spending the budget exactly over {spec.slos.window_days} days;"
                            f" pages at {num(marks[1])} (1h & 5m) and {num(marks[0])} (6h & 30m)",
                unit="none", thresholdsStyleMode="line",
                thresholds=_steps((None, "green"), (marks[0], "orange"), (marks[1], "red")),
                targets=[_t(q.burn_rate(spec, slo, w), w, ref)
                         for w, ref in (("5m", "A"), ("1h", "B"), ("6h", "C"))])

    lay.row("Saturation")
    lay.add(TimeSeries, 8, 8, title="CPU against request and limit", unit="short", targets=[
        _t(q.cpu_usage(spec), "{{pod}}", "A"),
        _t(q.resource(spec, "requests", "cpu"), "request", "B"),
        _t(q.resource(spec, "limits", "cpu"), "limit", "C")])
    lay.add(TimeSeries, 8, 8, title="CPU throttling", unit="percentunit",
            targets=[_t(q.throttling(spec), "{{pod}}")])
    lay.add(TimeSeries, 8, 8, title="Memory working set against limit", unit="bytes", targets=[
        _t(q.memory(spec), "{{pod}}", "A"),
        _t(q.resource(spec, "limits", "memory"), "limit", "B")])
    lay.add(TimeSeries, 12, 8, title="Restarts and OOM kills", unit="short", targets=[
        _t(q.restarts(spec), "restarts {{pod}}", "A"),
        _t(q.oom_kills(spec), "OOMKilled {{pod}}", "B")])

    lay.row("Dependencies")
    if any(d.kind == "http" for d in spec.dependencies):
        lay.add(TimeSeries, 8, 8, title="Outbound p99 latency by dependency", unit="s",
                targets=[_t(q.dependency_latency(spec), "{{dependency}}")])
        lay.add(TimeSeries, 8, 8, title="Outbound error ratio by dependency",
                unit="percentunit", targets=[_t(q.dependency_errors(spec), "{{dependency}}")])
    if spec.dependencies:
        lay.add(TimeSeries, 8, 8, title="Dependency health checks", unit="short",
                valueMin=0, valueMax=1, targets=[_t(q.dependency_health(spec), "{{check}}")])

    lay.row("Canary")
    lay.add(TimeSeries, 8, 8, title="Canary: last run passed",
            description="probe_success of the production canary (1 passed, 0 failed), per "
                        "environment and collection", unit="short", valueMin=0, valueMax=1,
            targets=[_t(q.canary(spec, "probe_success"), "{{environment}} {{collection}}")])
    lay.add(TimeSeries, 8, 8, title="Canary: run duration", unit="s",
            targets=[_t(q.canary(spec, "probe_duration_seconds", "max"),
                        "{{environment}} {{collection}}")])
    lay.add(TimeSeries, 8, 8, title="Canary: failures in a row",
            description="CanaryFailing fires at 3", unit="short",
            thresholdsStyleMode="line", thresholds=_steps((None, "green"), (3, "red")),
            targets=[_t(q.canary(spec, "canary_consecutive_failures", "max"),
                        "{{environment}} {{collection}}", "A"),
                     _t(q.canary_failed_checks(spec), "failing: {{environment}} {{check}}",
                        "B")])

    _alert_links(spec, lay.panels, runbooks)
    logs = _explore(logs_datasource, {"expr": f'{{namespace="$namespace",app="{spec.name}"}}'})
    traces = _explore(traces_datasource, {"queryType": "search", "service": spec.name})
    dash = Dashboard(
        title=f"{spec.name} service", uid=f"svc-{spec.name}", description=header,
        tags=["opsplane", f"service:{spec.name}", f"team:{spec.team}"],
        timezone="utc", refresh="1m", time=Time("now-6h", "now"),
        templating=_variables(f'job="{spec.name}"'), panels=lay.panels,
        links=[
            DashboardLink(title="Logs", uri=logs, type="link", icon="doc", includeVars=False,
                          keepTime=True, tooltip=f"{spec.name} logs in Explore"),
            DashboardLink(title="Traces", uri=traces, type="link", icon="info",
                          keepTime=True, tooltip=f"{spec.name} traces in Explore"),
            DashboardLink(title="All services", uri="/d/svc-overview", type="link",
                          icon="dashboard", keepTime=True, tooltip="opsplane overview"),
        ]).auto_panel_ids()
    return _raw(dash)


def overview(specs: list[ServiceSpec], header: str) -> dict[str, Any]:
    """The raw grafanalib JSON of the all-services overview (one table row per service)."""
    queries = q.overview(specs)
    lay = _Layout()
    lay.row("Services")
    lay.add(Table, 24, 4 + 2 * len(specs), title="Services",
            description="each row links to the service's dashboard",
            targets=[_t(expr, ref, ref, instant=True) for ref, expr in queries.items()],
            transformations=[
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {
                    "excludeByName": {"Time": True},
                    "renameByName": {"job": "service", "Value #A": "requests/s",
                                     "Value #B": "error ratio", "Value #C": "p99 (s)",
                                     "Value #D": "budget left"}}}],
            extraJson={"fieldConfig": {"defaults": {"links": [{
                "title": "${__data.fields.service} dashboard", "type": "link", "icon": "dashboard",
                "tooltip": "open the service dashboard", "tags": [], "asDropdown": False,
                "targetBlank": False, "includeVars": False, "keepTime": True,
                "url": "/d/svc-${__data.fields.service}"}]}}})
    names = "|".join(sorted(s.name for s in specs))
    dash = Dashboard(
        title="opsplane services", uid="svc-overview", description=header,
        tags=["opsplane", "overview"], timezone="utc", refresh="1m",
        time=Time("now-1h", "now"),
        templating=_variables(f'job=~"{names}"', with_namespace=False),
        panels=lay.panels,
        links=[DashboardLink(title="Service dashboards", type="dashboards", tags=["opsplane"],
                             asDropdown=True, keepTime=True, includeVars=False, uri="")],
    ).auto_panel_ids()
    return _raw(dash)
