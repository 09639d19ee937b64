"""``loadtest recommend-limits``: resource requests and limits from a run directory."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("recommend-limits",
                       help="CPU/memory requests and limits from a run (measured x margin)")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--margin", type=float, default=1.5, help="design margin (default 1.5)")
    p.add_argument("--percentile", type=float, default=95,
                   help="CPU percentile for the request (default 95)")
    p.add_argument("--limit-percentile", type=float, default=99,
                   help="CPU percentile for the limit (default 99)")
    p.add_argument("--no-cpu-limit", action="store_true",
                   help="leave the CPU limit out (no CFS throttling)")
    p.add_argument("--min-samples", type=int, default=40,
                   help="refuse with fewer loaded samples (default 40)")
    p.add_argument("--max-failure-ratio", type=float, default=0.05,
                   help="refuse above this failure ratio (default 0.05)")
    p.add_argument("--warmup", type=float, metavar="S",
                   help="seconds dropped after load starts (default: the spawn time)")
    p.add_argument("--accept-leak", action="store_true",
                   help="recommend even when memory shows a probable leak (refused by default: "
                   "limits sized on a leaking run only delay the OOM kill)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("-o", "--write-values", metavar="FILE",
                   help="write the resources block into this Helm values file")
    prom = p.add_argument_group(
        "from Prometheus (CPU and memory per pod, replicas combined, as krr reads cAdvisor; "
        "the run directory gives the time line and Locust's counts)")
    prom.add_argument("--prometheus", metavar="URL", help="e.g. http://prometheus:9090")
    prom.add_argument("--selector", metavar="MATCHERS",
                      help='label matchers of the pods, e.g. \'namespace="staging",'
                           'pod=~"orders-.*"\'')
    prom.add_argument("--metrics", choices=("cadvisor", "process"), default="cadvisor",
                      help="container_* series (default) or the process's own process_*")
    prom.add_argument("--pod-label", default="pod",
                      help="label naming the pod (default pod; instance when it is missing)")
    prom.add_argument("--rate-window", default="30s", help="CPU rate window (default 30s)")
    prom.add_argument("--step", type=float, metavar="S",
                      help="seconds between points (default: the run's sampling interval)")
    p.set_defaults(run=run)


def recommend_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"margin": args.margin, "request_percentile": args.percentile,
            "limit_percentile": args.limit_percentile, "cpu_limit": not args.no_cpu_limit,
            "min_samples": args.min_samples, "max_failure_ratio": args.max_failure_ratio,
            "warmup": args.warmup}


def run(args: argparse.Namespace) -> int:
    from loadtest import leak
    from loadtest.analysis import load_run, recommend
    from loadtest.gcpauses import describe
    from loadtest.values import write_values

    if args.prometheus or args.selector:
        rec = _from_prometheus(args)
    else:
        rec = recommend(load_run(args.run_dir), **recommend_kwargs(args))
    if not args.accept_leak:
        leak.refuse(rec.stats, args.run_dir)  # before anything is written
    if args.write_values:
        write_values(args.write_values, rec)
    if args.format == "json":
        print(json.dumps(rec.to_json(), indent=2, sort_keys=True))
        return 0
    s, r = rec.stats, rec.resources
    p, lp = f"p{rec.percentile:g}", f"p{rec.limit_percentile:g}"
    cpu = s["cpu_cores"]
    rows = [
        ("cpu request", r["requests"]["cpu"], f"{p} {cpu[p]:.4f} cores x {rec.margin:g}"),
        ("cpu limit", r["limits"].get("cpu", "-"),
         f"{lp} {cpu[lp]:.4f} cores x {rec.margin:g}" if rec.cpu_limit_m else "left out"),
        ("memory request", r["requests"]["memory"],
         f"peak {s['memory_mib']['peak']:.2f}Mi x {rec.margin:g}"),
        ("memory limit", r["limits"]["memory"], "= memory request"),
    ]
    print(f"{'':15} {'value':>7}  from")
    for name, value, why in rows:
        print(f"{name:15} {value:>7}  {why}")
    g = s["memory_growth"]
    print(f"\n{s['loaded_samples']} loaded samples of {s['samples']} "
          f"(warm-up {s['warmup_s']:g} s dropped), {s['requests']} requests, "
          f"failure ratio {s['failure_ratio']:.2%}")
    print(f"memory growth {leak.describe(g)}")
    if s.get("saturation_users") is not None:
        print(f"saturation point: {s['saturation_users']} users")
    if s.get("gc_pauses") is not None:
        print(f"GC pauses of the target: {describe(s['gc_pauses'])}")
    for pod, f in sorted(s.get("pods", {}).items()):
        print(f"pod {pod}: {f['loaded_samples']} points, cpu {p} {f['cpu_cores'][p]:.4f} "
              f"cores, memory peak {f['memory_mib']['peak']:.2f}Mi")
    if args.write_values:
        print(f"wrote {args.write_values}")
    return 0


def _from_prometheus(args: argparse.Namespace) -> Any:
    from loadtest.analysis import load_run
    from loadtest.promsource import Source, recommend_from_prometheus
    from opsplane.errors import UsageError

    if not (args.prometheus and args.selector):
        raise UsageError("recommend-limits: --prometheus URL and --selector MATCHERS go "
                         "together")
    src = Source(args.prometheus, args.selector, metrics=args.metrics,
                 pod_label=args.pod_label, rate_window=args.rate_window)
    return recommend_from_prometheus(load_run(args.run_dir), src, step=args.step,
                                     **recommend_kwargs(args))
