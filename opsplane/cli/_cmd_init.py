"""``opsplane init NAME``: a new service from the standard."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("init", help="scaffold a new service folder from the standard")
    p.add_argument("name", help="service name (a DNS label, e.g. invoices)")
    p.add_argument("--team", default="platform", help="owning team (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default: %(default)s)")
    p.add_argument("--dir", help="folder to create (default: ./NAME); must not exist")
    p.add_argument("--org", metavar="FILE",
                   help="organisation file whose team defaults fill alerting: "
                        "(default: ./opsplane.yaml when present)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from opsplane.generate.scaffold import init_service
    from opsplane.spec.org import find_org, team_alerting

    alerting = team_alerting(find_org(args.org), args.team)
    created = init_service(args.name, args.dir or args.name, team=args.team, port=args.port,
                           alerting=alerting)
    for path in created:
        print(path)
    print(f"created {len(created)} files; next: cd {args.dir or args.name} && opsplane spec check "
          "service.yaml", file=sys.stderr)
    return 0
