"""``opsplane demo [--fast] [--out DIR]``."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="show the whole operational plane on the reference service",
        description="Start the payments stub and the orders service on loopback, show their "
                    "logs live, smoke-test, load-test and size them, generate dashboards, "
                    "alerts and chart values, lint and query the logs, query Prometheus (when "
                    "installed) and shut down gracefully; every process is stopped at the end, "
                    "also on Ctrl-C.")
    p.add_argument("--fast", action="store_true",
                   help="the shortest run (a few seconds of load): for tests and a quick look")
    p.add_argument("--out", default="out", metavar="DIR",
                   help="where artifacts and captured logs go (default: out)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from opsplane.cli.demo import run as demo

    demo(args.out, fast=args.fast)
    return 0
