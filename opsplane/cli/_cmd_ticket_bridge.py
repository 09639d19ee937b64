"""``opsplane ticket-bridge``: Alertmanager webhooks to Jira or GitHub Issues tickets."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """\
examples:
  opsplane ticket-bridge --system jira --url https://example.atlassian.net \\
      --token-file /etc/ticket-bridge/jira-token            # email:api-token or a PAT
  opsplane ticket-bridge --system github --url https://api.github.com --repo org/alerts \\
      --token-file /etc/ticket-bridge/github-token --port 9095
Alertmanager posts to http://HOST:PORT/alerts/PROJECT (opsplane generate alerts does it).
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "ticket-bridge", help="serve the ticket bridge (one ticket per alert group)",
        description="Receive Alertmanager webhooks and keep one ticket per alert group in "
                    "Jira or GitHub Issues: created when it fires, commented on repeats, "
                    "resolved when it resolves. Served like any service (health, metrics, "
                    "logs, graceful shutdown); settings may also come from TICKET_* "
                    "variables, tokens only from files.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--system", choices=("jira", "github"), help="ticket system (TICKET_SYSTEM)")
    p.add_argument("--url", help="Jira base URL or GitHub API URL (TICKET_URL)")
    p.add_argument("--repo", metavar="OWNER/NAME", help="GitHub repository (TICKET_REPO)")
    p.add_argument("--jira-api", choices=("2", "3"), help="Jira REST API version (default 2)")
    p.add_argument("--token-file", metavar="FILE", help="file holding the ticket system's token")
    p.add_argument("--webhook-token-file", metavar="FILE",
                   help="file holding the bearer token Alertmanager must send")
    p.add_argument("--port", type=int, default=9095, help="TCP port (default: %(default)s)")
    p.add_argument("--host", default="0.0.0.0", help="interface (default: %(default)s)")
    p.add_argument("--grace", type=float, default=20.0, metavar="S",
                   help="seconds in-flight webhooks get on SIGTERM (default: %(default)s)")
    p.add_argument("--drain-delay", type=float, default=5.0, metavar="S",
                   help="seconds to keep serving after SIGTERM (default: %(default)s)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from opsplane.errors import UsageError
    from opsplane.runtime.serve import ServeOptions, serve

    env = {"TICKET_SYSTEM": args.system, "TICKET_URL": args.url, "TICKET_REPO": args.repo,
           "TICKET_JIRA_API": args.jira_api, "TICKET_TOKEN_FILE": args.token_file,
           "TICKET_WEBHOOK_TOKEN_FILE": args.webhook_token_file}
    for flag, path in (("--token-file", args.token_file),
                       ("--webhook-token-file", args.webhook_token_file)):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{flag} {path}: no such file")
    system = args.system or os.environ.get("TICKET_SYSTEM", "jira")
    if system == "github" and not (args.repo or os.environ.get("TICKET_REPO")):
        raise UsageError("--system github needs --repo OWNER/NAME")
    os.environ.update({k: v for k, v in env.items() if v is not None})
    return serve(ServeOptions(app="alerts.bridge:app", host=args.host, port=args.port,
                              drain_delay=args.drain_delay, grace=args.grace,
                              service="ticket-bridge"))
