"""``loadtest run``: a bounded Locust run against a target, its resources sampled."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from loadtest.errors import LoadtestError, OptionError
from loadtest.profiles import PROFILES, SHAPES


def add_profile_flags(p: argparse.ArgumentParser) -> None:
    """What the simulated users do; the same on the master and on every worker."""
    p.add_argument("--profile", choices=PROFILES, default="mixed")
    p.add_argument("--path", action="append", default=[], metavar="NAME=PATH",
                   help="override an API path: orders, order, cancel, ping")
    p.add_argument("--collection", metavar="FILE",
                   help="test.<name>.yaml (the runner's collection format) for --profile replay")
    p.add_argument("--env", dest="env_file", metavar="FILE",
                   help="env.<name>.yaml whose variables and secrets the replay uses")
    p.add_argument("--spec", metavar="service.yaml",
                   help="service spec for the name and load.weights (default ./service.yaml)")
    p.add_argument("--user-class", choices=("fast", "http"), default="fast",
                   help="FastHttpUser (default) or HttpUser")


def profile_flags(args: argparse.Namespace) -> tuple[dict[str, str], str, dict[str, int]]:
    """--path overrides, the service name and the load weights of the spec."""
    paths: dict[str, str] = {}
    for item in args.path:
        name, sep, value = item.partition("=")
        if not sep or not value.startswith("/"):
            raise OptionError(f"--path {item!r}: use NAME=/path, e.g. orders=/api/orders")
        paths[name] = value
    service, weights = "service", {}
    spec_path = args.spec or ("service.yaml" if Path("service.yaml").is_file() else None)
    if spec_path:
        from opsplane.spec.service import load_spec

        spec = load_spec(spec_path)
        service, weights = spec.name, dict(spec.load.weights)
    return paths, service, weights


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run a load profile and sample the target's CPU and memory")
    p.add_argument("--shape", choices=SHAPES, help="user count over time (default: constant)")
    p.add_argument("--users", type=int, default=10)
    p.add_argument("--spawn-rate", type=float, default=5.0, metavar="R", help="users/second")
    p.add_argument("--duration", default="60s", metavar="D", help="e.g. 45s, 2m, 1h")
    p.add_argument("--target", required=True, metavar="URL", help="e.g. http://127.0.0.1:8080")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--pid", type=int, help="sample this process and its descendants")
    what.add_argument("--cgroup", metavar="PATH", help="sample a cgroup v2 directory")
    what.add_argument("--kubectl", metavar="POD",
                      help="sample a pod's container cgroup through kubectl exec")
    what.add_argument("--docker", metavar="NAME",
                      help="sample a container's cgroup through docker exec")
    p.add_argument("--container", metavar="C", help="with --kubectl: the pod's container")
    p.add_argument("--namespace", "-n", metavar="NS", help="with --kubectl: the namespace")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<service>-<time>)")
    p.add_argument("--interval", type=float, default=0.5, metavar="S",
                   help="sampling interval in seconds (default 0.5)")
    add_profile_flags(p)
    d = p.add_argument_group("distributed (one Locust master plus workers)")
    d.add_argument("--workers", type=int, default=0, metavar="N",
                   help="start N Locust worker processes on this machine")
    d.add_argument("--expect-workers", type=int, metavar="M",
                   help="wait for M workers in all before starting (default N); the M-N "
                        "others are started on other machines with `loadtest worker`")
    d.add_argument("--master-bind-host", default="127.0.0.1", metavar="HOST",
                   help="address the master listens on (default 127.0.0.1; 0.0.0.0 for "
                        "workers on other machines)")
    d.add_argument("--master-port", type=int, metavar="P",
                   help="port the master listens on (default 5557 when remote workers are "
                        "expected, else a free port)")
    d.add_argument("--worker-wait", type=float, default=60.0, metavar="S",
                   help="seconds to wait for the workers to connect (default 60)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from loadtest.run import RunOptions, parse_duration, run_load
    from logstd._climain import require

    require("locust", "psutil")  # Locust runs in its own process: check it here

    paths, service, weights = profile_flags(args)
    if args.interval < 0.05:
        raise OptionError("--interval must be at least 0.05 s")
    opts = RunOptions(profile=args.profile, shape=args.shape, users=args.users,
                      spawn_rate=args.spawn_rate, duration=parse_duration(args.duration),
                      target=args.target, pid=args.pid, cgroup=args.cgroup,
                      kubectl=args.kubectl, docker=args.docker, container=args.container,
                      namespace=args.namespace, out=args.out,
                      workers=args.workers, expect_workers=args.expect_workers,
                      master_bind_host=args.master_bind_host, master_port=args.master_port,
                      worker_wait=args.worker_wait, interval=args.interval, paths=paths,
                      weights=weights, collection=args.collection, env_file=args.env_file,
                      service=service, user_class=args.user_class)
    tty = sys.stderr.isatty()

    def progress(line: str) -> None:
        sys.stderr.write(("\r" + line) if tty else (line + "\n"))
        sys.stderr.flush()

    try:
        result = run_load(opts, progress=progress)
    except OSError as e:  # a full disk, a folder taken away: one line, the run incomplete
        where = e.filename or args.out or "the run directory"
        raise LoadtestError(f"{where}: cannot write the run ({e.strerror or e}); it is "
                            "incomplete: without its metadata.json no command takes it for "
                            "a finished run") from e
    if tty:
        sys.stderr.write("\n")
    print(f"{result.status}: {result.samples} samples", file=sys.stderr)
    print(result.run_dir)
    if result.status != "completed":
        raise LoadtestError(result.message or result.status)
    return 0
