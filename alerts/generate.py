"""Alert rules, their unit tests and the Alertmanager routing tree: pure functions -> dicts.

Rules follow the Google SRE workbook's multi-window multi-burn-rate alerts over recorded
SLIs, plus symptom alerts from the standard Prometheus / cAdvisor / kube-state-metrics
series. Severities: ``page`` (pager, and on to chat), ``ticket`` (ticketing, and on to chat),
``chat``. Credentials appear only as file paths (Alertmanager's ``*_file`` fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opsplane.errors import SpecError
from opsplane.spec.alertmap import DEFAULT_RUNBOOKS, runbook_url
from opsplane.spec.org import Endpoints
from opsplane.spec.service import SecretRef, ServiceSpec
from opsplane.spec.slo import (
    BURN_ALERTS,
    SLO,
    WINDOWS,
    job,
    metric,
    num,
    recorded,
    sli_error_ratio,
    slos,
)

#: where the chart mounts Secrets into Alertmanager (prometheus-operator convention)
SECRETS_DIR = "/etc/alertmanager/secrets"


@dataclass(frozen=True)
class Links:
    """Where alerts point people: Grafana and the runbooks."""

    grafana_url: str = "http://localhost:3000"
    runbook_url: str = DEFAULT_RUNBOOKS


def _labels(spec: ServiceSpec, severity: str, **extra: str) -> dict[str, str]:
    return {"severity": severity, "service": spec.name, "team": spec.team, **extra}


def _annotations(spec: ServiceSpec, alert: str, summary: str, description: str,
                 links: Links) -> dict[str, str]:
    return {
        "summary": summary,
        "description": description,
        "runbook_url": runbook_url(links.runbook_url, spec, alert),
        "dashboard_url": f"{links.grafana_url.rstrip('/')}/d/svc-{spec.name}",
    }


def recording_rules(spec: ServiceSpec) -> list[dict[str, Any]]:
    """One recorded error ratio per SLO and window (5m ... 3d)."""
    out: list[dict[str, Any]] = []
    for slo in slos(spec):
        for window in WINDOWS:
            labels = {"service": spec.name, "slo": slo.name}
            out.append({"record": f"slo:sli_error:ratio_rate{window}",
                        "expr": sli_error_ratio(spec, slo, window), "labels": labels})
    return out


def burn_expr(spec: ServiceSpec, slo: SLO, severity: str) -> str:
    parts = []
    for b in BURN_ALERTS:
        if b.severity != severity:
            continue
        limit = f"({num(b.factor)} * {num(slo.budget)})"
        parts.append(f"({recorded(slo, b.long, spec.name)} > {limit} and "
                     f"{recorded(slo, b.short, spec.name)} > {limit})")
    return " or ".join(parts)


def slo_alerts(spec: ServiceSpec, links: Links) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for slo in slos(spec):
        what = ("5xx responses" if slo.le is None else
                f"requests slower than {num(float(slo.le) * 1000)} ms"
                + (f" on {slo.route}" if slo.route else ""))
        for severity, pace in (("page", "fast"), ("ticket", "slow")):
            windows = " / ".join(f"{b.long}&{b.short} > {num(b.factor)}x"
                                 for b in BURN_ALERTS if b.severity == severity)
            out.append({
                "alert": "ErrorBudgetBurn",
                "expr": burn_expr(spec, slo, severity),
                "labels": _labels(spec, severity, slo=slo.name),
                "annotations": _annotations(
                    spec, "ErrorBudgetBurn",
                    f"{spec.name}: {slo.name} error budget burning {pace}",
                    f"{what} exceed the {num(slo.objective)}% objective ({windows}); "
                    f"the {spec.slos.window_days}-day budget runs out early at this rate.",
                    links),
            })
    return out


def symptom_alerts(spec: ServiceSpec, links: Links) -> list[dict[str, Any]]:
    up = metric(spec, "up")
    k = f'container="{spec.name}"'
    ready = metric(spec, "kube_pod_status_ready")
    waiting = metric(spec, "kube_pod_container_status_waiting_reason")
    mem = metric(spec, "container_memory_working_set_bytes")
    limits = metric(spec, "kube_pod_container_resource_limits")
    thr = metric(spec, "container_cpu_cfs_throttled_periods_total")
    per = metric(spec, "container_cpu_cfs_periods_total")
    by = "namespace,pod,container"
    rules = [
        ("ServiceDown", "page", "2m",
         f"max({up}{{{job(spec)}}}) == 0 or absent({up}{{{job(spec)}}})",
         f"{spec.name}: no instance is up", "Prometheus cannot scrape any instance."),
        ("ReadinessFailing", "ticket", "5m",
         f'sum by (namespace,pod) ({ready}{{pod=~"{spec.name}-.*",condition="false"}}) > 0',
         f"{spec.name}: a pod fails its readiness check",
         "A pod has been out of the load balancer for 5 minutes; see /healthz/readiness."),
        ("CrashLooping", "ticket", "5m",
         f'max by ({by}) ({waiting}{{{k},reason="CrashLoopBackOff"}}) > 0',
         f"{spec.name}: a container is crash looping",
         "A container keeps restarting (CrashLoopBackOff)."),
        ("MemoryNearLimit", "ticket", "15m",
         f"max by ({by}) ({mem}{{{k}}}) / "
         f'max by ({by}) ({limits}{{{k},resource="memory"}}) > 0.9',
         f"{spec.name}: memory above 90% of its limit",
         "The working set has been above 90% of the memory limit for 15 minutes; "
         "an OOM kill is near."),
        ("CPUThrottled", "ticket", "15m",
         f"sum by ({by}) (rate({thr}{{{k}}}[5m])) / "
         f"sum by ({by}) (rate({per}{{{k}}}[5m])) > 0.25",
         f"{spec.name}: CPU throttled",
         "More than 25% of CPU periods throttled for 15 minutes; raise the CPU limit."),
    ]
    if spec.dependencies:
        names = "|".join(sorted(d.name for d in spec.dependencies))
        health = metric(spec, "healthcheck_status")
        rules.append((
            "DependencyUnhealthy", "chat", "5m",
            f'min by (check) ({health}{{{job(spec)},check=~"({names})(:.*)?"}}) == 0',
            f"{spec.name}: a dependency fails its health check",
            "A dependency health check has failed for 5 minutes; readiness fails too when "
            "the dependency is critical."))
    return [{
        "alert": name, "expr": expr, "for": for_,
        "labels": _labels(spec, severity),
        "annotations": _annotations(spec, name, summary, desc, links),
    } for name, severity, for_, expr, summary, desc in rules]


#: the canary alerts on this many failed runs in a row, never on one blip
CANARY_FAILURES = 3
_PROD = "prod|production"


def canary_alerts(spec: ServiceSpec, links: Links) -> list[dict[str, Any]]:
    """CanaryFailing: the production canary (``opsplane canary``) failed the service's
    collection ``CANARY_FAILURES`` runs in a row; pages for production, tickets elsewhere."""
    streak = metric(spec, "canary_consecutive_failures")
    out = []
    for severity, match in (("page", f'=~"{_PROD}"'), ("ticket", f'!~"{_PROD}"')):
        out.append({
            "alert": "CanaryFailing",
            "expr": f"max by (environment, collection) ({streak}{{service=\"{spec.name}\","
                    f"environment{match}}}) >= {CANARY_FAILURES}",
            "labels": _labels(spec, severity),
            "annotations": _annotations(
                spec, "CanaryFailing",
                f"{spec.name}: canary failing in {{{{ $labels.environment }}}}",
                f"The canary's {{{{ $labels.collection }}}} collection failed "
                f"{{{{ $value }}}} runs in a row against {spec.name} in "
                "{{ $labels.environment }} (or cannot be read); each failure is on the "
                "canary page.", links),
        })
    return out


def rules(spec: ServiceSpec, links: Links = Links()) -> dict[str, Any]:
    """The Prometheus rule file of one service (``groups:``)."""
    return {"groups": [
        {"name": f"opsplane-{spec.name}-sli",
         "rules": recording_rules(spec)},
        {"name": f"opsplane-{spec.name}-alerts",
         "rules": slo_alerts(spec, links) + symptom_alerts(spec, links)
         + canary_alerts(spec, links)},
    ]}


def prometheus_rule(spec: ServiceSpec, links: Links = Links(),
                    namespace: str | None = None) -> dict[str, Any]:
    """The same rules as a prometheus-operator PrometheusRule resource (for the chart)."""
    meta: dict[str, Any] = {
        "name": f"{spec.name}-opsplane",
        "labels": {"app.kubernetes.io/name": spec.name,
                   "app.kubernetes.io/managed-by": "opsplane", "team": spec.team}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": meta, "spec": rules(spec, links)}


# -- promtool unit tests -----------------------------------------------------------------

def _series(spec: ServiceSpec, *, ok: str, bad: str, fast: str, up: str = "1x240",
            k8s: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Synthetic input: request counters per minute, one route per SLO route."""
    base = metric(spec, "http_server_request_duration_seconds")
    out: list[dict[str, str]] = [{"series": f'{metric(spec, "up")}{{{job(spec)}}}',
                                  "values": up}]
    routes = ["/", *sorted(spec.slos.routes)]
    les = sorted({s.le for s in slos(spec) if s.le is not None}, key=float)
    for route in routes:
        common = f'{job(spec)},http_route="{route}",http_request_method="GET"'
        out.append({"series": f'{base}_count{{{common},http_response_status_code="200"}}',
                    "values": ok})
        out.append({"series": f'{base}_count{{{common},http_response_status_code="500"}}',
                    "values": bad})
        for le in les:
            out.append({"series": f'{base}_bucket{{{common},le="{le}"}}', "values": fast})
    for series, values in sorted((k8s or {}).items()):
        out.append({"series": series, "values": values})
    for i, dep in enumerate(sorted(d.name for d in spec.dependencies)):
        # when the service is down (the symptoms case) its first dependency fails too
        failing = up == "0x240" and i == 0
        out.append({"series": f'{metric(spec, "healthcheck_status")}'
                              f'{{{job(spec)},check="{dep}:ping"}}',
                    "values": "0x240" if failing else "1x240"})
    return out


