"""Grafana Foundation SDK builders for the dashboards (imported only when one is generated).

The SDK's builders write Grafana's current dashboard schema directly; ``to_json`` of the
built objects (the SDK's public encoder protocol) is the output, with no rewriting after.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as pb
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from dashboards import _queries as q
from opsplane.spec.alertmap import DEFAULT_RUNBOOKS, panel_alerts, runbook_url
from opsplane.spec.service import ServiceSpec
from opsplane.spec.slo import PAGE_FACTORS, num, slos

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
FULL = 24
Query = Builder[Dataquery]
REFRESH_INTERVALS = ["5s", "10s", "30s", "1m", "5m", "15m", "30m", "1h", "2h", "1d"]


def _link(title: str, url: str, *, icon: str, tooltip: str, keep_time: bool = True,
          target_blank: bool = False, as_dropdown: bool = False,
          link_type: dm.DashboardLinkType = dm.DashboardLinkType.LINK,
          tags: Sequence[str] = ()) -> db.DashboardLink:
    return (db.DashboardLink(title).type(link_type).url(url).icon(icon).tooltip(tooltip)
            .tags(list(tags)).as_dropdown(as_dropdown).target_blank(target_blank)
            .include_vars(False).keep_time(keep_time))


class _Layout:
    """Places panels left to right in rows of 24 columns; a row header starts a new band.
    A panel that shows an alert links to the alert's runbook (opsplane.spec.alertmap)."""

    def __init__(self, alerts: dict[str, list[str]] | None = None,
                 runbook: Any = None) -> None:
        self.y = 0
        self.x = 0
        self.h = 0
        self.items: list[tuple[bool, Any]] = []
        self.alerts = alerts or {}
        self.runbook = runbook

    def row(self, title: str) -> None:
        self._newline()
        self.items.append((True, db.Row(title).collapsed(False)
                           .grid_pos(dm.GridPos(h=1, w=FULL, x=0, y=self.y))))
        self.y += 1

    def add(self, panel: Any, title: str, w: int, h: int) -> None:
        if self.x + w > FULL:
            self._newline()
        panel.title(title).datasource(DATASOURCE).grid_pos(
            dm.GridPos(h=h, w=w, x=self.x, y=self.y))
        panel.links([_link(f"Alert {alert}: runbook", self.runbook(alert), icon="doc",
                           tooltip=f"what {alert} means and the first steps",
                           keep_time=False, target_blank=True)
                     for alert in self.alerts.get(title, [])])
        self.items.append((False, panel))
        self.x += w
        self.h = max(self.h, h)

    def into(self, board: db.Dashboard) -> db.Dashboard:
        for is_row, item in self.items:
            if is_row:
                board.with_row(item)
            else:
                board.with_panel(item)
        return board

    def _newline(self) -> None:
        self.y += self.h
        self.x = 0
        self.h = 0


def _t(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> pb.Dataquery:
    target = (pb.Dataquery().expr(expr).legend_format(legend).ref_id(ref)
              .editor_mode(pm.QueryEditorMode.CODE).datasource(DATASOURCE))
    if instant:
        return target.instant().format(pm.PromQueryFormat.TABLE)
    return target.range().format(pm.PromQueryFormat.TIME_SERIES)


def _steps(*pairs: tuple[float | None, str]) -> db.ThresholdsConfig:
    """Absolute steps; Grafana treats the first as the base whatever its value (written 0)."""
    return db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(
        [dm.Threshold(value=float(v or 0), color=c) for v, c in pairs])


def _stat(unit: str, targets: list[Query], thresholds: db.ThresholdsConfig, *,
          description: str = "", decimals: int | None = None) -> stat.Panel:
    panel = (stat.Panel().unit(unit).targets(targets).thresholds(thresholds).no_value("none")
             .graph_mode(cm.BigValueGraphMode.AREA).color_mode(cm.BigValueColorMode.VALUE)
             .justify_mode(cm.BigValueJustifyMode.AUTO).text_mode(cm.BigValueTextMode.AUTO)
             .wide_layout(True).show_percent_change(False)
             .percent_change_color_mode(cm.PercentChangeColorMode.STANDARD)
             .orientation(cm.VizOrientation.AUTO)
             .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).fields("")
                             .values(False)))
    if description:
        panel.description(description)
    if decimals is not None:
        panel.decimals(decimals)
    return panel


