"""Static HTML previews of generated dashboards, drawn from a live Prometheus.

For a laptop, a CI job or a review without Grafana: each dashboard becomes one HTML page
laid out on Grafana's 24-column grid; time-series panels are PNG plots (matplotlib) of their
queries over the chosen range, stat panels show their number, tables their rows. Images are
embedded (data URIs) so the page is a single file.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsplane.errors import OpsplaneError, UsageError

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_COLORS = frozenset({"red", "orange", "green", "blue", "yellow"})
_LABEL_VALUES = re.compile(r"^label_values\((.*), *(\w+)\)$")


def parse_duration(text: str, what: str = "--range") -> int:
    m = _DURATION.match(text)
    if not m or int(m.group(1)) == 0:
        raise UsageError(f"{what}: {text!r} is not a duration like 30m, 1h or 2d")
    return int(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class Prometheus:
    """The few HTTP API calls a preview needs."""

    url: str
    timeout: float = 10.0
    errors: list[str] = field(default_factory=list)

    def _get(self, path: str, params: Mapping[str, str | list[str]]) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        url = f"{self.url.rstrip('/')}{path}?{query}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as r:
                return json.loads(r.read())["data"]
        except urllib.error.HTTPError as e:
            try:
                detail = json.loads(e.read()).get("error", str(e))
            except ValueError:
                detail = str(e)
            raise OpsplaneError(f"{self.url}: query failed: {detail}") from e
        except (OSError, ValueError) as e:
            raise OpsplaneError(f"--prometheus {self.url}: cannot reach: {e}") from e

    def instant(self, expr: str, at: float) -> list[dict[str, Any]]:
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        return list(data["result"])

    def range(self, expr: str, start: float, end: float, step: int) -> list[dict[str, Any]]:
        data = self._get("/api/v1/query_range", {"query": expr, "start": f"{start:.3f}",
                                                 "end": f"{end:.3f}", "step": str(step)})
        return list(data["result"])

    def label_values(self, selector: str, label: str) -> list[str]:
        data = self._get(f"/api/v1/label/{label}/values", {"match[]": [selector]})
        return sorted(str(v) for v in data)


def _substitute(expr: str, variables: Mapping[str, str]) -> str:
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(f"${name}", variables[name]).replace(f"${{{name}}}", variables[name])
    return expr


def resolve_variables(board: dict[str, Any], prom: Prometheus,
                      given: Mapping[str, str]) -> dict[str, str]:
    """Dashboard variables: given values first, else the first value Prometheus knows."""
    out: dict[str, str] = {}
    for var in board.get("templating", {}).get("list", []):
        name = var["name"]
        if name in given:
            out[name] = given[name]
            continue
        m = _LABEL_VALUES.match(str(var.get("query", "")))
        if var.get("type") == "query" and m:
            values = prom.label_values(_substitute(m.group(1), out), m.group(2))
            out[name] = values[0] if values else ""
    return out


def _legend(fmt: str, labels: Mapping[str, str]) -> str:
    text = re.sub(r"\{\{ *(\w+) *\}\}", lambda m: labels.get(m.group(1), ""), fmt or "")
    return text or ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"


def _fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "NaN"
    if unit == "percentunit":
        return f"{value * 100:.3g}%"
    if unit == "s":
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
    if unit == "bytes":
        return f"{value / 2**20:.3g} MiB"
    if unit == "reqps":
        return f"{value:.3g} req/s"
    return f"{value:.3g}"


def _plot(series: list[tuple[str, list[float], list[float]]],
          thresholds: list[tuple[float, str]], end: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.6), dpi=80)
    try:
        for label, xs, ys in series:
            ax.plot([(x - end) / 60 for x in xs], ys, label=label, linewidth=1.2,
                    marker="." if len(xs) < 20 else None)
        for value, color in thresholds:
            ax.axhline(value, linestyle="--", linewidth=0.8,
                       color=color if color in _COLORS else "tab:red")
        if not series:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("minutes before end")
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _panel_html(panel: dict[str, Any], prom: Prometheus, variables: Mapping[str, str], *,
                start: float, end: float, step: int) -> str:
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    title = html.escape(panel.get("title", ""))
    kind = panel["type"]
    try:
        if kind == "stat":
            value = math.nan
            for t in panel.get("targets", []):
                res = prom.instant(_substitute(t["expr"], variables), end)
                if res:
                    value = float(res[0]["value"][1])
            body = f'<div class="stat">{html.escape(_fmt(value, unit))}</div>'
        elif kind == "table":
            rows: dict[str, dict[str, str]] = {}
            cols: list[str] = []
            for t in panel.get("targets", []):
                cols.append(t["refId"])
                for r in prom.instant(_substitute(t["expr"], variables), end):
                    key = r["metric"].get("job", "")
                    rows.setdefault(key, {})[t["refId"]] = f"{float(r['value'][1]):.4g}"
            head = "".join(f"<th>{html.escape(c)}</th>" for c in ["service", *cols])
            body_rows = "".join(
                f'<tr><td><a href="svc-{html.escape(k)}.html">{html.escape(k)}</a></td>'
                + "".join(f"<td>{html.escape(v.get(c, ''))}</td>" for c in cols) + "</tr>"
                for k, v in sorted(rows.items()))
            body = f'<table class="grid"><tr>{head}</tr>{body_rows}</table>'
        else:
            series = []
            for t in panel.get("targets", []):
                for r in prom.range(_substitute(t["expr"], variables), start, end, step):
                    xs = [float(p[0]) for p in r["values"]]
                    ys = [float(p[1]) for p in r["values"]]
                    series.append((_legend(t.get("legendFormat", ""), r["metric"]), xs, ys))
            steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {})
            marks = [(float(s["value"]), str(s["color"])) for s in steps.get("steps", [])[1:]]
            style = panel["fieldConfig"]["defaults"].get("custom", {}).get("thresholdsStyle", {})
            png = _plot(series, marks if style.get("mode") == "line" else [], end)
            body = f'<img alt="{title}" src="data:image/png;base64,{png}">'
    except OpsplaneError as e:
        prom.errors.append(f"{panel.get('title')}: {e}")
        body = f'<div class="error">{html.escape(str(e))}</div>'
    g = panel["gridPos"]
    place = f"grid-column:{g['x'] + 1}/span {g['w']};grid-row:{g['y'] + 1}/span {g['h']}"
    return (f'<section class="panel {kind}" data-panel-id="{panel["id"]}" style="{place}">'
            f"<h3>{title}</h3>{body}</section>")


_CSS = """body{font-family:sans-serif;background:#111217;color:#ccccdc;margin:16px}
a{color:#6e9fff}.dash{display:grid;grid-template-columns:repeat(24,1fr);
grid-auto-rows:34px;gap:6px}.panel{background:#181b1f;border:1px solid #2c3235;
overflow:hidden;padding:4px}.panel h3{font-size:13px;margin:0 0 4px}.panel img{width:100%;
height:calc(100% - 24px);object-fit:contain}.row{border-bottom:1px solid #444;
font-weight:bold;padding-top:8px}.stat{font-size:32px;text-align:center;padding-top:12px}
.error{color:#f55;font-size:12px}table.grid{border-collapse:collapse;width:100%}
table.grid td,table.grid th{border:1px solid #333;padding:2px 6px}"""


def render_page(board: dict[str, Any], prom: Prometheus, *, range_seconds: int = 3600,
                end: float | None = None, variables: Mapping[str, str] | None = None) -> str:
    """One dashboard as a self-contained HTML page."""
    end = time.time() if end is None else end
    start = end - range_seconds
    step = max(1, range_seconds // 120)
    given = dict(variables or {})
    given.setdefault("__rate_interval", f"{max(60, 4 * step)}s")
    resolved = resolve_variables(board, prom, given)
    resolved.setdefault("__rate_interval", given["__rate_interval"])
    parts = []
    for panel in board.get("panels", []):
        if panel["type"] == "row":
            g = panel["gridPos"]
            parts.append(f'<div class="row" style="grid-column:1/span 24;grid-row:{g["y"] + 1}">'
                         f'{html.escape(panel.get("title", ""))}</div>')
            inner = panel.get("panels", [])
        else:
            inner = [panel]
        parts.extend(_panel_html(p, prom, resolved, start=start, end=end, step=step)
                     for p in inner)
    links = "".join(f'<a href="{html.escape(link.get("url", ""))}">{html.escape(link["title"])}'
                    "</a> " for link in board.get("links", []) if link.get("url"))
    shown = ", ".join(f"{k}={v}" for k, v in sorted(resolved.items()))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(board.get('title', ''))}</title><style>{_CSS}</style>"
            f"</head><body><h1>{html.escape(board.get('title', ''))}</h1>"
            f"<p>{html.escape(board.get('description', ''))}<br>"
            f"last {range_seconds // 60} min from {html.escape(prom.url)}; "
            f"{html.escape(shown)}</p><p>{links}</p>"
            f'<main class="dash">{"".join(parts)}</main></body></html>\n')


def render_previews(boards: Mapping[str, dict[str, Any]], prometheus: str, *,
                    range_seconds: int = 3600, variables: Mapping[str, str] | None = None,
                    end: float | None = None) -> tuple[dict[str, str], list[str]]:
    """``preview/<uid>.html`` for every dashboard, and the panel errors met on the way."""
    prom = Prometheus(prometheus)
    prom.label_values("up", "job")  # fail fast, one clear line, when Prometheus is not there
    files = {f"preview/{uid}.html": render_page(b, prom, range_seconds=range_seconds,
                                                end=end, variables=variables)
             for uid, b in sorted(boards.items())}
    return files, prom.errors


def write_previews(boards: Mapping[str, dict[str, Any]], prometheus: str, outdir: str | Path,
                   **options: Any) -> tuple[list[Path], list[str]]:
    from opsplane.atomic import write_files

    files, errors = render_previews(boards, prometheus, **options)
    return write_files(outdir, files), errors
