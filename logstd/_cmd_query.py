"""``logstd query``: a query for your log backend from the dictionary, or run it locally."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    from logstd._query import BACKENDS

    p = sub.add_parser(
        "query", help="build a LogQL/Elasticsearch/Splunk/CloudWatch/Cloud Logging/SQL query",
        description="Build a query from the dictionary: a named template (customer, trace, "
        "errors, slow, error-rate, latency) and/or filters key=value, key!=value, key>N, "
        "key~regex (combined with and). Notes on running it go to stderr.")
    p.add_argument("terms", nargs="*", metavar="TEMPLATE|FILTER",
                   help="e.g. `customer C-1001`, `slow ms=500`, `httpStatus>=500 service=orders`")
    p.add_argument("--to", choices=BACKENDS, default="logql", help="backend (default: logql)")
    p.add_argument("--service", help="only records of this service")
    p.add_argument("--since", metavar="DURATION", help="only the last 30s, 15m, 1h, 2d, 1w")
    p.add_argument("--limit", type=int, default=1000, help="most records to return (1000)")
    p.add_argument("--templates", action="append", metavar="FILE",
                   help="overlay template file (repeatable; LOGSTD_QUERY_TEMPLATES)")
    p.add_argument("--list", action="store_true", help="list the templates and exit")
    p.add_argument("--run", nargs="+", metavar="FILE", dest="run_files",
                   help="run the SQL form with DuckDB over JSON-lines, kubectl or CRI (kubelet) "
                        "log files; - reads stdin")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="output of --run (default: table)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from logstd._config import load_configured_dictionary
    from logstd._query import build_query, load_templates, render, run_sql, template_paths

    templates = load_templates(template_paths(args.templates))
    if args.list:
        width = max(len(n) for n in templates)
        for name, t in templates.items():
            sys.stdout.write(f"{name:<{width}}  {t.description}\n")
        return 0
    terms = list(args.terms)
    template = terms.pop(0) if terms and _is_name(terms[0]) else None
    d = load_configured_dictionary(args.dictionary)
    q = build_query(d, template, terms, service=args.service, since=args.since,
                    limit=args.limit, templates=templates)
    if args.run_files:
        names, rows = run_sql(q, d, args.run_files)
        sys.stdout.write(format_rows(names, rows, args.format))
        return 0
    out = render(q, args.to, d)
    sys.stdout.write(out.text + "\n")
    for note in out.notes:
        sys.stderr.write(f"# {note}\n")
    return 0


def _is_name(term: str) -> bool:
    return not any(c in term for c in "=<>~!")


def format_rows(names: list[str], rows: list[tuple[Any, ...]], fmt: str) -> str:
    """Rows as an aligned table, CSV or a JSON array of objects."""
    if fmt == "json":
        import orjson

        return orjson.dumps([dict(zip(names, r, strict=True)) for r in rows],
                            option=orjson.OPT_INDENT_2, default=str).decode() + "\n"
    cells = [[_cell(v) for v in r] for r in rows]
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(names)
        w.writerows(cells)
        return buf.getvalue()
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e15 else repr(v)
    return str(v)