def _series(unit: str, targets: list[Query], *, description: str = "",
            thresholds: db.ThresholdsConfig | None = None, line: bool = False,
            bounds: tuple[float, float] | None = None) -> timeseries.Panel:
    panel = (timeseries.Panel().unit(unit).targets(targets)
             .thresholds(thresholds or _steps((None, "green")))
             .thresholds_style(cb.GraphThresholdsStyleConfig().mode(
                 cm.GraphThresholdsStyleMode.LINE if line else cm.GraphThresholdsStyleMode.OFF))
             .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.PALETTE_CLASSIC))
             .draw_style(cm.GraphDrawStyle.LINE).line_width(1).fill_opacity(0)
             .show_points(cm.VisibilityMode.AUTO).span_nulls(False)
             .legend(cb.VizLegendOptions().display_mode(cm.LegendDisplayMode.LIST)
                     .placement(cm.LegendPlacement.BOTTOM).show_legend(True).calcs([]))
             .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.SINGLE)
                      .sort(cm.SortOrder.NONE)))
    if description:
        panel.description(description)
    if bounds is not None:
        panel.min(bounds[0]).max(bounds[1])
    return panel


def _explore(datasource: str, query: dict[str, Any]) -> str:
    """An Explore URL; ``$`` stays literal so Grafana fills in the dashboard variables."""
    left = {"datasource": datasource, "queries": [dict(query, refId="A")],
            "range": {"from": "now-1h", "to": "now"}}
    return "/explore?left=" + urllib.parse.quote(json.dumps(left, sort_keys=True,
                                                            separators=(",", ":")), safe="$")


def _board(uid: str, title: str, header: str, *, tags: list[str], since: str,
           job_matcher: str, with_namespace: bool = True) -> db.Dashboard:
    board = (db.Dashboard(title).uid(uid).description(header).tags(tags).timezone("utc")
             .readonly().tooltip(dm.DashboardCursorSync.OFF).time(since, "now").refresh("1m")
             .version(0).timepicker(db.TimePicker().refresh_intervals(REFRESH_INTERVALS))
             .annotation(db.AnnotationQuery().name("Annotations & Alerts").built_in(1)
                         .datasource(dm.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
                         .enable(True).hide(True).icon_color("rgba(0, 211, 255, 1)")
                         .type("dashboard"))
             .with_variable(db.DatasourceVariable("datasource").label("Data source")
                            .type("prometheus").hide(dm.VariableHide.DONT_HIDE))
             .with_variable(db.QueryVariable("cluster").label("Cluster").datasource(DATASOURCE)
                            .hide(dm.VariableHide.DONT_HIDE)
                            .query(f"label_values(up{{{job_matcher}}}, cluster)")
                            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
                            .sort(dm.VariableSort.ALPHABETICAL_ASC)))
    if with_namespace:
        board.with_variable(
            db.QueryVariable("namespace").label("Namespace").datasource(DATASOURCE)
            .hide(dm.VariableHide.DONT_HIDE)
            .query(f'label_values(up{{{job_matcher},cluster="$cluster"}}, namespace)')
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dm.VariableSort.ALPHABETICAL_ASC))
    return board


def _json(board: db.Dashboard) -> dict[str, Any]:
    """The built dashboard through the SDK's public encoder."""
    data: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return data


