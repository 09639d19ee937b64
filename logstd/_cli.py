"""``logstd``: its commands; errors leave through ``logstd._climain.run_main``.

Each command lives in its own ``_cmd_*.py`` module with ``add_parser(sub)`` and
``run(args) -> int``; heavy imports stay inside ``run``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from logstd import _climain

# command name -> module; order is the order of `logstd --help`
COMMANDS = {
    "keys": "logstd._cmd_keys",
    "pretty": "logstd._cmd_pretty",
    "lint": "logstd._cmd_lint",
    "query": "logstd._cmd_query",
}


DESCRIPTION = ("The logging standard's tools: one key dictionary, JSON in the cluster, "
               "readable everywhere.")


def _global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dictionary", action="append", metavar="FILE",
                        help="overlay dictionary file (repeatable; default: LOGSTD_DICTIONARY "
                        "or [tool.logstd] dictionary)")


def build_parser() -> argparse.ArgumentParser:
    return _climain.build_parser("logstd", DESCRIPTION, COMMANDS, setup=_global_options)


def main(argv: Sequence[str] | None = None) -> int:
    return _climain.run_main("logstd", DESCRIPTION, COMMANDS, argv,
                             setup=_global_options, valued_options=("--dictionary",))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
