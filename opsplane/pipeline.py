"""The delivery pipeline's stages as functions: the same on a laptop, in GitHub Actions and
in Jenkins (the workflow files and the Jenkinsfile only call ``opsplane pipeline STAGE``).

A service folder holds ``service.yaml``, ``chart/values.yaml`` (+ ``values-resources.yaml``
and one ``values-<env>.yaml`` per environment), ``tests/`` (``test.<name>.yaml`` collections,
``env.<env>.yaml`` environments) and its ``Dockerfile``.

Stages::

    gates     logstd lint, secrets scan, spec check, chart lint per environment (what
              render refuses too), dashboards and alerts generated and checked by promtool
              and amtool, collections valid against every environment
    build     the image (docker build; --push with provenance and an SBOM in CI)
    deploy    helm upgrade --install --atomic --wait (a cluster), or the local stack
    verify    smoke, then integration (opsplane test)
    rollback  helm rollback (a cluster), or the previous image (the local stack)

Each stage returns a :class:`Stage` (name, ok, seconds, lines); the command prints them and
exits 1 when one failed, 2 on bad input.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsplane.errors import OpsplaneError, UsageError

DEFAULT_ENVIRONMENTS = ("staging", "production")
#: the standard chart as published by opsplane's release workflow
CHART_REF = "oci://ghcr.io/opsplane/charts/service"


class PipelineError(OpsplaneError):
    """A stage could not run at all (a tool missing, the service folder incomplete)."""

    exit_code = 2


@dataclass
class Stage:
    """The outcome of one stage or gate: ``lines`` say what was checked or what failed."""

    name: str
    ok: bool
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name} ({self.seconds:.1f} s)"


@dataclass(frozen=True)
class Service:
    """A service folder and the files the pipeline reads from it."""

    root: Path

    @classmethod
    def at(cls, path: str | Path) -> Service:
        root = Path(path)
        if not (root / "service.yaml").is_file():
            raise UsageError(f"{root}: no service.yaml (give the service folder with --dir)")
        return cls(root)

    @property
    def spec_path(self) -> Path:
        return self.root / "service.yaml"

    @property
    def tests(self) -> Path:
        return self.root / "tests"

    def values_files(self, environment: str) -> list[Path]:
        """Values in helm's order: generated, measured resources, the environment's."""
        chart = self.root / "chart"
        files = [chart / "values.yaml"]
        if (chart / "values-resources.yaml").exists():
            files.append(chart / "values-resources.yaml")
        files.append(chart / f"values-{environment}.yaml")
        return files


def _timed(name: str, fn: Callable[[], list[str]]) -> Stage:
    """Run one check: it returns the lines to show, or raises with the lines that failed."""
    from logstd.errors import ToolError

    start = time.monotonic()
    try:
        lines, ok = fn(), True
    except (ToolError, _Failed) as e:
        lines, ok = str(e).splitlines() or [type(e).__name__], False
    return Stage(name, ok, time.monotonic() - start, lines)


class _Failed(Exception):
    """A check ran and found problems (its message: one line each)."""


def tool(name: str) -> str:
    """A command-line tool the pipeline drives; missing is refused in one line (exit 2)."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None)
    if path is None:
        raise PipelineError(f"{name} is not installed (scripts/system-deps.sh installs it)")
    return path


def _run(argv: Sequence[str], *, cwd: Path | None = None, timeout: float = 300,
         env: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        r = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                           check=False, env=env)
    except subprocess.TimeoutExpired as e:
        raise _Failed(f"{Path(argv[0]).name}: no answer within {timeout:.0f} s") from e
    return r.returncode, (r.stdout + r.stderr).strip()


def _cli(module: str) -> list[str]:
    """This Python's copy of one of the project's CLIs (the venv's, whatever PATH says)."""
    return [sys.executable, "-m", module]


# --- gates -------------------------------------------------------------------------------