def _expected(spec: ServiceSpec, links: Links, name: str, severity: str,
              extra: dict[str, str] | None = None) -> dict[str, Any]:
    """The alert promtool must see: the rule's labels plus the series' own, its annotations."""
    slo = (extra or {}).get("slo")
    for rule in slo_alerts(spec, links) + symptom_alerts(spec, links):
        if (rule["alert"] == name and rule["labels"]["severity"] == severity
                and rule["labels"].get("slo") == slo):
            return {"exp_labels": {**rule["labels"], **(extra or {})},
                    "exp_annotations": rule["annotations"]}
    raise KeyError(f"no rule {name} ({severity}, {slo})")  # pragma: no cover - generator bug


def rule_tests(spec: ServiceSpec, rule_file: str, links: Links = Links()) -> dict[str, Any]:
    """A ``promtool test rules`` file: each alert fires on a synthetic outage and stays
    silent on a healthy series."""
    objectives = slos(spec)
    names = sorted({r["alert"] for r in slo_alerts(spec, links) + symptom_alerts(spec, links)})
    rate = 100  # requests per minute and route
    healthy = _series(spec, ok=f"0+{rate}x240", bad="0+0x240", fast=f"0+{rate}x240",
                      k8s=_k8s(spec, healthy=True))
    tests: list[dict[str, Any]] = [{
        "name": "healthy: nothing fires",
        "interval": "1m", "input_series": healthy,
        "alert_rule_test": [{"eval_time": "3h", "alertname": n, "exp_alerts": []}
                            for n in names],
    }]
    # availability outage: every request fails -> every availability SLO pages and tickets
    outage = _series(spec, ok="0+0x240", bad=f"0+{rate}x240", fast=f"0+{rate}x240")
    avail = [s for s in objectives if s.le is None]
    tests.append({
        "name": "availability outage: page and ticket",
        "interval": "1m", "input_series": outage,
        "alert_rule_test": [{"eval_time": "30m", "alertname": "ErrorBudgetBurn",
                             "exp_alerts": sorted(
                                 (_expected(spec, links, "ErrorBudgetBurn", sev,
                                            {"slo": s.name})
                                  for s in avail for sev in ("page", "ticket")),
                                 key=_key)}],
    })
    # latency outage: requests succeed but every one is slow -> every latency SLO fires
    slow = _series(spec, ok=f"0+{rate}x240", bad="0+0x240", fast="0+0x240")
    lat = [s for s in objectives if s.le is not None]
    tests.append({
        "name": "latency outage: page and ticket",
        "interval": "1m", "input_series": slow,
        "alert_rule_test": [{"eval_time": "30m", "alertname": "ErrorBudgetBurn",
                             "exp_alerts": sorted(
                                 (_expected(spec, links, "ErrorBudgetBurn", sev,
                                            {"slo": s.name})
                                  for s in lat for sev in ("page", "ticket")),
                                 key=_key)}],
    })
    # symptoms: scrape fails, pod unready, crash loop, memory and CPU at the limit
    sick = _series(spec, ok=f"0+{rate}x240", bad="0+0x240", fast=f"0+{rate}x240",
                   up="0x240", k8s=_k8s(spec, healthy=False))
    pod = f"{spec.name}-0"
    where = {"namespace": "default", "pod": pod, "container": spec.name}
    symptom = {
        "ServiceDown": {},
        "ReadinessFailing": {"namespace": "default", "pod": pod},
        "CrashLooping": where, "MemoryNearLimit": where, "CPUThrottled": where,
    }
    if spec.dependencies:
        first = sorted(d.name for d in spec.dependencies)[0]
        symptom["DependencyUnhealthy"] = {"check": f"{first}:ping"}
    sev = {r["alert"]: r["labels"]["severity"] for r in symptom_alerts(spec, links)}
    tests.append({
        "name": "symptoms: each fires",
        "interval": "1m", "input_series": sick,
        "alert_rule_test": [{"eval_time": "1h", "alertname": n,
                             "exp_alerts": [_expected(spec, links, n, sev[n], extra)]}
                            for n, extra in symptom.items()],
    })
    tests.append(_canary_test(spec, links))
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}


