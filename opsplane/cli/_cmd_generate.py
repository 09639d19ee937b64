"""``opsplane generate dashboards|alerts service.yaml... -o out/``."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("generate", help="generate dashboards or alerts from service.yaml files")
    gsub = p.add_subparsers(dest="generate_command", metavar="WHAT", required=True)

    d = gsub.add_parser("dashboards", help="Grafana dashboards, provisioning and a ConfigMap")
    d.add_argument("files", nargs="+", metavar="service.yaml")
    d.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    d.add_argument("--preview", action="store_true",
                   help="also render each dashboard as static HTML (preview/<uid>.html) "
                        "from a live Prometheus, for review without Grafana")
    d.add_argument("--prometheus", metavar="URL", help="Prometheus queried by --preview")
    d.add_argument("--range", default="1h", help="time range of the preview (default 1h)")
    d.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                   help="a dashboard variable for the preview (default: first known value)")
    d.add_argument("--runbook-url", default="https://runbooks.example.com/opsplane",
                   help="base URL of the runbooks the panels link to (as for alerts)")
    d.set_defaults(run=run_dashboards)

    a = gsub.add_parser("alerts", help="Prometheus rules (+ tests, PrometheusRule) and "
                                       "the Alertmanager routing tree")
    a.add_argument("files", nargs="+", metavar="service.yaml")
    a.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    a.add_argument("--grafana-url", default="http://localhost:3000",
                   help="base URL of Grafana for dashboard_url annotations")
    a.add_argument("--runbook-url", default="https://runbooks.example.com/opsplane",
                   help="base URL of the runbooks (runbooks/SERVICE/ALERT.md, generated "
                        "beside the rules, published there)")
    a.add_argument("--alertmanager-version", default="0.25", metavar="X.Y",
                   help="target Alertmanager: 0.26 adds webhook url_file, 0.28 jira_configs")
    a.add_argument("--ticket-url", default="http://ticket-bridge.monitoring.svc:9095/alerts",
                   help="ticketing endpoint (Alertmanager < 0.26) or Jira API URL (>= 0.28)")
    a.add_argument("--org", metavar="FILE",
                   help="organisation file with team defaults and endpoints "
                        "(default: ./opsplane.yaml when present)")
    a.add_argument("--endpoints", metavar="FILE",
                   help="YAML mapping chat, ticket and pager to base URLs (local, staging); "
                        "replaces the vendors' endpoints and the org file's")
    a.set_defaults(run=run_alerts)


def _specs(files: list[str]) -> list[Any]:
    from opsplane.spec.service import load_spec

    return [load_spec(f) for f in files]


def run_dashboards(args: argparse.Namespace) -> int:
    import sys

    from dashboards import write_dashboards
    from opsplane.errors import UsageError

    if args.preview and not args.prometheus:
        raise UsageError("--preview needs --prometheus URL")
    variables = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--var {item!r}: expected NAME=VALUE")
        variables[name] = value
    specs = _specs(args.files)
    for path in write_dashboards(specs, args.output, sources=args.files,
                                 runbook_url=args.runbook_url):
        print(path)
    if not args.preview:
        return 0
    from dashboards.generate import dashboards_of
    from dashboards.preview import parse_duration, write_previews

    written, errors = write_previews(dashboards_of(specs), args.prometheus, args.output,
                                     range_seconds=parse_duration(args.range),
                                     variables=variables)
    for path in written:
        print(path)
    for err in errors:
        print(f"panel error: {err}", file=sys.stderr)
    return 1 if errors else 0


def run_alerts(args: argparse.Namespace) -> int:
    from alerts import Links, write_alerts
    from alerts.generate import ticket_url_for
    from opsplane.spec.org import apply_org, find_org, load_endpoints

    org = find_org(args.org)
    specs = [apply_org(s, org) for s in _specs(args.files)]
    ends = load_endpoints(args.endpoints) if args.endpoints else (
        org.endpoints if org is not None else None)
    ticket_url = args.ticket_url
    if ends is not None and ends.ticket:
        ticket_url = ticket_url_for(ends.ticket, args.alertmanager_version)
    written = write_alerts(specs, args.output, sources=args.files,
                           links=Links(args.grafana_url, args.runbook_url),
                           alertmanager_version=args.alertmanager_version,
                           ticket_url=ticket_url, endpoints=ends)
    for path in written:
        print(path)
    return 0
