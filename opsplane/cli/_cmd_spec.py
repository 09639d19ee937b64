"""``opsplane spec check | schema``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("spec", help="validate service.yaml or print its JSON Schema")
    ssub = p.add_subparsers(dest="spec_command", metavar="ACTION", required=True)
    check = ssub.add_parser("check", help="validate one or more service.yaml files")
    check.add_argument("files", nargs="+", metavar="service.yaml")
    check.set_defaults(run=run_check)
    schema = ssub.add_parser("schema", help="print the JSON Schema of service.yaml")
    schema.set_defaults(run=run_schema)


def run_check(args: argparse.Namespace) -> int:
    from opsplane.spec.service import load_spec

    for f in args.files:
        spec = load_spec(f)
        print(f"{f}: ok ({spec.name}, team {spec.team}, {len(spec.dependencies)} dependencies)")
    return 0


def run_schema(args: argparse.Namespace) -> int:
    from opsplane.spec.service import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
    return 0
