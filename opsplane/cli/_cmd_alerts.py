"""``opsplane alerts drill service.yaml``: the alerts delivered end to end on loopback."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  opsplane alerts drill examples/orders/service.yaml
  opsplane alerts drill service.yaml --org ../platform/opsplane.yaml --ticket-system github
Exit 0 when page, ticket and chat were each delivered in the right shape and resolved.
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser("alerts", help="alert tools: the end-to-end delivery drill")
    asub = p.add_subparsers(dest="alerts_command", metavar="WHAT", required=True)
    d = asub.add_parser(
        "drill", help="drive the service into errors and latency; check every delivery",
        description="Run the service (opsplane serve), a real Prometheus with the generated "
                    "rules (windows compressed), a real Alertmanager with the generated "
                    "routes, the ticket bridge and local Slack, PagerDuty and Jira/GitHub "
                    "stand-ins; inject errors and latency, then recover. Prints one row per "
                    "delivery and the time from the first failing request to the page.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("spec", metavar="service.yaml")
    d.add_argument("--org", metavar="FILE",
                   help="organisation file (default: ./opsplane.yaml when present)")
    d.add_argument("--ticket-system", choices=("jira", "github"), default="jira",
                   help="ticket stand-in behind the bridge (default: %(default)s)")
    d.add_argument("--path", default="/", help="request path of the drill's traffic "
                                               "(default: %(default)s)")
    d.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="give up after S seconds (default: %(default)s)")
    d.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from alerts.drill import run_drill

    result = run_drill(args.spec, org=args.org, ticket_system=args.ticket_system,
                       path=args.path, timeout=args.timeout)
    return 0 if result.ok else 1