def gate_logstd_lint(svc: Service) -> list[str]:
    code, out = _run([*_cli("logstd._cli"), "lint", "."], cwd=svc.root)
    if code != 0:
        raise _Failed(out or f"logstd lint exited {code}")
    return [out.splitlines()[-1]] if out else ["logstd lint: no findings"]


def gate_secrets(svc: Service) -> list[str]:
    from opsplane.secretscan import scan

    findings = scan([svc.root], root=svc.root)
    if findings:
        raise _Failed("\n".join(str(f) for f in findings))
    return ["no secrets found"]


def gate_spec(svc: Service) -> list[str]:
    from opsplane.spec.service import load_spec

    spec = load_spec(svc.spec_path)
    return [f"{svc.spec_path}: ok ({spec.name}, team {spec.team})"]


def gate_chart(svc: Service, environments: Sequence[str], chart_dir: str | Path | None = None,
               ) -> list[str]:
    from helm import render as chart

    lines, bad = [], []
    for env in environments:
        files = svc.values_files(env)
        missing = [str(f) for f in files if not f.exists()]
        if missing:
            bad.append(f"{env}: {missing[0]}: missing (values for the {env} environment)")
            continue
        values = chart.load_values(list(files))
        # the pipeline sets the tag at deploy; lint with a stand-in so the schema is satisfied
        values = chart.merge({"image": {"tag": "pipeline"}}, values)
        kw: dict[str, Any] = {"chart": chart_dir} if chart_dir else {}
        findings = chart.lint(values, **kw)
        bad += [f"{env}: {f}" for f in findings]
        if not findings:
            lines.append(f"{env}: chart lint and render ok ({', '.join(f.name for f in files)})")
    if bad:
        raise _Failed("\n".join(bad))
    return lines


_GRAFANA_VAR = re.compile(r"\$\{?(__rate_interval|__interval|__range)\}?")
_DASH_VAR = re.compile(r"\$\{?([A-Za-z_]\w*)(?::\w+)?\}?")


