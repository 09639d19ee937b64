"""``loadtest worker``: Locust workers on this machine for a ``loadtest run`` master elsewhere."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from loadtest._cmd_run import add_profile_flags, profile_flags
from loadtest.errors import LoadtestError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "worker", help="start Locust workers for a `loadtest run` master on another machine",
        description="Start Locust worker processes that connect to the master of a "
                    "`loadtest run --expect-workers M`; give them the same profile flags as "
                    "the master. Ends when the master ends the run.")
    p.add_argument("--master-host", required=True, metavar="HOST",
                   help="host name or address of the machine running `loadtest run`")
    p.add_argument("--master-port", type=int, default=5557, metavar="P",
                   help="the master's --master-port (default 5557)")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="worker processes to start here (default 1)")
    add_profile_flags(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from loadtest.remote_worker import WorkerOptions, run_workers
    from logstd._climain import require

    require("locust", "psutil")  # Locust runs in its own process: check it here

    paths, _service, weights = profile_flags(args)
    opts = WorkerOptions(master_host=args.master_host, master_port=args.master_port,
                         processes=args.processes, profile=args.profile, paths=paths,
                         weights=weights, collection=args.collection,
                         env_file=args.env_file, user_class=args.user_class)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    result = run_workers(opts, progress=progress)
    if result.status != "completed":
        raise LoadtestError(result.message or result.status)
    print("the master ended the run", file=sys.stderr)
    return 0
