"""``loadtest``: run, recommend-limits, report, worker."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from opsplane.errors import OpsplaneError

COMMANDS: dict[str, str] = {
    "run": "loadtest._cmd_run",
    "recommend-limits": "loadtest._cmd_recommend_limits",
    "report": "loadtest._cmd_report",
    "worker": "loadtest._cmd_worker",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loadtest",
                                     description="Load tests that recommend resource limits.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args))
    except OpsplaneError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
