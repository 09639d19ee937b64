"""``loadtest report``: one self-contained HTML page (inline SVG plots, no external URL).

Plots: requests/s and failures/s, latency percentiles (p50, p95, p99), CPU cores with the
recommended request and limit, memory with the recommended request/limit; a summary table.
A tiny inline script marks ``<body data-plots="N">`` with the number of plots the browser
actually laid out, so a headless browser can check they are visible.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from loadtest.analysis import MI, Recommendation, Run, load_run, recommend
from loadtest.errors import RefusedError
from loadtest.gcpauses import describe as describe_gc
from loadtest.leak import describe as describe_leak

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 680, 260, 64, 16, 30, 40
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd")

Series = tuple[str, str, list[float], list[float]]


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    return [round(first + i * step, 10) for i in range(n + 2) if first + i * step <= hi + 1e-9]


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 100 or v == int(v) else f"{v:.3g}"


def svg_chart(title: str, series: list[Series], hlines: list[tuple[str, str, float]],
              xlabel: str, ylabel: str, *, xrange: tuple[float, float] | None = None) -> str:
    """A line chart as an inline SVG string (deterministic)."""
    xs_all = [x for s in series for x in s[2]] or [0.0, 1.0]
    ys_all = [y for s in series for y in s[3]] + [h[2] for h in hlines] or [0.0, 1.0]
    x0, x1 = xrange or (min(xs_all), max(xs_all))
    x1 = x1 if x1 > x0 else x0 + 1
    y0, y1 = min(0.0, *ys_all), max(ys_all) * 1.08 or 1.0
    yt = _nice_ticks(y0, y1)
    y1 = max(y1, yt[-1])
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def px(x: float) -> float:
        return PAD_L + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return PAD_T + ph - (y - y0) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" role="img" aria-label="{html.escape(title)}">',
           f'<text x="{W / 2:.0f}" y="18" text-anchor="middle" font-weight="bold">'
           f'{html.escape(title)}</text>',
           f'<rect x="{PAD_L}" y="{PAD_T}" width="{pw}" height="{ph}" fill="#fafafa" '
           'stroke="#999"/>']
    for t in yt:
        out.append(f'<line x1="{PAD_L}" x2="{PAD_L + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" '
                   f'stroke="#e5e5e5"/><text x="{PAD_L - 6}" y="{py(t) + 4:.1f}" '
                   f'text-anchor="end" font-size="11">{_fmt(t)}</text>')
    for t in _nice_ticks(x0, x1):
        if t >= x0:
            out.append(f'<text x="{px(t):.1f}" y="{PAD_T + ph + 16}" text-anchor="middle" '
                       f'font-size="11">{_fmt(t)}</text>')
    out.append(f'<text x="{PAD_L + pw / 2:.0f}" y="{H - 6}" text-anchor="middle" '
               f'font-size="12">{html.escape(xlabel)}</text>')
    out.append(f'<text x="14" y="{PAD_T + ph / 2:.0f}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 14 {PAD_T + ph / 2:.0f})">{html.escape(ylabel)}</text>')
    legend_x = PAD_L + 8
    for name, color, xs, ys in series:
        if xs:
            pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys, strict=True))
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.6" '
                       f'points="{pts}"/>')
        out.append(f'<text x="{legend_x}" y="{PAD_T + 14}" font-size="11" fill="{color}">'
                   f'{html.escape(name)}</text>')
        legend_x += 9 * len(name) + 18
    for name, color, y in hlines:
        out.append(f'<line x1="{PAD_L}" x2="{PAD_L + pw}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
                   f'stroke="{color}" stroke-dasharray="6 4" stroke-width="1.4"/>'
                   f'<text x="{PAD_L + pw - 4}" y="{py(y) - 4:.1f}" text-anchor="end" '
                   f'font-size="11" fill="{color}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _history_series(run: Run, t0: float) -> dict[str, tuple[list[float], list[float]]]:
    cols = {"req/s": "Requests/s", "failures/s": "Failures/s", "p50": "50%", "p95": "95%",
            "p99": "99%", "users": "User Count"}
    out: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in cols}
    for r in run.history:
        if r.get("Name") != "Aggregated":
            continue
        for k, c in cols.items():
            try:
                x, y = float(r["Timestamp"]) - t0, float(r[c])
            except (KeyError, ValueError):
                continue
            out[k][0].append(x)
            out[k][1].append(y)
    return out


def _row(k: str, v: Any) -> str:
    return f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"


def render_report(run_dir: str | Path, **recommend_kw: Any) -> str:
    """The HTML report of one run directory."""
    run = load_run(run_dir)
    rec: Recommendation | None = None
    refused = ""
    try:
        rec = recommend(run, **recommend_kw)
    except RefusedError as e:
        refused = str(e)
    s0 = run.samples[0] if run.samples else {"time": 0.0, "elapsed_s": 0.0}
    t0 = s0["time"] - s0["elapsed_s"]
    hist = _history_series(run, t0)
    xs = [s["elapsed_s"] for s in run.samples]
    xr = (0.0, max(xs)) if xs else None
    charts = [
        svg_chart("Throughput", [("req/s", COLORS[0], *hist["req/s"]),
                                 ("failures/s", COLORS[1], *hist["failures/s"]),
                                 ("users", COLORS[4], *hist["users"])], [],
                  "seconds", "per second / users", xrange=xr),
        svg_chart("Latency percentiles", [("p50", COLORS[2], *hist["p50"]),
                                          ("p95", COLORS[3], *hist["p95"]),
                                          ("p99", COLORS[1], *hist["p99"])], [],
                  "seconds", "milliseconds", xrange=xr),
    ]
    cpu_lines: list[tuple[str, str, float]] = []
    mem_lines: list[tuple[str, str, float]] = []
    if rec is not None:
        cpu_lines.append((f"request {rec.cpu_request_m}m", COLORS[2], rec.cpu_request_m / 1000))
        if rec.cpu_limit_m is not None:
            cpu_lines.append((f"limit {rec.cpu_limit_m}m", COLORS[1], rec.cpu_limit_m / 1000))
        mem_lines.append((f"request = limit {rec.memory_mi}Mi", COLORS[1], rec.memory_mi))
    charts.append(svg_chart("CPU", [("cores", COLORS[0], xs,
                                     [s["cpu_cores"] for s in run.samples])],
                            cpu_lines, "seconds", "cores", xrange=xr))
    charts.append(svg_chart("Memory", [("memory", COLORS[0], xs,
                                        [s["memory_bytes"] / MI for s in run.samples])],
                            mem_lines, "seconds", "MiB", xrange=xr))
    m = run.meta
    rows = [_row("run", run.path.name), _row("target", m.get("target")),
            _row("profile", f"{m.get('profile')}, shape "
                            f"{m.get('shape') or 'none (constant users)'}"),
            _row("users / spawn rate / duration",
                 f"{m.get('users')} / {m.get('spawn_rate')}/s / {m.get('duration_s')} s"),
            _row("sampler", f"{m.get('sampler', {}).get('what')} every "
                            f"{m.get('sampler', {}).get('interval_s')} s"),
            _row("status", m.get("status")), _row("requests", run.requests),
            _row("failures", run.failures), _row("samples", len(run.samples))]
    if rec is not None:
        st = rec.stats
        res = rec.resources
        rows += [_row("loaded samples", st["loaded_samples"]),
                 _row("CPU cores " + ", ".join(st["cpu_cores"]),
                      ", ".join(str(v) for v in st["cpu_cores"].values())),
                 _row("memory peak", f"{st['memory_mib']['peak']} MiB"),
                 _row("recommended requests", f"cpu {res['requests']['cpu']}, "
                                              f"memory {res['requests']['memory']}"),
                 _row("recommended limits", ", ".join(f"{k} {v}"
                                                      for k, v in res["limits"].items())),
                 _row("margin", rec.margin),
                 _row("memory growth", describe_leak(st["memory_growth"]))]
        if st.get("saturation_users") is not None:
            rows.append(_row("saturation point", f"{st['saturation_users']} users"))
        if st.get("gc_pauses") is not None:
            rows.append(_row("GC pauses of the target", describe_gc(st["gc_pauses"])))
    else:
        rows.append(_row("recommendation", f"refused: {refused}"))
    title = f"Load test {run.path.name}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="generator" content="Generated by opsplane loadtest report; do not edit">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 20px; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: left; font-size: 13px; }}
th {{ background: #f0f0f0; }}
.plots {{ display: grid; grid-template-columns: repeat(2, {W}px); gap: 12px; }}
.note {{ font-size: 12px; color: #555; max-width: 1360px; }}
</style></head>
<body data-plots="0">
<h1>{html.escape(title)}</h1>
<table>
{chr(10).join(rows)}
</table>
<p class="note">CPU request = p{rec.percentile if rec else 95:g} of loaded CPU samples x margin;
CPU limit = p{rec.limit_percentile if rec else 99:g} x margin (a CPU limit caps bursts by CFS
throttling, which adds latency; leaving it out with --no-cpu-limit lets the pod burst into idle
CPU at the price of noisier neighbours); memory request = limit = peak x margin.</p>
<div class="plots">
{chr(10).join(charts)}
</div>
<script>
document.body.dataset.plots = String(Array.from(document.querySelectorAll("svg.plot"))
  .filter(function (s) {{ var r = s.getBoundingClientRect(); return r.width > 0 && r.height > 0; }})
  .length);
</script>
</body></html>
"""


def write_report(run_dir: str | Path, out: str | Path, **recommend_kw: Any) -> Path:
    text = render_report(run_dir, **recommend_kw)
    p = Path(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def screenshot(html_path: str | Path, png_path: str | Path, browser: str | None = None,
               width: int = 1440, height: int = 1100) -> Path:
    """Render the report in headless Chromium to a PNG (Debian package ``chromium``)."""
    import shutil
    import subprocess
    import tempfile

    from loadtest.errors import LoadtestError, OptionError

    exe = browser or shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise OptionError("--png needs chromium on PATH (Debian package chromium)")
    png = Path(png_path).resolve()
    with tempfile.TemporaryDirectory(prefix="loadtest-chromium-") as profile:
        proc = subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", f"--window-size={width},{height}",
             f"--screenshot={png}", Path(html_path).resolve().as_uri()],
            capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0 or not png.is_file():
        raise LoadtestError(f"chromium could not render {html_path} "
                            f"(exit {proc.returncode})")
    return png
