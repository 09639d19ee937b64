"""``logstd keys``: the dictionary as a table, a reference page, a JSON Schema or constants."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from logstd.errors import UsageError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("keys", help="show the key dictionary (table, markdown, JSON Schema)",
                       description="Show the key dictionary, base plus overlays.")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--markdown", action="store_true",
                     help="the reference page (docs/log-keys.md)")
    out.add_argument("--json-schema", action="store_true", help="a JSON Schema for one log record")
    out.add_argument("--python", action="store_true", help="key-name constants (logstd/keys.py)")
    p.add_argument("show", nargs="*", metavar="show KEY",
                   help="`show customerId`: everything about one key (any spelling)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from logstd import _docs
    from logstd._config import load_configured_dictionary

    d = load_configured_dictionary(args.dictionary)
    if args.show:
        if args.show[0] != "show" or len(args.show) < 2:
            raise UsageError("usage: logstd keys show KEY [KEY...]")
        parts = []
        for name in args.show[1:]:
            spec = d.get(name)
            if spec is None:
                guesses = d.suggest(name)
                hint = f"; did you mean {', '.join(guesses)}?" if guesses else ""
                raise UsageError(f"unknown key {name!r}{hint}")
            parts.append(_docs.show(spec))
        text = "\n\n".join(parts)
    elif args.markdown:
        text = _docs.markdown(d)
    elif args.json_schema:
        import json

        text = json.dumps(_docs.json_schema(d), indent=2, ensure_ascii=False)
    elif args.python:
        text = _docs.python_constants(d).rstrip("\n")
    else:
        text = _docs.table(d)
    sys.stdout.write(text + "\n")
    return 0