def _canary_test(spec: ServiceSpec, links: Links) -> dict[str, Any]:
    """One failed canary run is silent; CANARY_FAILURES in a row page (prod) or ticket."""
    streak = metric(spec, "canary_consecutive_failures")
    values = "0 1 0 1 2 3 4 5 6 7"  # a blip at 1m, then failures from 3m on

    def series(env: str) -> dict[str, str]:
        return {"series": f'{streak}{{service="{spec.name}",environment="{env}",'
                          'collection="smoke"}', "values": values}

    def expected(severity: str, env: str, value: int) -> dict[str, Any]:
        rule = next(r for r in canary_alerts(spec, links) if r["labels"]["severity"] == severity)
        notes = {k: v.replace("{{ $labels.environment }}", env)
                 .replace("{{ $labels.collection }}", "smoke").replace("{{ $value }}", str(value))
                 for k, v in rule["annotations"].items()}
        return {"exp_labels": {**rule["labels"], "environment": env, "collection": "smoke"},
                "exp_annotations": notes}

    return {
        "name": "canary: one failed run is silent, three in a row fire",
        "interval": "1m", "input_series": [series("prod"), series("staging")],
        "alert_rule_test": [
            {"eval_time": "1m", "alertname": "CanaryFailing", "exp_alerts": []},
            {"eval_time": "5m", "alertname": "CanaryFailing",
             "exp_alerts": [expected("page", "prod", 3), expected("ticket", "staging", 3)]},
        ],
    }