def dashboard_rules(boards: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every panel query of the dashboards as a recording rule, so that promtool parses them
    (Grafana's variables replaced by sample values)."""
    rules = []
    for uid in sorted(boards):
        panels = list(boards[uid].get("panels", []))
        while panels:
            p = panels.pop(0)
            panels += p.get("panels", [])
            for i, t in enumerate(p.get("targets", [])):
                expr = t.get("expr")
                if not expr:
                    continue
                expr = _GRAFANA_VAR.sub("5m", expr)
                expr = _DASH_VAR.sub("x", expr)
                name = re.sub(r"\W", "_", f"dashboard:{uid}:{p.get('id', 0)}:{i}")
                rules.append({"record": name, "expr": expr})
    return {"groups": [{"name": "dashboard-queries", "rules": rules}]}


def gate_dashboards_alerts(svc: Service) -> list[str]:
    import yaml

    from alerts import write_alerts
    from dashboards import write_dashboards
    from dashboards.generate import dashboards_of
    from opsplane.spec.service import load_spec

    promtool, amtool = tool("promtool"), tool("amtool")
    spec = load_spec(svc.spec_path)
    src = [str(svc.spec_path)]
    with tempfile.TemporaryDirectory(prefix="opsplane-gates-") as tmp:
        out = Path(tmp)
        write_dashboards([spec], out / "dashboards", sources=src)
        boards = dashboards_of([spec])
        (out / "dashboards.rules.yaml").write_text(yaml.safe_dump(dashboard_rules(boards)))
        written = write_alerts([spec], out / "alerts", sources=src)
        rules = next(p for p in written if p.name.endswith(".rules.yaml"))
        tests = next(p for p in written if p.name.endswith(".rules.test.yaml"))
        am = next(p for p in written if p.parent.name == "alertmanager")
        lines = []
        for what, argv, cwd in (
                ("dashboard queries", [promtool, "check", "rules",
                                       str(out / "dashboards.rules.yaml")], None),
                ("alert rules", [promtool, "check", "rules", str(rules)], None),
                ("alert rule tests", [promtool, "test", "rules",
                                      str(tests.relative_to(rules.parent))], rules.parent),
                ("alertmanager routes", [amtool, "check-config", str(am)], None)):
            code, text = _run(argv, cwd=cwd)
            if code != 0:
                raise _Failed(f"{what}: {Path(argv[0]).name} failed: "
                              + " ".join(text.split())[-400:])
            lines.append(f"{what}: ok ({Path(argv[0]).name} {argv[1]})")
        return [f"{len(boards)} dashboards, {len(written)} alert files generated", *lines]


@contextlib.contextmanager
def _placeholders(text: str) -> Iterator[None]:
    """``${VAR}`` in an environment file's base URL set for validation when unset."""
    names = [n for n in re.findall(r"\$\{([A-Za-z_]\w*)\}", text) if n not in os.environ]
    for n in names:
        os.environ[n] = "http://placeholder.invalid"
    try:
        yield
    finally:
        for n in names:
            os.environ.pop(n, None)


def gate_collections(svc: Service, environments: Sequence[str]) -> list[str]:
    from opsplane.testing.blackbox import load_collection
    from opsplane.testing.blackbox.environment import load_environment
    from opsplane.testing.blackbox.runner import check_variables

    collections = sorted(svc.tests.glob("test.*.yaml"))
    if not collections:
        raise _Failed(f"{svc.tests}: no test.<name>.yaml collection")
    if not (svc.tests / "test.smoke.yaml").exists():
        raise _Failed(f"{svc.tests}/test.smoke.yaml: missing (every deploy runs it)")
    wanted = {svc.tests / f"env.{e}.yaml" for e in environments}
    missing = sorted(str(p) for p in wanted if not p.exists())
    if missing:
        raise _Failed(f"{missing[0]}: missing (the environment the pipeline verifies)")
    envs = []
    for path in sorted(svc.tests.glob("env.*.yaml")):
        with _placeholders(path.read_text(encoding="utf-8")):
            envs.append(load_environment(path))
    for cpath in collections:
        c = load_collection(cpath)
        for env in envs:
            check_variables(c, env, source=str(cpath))
    return [f"{len(collections)} collections x {len(envs)} environments valid"]


def gates(service_dir: str | Path, environments: Sequence[str] = DEFAULT_ENVIRONMENTS, *,
          chart_dir: str | Path | None = None,
          on_stage: Callable[[Stage], None] | None = None) -> list[Stage]:
    """Every gate, each reported even when an earlier one failed."""
    svc = Service.at(service_dir)
    checks: list[tuple[str, Callable[[], list[str]]]] = [
        ("logstd lint", lambda: gate_logstd_lint(svc)),
        ("secrets scan", lambda: gate_secrets(svc)),
        ("spec check", lambda: gate_spec(svc)),
        ("chart lint", lambda: gate_chart(svc, environments, chart_dir)),
        ("dashboards and alerts", lambda: gate_dashboards_alerts(svc)),
        ("collections", lambda: gate_collections(svc, environments)),
    ]
    out = []
    for name, fn in checks:
        stage = _timed(f"gate: {name}", fn)
        out.append(stage)
        if on_stage:
            on_stage(stage)
    return out


# --- verify ------------------------------------------------------------------------------

def verify(service_dir: str | Path, environment: str, *, env_file: str | Path | None = None,
           wait_s: float = 120.0, report: str | None = None,
           collections: Sequence[str] = ("smoke", "integration"),
           on_stage: Callable[[Stage], None] | None = None) -> list[Stage]:
    """Smoke, then (when smoke passed and the service has one) integration."""
    from opsplane.testing.blackbox import load_collection, load_environment, run, write_report
    from opsplane.testing.blackbox.errors import NotReadyError
    from opsplane.testing.blackbox.reports import EXTENSIONS, result_lines, summary_line

    svc = Service.at(service_dir)
    env_path = Path(env_file) if env_file else svc.tests / f"env.{environment}.yaml"
    if not env_path.is_file():
        raise UsageError(f"{env_path}: no such environment file")
    env = load_environment(env_path)
    out = []
    for name in collections:
        cpath = svc.tests / f"test.{name}.yaml"
        if name != "smoke" and not cpath.exists():
            continue
        collection = load_collection(cpath)
        start = time.monotonic()
        try:
            result = run(collection, env, wait_s=wait_s if name == "smoke" else 5.0,
                         source=str(cpath))
        except NotReadyError as e:
            stage = Stage(f"verify: {name}", False, time.monotonic() - start,
                          [env.mask(str(e))])
        else:
            failed = [env.mask(line) for r in result.results if r.passed is False
                      for line in result_lines(r, base=env.base_url)]
            stage = Stage(f"verify: {name}", result.ok, time.monotonic() - start,
                          [*failed, env.mask(summary_line(result))])
            if report:
                write_report(result, report, f"{name}-{environment}.{EXTENSIONS[report]}")
        out.append(stage)
        if on_stage:
            on_stage(stage)
        if not stage.ok:
            break
    return out


# --- helm: deploy and rollback in a cluster ----------------------------------------------

def split_image(image: str) -> tuple[str, str]:
    """``repo[:tag]`` -> (repo, tag); a registry port is not a tag."""
    repo, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        raise UsageError(f"--image {image!r}: give repository:tag (the tag the build pushed)")
    return repo, tag


def helm_deploy_argv(service_dir: str | Path, environment: str, image: str, *, release: str,
                     chart: str = CHART_REF, chart_version: str | None = None,
                     namespace: str | None = None, timeout: str = "10m") -> list[str]:
    """``helm upgrade --install --atomic --wait`` with the service's values for ``environment``."""
    svc = Service.at(service_dir)
    repo, tag = split_image(image)
    files = svc.values_files(environment)
    for f in files:
        if not f.is_file():
            raise UsageError(f"{f}: missing (values for the {environment} environment)")
    argv = ["helm", "upgrade", "--install", release, chart]
    if chart_version:
        argv += ["--version", chart_version]
    argv += ["--namespace", namespace or environment, "--create-namespace", "--atomic",
             "--wait", "--timeout", timeout]
    for f in files:
        argv += ["-f", str(f)]
    return [*argv, "--set-string", f"image.repository={repo}", "--set-string", f"image.tag={tag}"]


def helm_rollback_argv(release: str, namespace: str, timeout: str = "10m") -> list[str]:
    """Back to the release's previous revision (what served before this deploy)."""
    return ["helm", "rollback", release, "--namespace", namespace, "--wait", "--timeout", timeout]


def run_tool(argv: Sequence[str], name: str, *, timeout: float = 900) -> Stage:
    """Run a tool with its output passed through; the stage fails with its exit code."""
    start = time.monotonic()
    exe = tool(argv[0])
    try:
        code = subprocess.run([exe, *argv[1:]], check=False, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return Stage(name, False, time.monotonic() - start, [f"no end within {timeout:.0f} s"])
    lines = [] if code == 0 else [f"{argv[0]} exited {code}"]
    return Stage(name, code == 0, time.monotonic() - start, lines)


# --- build -------------------------------------------------------------------------------

def build_argv(image: str, *, dockerfile: str | Path, context: str | Path = ".",
               push: bool = False, metadata_file: str | Path | None = None,
               build_args: Sequence[str] = ()) -> list[str]:
    """``docker build`` (``buildx build --push`` with provenance and an SBOM in CI)."""
    split_image(image)
    argv = ["docker", "buildx", "build"] if push else ["docker", "build"]
    argv += ["-f", str(dockerfile), "-t", image]
    for a in build_args:
        argv += ["--build-arg", a]
    if push:
        argv += ["--push", "--provenance=mode=max", "--sbom=true"]
        if metadata_file:
            argv += ["--metadata-file", str(metadata_file)]
    return [*argv, str(context)]


def wheels_argv(requirement: str, context: str | Path = ".") -> list[str]:
    """``pip wheel`` of ``requirement`` (a path as seen from here, e.g. ``.[postgres]``) into
    CONTEXT/build/wheels."""
    return [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
            str(Path(context) / "build" / "wheels"), requirement]


def read_digest(metadata_file: str | Path) -> str:
    """The pushed image's digest from buildx's ``--metadata-file``."""
    import json

    p = Path(metadata_file)
    try:
        digest = json.loads(p.read_text(encoding="utf-8")).get("containerimage.digest", "")
    except (OSError, ValueError) as e:
        raise PipelineError(f"{p}: no build metadata: {e}") from e
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", str(digest)):
        raise PipelineError(f"{p}: containerimage.digest missing or malformed")
    return str(digest)


# --- release notes -----------------------------------------------------------------------

def changelog_section(text: str, version: str, source: str = "CHANGELOG.md") -> str:
    """The body of ``## [version]`` (Keep a Changelog) without its heading; a leading ``v``
    of a tag is dropped. Refused in one line when the section is missing or empty."""
    want = version.removeprefix("v")
    if not re.fullmatch(r"\d+\.\d+\.\d+([-.+][0-9A-Za-z.\-+]*)?", want):
        raise UsageError(f"{version!r}: not a version (give 1.2.3 or the tag v1.2.3)")
    heading = re.compile(r"^## \[?v?" + re.escape(want) + r"\]?(?=\s|$)")
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if heading.match(line)), None)
    if start is None:
        raise UsageError(f"{source}: no section '## [{want}]'")
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("## ") or re.match(r"^\[[^\]]+\]:\s", lines[i])),
               len(lines))
    body = "\n".join(lines[start + 1:end]).strip("\n")
    if not body.strip():
        raise UsageError(f"{source}: section '## [{want}]' is empty")
    return body + "\n"


