"""``loadtest``: run, recommend-limits, report, worker; errors leave through
``logstd._climain.run_main``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from logstd import _climain

COMMANDS: dict[str, str] = {
    "run": "loadtest._cmd_run",
    "recommend-limits": "loadtest._cmd_recommend_limits",
    "report": "loadtest._cmd_report",
    "worker": "loadtest._cmd_worker",
}


DESCRIPTION = "Load tests that recommend resource limits."


def build_parser() -> argparse.ArgumentParser:
    return _climain.build_parser("loadtest", DESCRIPTION, COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    return _climain.run_main("loadtest", DESCRIPTION, COMMANDS, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
