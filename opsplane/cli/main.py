"""``opsplane``: the umbrella command; errors leave through ``logstd._climain.run_main``.

Each command lives in its own ``_cmd_*.py`` with ``add_parser(sub)`` and ``run(args)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from logstd import _climain

COMMANDS = {
    "spec": "opsplane.cli._cmd_spec",
    "demo": "opsplane.cli._cmd_demo",
    "chart": "opsplane.cli._cmd_chart",
    "secrets": "opsplane.cli._cmd_secrets",
    "init": "opsplane.cli._cmd_init",
    "test": "opsplane.cli._cmd_test",
    "generate": "opsplane.cli._cmd_generate",
    "serve": "opsplane.cli._cmd_serve",
    "pipeline": "opsplane.cli._cmd_pipeline",
    "ticket-bridge": "opsplane.cli._cmd_ticket_bridge",
    "alerts": "opsplane.cli._cmd_alerts",
    "canary": "opsplane.cli._cmd_canary",
}


DESCRIPTION = "The operational plane for every service."


def build_parser() -> argparse.ArgumentParser:
    return _climain.build_parser("opsplane", DESCRIPTION, COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    return _climain.run_main("opsplane", DESCRIPTION, COMMANDS, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