# --- load --------------------------------------------------------------------------------

def load_argvs(service_dir: str | Path, environment: str, *, target: str,
               kubectl: str | None = None, docker: str | None = None, duration: str = "2m",
               users: str = "20", expect_workers: int = 0, prometheus: str | None = None,
               selector: str | None = None) -> list[list[str]]:
    """``loadtest run`` against the environment, then ``loadtest recommend-limits`` writing
    the measured resources into ``chart/values-resources.yaml`` (a change to review).

    ``expect_workers``: the master waits for that many Locust workers (helm/loadtest's Job);
    ``prometheus`` and ``selector``: CPU and memory per pod from Prometheus, replicas combined.
    """
    svc = Service.at(service_dir)
    if bool(kubectl) == bool(docker):
        raise UsageError("load: sample one target: --kubectl POD or --docker NAME")
    if prometheus and not selector:  # a selector without Prometheus (empty) is not used
        raise UsageError("load: --prometheus URL and --selector MATCHERS go together")
    run_dir = svc.root / "runs" / f"pipeline-{environment}"
    where = ["--kubectl", kubectl, "--namespace", environment] if kubectl else ["--docker",
                                                                                 str(docker)]
    run = ["loadtest", "run", "--target", target, *[str(w) for w in where], "--spec",
           str(svc.spec_path), "--duration", duration, "--users", users, "--out", str(run_dir)]
    if expect_workers:
        run += ["--expect-workers", str(expect_workers), "--master-bind-host", "0.0.0.0"]
    recommend = ["loadtest", "recommend-limits", str(run_dir), "--write-values",
                 str(svc.root / "chart" / "values-resources.yaml")]
    if prometheus and selector:
        recommend += ["--prometheus", prometheus, "--selector", selector]
    return [run, recommend]