def service(spec: ServiceSpec, header: str, logs_datasource: str,
            traces_datasource: str, runbooks: str = DEFAULT_RUNBOOKS) -> dict[str, Any]:
    """One service's dashboard as Grafana dashboard JSON."""
    objectives = slos(spec)
    avail, latency = objectives[0], objectives[1]
    lay = _Layout(panel_alerts(spec), lambda alert: runbook_url(runbooks, spec, alert))
    lay.row("Overview")
    lay.add(_stat("reqps", [_t(q.requests_rate(spec))], _steps((None, "blue"))),
            "Requests/s", 6, 4)
    lay.add(_stat("percentunit", [_t(q.error_ratio(spec))],
                  _steps((None, "green"), (avail.budget, "red")), decimals=3,
                  description=f"5xx share; SLO allows {num(avail.budget * 100)}%"),
            "Error ratio", 6, 4)
    lay.add(_stat("s", [_t(q.latency_quantile(spec, 0.99))],
                  _steps((None, "green"), (spec.slos.latency.threshold_ms / 1000, "red")),
                  description=f"SLO threshold {num(spec.slos.latency.threshold_ms)} ms"),
            "p99 latency", 6, 4)
    lay.add(_stat("percentunit", [_t(q.budget_remaining(spec, avail))],
                  _steps((None, "red"), (0.25, "orange"), (0.5, "green")), decimals=1,
                  description=f"availability, {spec.slos.window_days}-day window"),
            "Error budget remaining", 6, 4)

    lay.row("Traffic")
    lay.add(_series("reqps", [_t(q.by_status_class(spec), "{{status_class}}")]),
            "Requests/s by status class", 8, 8)
    lay.add(_series("percentunit", [_t(q.error_ratio(spec), "5xx ratio")], line=True,
                    thresholds=_steps((None, "green"), (avail.budget, "red"))),
            "Error ratio", 8, 8)
    lay.add(_series("s", [
        _t(q.latency_quantile(spec, p, "http_route"), f"p{int(p * 100)} {{{{http_route}}}}",
           ref)
        for p, ref in ((0.5, "A"), (0.9, "B"), (0.99, "C"))]), "Latency by route", 8, 8)

    lay.row("SLO burn rate")
    marks = sorted(PAGE_FACTORS)
    for slo in (avail, latency):
        lay.add(_series(
            "none", [_t(q.burn_rate(spec, slo, w), w, ref)
                     for w, ref in (("5m", "A"), ("1h", "B"), ("6h", "C"))],
            description=f"1 = spending the budget exactly over {spec.slos.window_days} days;"
                        f" pages at {num(marks[1])} (1h & 5m) and {num(marks[0])} (6h & 30m)",
            line=True,
            thresholds=_steps((None, "green"), (marks[0], "orange"), (marks[1], "red"))),
            f"{slo.name.capitalize()} burn rate", 12, 8)

    lay.row("Saturation")
    lay.add(_series("short", [_t(q.cpu_usage(spec), "{{pod}}", "A"),
                              _t(q.resource(spec, "requests", "cpu"), "request", "B"),
                              _t(q.resource(spec, "limits", "cpu"), "limit", "C")]),
            "CPU against request and limit", 8, 8)
    lay.add(_series("percentunit", [_t(q.throttling(spec), "{{pod}}")]),
            "CPU throttling", 8, 8)
    lay.add(_series("bytes", [_t(q.memory(spec), "{{pod}}", "A"),
                              _t(q.resource(spec, "limits", "memory"), "limit", "B")]),
            "Memory working set against limit", 8, 8)
    lay.add(_series("short", [_t(q.restarts(spec), "restarts {{pod}}", "A"),
                              _t(q.oom_kills(spec), "OOMKilled {{pod}}", "B")]),
            "Restarts and OOM kills", 12, 8)

    lay.row("Dependencies")
    if any(d.kind == "http" for d in spec.dependencies):
        lay.add(_series("s", [_t(q.dependency_latency(spec), "{{dependency}}")]),
                "Outbound p99 latency by dependency", 8, 8)
        lay.add(_series("percentunit", [_t(q.dependency_errors(spec), "{{dependency}}")]),
                "Outbound error ratio by dependency", 8, 8)
    if spec.dependencies:
        lay.add(_series("short", [_t(q.dependency_health(spec), "{{check}}")],
                        bounds=(0, 1)), "Dependency health checks", 8, 8)

    lay.row("Canary")
    lay.add(_series("short", [_t(q.canary(spec, "probe_success"),
                                 "{{environment}} {{collection}}")], bounds=(0, 1),
                    description="probe_success of the production canary (1 passed, 0 failed),"
                                " per environment and collection"),
            "Canary: last run passed", 8, 8)
    lay.add(_series("s", [_t(q.canary(spec, "probe_duration_seconds", "max"),
                             "{{environment}} {{collection}}")]),
            "Canary: run duration", 8, 8)
    lay.add(_series("short", [
        _t(q.canary(spec, "canary_consecutive_failures", "max"),
           "{{environment}} {{collection}}", "A"),
        _t(q.canary_failed_checks(spec), "failing: {{environment}} {{check}}", "B")],
        description="CanaryFailing fires at 3", line=True,
        thresholds=_steps((None, "green"), (3, "red"))),
        "Canary: failures in a row", 8, 8)

    logs = _explore(logs_datasource, {"expr": f'{{namespace="$namespace",app="{spec.name}"}}'})
    traces = _explore(traces_datasource, {"queryType": "search", "service": spec.name})
    board = _board(f"svc-{spec.name}", f"{spec.name} service", header,
                   tags=["opsplane", f"service:{spec.name}", f"team:{spec.team}"],
                   since="now-6h", job_matcher=f'job="{spec.name}"')
    board.links([
        _link("Logs", logs, icon="doc", tooltip=f"{spec.name} logs in Explore"),
        _link("Traces", traces, icon="info", tooltip=f"{spec.name} traces in Explore"),
        _link("All services", "/d/svc-overview", icon="dashboard",
              tooltip="opsplane overview")])
    return _json(_ids(lay.into(board)))


