"""``opsplane chart values | render | lint``: the standard chart from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("chart", help="Helm values from service.yaml; render or lint the chart")
    csub = p.add_subparsers(dest="chart_command", metavar="ACTION", required=True)
    v = csub.add_parser("values", help="write the chart values service.yaml implies")
    v.add_argument("--spec", default="service.yaml", help="the service spec (default: %(default)s)")
    v.add_argument("-o", "--output", default="-",
                   help="values file to write atomically, - for stdout (default: %(default)s)")
    v.add_argument("--image", help="image repository (default: the service name)")
    v.add_argument("--environment", default="dev", help="deployment environment name")
    v.set_defaults(run=run_values)
    for name, fn, text in (("render", run_render, "render the manifests (helm template)"),
                           ("lint", run_lint, "helm lint --strict with the given values")):
        c = csub.add_parser(name, help=text)
        c.add_argument("-f", "--values", action="append", default=[], metavar="FILE",
                       help="values file (repeatable, later wins)")
        c.add_argument("--chart", help="chart folder (default: opsplane's helm/service)")
        if name == "render":
            c.add_argument("--release", default="release")
            c.add_argument("--namespace", default="default")
        c.set_defaults(run=fn)


def run_values(args: argparse.Namespace) -> int:
    from helm import values as helmvalues
    from opsplane.spec.service import load_spec

    spec = load_spec(args.spec)
    if args.output == "-":
        sys.stdout.write(helmvalues.render(
            helmvalues.generate(spec, image=args.image, environment=args.environment),
            source=args.spec))
        return 0
    path = helmvalues.write(spec, args.output, source=args.spec, image=args.image,
                            environment=args.environment)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _chart_kw(args: argparse.Namespace) -> dict[str, Any]:
    return {"chart": args.chart} if args.chart else {}


def run_render(args: argparse.Namespace) -> int:
    from helm import render as chart

    values = chart.load_values(args.values)
    try:
        text = chart.render_text(values, release=args.release, namespace=args.namespace,
                                 **_chart_kw(args))
    except chart.ValuesError as e:  # refused by the schema: name the files the values came from
        raise chart.ValuesError(f"{', '.join(args.values) or 'default values'}: {e}") from None
    sys.stdout.write(text)
    return 0


def run_lint(args: argparse.Namespace) -> int:
    from helm import render as chart

    findings = chart.lint(chart.load_values(args.values), **_chart_kw(args))
    for f in findings:
        print(f)
    print(f"{len(findings)} finding(s)", file=sys.stderr)
    return 1 if findings else 0