# --- the local pipeline: the stack of `make up` brought up with the new image -------------

#: the compose service the pipeline deploys in the local stack
LOCAL_SERVICE = "orders"


def repo_root(start: str | Path) -> Path:
    """The repository holding ``start`` and the local stack's script (deploy/local/stack.sh)."""
    here = Path(start).resolve()
    for p in (here, *here.parents):
        if (p / "deploy" / "local" / "stack.sh").is_file():
            return p
    raise UsageError(f"{start}: no deploy/local/stack.sh above it (the local stack that "
                     "`make up` starts)")


class LocalStack:
    """The stack of ``make up`` (deploy/local/stack.sh; project and ports from STACK_*),
    whose orders service the pipeline replaces: ``compose up`` of that one service with an
    override naming the image, so a deploy and a rollback are the same step."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("PYTHON", sys.executable)
        self.stack_dir = Path(self.env.get("STACK_DIR")
                              or root / "deploy" / "local" / "generated").resolve()
        self.env["STACK_DIR"] = str(self.stack_dir)

    def _script(self, *args: str, timeout: float = 900) -> tuple[int, str]:
        return _run(["bash", str(self.root / "deploy" / "local" / "stack.sh"), *args],
                    env=self.env, timeout=timeout)

    def compose(self, *args: str, timeout: float = 300) -> tuple[int, str]:
        return self._script("compose", *args, timeout=timeout)

    @property
    def env_file(self) -> Path:
        """The smoke/integration environment the stack generated for itself."""
        return self.stack_dir / "env.stack.yaml"

    def running_image(self) -> str | None:
        """The image id the stack's orders container runs, None when there is none."""
        code, out = self.compose("ps", "--quiet", LOCAL_SERVICE)
        ids = out.split() if code == 0 else []
        if not ids:
            return None
        code, image = _run(["docker", "inspect", "--format", "{{.Image}}", ids[0]])
        return image.strip() if code == 0 and image.strip() else None

    def up(self) -> list[str]:
        """``make up`` (without rebuilding the orders image: the pipeline built its own)."""
        self.env.setdefault("STACK_BUILD_ORDERS", "0")
        code, out = self._script("up")
        if code != 0:
            raise _Failed("stack.sh up failed: " + " ".join(out.split())[-600:])
        return ["the local stack is up"]

    def deploy(self, image: str) -> list[str]:
        """Replace the orders container by one from ``image``; waits until it is healthy."""
        override = self.stack_dir / "pipeline.override.yaml"
        from opsplane.atomic import write_atomic

        write_atomic(override, "# written by opsplane pipeline: the image under test\n"
                               f"services:\n  {LOCAL_SERVICE}:\n    image: {image}\n")
        code, out = self.compose("-f", str(override), "up", "--detach", "--no-deps",
                                 "--no-build", "--pull", "never", "--wait", "--wait-timeout",
                                 "120", LOCAL_SERVICE)
        if code != 0:
            raise _Failed(f"compose up {LOCAL_SERVICE} with {image} failed: "
                          + " ".join(out.split())[-600:])
        return [f"{LOCAL_SERVICE} runs {image}"]

    def down(self) -> None:
        self._script("down", timeout=300)


