"""``opsplane``: the umbrella command; errors leave through ``logstd._climain.run_main``.

Each command lives in its own ``_cmd_*.py`` with ``add_parser(sub)`` and ``run(args)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from logstd import _climain

COMMANDS = {
    "spec": "opsplane._cmd_spec",
    "demo": "opsplane._cmd_demo",
    "chart": "opsplane._cmd_chart",
    "secrets": "opsplane._cmd_secrets",
    "init": "opsplane._cmd_init",
    "test": "opsplane._cmd_test",
    "generate": "opsplane._cmd_generate",
    "serve": "opsplane._cmd_serve",
    "pipeline": "opsplane._cmd_pipeline",
    "ticket-bridge": "opsplane._cmd_ticket_bridge",
    "alerts": "opsplane._cmd_alerts",
    "canary": "opsplane._cmd_canary",
}


DESCRIPTION = "The operational plane for every service."


def build_parser() -> argparse.ArgumentParser:
    return _climain.build_parser("opsplane", DESCRIPTION, COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    return _climain.run_main("opsplane", DESCRIPTION, COMMANDS, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
