"""``opsplane serve [APP]``: the service's app under uvicorn, with the drain sequence."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve", help="run the app named in ./service.yaml (or APP) with graceful shutdown",
        description="Serve an ASGI app under uvicorn. On SIGTERM: readiness 503 at once, keep "
                    "serving --drain-delay s, stop accepting, let in-flight requests finish "
                    "within --grace s, run shutdown hooks, exit 0. A second signal exits at "
                    "once. Defaults come from service.yaml (app, port, shutdown).")
    p.add_argument("app", nargs="?", metavar="APP",
                   help="module:attribute (default: `app` in ./service.yaml)")
    p.add_argument("--port", type=int, help="TCP port (default: service.yaml's port, or 8080)")
    p.add_argument("--host", help="interface to listen on (default 0.0.0.0)")
    p.add_argument("--workers", type=int,
                   help="worker processes on one port (default 1); /metrics answers for all of "
                        "them (prometheus_client's multiprocess mode)")
    p.add_argument("--drain-delay", type=float, metavar="S",
                   help="seconds to keep serving after SIGTERM (default: spec, 5)")
    p.add_argument("--grace", type=float, metavar="S",
                   help="seconds in-flight requests get after accepting stops (default: spec, 20)")
    p.add_argument("--max-in-flight", type=int, metavar="N",
                   help="requests handled at once; more get 503 + Retry-After (default: spec, 256)")
    p.add_argument("--spec", default="service.yaml", metavar="FILE",
                   help="service spec to read defaults from (default ./service.yaml)")
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from opsplane.runtime.serve import resolve, serve

    opts = resolve(args.app, spec_path=args.spec, port=args.port, host=args.host,
                   workers=args.workers, drain_delay=args.drain_delay, grace=args.grace,
                   max_in_flight=args.max_in_flight)
    if args.reuse_port:
        opts = dataclasses.replace(opts, reuse_port=True)
    return serve(opts)