def _key(item: dict[str, Any]) -> str:
    return repr(sorted(item["exp_labels"].items()))


def _k8s(spec: ServiceSpec, *, healthy: bool) -> dict[str, str]:
    pod = f'namespace="default",pod="{spec.name}-0"'
    c = f'{pod},container="{spec.name}"'
    mib = 1024 * 1024
    return {
        f'{metric(spec, "kube_pod_status_ready")}{{{pod},condition="false"}}':
            "0x240" if healthy else "1x240",
        f'{metric(spec, "kube_pod_container_status_waiting_reason")}'
        f'{{{c},reason="CrashLoopBackOff"}}': "0x240" if healthy else "1x240",
        f'{metric(spec, "container_memory_working_set_bytes")}{{{c}}}':
            f"{100 * mib}x240" if healthy else f"{250 * mib}x240",
        f'{metric(spec, "kube_pod_container_resource_limits")}{{{c},resource="memory"}}':
            f"{256 * mib}x240",
        f'{metric(spec, "container_cpu_cfs_periods_total")}{{{c}}}': "0+600x240",
        f'{metric(spec, "container_cpu_cfs_throttled_periods_total")}{{{c}}}':
            "0+0x240" if healthy else "0+300x240",
    }


# -- Alertmanager ----------------------------------------------------------------------

