"""``opsplane canary``: the production canary service (or one pass of it with --once)."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """examples:
  opsplane canary                          serve ./canary.yaml's canary on :8080
  opsplane canary -c deploy/canary.yaml --port 9000
  opsplane canary --check                  validate the registry and exit
  opsplane canary --once                   run every target once, print, exit 1 on a failure
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "canary", help="run registered collections against every environment, continuously",
        description="The production canary: each target of canary.yaml runs its collections "
                    "on an interval (with jitter, a timeout, bounded concurrency); results go "
                    "to the store (SQLite, or PostgreSQL), the page (/), the JSON API "
                    "(/api/status, /api/runs), /metrics (probe_success, ...); runs start "
                    "from Slack (/slack/command) or POST /runs. SIGTERM: runs in flight "
                    "finish or are cut at --grace.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-c", "--config", metavar="FILE",
                   help="the registry: canary.yaml, or an opsplane.yaml with a canary: "
                        "section (default ./canary.yaml, else ./opsplane.yaml's)")
    p.add_argument("--check", action="store_true", help="validate the registry and exit")
    p.add_argument("--once", action="store_true",
                   help="run every target once, print the results, exit (1 if one failed)")
    p.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    p.add_argument("--host", default="0.0.0.0", help="interface (default 0.0.0.0)")
    p.add_argument("--drain-delay", type=float, metavar="S",
                   help="seconds to keep serving after SIGTERM (default 5)")
    p.add_argument("--grace", type=float, metavar="S",
                   help="seconds runs in flight get after SIGTERM before they are cut "
                        "(default 20)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os

    from opsplane.canary.registry import find_registry, load_registry

    args.config = str(find_registry(args.config))
    registry = load_registry(args.config)
    if args.check:
        print(f"{args.config}: {len(registry.targets)} targets "
              f"({', '.join(t.key for t in registry.targets) or 'none'})")
        return 0
    if args.once:
        from opsplane.canary.cli import run_once

        return run_once(registry, print)
    from opsplane.canary.cli import preflight
    from opsplane.canary.service import APP, CONFIG_ENV
    from opsplane.runtime.serve import resolve, serve

    preflight(registry)
    os.environ[CONFIG_ENV] = str(os.path.abspath(args.config))
    opts = resolve(APP, spec_path=os.devnull, port=args.port, host=args.host,
                   drain_delay=args.drain_delay, grace=args.grace)
    os.environ["OPSPLANE_GRACE"] = str(opts.grace)
    import dataclasses

    # the lifespan shutdown waits for runs in flight (up to the grace period), then cuts
    # them and writes them to the store: the hooks timeout leaves room for both
    opts = dataclasses.replace(opts, service="canary", hooks_timeout=opts.grace + 5.0)
    return serve(opts)