def build_local(context: Path, tag: str) -> list[str]:
    """The image through the project's image script (scripts/docker.sh: daemon, base, host
    wheels, docker build)."""
    script = context / "scripts" / "docker.sh"
    if not script.is_file():
        raise _Failed(f"{script}: missing (the image script `make image` runs)")
    code, out = _run(["bash", str(script), "image", tag], timeout=1800,
                     env={**os.environ, "PYTHON": os.environ.get("PYTHON", sys.executable)})
    if code != 0:
        raise _Failed("image build failed: " + " ".join(out.split())[-600:])
    code, image_id = _run(["docker", "image", "inspect", "--format", "{{.Id}}", tag])
    if code != 0:
        raise _Failed(f"{tag}: built but not found: {image_id}")
    return [f"built {tag} ({image_id.strip()[:19]})"]


@dataclass
class Report:
    """What the local pipeline did: every stage, the images, the outcome."""

    service: str
    image: str
    previous: str | None = None
    stages: list[Stage] = field(default_factory=list)
    outcome: str = "not run"

    @property
    def exit_code(self) -> int:
        return 0 if self.outcome == "deployed" else 1

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    def lines(self) -> list[str]:
        out = [f"pipeline report: {self.service}", f"  new image:      {self.image}",
               f"  previous image: {self.previous or '(none)'}"]
        out += [f"  {s.summary()}" for s in self.stages]
        out.append(f"outcome: {self.outcome} ({self.seconds:.0f} s)")
        return out

    def to_json(self) -> str:
        import json

        return json.dumps({"service": self.service, "image": self.image,
                           "previous": self.previous, "outcome": self.outcome,
                           "exitCode": self.exit_code, "seconds": round(self.seconds, 1),
                           "stages": [{"name": s.name, "ok": s.ok,
                                       "seconds": round(s.seconds, 1), "lines": s.lines}
                                      for s in self.stages]}, indent=2) + "\n"


