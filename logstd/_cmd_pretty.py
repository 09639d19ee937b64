"""``logstd pretty``: any service's JSON logs, readable at once.

    kubectl logs -f deploy/orders | logstd pretty
"""

from __future__ import annotations

import argparse
import os
import sys

from logstd.errors import LogstdError, UsageError

# typing is not imported at run time (start-up of the streaming CLIs)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EPILOG = """\
examples:
  kubectl logs -f deploy/orders | logstd pretty
  kubectl logs --prefix --timestamps -l app=orders | logstd pretty --level warn
  logstd pretty app.log --where customerId=C-1001 --since 15m
  logstd pretty --follow app.log --hide logger,pid
  logstd pretty app.log --output json --where httpStatus~=^5 | jq .
  logstd pretty app.log --show-secrets       # passwords, tokens... shown, not masked

Any producer's JSON is read: logstd, zap, logrus, pino, bunyan, structlog,
python-json-logger, logstash-logback, Elastic ECS, Google Cloud, OpenTelemetry.
Lines that are not JSON pass through unchanged (dimmed); with --level, --where,
--since or --until they are left out. Key names may be given in any spelling the
dictionary knows (cust_id finds customerId). Values of keys the dictionary marks
sensitive (password, token, apiKey, ... in any spelling, at any depth) show as
[REDACTED] unless --show-secrets.
"""


class InputError(LogstdError):
    """An input file could not be read (the others were shown): bad input, exit 2."""

    exit_code = 2


def _csv(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or ():
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "pretty", help="make JSON logs readable (stdin or files; any producer's format)",
        description="Render JSON log lines as one readable line per record: time, level, "
        "source, message, then key=value.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="log files (default: stdin; - is stdin)")
    p.add_argument("-l", "--level", metavar="LEVEL",
                   help="minimum level: trace, debug, info, warn, error, fatal")
    p.add_argument("-w", "--where", action="append", default=[], metavar="KEY=VALUE",
                   help="keep records whose KEY equals VALUE (also KEY!=VALUE, KEY~=REGEX); "
                   "repeatable, all must hold")
    p.add_argument("--since", metavar="TIME",
                   help="records at or after TIME: RFC 3339 or a duration ago (30s, 15m, 2h, 1d)")
    p.add_argument("--until", metavar="TIME", help="records at or before TIME (same forms)")
    p.add_argument("-k", "--keys", action="append", metavar="KEY[,KEY]",
                   help="show only these keys after the message (repeatable)")
    p.add_argument("--hide", action="append", metavar="KEY[,KEY]",
                   help="do not show these keys (repeatable)")
    p.add_argument("--local-time", action="store_true",
                   help="show times in the local time zone (default UTC)")
    p.add_argument("--color", "--colour", choices=("auto", "always", "never"), default="auto",
                   help="colours (auto: on a terminal unless NO_COLOR; FORCE_COLOR forces)")
    p.add_argument("-o", "--output", choices=("short", "long", "compact", "json"),
                   default="short",
                   help="short (default): time of day, short trace ids; long: full times and "
                   "ids, every key; compact: one line per record; json: the kept records "
                   "as JSON")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep reading files as they grow (like tail -f)")
    p.add_argument("--show-secrets", action="store_true",
                   help="show the values of keys the dictionary marks sensitive (masked as "
                   "[REDACTED] by default, in any spelling and at any depth)")
    p.add_argument("-j", "--jobs", type=int, default=0, metavar="N",
                   help="processes for big files and backed-up pipes (default: every core "
                   "when it pays; 1: one process)")
    p.set_defaults(run=run)


def build(args: argparse.Namespace, stream: Any = None) -> Any:
    """The Pretty formatter the options describe (UsageError on a bad option value)."""
    from logstd._config import load_configured_dictionary
    from logstd._pretty import Pretty, parse_when
    from logstd._render import want_color

    try:
        since = parse_when(args.since) if args.since else None
        until = parse_when(args.until) if args.until else None
    except ValueError as e:
        raise UsageError(f"--since/--until: {e}") from None
    dictionary = load_configured_dictionary(args.dictionary)
    try:
        return Pretty(
            dictionary,
            color=want_color(stream if stream is not None else sys.stdout, args.color),
            output=args.output, level=args.level, where=args.where, since=since,
            until=until, keys=_csv(args.keys) or None, hide=_csv(args.hide),
            local_time=args.local_time, show_secrets=getattr(args, "show_secrets", False))
    except ValueError as e:
        raise UsageError(str(e)) from None


def _unreadable(path: str) -> str:
    """Why ``path`` could not be read, in a few words."""
    import errno

    try:
        if os.path.isdir(path):
            return "is a directory"
        os.close(os.open(path, os.O_RDONLY))
    except OSError as e:
        if e.errno == errno.ENOENT:
            return "no such file"
        if e.errno == errno.ELOOP:
            return "too many levels of symbolic links"
        if e.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        return (e.strerror or str(e)).lower()
    return "not a readable file"


def run(args: argparse.Namespace) -> int:
    import gc

    from logstd._pretty_io import pretty_stream

    if args.jobs < 0:
        raise UsageError(f"--jobs {args.jobs}: expected 0 (auto) or a positive number")
    if args.follow and not [f for f in args.files if f != "-"]:
        args.follow = False  # stdin is followed anyway
    pretty = build(args)
    # the hot loop makes no reference cycles: the collector would only cost time
    gc.freeze()
    gc.disable()
    out = sys.stdout.buffer
    sys.stdout.flush()
    failed = pretty_stream(pretty, args.files or ["-"], out, jobs=args.jobs,
                           follow=args.follow)
    if failed:
        reasons = []
        for path in failed:
            reasons.append(f"{path}: {_unreadable(path)}")
        raise InputError("cannot read " + "; ".join(reasons))
    return 0
