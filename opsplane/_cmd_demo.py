"""``opsplane demo``."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="show the whole operational plane on the reference service")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from opsplane.demo import run as demo

    return demo()