def secret_path(ref: SecretRef | None, default: str, field: str) -> str:
    """The mounted file holding a credential; Alertmanager cannot read env variables."""
    if ref is None:
        return default
    if ref.file:
        return ref.file
    if ref.secret:
        return f"{SECRETS_DIR}/{ref.secret}/{ref.key or 'value'}"
    raise SpecError(f"{field}: Alertmanager reads credentials from files; reference a file "
                    f"or a Kubernetes secret instead of env {ref.env}")


def _version(v: str) -> tuple[int, int]:
    try:
        major, minor = v.split(".")[:2]
        return int(major), int(minor)
    except ValueError as e:
        raise SpecError(f"--alertmanager-version: {v!r} is not a version like 0.27") from e


def ticket_url_for(base: str, version: str) -> str:
    """The ticket receiver's URL for an endpoints file's ``ticket`` base URL: Jira's base
    itself for ``jira_configs`` (>= 0.28), else the ticket bridge's ``/alerts`` path."""
    return base if _version(version) >= (0, 28) else f"{base.rstrip('/')}/alerts"


def alertmanager(specs: Sequence[ServiceSpec], *, version: str = "0.25",
                 ticket_url: str = "http://ticket-bridge.monitoring.svc:9095/alerts",
                 sources: Sequence[str] | None = None,
                 endpoints: Endpoints | None = None) -> dict[str, Any]:
    """The Alertmanager configuration: a routing tree by service and severity.

    ``version`` picks the fields the target Alertmanager understands: webhook ``url_file``
    from 0.26, ``jira_configs`` from 0.28; before 0.26 the ticket webhook posts to
    ``ticket_url`` and authenticates with the referenced credential file.
    ``endpoints`` (an environment's endpoints file) replaces the vendors' public URLs:
    PagerDuty's Events API base, and a chat API URL posted to with the referenced token
    (instead of an incoming-webhook URL read from a file).
    """
    am = _version(version)
    ends = endpoints or Endpoints()
    receivers: list[dict[str, Any]] = [{"name": "opsplane-default"}]
    routes: list[dict[str, Any]] = []
    srcs = sources or [f"{s.name}/service.yaml" for s in specs]
    for spec, src in sorted(zip(specs, srcs, strict=True), key=lambda p: p[0].name):
        a = spec.alerting
        default_dir = f"{SECRETS_DIR}/opsplane-{spec.name}"
        sub: list[dict[str, Any]] = []
        if a.pager:
            path = secret_path(a.pager.routing_key, f"{default_dir}/pagerduty-routing-key",
                               f"{src}: alerting.pager.routing_key")
            url = {"url": f"{ends.pager}/v2/enqueue"} if ends.pager else {}
            receivers.append({"name": f"{spec.name}-pager", "pagerduty_configs": [{
                "routing_key_file": path, **url, "send_resolved": True,
                "description": '{{ .CommonAnnotations.summary }}',
                "details": {"alertname": "{{ .CommonLabels.alertname }}",
                            "severity": "{{ .CommonLabels.severity }}",
                            "service": spec.name, "pagerduty_service": a.pager.service,
                            "runbook": "{{ .CommonAnnotations.runbook_url }}",
                            "dashboard": "{{ .CommonAnnotations.dashboard_url }}"}}]})
            sub.append({"receiver": f"{spec.name}-pager",
                        "matchers": ['severity="page"'], "continue": True,
                        "group_wait": "10s", "repeat_interval": "1h"})
        if a.ticket:
            path = secret_path(a.ticket.webhook, f"{default_dir}/ticket-webhook",
                               f"{src}: alerting.ticket.webhook")
            receivers.append({"name": f"{spec.name}-ticket", **_ticket(
                am, path, a.ticket.project, ticket_url)})
            sub.append({"receiver": f"{spec.name}-ticket",
                        "matchers": ['severity="ticket"'], "continue": True,
                        "repeat_interval": "24h"})
        if a.chat:
            path = secret_path(a.chat.webhook, f"{default_dir}/slack-webhook",
                               f"{src}: alerting.chat.webhook")
            api: dict[str, Any] = {"api_url_file": path} if not ends.chat else {
                "api_url": ends.chat,
                "http_config": {"authorization": {"type": "Bearer", "credentials_file": path}}}
            receivers.append({"name": f"{spec.name}-chat", "slack_configs": [{
                **api, "channel": a.chat.channel, "send_resolved": True,
                "title": "[{{ .Status | toUpper }}] [{{ .CommonLabels.severity }}] "
                         "{{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}",
                "text": "{{ .CommonAnnotations.description }}\n"
                        "runbook: {{ .CommonAnnotations.runbook_url }}\n"
                        "dashboard: {{ .CommonAnnotations.dashboard_url }}"}]})
            sub.append({"receiver": f"{spec.name}-chat",
                        "matchers": ['severity=~"page|ticket|chat"']})
        if sub:
            routes.append({"receiver": sub[-1]["receiver"],
                           "matchers": [f'service="{spec.name}"'], "routes": sub})
    return {
        "route": {"receiver": "opsplane-default",
                  "group_by": ["alertname", "service", "slo", "severity"],
                  "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h",
                  "routes": routes},
        "inhibit_rules": [{
            "source_matchers": ['severity="page"'], "target_matchers": ['severity="ticket"'],
            "equal": ["alertname", "service", "slo"]}],
        "receivers": receivers,
    }


def _ticket(am: tuple[int, int], path: str, project: str, ticket_url: str) -> dict[str, Any]:
    if am >= (0, 28):
        return {"jira_configs": [{
            "api_url": ticket_url, "project": project, "issue_type": "Bug",
            "summary": '{{ .CommonAnnotations.summary }}',
            "description": "{{ .CommonAnnotations.description }}",
            "labels": ["opsplane", "{{ .CommonLabels.service }}"],
            "http_config": {"authorization": {"type": "Bearer", "credentials_file": path}},
            "send_resolved": True}]}
    if am >= (0, 26):
        return {"webhook_configs": [{"url_file": path, "send_resolved": True}]}
    return {"webhook_configs": [{
        "url": f"{ticket_url.rstrip('/')}/{project}", "send_resolved": True,
        "http_config": {"authorization": {"type": "Bearer", "credentials_file": path}}}]}
