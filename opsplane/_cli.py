"""``opsplane``: the umbrella command. The one place where opsplane's errors leave.

Each command lives in its own ``_cmd_*.py`` with ``add_parser(sub)`` and ``run(args)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from logstd.errors import LogstdError
from opsplane.errors import OpsplaneError

COMMANDS = {
    "spec": "opsplane._cmd_spec",
    "demo": "opsplane._cmd_demo",
    "chart": "opsplane._cmd_chart",
    "secrets": "opsplane._cmd_secrets",
    "init": "opsplane._cmd_init",
    "test": "opsplane._cmd_test",
    "generate": "opsplane._cmd_generate",
    "serve": "opsplane._cmd_serve",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsplane",
                                     description="The operational plane for every service.")
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
    except (OpsplaneError, LogstdError) as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
