"""Where each alert is seen and explained: its dashboard panel and its runbook page.

One table read by both generators, so an alert's runbook names the panel that shows it and
that panel links back to the alert's runbook (``dashboards`` and ``alerts`` never import
each other). ``tests/test_alerts_runbooks.py`` holds the table to the generated rules and
dashboards: every alert has a panel that exists, every panel link reaches a runbook.
"""

from __future__ import annotations

from opsplane.spec.service import ServiceSpec

#: the runbooks' base URL unless ``--runbook-url`` says otherwise
DEFAULT_RUNBOOKS = "https://runbooks.example.com/opsplane"

#: alert -> (dashboard row, panel title); ErrorBudgetBurn's panel depends on its SLO
PANELS: dict[str, tuple[str, str]] = {
    "ServiceDown": ("Traffic", "Requests/s by status class"),
    "ReadinessFailing": ("Dependencies", "Dependency health checks"),
    "CrashLooping": ("Saturation", "Restarts and OOM kills"),
    "MemoryNearLimit": ("Saturation", "Memory working set against limit"),
    "CPUThrottled": ("Saturation", "CPU throttling"),
    "DependencyUnhealthy": ("Dependencies", "Dependency health checks"),
    "CanaryFailing": ("Canary", "Canary: failures in a row"),
}


def panel_of(spec: ServiceSpec, alert: str, slo: str | None = None) -> tuple[str, str]:
    """(row, panel title) of the service dashboard that shows ``alert``."""
    if alert == "ErrorBudgetBurn":
        if slo == "availability":
            return "SLO burn rate", "Availability burn rate"
        if slo == "latency":
            return "SLO burn rate", "Latency burn rate"
        return "Traffic", "Latency by route"
    if alert == "ReadinessFailing" and not spec.dependencies:
        return "Traffic", "Error ratio"
    return PANELS[alert]


def runbook_url(base: str, spec: ServiceSpec, alert: str) -> str:
    """The runbook page of one alert of one service (``runbooks/<service>/<alert>.md``)."""
    return f"{base.rstrip('/')}/{spec.name}/{alert.lower()}"


def runbook_file(spec: ServiceSpec, alert: str) -> str:
    return f"runbooks/{spec.name}/{alert.lower()}.md"


def panel_alerts(spec: ServiceSpec) -> dict[str, list[str]]:
    """panel title -> the alerts it shows (sorted), for the service's alerts."""
    out: dict[str, set[str]] = {}
    slos = ["availability", "latency", *(f"latency:{r}" for r in spec.slos.routes)]
    for slo in slos:
        out.setdefault(panel_of(spec, "ErrorBudgetBurn", slo)[1], set()).add("ErrorBudgetBurn")
    for alert in PANELS:
        if alert == "DependencyUnhealthy" and not spec.dependencies:
            continue
        out.setdefault(panel_of(spec, alert)[1], set()).add(alert)
    return {panel: sorted(alerts) for panel, alerts in out.items()}
