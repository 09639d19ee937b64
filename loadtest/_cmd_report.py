"""``loadtest report``: a self-contained HTML report of a run (optionally a PNG of it)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="self-contained HTML report with plots")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("-o", "--output", default="report.html", metavar="FILE")
    p.add_argument("--png", metavar="FILE", help="also render it to a PNG (needs chromium)")
    p.add_argument("--margin", type=float, default=1.5)
    p.add_argument("--min-samples", type=int, default=40)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from loadtest.report import screenshot, write_report

    out = write_report(args.run_dir, args.output, margin=args.margin,
                       min_samples=args.min_samples)
    print(out)
    if args.png:
        print(screenshot(out, args.png))
    return 0
