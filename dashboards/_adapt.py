"""The adaptation layer: grafanalib 0.7's raw JSON -> the Grafana 11.6 dashboard schema.

grafanalib still writes legacy keys (``rows``, ``style``, ``span``, string datasources,
``metric``/``step`` on targets, ``null`` everywhere). Each object kind keeps only the keys
the published schema allows, nulls are dropped, datasources become references, and the
options the 11.x panel schemas require are filled in. Pure dict -> dict.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 41
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

_DASHBOARD = frozenset({
    "uid", "title", "description", "tags", "timezone", "editable", "graphTooltip", "time",
    "timepicker", "refresh", "schemaVersion", "version", "panels", "templating", "annotations",
    "links"})
_PANEL = frozenset({
    "type", "id", "targets", "title", "description", "transparent", "datasource", "gridPos",
    "links", "repeat", "repeatDirection", "maxPerRow", "transformations", "interval",
    "timeFrom", "timeShift", "hideTimeOverride", "options", "fieldConfig"})
_ROW = frozenset({"type", "collapsed", "title", "datasource", "gridPos", "id", "panels"})
_TARGET = frozenset({
    "datasource", "editorMode", "exemplar", "expr", "format", "hide", "instant",
    "legendFormat", "range", "refId", "interval"})
_VARIABLE = frozenset({
    "type", "name", "label", "hide", "skipUrlSync", "description", "query", "datasource",
    "current", "multi", "options", "refresh", "sort", "includeAll", "allValue", "regex"})
_LINK = frozenset({"title", "type", "icon", "tooltip", "url", "tags", "asDropdown",
                   "targetBlank", "includeVars", "keepTime"})
_FIELD_DEFAULTS = frozenset({
    "displayName", "description", "unit", "decimals", "min", "max", "mappings", "thresholds",
    "color", "links", "noValue", "custom"})
_STAT_OPTIONS: dict[str, Any] = {
    "graphMode": "area", "colorMode": "value", "justifyMode": "auto", "textMode": "auto",
    "wideLayout": True, "showPercentChange": False, "percentChangeColorMode": "standard",
    "orientation": "auto", "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                             "values": False}}


def _clean(value: Any) -> Any:
    """Drop None values (and empty-string descriptions) at any depth."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _keep(obj: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k in allowed}


def _datasource(value: Any) -> dict[str, str]:
    return dict(value) if isinstance(value, dict) else dict(DATASOURCE)


def _target(t: dict[str, Any]) -> dict[str, Any]:
    out = _keep(t, _TARGET)
    out["datasource"] = _datasource(t.get("datasource"))
    out["editorMode"] = "code"
    out["range"] = not t.get("instant", False)
    if not out.get("interval"):
        out.pop("interval", None)
    return out


def _thresholds(fc: dict[str, Any]) -> None:
    """Steps as the schema wants them: numbers only. Grafana treats the first step as the
    base (-Infinity) whatever its value, so the base is written as 0 instead of null."""
    th = fc.get("thresholds")
    if not isinstance(th, dict):
        return
    steps = th.get("steps")
    if not isinstance(steps, list) or not steps:
        th["steps"] = [{"color": "green", "value": 0}]
    else:
        th["steps"] = [{"color": s["color"],
                        "value": 0 if s.get("value") in (None, "null") else s["value"]}
                       for s in steps]


def _field_config(p: dict[str, Any]) -> dict[str, Any]:
    fc = p.get("fieldConfig") or {}
    defaults = _keep(fc.get("defaults") or {}, _FIELD_DEFAULTS)
    defaults = {k: v for k, v in defaults.items() if v is not None and v != ""}
    _thresholds(defaults)
    custom = defaults.get("custom")
    if isinstance(custom, dict):
        if custom.get("stacking") == {}:
            custom["stacking"] = {"mode": "none", "group": "A"}
        custom = {k: v for k, v in custom.items() if v is not None and v != ""}
        defaults["custom"] = custom
    return {"defaults": defaults, "overrides": list(fc.get("overrides") or [])}


def _panel(p: dict[str, Any]) -> dict[str, Any]:
    if p.get("type") == "row":
        row = _keep(p, _ROW)
        row["panels"] = [_panel(x) for x in p.get("panels") or []]
        row["collapsed"] = bool(p.get("collapsed", False))
        row.pop("datasource", None)
        return row
    out = _keep(p, _PANEL)
    out["datasource"] = _datasource(p.get("datasource"))
    out["targets"] = [_target(t) for t in p.get("targets") or []]
    out["fieldConfig"] = _field_config(p)
    if not out.get("description"):
        out.pop("description", None)
    for key in ("interval", "timeFrom", "timeShift", "repeat", "repeatDirection"):
        if not out.get(key):
            out.pop(key, None)
    if p.get("type") == "stat":
        opts = dict(_STAT_OPTIONS)
        given = p.get("options") or {}
        for key in ("graphMode", "colorMode", "justifyMode", "textMode", "orientation"):
            if given.get(key):
                opts[key] = given[key]
        calcs = (given.get("reduceOptions") or {}).get("calcs")
        if calcs:
            opts["reduceOptions"] = dict(opts["reduceOptions"], calcs=list(calcs))
        out["options"] = opts
    elif p.get("type") == "timeseries":
        given = p.get("options") or {}
        legend = dict(given.get("legend") or {})
        legend.setdefault("calcs", [])
        legend["showLegend"] = True
        out["options"] = {"legend": legend,
                          "tooltip": dict(given.get("tooltip") or {"mode": "multi"})}
    elif p.get("type") == "table":
        given = p.get("options") or {}
        out["options"] = {"showHeader": bool(given.get("showHeader", True)),
                          "cellHeight": "sm"}
    return out


def _variable(v: dict[str, Any]) -> dict[str, Any]:
    out = _keep(v, _VARIABLE)
    if v.get("type") != "datasource":
        out["datasource"] = _datasource(v.get("datasource"))
    else:
        out.pop("datasource", None)
    current = v.get("current") or {}
    if current.get("text") is None or current.get("value") is None:
        out.pop("current", None)
    else:
        out["current"] = {"selected": bool(current.get("selected")),
                          "text": current["text"], "value": current["value"]}
    if not out.get("regex"):
        out.pop("regex", None)
    if not out.get("label"):
        out.pop("label", None)
    return out


def adapt(raw: dict[str, Any]) -> dict[str, Any]:
    """grafanalib ``Dashboard.to_json_data()`` (already JSON-encoded and decoded) -> 11.6."""
    d = _clean(raw)
    out = _keep(d, _DASHBOARD)
    out["schemaVersion"] = SCHEMA_VERSION
    out["panels"] = [_panel(p) for p in d.get("panels") or []]
    out["templating"] = {"list": [_variable(v) for v in d.get("templating", {}).get("list", [])]}
    out["annotations"] = {"list": [{
        "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts", "type": "dashboard"}]}
    out["links"] = [_keep(link, _LINK) for link in d.get("links") or []]
    tp = d.get("timepicker") or {}
    out["timepicker"] = {"refresh_intervals": list(tp.get("refresh_intervals") or [])}
    out["editable"] = False
    return out
