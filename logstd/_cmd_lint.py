"""``logstd lint``: check captured logs and Python source against the key dictionary."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    from logstd._lint_output import FORMATS

    p = sub.add_parser(
        "lint", help="check logs (JSON lines, kubectl output) and Python source against the "
        "dictionary", description="Check captured logs and Python source against the key "
        "dictionary. *.py files are read as source (never imported), other files as logs; "
        "'-' reads logs from stdin. Exit 0 clean, 1 findings, 2 usage or configuration error.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="output format (default: text; LOGSTD_LINT_FORMAT)")
    p.add_argument("--select", type=_codes, metavar="CODES",
                   help="comma-separated rule codes or prefixes to run (LS1, LS203, ALL)")
    p.add_argument("--ignore", type=_codes, metavar="CODES", help="rule codes to skip")
    p.add_argument("--print-rule", dest="print_rule", action="store_true", default=None,
                   help="report print() calls (LS204; the default)")
    p.add_argument("--no-print-rule", dest="print_rule", action="store_false",
                   help="allow print() calls")
    p.add_argument("--group", action="store_true",
                   help="text: one line per rule and key (per message where there is no key) "
                   "at its first finding, with how many more there are")
    p.add_argument("--statistics", action="store_true",
                   help="print counts by rule and the most frequent offending keys instead")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="processes for a big log file (default 0: every core for a log of "
                   "8 MB or more, else one); the output is the same")
    p.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    p.set_defaults(run=run)


def _codes(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def run(args: argparse.Namespace) -> int:
    import os

    from logstd._lint_rules import list_rules
    from logstd.errors import ConfigError

    if args.list_rules:
        sys.stdout.write(list_rules() + "\n")
        return 0
    from logstd._config import lint_settings, load_configured_dictionary
    from logstd._lint import lint_to, statistics
    from logstd._lint_output import FORMATS
    from logstd.errors import UsageError

    fmt = args.format or os.environ.get("LOGSTD_LINT_FORMAT") or "text"
    if fmt not in FORMATS:
        raise ConfigError(f"LOGSTD_LINT_FORMAT: unknown format {fmt!r} "
                          f"(one of {', '.join(FORMATS)})")
    if args.jobs < 0:
        raise UsageError(f"--jobs {args.jobs}: expected 0 (auto) or a positive number")
    if args.group and fmt != "text":
        raise UsageError(f"--group writes text: it does not combine with --format {fmt}")
    settings = lint_settings(select=args.select, ignore=args.ignore, print_rule=args.print_rule)
    dictionary = load_configured_dictionary(args.dictionary)
    out = sys.stdout.buffer
    if args.statistics:
        stats = statistics(args.paths or ["."], dictionary, settings, jobs=args.jobs)
        out.write((stats.render() + "\n").encode())
        n = stats.total
    else:
        n = lint_to(args.paths or ["."], dictionary, fmt, out, settings=settings,
                    jobs=args.jobs, group=args.group)
    out.flush()
    if n and fmt == "text" and not args.statistics:
        sys.stderr.write(f"{n} finding{'s' if n != 1 else ''}\n")
    return 1 if n else 0
