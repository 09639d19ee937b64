"""``logstd``: the one place where logstd's errors leave the program.

Each command lives in its own ``_cmd_*.py`` module with ``add_parser(sub)`` and
``run(args) -> int``; heavy imports stay inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from logstd.errors import LogstdError

# command name -> module; order is the order of `logstd --help`
COMMANDS = {
    "keys": "logstd._cmd_keys",
    "pretty": "logstd._cmd_pretty",
    "lint": "logstd._cmd_lint",
    "query": "logstd._cmd_query",
}


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named in argv (skipping the global options), or None."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--dictionary":
            skip = True
        elif not arg.startswith("-"):
            return arg if arg in COMMANDS else None
        elif arg in ("-h", "--help"):
            return None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's (start-up: one module imported)."""
    parser = argparse.ArgumentParser(
        prog="logstd", description="The logging standard's tools: one key dictionary, "
        "JSON in the cluster, readable everywhere.")
    parser.add_argument("--dictionary", action="append", metavar="FILE",
                        help="overlay dictionary file (repeatable; default: LOGSTD_DICTIONARY "
                        "or [tool.logstd] dictionary)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(_command_of(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args))
    except LogstdError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        # `| head`: the reader left; end quietly without a flush error at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