def _ids(board: db.Dashboard) -> db.Dashboard:
    """Panel ids 1, 2, ... in layout order (rows included), as Grafana numbers them."""
    built = board.build()
    for n, panel in enumerate(built.panels or [], start=1):
        panel.id_val = n
    return board


def overview(specs: list[ServiceSpec], header: str) -> dict[str, Any]:
    """The all-services overview: one table row per service, each linking to its dashboard."""
    queries = q.overview(specs)
    lay = _Layout()
    lay.row("Services")
    services = (
        table.Panel().description("each row links to the service's dashboard")
        .targets([_t(expr, ref, ref, instant=True) for ref, expr in queries.items()])
        .transformations([
            dm.DataTransformerConfig(id_val="merge", options={}),
            dm.DataTransformerConfig(id_val="organize", options={
                "excludeByName": {"Time": True},
                "renameByName": {"job": "service", "Value #A": "requests/s",
                                 "Value #B": "error ratio", "Value #C": "p99 (s)",
                                 "Value #D": "budget left"}})])
        .thresholds(_steps((None, "green")))
        .data_links([_link("${__data.fields.service} dashboard",
                           "/d/svc-${__data.fields.service}", icon="dashboard",
                           tooltip="open the service dashboard")])
        .show_header(True).cell_height(cm.TableCellHeight.SM))
    lay.add(services, "Services", 24, 4 + 2 * len(specs))
    names = "|".join(sorted(s.name for s in specs))
    board = _board("svc-overview", "opsplane services", header, tags=["opsplane", "overview"],
                   since="now-1h", job_matcher=f'job=~"{names}"', with_namespace=False)
    board.links([_link("Service dashboards", "", icon="external link",
                       tooltip="", link_type=dm.DashboardLinkType.DASHBOARDS,
                       tags=["opsplane"], as_dropdown=True)])
    return _json(_ids(lay.into(board)))