def run_local(service_dir: str | Path, *, tag: str | None = None,
              context: str | Path | None = None, skip_gates: bool = False,
              stack_env: dict[str, str] | None = None,
              on_stage: Callable[[Stage], None] | None = None) -> Report:
    """Gates, build, deploy into the local stack, verify (smoke then integration), roll back
    to the image that served before when verify fails, and the report."""
    from opsplane.spec.service import load_spec

    svc = Service.at(service_dir)
    root = repo_root(svc.root)
    ctx = Path(context).resolve() if context else root
    name = load_spec(svc.spec_path).name
    image = f"opsplane/{name}:{tag or time.strftime('pipeline-%Y%m%d%H%M%S')}"
    report = Report(name, image)
    stack = LocalStack(root, stack_env)

    def add(stage: Stage) -> bool:
        report.stages.append(stage)
        if on_stage:
            on_stage(stage)
        return stage.ok

    def record(stage: Stage) -> None:
        add(stage)

    if not skip_gates and not all(s.ok for s in gates(svc.root, on_stage=record)):
        report.outcome = "stopped at the gates"
        return report
    if not add(_timed("build", lambda: build_local(ctx, image))):
        report.outcome = "stopped at the build"
        return report
    report.previous = stack.running_image()
    if report.previous is None:
        if not add(_timed("stack up", stack.up)):
            report.outcome = "the local stack did not come up"
            return report
        report.previous = stack.running_image()
    # a name for the image that served, so that nothing prunes it before a rollback
    keep = f"opsplane/{name}:before-{image.rpartition(':')[2]}"
    if report.previous:
        _run(["docker", "tag", report.previous, keep])
    deployed = add(_timed("deploy", lambda: stack.deploy(image)))
    verified = deployed and all(s.ok for s in verify(svc.root, "stack",
                                                         env_file=stack.env_file, wait_s=60.0,
                                                         on_stage=record))
    if verified:
        report.outcome = "deployed"
        return report
    if not report.previous:
        report.outcome = "failed; nothing to roll back to"
        return report
    rolled = add(_timed("rollback", lambda: stack.deploy(keep)))
    # the previous image serves again: smoke proves it
    serving = rolled and all(add(Stage(f"after rollback: {s.name}", s.ok, s.seconds, s.lines))
                             for s in verify(svc.root, "stack", env_file=stack.env_file,
                                             wait_s=60.0, collections=("smoke",)))
    report.outcome = ("rolled back: the previous image serves" if serving
                      else "rolled back, but the previous image fails its smoke test"
                      if rolled else "rollback failed")
    return report
