"""``opsplane pipeline gates|build|deploy|verify|rollback|load|run|release-notes``.

The delivery pipeline's stages as commands: GitHub Actions (.github/workflows/service.yml),
Jenkins (deploy/pipeline/Jenkinsfile) and a laptop (``opsplane pipeline run --local``) call
the same ones. Exit 0 ok, 1 a stage failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EPILOG = """\
examples:
  opsplane pipeline gates --dir examples/orders
  opsplane pipeline build --dir examples/orders --image ghcr.io/acme/orders:$GITHUB_SHA --push
  opsplane pipeline deploy --dir examples/orders --env staging --release orders \\
      --image ghcr.io/acme/orders:$GITHUB_SHA --dry-run
  SERVICE_URL=https://orders.staging.example opsplane pipeline verify --dir examples/orders \\
      --env staging
  opsplane pipeline rollback --env staging --release orders
  opsplane pipeline run --local --dir examples/orders      (gates, build, deploy, verify,
                                                             rollback on failure, report)
  opsplane pipeline release-notes v0.2.0 > notes.md
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser("pipeline", help="the delivery pipeline's stages (the CI calls these)",
                       description=__doc__, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    psub = p.add_subparsers(dest="pipeline_command", metavar="STAGE", required=True)

    def stage(name: str, text: str) -> argparse.ArgumentParser:
        s: argparse.ArgumentParser = psub.add_parser(name, help=text, description=text,
                                                     epilog=EPILOG, formatter_class=argparse
                                                     .RawDescriptionHelpFormatter)
        return s

    def service_dir(s: argparse.ArgumentParser) -> None:
        s.add_argument("--dir", default=".", metavar="DIR",
                       help="the service folder: service.yaml, chart/, tests/ (default .)")

    g = stage("gates", "logstd lint, secrets scan, spec check, chart lint per environment, "
                       "dashboards and alerts (promtool, amtool), collections")
    service_dir(g)
    g.add_argument("--env", action="append", default=[], metavar="ENV",
                   help="environment whose values and env file are checked (repeatable; "
                        "default staging and production)")
    g.add_argument("--chart", help="chart folder (default: opsplane's helm/service)")
    g.set_defaults(run=run_gates)

    b = stage("build", "build the image (with --push: buildx, provenance and SBOM, pushed)")
    service_dir(b)
    b.add_argument("--image", required=True, metavar="REPO:TAG")
    b.add_argument("--context", default=".", help="build context (default .)")
    b.add_argument("--dockerfile", help="Dockerfile (default, or empty: DIR/Dockerfile)")
    b.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE")
    b.add_argument("--wheels", metavar="REQUIREMENT",
                   help="first build these wheels on the host into CONTEXT/build/wheels "
                        "(pip wheel), for a Dockerfile that installs --no-index from there, "
                        "e.g. '.[postgres]' (orders); empty: none")
    b.add_argument("--push", action="store_true", help="push (buildx with provenance and SBOM)")
    b.add_argument("--digest-file", metavar="FILE",
                   help="with --push: write the pushed digest here (for an attestation)")
    b.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    b.set_defaults(run=run_build)

    d = stage("deploy", "helm upgrade --install --atomic --wait with DIR/chart/values*.yaml")
    service_dir(d)
    d.add_argument("--env", required=True, metavar="ENV", help="environment (values-ENV.yaml)")
    d.add_argument("--image", required=True, metavar="REPO:TAG")
    d.add_argument("--release", help="Helm release (default: the service's name)")
    d.add_argument("--namespace", help="namespace (default: the environment's name)")
    d.add_argument("--chart", default=None, help="chart reference (default: the published "
                                                 "oci://ghcr.io/opsplane/charts/service)")
    d.add_argument("--chart-version", help="chart version")
    d.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    d.set_defaults(run=run_deploy)

    v = stage("verify", "smoke, then integration (opsplane test) against the environment")
    service_dir(v)
    v.add_argument("--env", required=True, metavar="ENV", help="tests/env.ENV.yaml")
    v.add_argument("--wait", default="120s", help="wait for readiness up to (default 120s)")
    v.add_argument("--report", choices=("junit", "html", "json"),
                   help="also write <collection>-ENV.<ext> reports")
    v.set_defaults(run=run_verify)

    r = stage("rollback", "helm rollback to the previous revision")
    service_dir(r)
    r.add_argument("--env", required=True, metavar="ENV")
    r.add_argument("--release", help="Helm release (default: the service's name)")
    r.add_argument("--namespace", help="namespace (default: the environment's name)")
    r.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    r.set_defaults(run=run_rollback)

    ld = stage("load", "loadtest run against the environment, then recommend-limits into "
                       "chart/values-resources.yaml")
    service_dir(ld)
    ld.add_argument("--env", required=True, metavar="ENV")
    ld.add_argument("--target", required=True, metavar="URL")
    where = ld.add_mutually_exclusive_group(required=True)
    where.add_argument("--kubectl", metavar="POD", help="sample this pod (kubectl exec)")
    where.add_argument("--docker", metavar="NAME", help="sample this container")
    ld.add_argument("--duration", default="2m")
    ld.add_argument("--users", default="20")
    ld.add_argument("--expect-workers", type=int, default=0, metavar="M",
                    help="wait for M Locust workers (the helm/loadtest Job) before the load")
    ld.add_argument("--prometheus", metavar="URL",
                    help="CPU and memory per pod from this Prometheus (with --selector)")
    ld.add_argument("--selector", metavar="MATCHERS", help="the pods' label matchers")
    ld.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    ld.set_defaults(run=run_load)

    rl = stage("run", "the whole pipeline here: gates, build, deploy, verify, rollback on "
                      "failure, report")
    service_dir(rl)
    rl.add_argument("--local", action="store_true", required=True,
                    help="against the local stack (the only target run can drive)")
    rl.add_argument("--tag", help="tag of the new image (default: a time stamp)")
    rl.add_argument("--context", help="the repository root the image is built from "
                                      "(default: the one holding DIR)")
    rl.add_argument("--skip-gates", action="store_true", help="start at the build")
    rl.add_argument("--report", metavar="FILE", help="also write the report as JSON here")
    rl.set_defaults(run=run_run)

    n = stage("release-notes", "print a version's CHANGELOG section (the GitHub release's body)")
    n.add_argument("version", metavar="VERSION", help="1.2.3 or the tag v1.2.3")
    n.add_argument("--changelog", default="CHANGELOG.md")
    n.set_defaults(run=run_release_notes)


def show(stage: Any) -> None:
    print(stage.summary(), flush=True)
    for line in stage.lines:
        print(f"     {line}", flush=True)


def _finish(stages: list[Any]) -> int:
    failed = [s.name for s in stages if not s.ok]
    print(f"{len(stages) - len(failed)}/{len(stages)} passed"
          + (f"; failed: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def run_gates(args: argparse.Namespace) -> int:
    from opsplane import pipeline

    envs = args.env or list(pipeline.DEFAULT_ENVIRONMENTS)
    return _finish(pipeline.gates(args.dir, envs, chart_dir=args.chart, on_stage=show))


def _release(args: argparse.Namespace) -> str:
    if args.release:
        return str(args.release)
    from opsplane.pipeline import Service
    from opsplane.spec.service import load_spec

    return load_spec(Service.at(args.dir).spec_path).name


def _dry(argv: list[str]) -> int:
    import shlex

    print(shlex.join(argv))
    return 0


def run_build(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from opsplane import pipeline
    from opsplane.atomic import write_atomic
    from opsplane.errors import UsageError

    if args.digest_file and not args.push:
        raise UsageError("build: --digest-file goes with --push")
    dockerfile = args.dockerfile or str(Path(args.dir) / "Dockerfile")
    with tempfile.TemporaryDirectory(prefix="opsplane-build-") as tmp:
        meta = Path(tmp) / "metadata.json"
        argv = pipeline.build_argv(args.image, dockerfile=dockerfile, context=args.context,
                                   push=args.push, metadata_file=meta if args.push else None,
                                   build_args=args.build_arg)
        if args.dry_run:
            return _dry(argv)
        if not Path(dockerfile).is_file():
            raise UsageError(f"{dockerfile}: no such Dockerfile")
        if args.wheels:
            wheels = pipeline.run_tool(pipeline.wheels_argv(args.wheels, args.context),
                                       "build: wheels")
            show(wheels)
            if not wheels.ok:
                return 1
        stage = pipeline.run_tool(argv, "build")
        show(stage)
        if stage.ok and args.push:
            digest = pipeline.read_digest(meta)
            print(f"pushed {args.image}@{digest}")
            if args.digest_file:
                write_atomic(args.digest_file, digest + "\n")
        return 0 if stage.ok else 1


def run_deploy(args: argparse.Namespace) -> int:
    from opsplane import pipeline

    argv = pipeline.helm_deploy_argv(args.dir, args.env, args.image, release=_release(args),
                                     chart=args.chart or pipeline.CHART_REF,
                                     chart_version=args.chart_version, namespace=args.namespace)
    if args.dry_run:
        return _dry(argv)
    stage = pipeline.run_tool(argv, f"deploy: {args.env}")
    show(stage)
    return 0 if stage.ok else 1


def run_verify(args: argparse.Namespace) -> int:
    from opsplane import pipeline
    from opsplane.testing.blackbox._files import parse_duration

    return _finish(pipeline.verify(args.dir, args.env, wait_s=parse_duration(args.wait),
                                   report=args.report, on_stage=show))


def run_rollback(args: argparse.Namespace) -> int:
    from opsplane import pipeline

    argv = pipeline.helm_rollback_argv(_release(args), args.namespace or args.env)
    if args.dry_run:
        return _dry(argv)
    stage = pipeline.run_tool(argv, f"rollback: {args.env}")
    show(stage)
    return 0 if stage.ok else 1


def run_load(args: argparse.Namespace) -> int:
    from opsplane import pipeline

    runs = pipeline.load_argvs(args.dir, args.env, target=args.target, kubectl=args.kubectl,
                               docker=args.docker, duration=args.duration, users=args.users,
                               expect_workers=args.expect_workers, prometheus=args.prometheus,
                               selector=args.selector)
    if args.dry_run:
        for argv in runs:
            _dry(argv)
        return 0
    stages = []
    for i, argv in enumerate(runs):
        stage = pipeline.run_tool(argv, f"load: {'run' if i == 0 else 'recommend-limits'}")
        show(stage)
        stages.append(stage)
        if not stage.ok:
            break
    return _finish(stages)


def run_run(args: argparse.Namespace) -> int:
    from opsplane import pipeline

    report = pipeline.run_local(args.dir, tag=args.tag, context=args.context,
                                skip_gates=args.skip_gates, on_stage=show)
    for line in report.lines():
        print(line)
    if args.report:
        from opsplane.atomic import write_atomic

        write_atomic(args.report, report.to_json())
    return report.exit_code


def run_release_notes(args: argparse.Namespace) -> int:
    from pathlib import Path

    from opsplane.errors import UsageError
    from opsplane.pipeline import changelog_section

    path = Path(args.changelog)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from e
    sys.stdout.write(changelog_section(text, args.version, str(path)))
    return 0
