"""``opsplane test``: run a collection against an environment (the smoke/integration runner)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "test", help="run a black-box test collection against an environment",
        description="Wait until the service is ready, run test.<name>.yaml against "
                    "env.<name>.yaml, print one line per request; exit 1 on any failure.")
    p.add_argument("-t", "--collection", metavar="NAME",
                   help="collection: NAME for test.NAME.yaml in --dir, or a file path")
    p.add_argument("-e", "--env", metavar="NAME",
                   help="environment: NAME for env.NAME.yaml in --dir, or a file path")
    p.add_argument("--base-url", metavar="URL", help="no environment file: just this base URL")
    p.add_argument("--dir", default=".", help="folder holding test.*.yaml and env.*.yaml "
                                               "(default: current directory)")
    p.add_argument("-n", "--iterations", type=int, default=1, metavar="N",
                   help="repeat the whole collection N times (default 1)")
    p.add_argument("-c", "--concurrency", type=int, default=1, metavar="C",
                   help="run up to C iterations at once (default 1)")
    p.add_argument("--tags", action="append", default=[], metavar="TAG[,TAG]",
                   help="only requests carrying one of these tags (e.g. smoke)")
    p.add_argument("--wait", default="60s", metavar="DURATION",
                   help="wait up to this long for readiness to answer 200 (default 60s; 0: "
                        "do not wait)")
    p.add_argument("--report", choices=("junit", "html", "json"), help="also write a report")
    p.add_argument("--out", metavar="FILE",
                   help="report file (default test-report.{xml,html,json}; - for stdout)")
    p.add_argument("--bail", action="store_true", help="stop at the first failure")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print failures and the summary only")
    p.add_argument("--schema", action="store_true",
                   help="print the JSON Schema of the collection format and exit")
    p.add_argument("--from-postman", metavar="COLLECTION.json",
                   help="import a Postman v2.1 collection as test.<-t>.yaml (and its "
                        "--postman-env as env.<-e>.yaml) in --dir, then exit")
    p.add_argument("--postman-env", metavar="ENVIRONMENT.json",
                   help="with --from-postman: the Postman environment to import")
    p.add_argument("--force", action="store_true", help="with --from-postman: overwrite files")
    p.set_defaults(run=run)


def run_import(args: argparse.Namespace) -> int:
    from opsplane.errors import UsageError
    from opsplane.testing.blackbox.postman import import_postman

    if not args.collection:
        raise UsageError("test --from-postman: name the new collection with -t NAME")
    written, notes = import_postman(args.from_postman, args.postman_env, name=args.collection,
                                    folder=args.dir, env_name=args.env, force=args.force)
    for path in written:
        print(f"wrote {path}")
    for note in notes:
        print(f"note: {note}")
    return 0


def run(args: argparse.Namespace) -> int:
    from opsplane.errors import UsageError
    from opsplane.testing.blackbox import (
        load_collection,
        load_environment,
        render_report,
        write_report,
    )
    from opsplane.testing.blackbox import runner as runner_mod
    from opsplane.testing.blackbox._files import parse_duration, resolve
    from opsplane.testing.blackbox.collection import json_schema
    from opsplane.testing.blackbox.environment import ad_hoc
    from opsplane.testing.blackbox.errors import NotReadyError
    from opsplane.testing.blackbox.reports import EXTENSIONS, result_lines, text_report

    if args.schema:
        sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
        return 0
    if args.from_postman:
        return run_import(args)
    if args.postman_env:
        raise UsageError("test: --postman-env goes with --from-postman")
    if not args.collection:
        raise UsageError("test: give a collection with -t NAME (test.NAME.yaml)")
    if bool(args.env) == bool(args.base_url):
        raise UsageError("test: give an environment with -e NAME (env.NAME.yaml) or --base-url")
    if args.iterations < 1 or args.concurrency < 1:
        raise UsageError("test: -n and -c must be at least 1")
    if args.out and not args.report:
        raise UsageError("test: --out needs --report junit|html|json")
    wait_s = parse_duration(args.wait)
    tags = [t for group in args.tags for t in group.split(",") if t]

    cpath = resolve(args.collection, "collection", args.dir)
    collection = load_collection(cpath)
    env = (load_environment(resolve(args.env, "environment", args.dir)) if args.env
           else ad_hoc(args.base_url))
    to_stdout = args.out == "-"
    console = sys.stderr if to_stdout else sys.stdout
    selected = len(runner_mod.select(collection, tags))
    if not selected:
        raise UsageError(f"test: no request in {cpath} is tagged {', '.join(tags)}")
    runner_mod.check_variables(collection, env, tags, str(cpath))

    def say(line: str) -> None:
        console.write(env.mask(line) + "\n")
        console.flush()

    streaming = args.iterations == 1

    def on_result(r: runner_mod.RequestResult) -> None:
        if streaming and (r.passed is False or not args.quiet):
            for line in result_lines(r, base=env.base_url):
                say(line)

    if not args.quiet:
        times = f" x {args.iterations}" if args.iterations > 1 else ""
        say(f"opsplane test: {collection.name} ({cpath}) against {env.name} ({env.base_url}): "
            f"{selected} request{'s' if selected != 1 else ''}{times}")
    try:
        result = runner_mod.run(collection, env, iterations=args.iterations,
                                concurrency=args.concurrency, tags=tags, bail=args.bail,
                                wait_s=wait_s, source=str(cpath), on_result=on_result,
                                on_wait=None if args.quiet else say)
    except NotReadyError as e:
        if args.report and not to_stdout:  # CI still gets a report saying why
            failed = runner_mod.not_ready_result(collection, env, str(cpath), tags, str(e))
            write_report(failed, args.report,
                         args.out or f"test-report.{EXTENSIONS[args.report]}")
        raise
    text = text_report(result, quiet=args.quiet)
    tail = text.splitlines() if not streaming else [text.splitlines()[-1]]
    for line in tail:
        say(line)
    if args.report:
        if to_stdout:
            sys.stdout.write(env.mask(render_report(result, args.report)))
        else:
            out = args.out or f"test-report.{EXTENSIONS[args.report]}"
            path = write_report(result, args.report, out)
            if not args.quiet:
                say(f"report: {path}")
    return 0 if result.ok else 1
