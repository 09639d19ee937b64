"""``opsplane secrets scan [PATH...]``: fail CI on a secret in a chart, values or the repo."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("secrets", help="find secrets committed to charts, values and source")
    ssub = p.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    scan = ssub.add_parser("scan", help="scan files and folders; exit 1 when a secret is found")
    scan.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    scan.set_defaults(run=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    from opsplane.secretscan import scan

    skipped: list[str] = []
    findings = scan(args.paths, skipped=skipped)
    for f in findings:
        print(f)
    if skipped:  # said, never silently passed over
        shown = ", ".join(skipped[:3]) + (f" and {len(skipped) - 3} more" if len(skipped) > 3
                                          else "")
        print(f"note: {len(skipped)} file(s) not scanned: {shown}", file=sys.stderr)
    print(f"{len(findings)} secret(s) found" if findings else "no secrets found",
          file=sys.stderr)
    return 1 if findings else 0
