"""``opsplane demo``: the operational plane shown end to end on the reference service.

Every stage is a library function that does one thing and returns what it produced (for the
summary and the tests). ``run`` strings them together on loopback with embedded defaults:

1. ``logging_stage``     the same records in JSON mode and in local mode
2. ``generate_stage``    dashboards, alert rules + Alertmanager routes, chart values -> out/
3. ``start_services``    payments stub + orders under ``opsplane serve`` on free ports; their
                         JSON logs captured to out/logs/*.log and shown live via ``logstd pretty``
4. ``smoke_stage``       ``opsplane test -t smoke`` against the running service
5. ``customer_stage``    a few actions on customer C-1001 (create, read, cancel)
6. ``load_stage``        a bounded ``loadtest run`` sampling the service's pid, then
                         ``loadtest recommend-limits`` -> out/values-resources.yaml
7. ``prometheus_stage``  (when ``prometheus`` is installed) the dashboards' queries answer
8. ``shutdown_stage``    SIGTERM with requests in flight: every request answered, 0 dropped
9. ``lint_stage``        ``logstd lint`` over the captured logs
10. ``query_stage``      ``logstd query customer C-1001 --run out/logs/orders.log``
11. ``alert_drill_stage`` ``opsplane alerts drill`` on orders (skipped under ``--fast``)

A piece that is not installed is skipped with ``skipped: <piece> not available``. Every
process is started in one ``ProcessGroup`` and stopped by pid, also on Ctrl-C and on errors.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import logstd
from opsplane.errors import MissingToolError, OpsplaneError, UsageError
from opsplane.testing.procs import ProcessGroup, free_port, wait_http

CUSTOMER = "C-1001"


def _scenario() -> None:
    log = logging.getLogger("orders.api")
    with logstd.bound_keys(requestId="7f3c9a1e-2d4b-4c8e-9f1a-0b2c3d4e5f60", custId="C-1001"):
        log.info("order created", extra={"order_id": "O-20261128-0001", "httpMethod": "POST",
                                         "httpRoute": "/orders", "httpStatus": 201,
                                         "durationMs": 12.5})
        log.info("payment requested", extra={"dependency": "payments", "dependencyStatus": 201,
                                             "dependencyDurationMs": 35.2,
                                             "authorization": "Bearer eyJhbGciOi.secret"})
        log.warning("payment declined", extra={"errorCode": "CARD_DECLINED",
                                               "card_number": "4111111111111111"})
        try:
            raise TimeoutError("payments did not answer within 1000 ms")
        except TimeoutError:
            log.exception("order failed", extra={"outcome": "failure"})


def logging_stage(out: IO[str] | None = None) -> dict[str, Any]:
    """Write the scenario in both modes; returns the JSON lines for callers to check."""
    out = out or sys.stdout
    json_buf = io.StringIO()
    logstd.configure(service="orders", mode="json", stream=json_buf, version="1.4.2")
    _scenario()
    out.write("== JSON mode: what the log aggregator receives\n")
    out.write(json_buf.getvalue())
    out.write("\n== local mode: the same records on a developer's terminal\n")
    logstd.configure(service="orders", mode="local", stream=out, version="1.4.2",
                     color=logstd_color(out))
    _scenario()
    out.write("\nNote: authorization was masked and the card number dropped; custId and "
              "order_id were written as customerId and orderId.\n")
    out.flush()
    logstd.reset()
    return {"json_lines": json_buf.getvalue().splitlines()}


def logstd_color(stream: IO[str]) -> bool:
    from logstd._render import want_color

    return want_color(stream)


# --------------------------------------------------------------------------- the context


def repo_root() -> Path:
    """The checkout holding examples/orders (the demo runs from a source checkout)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "examples" / "orders").is_dir():
        raise UsageError(f"{root / 'examples' / 'orders'}: not found; opsplane demo runs "
                         "from a source checkout (git clone, then make demo)")
    return root


def tool(name: str) -> str:
    """The console script ``name`` installed next to this Python, else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise MissingToolError(f"{name}: command not found next to {sys.executable} or on PATH "
                               "(pip install -e . installs it)")
    return found


_PIECES = {
    # piece -> (module that must import, CLI registry module, command name)
    "opsplane serve": ("opsplane.runtime.serve", "opsplane.cli.main", "serve"),
    "the orders service": ("opsplane.runtime._instrument", None, None),
    "logstd pretty": ("logstd._cmd_pretty", "logstd._cli", "pretty"),
    "logstd lint": ("logstd._cmd_lint", "logstd._cli", "lint"),
    "logstd query": ("logstd._cmd_query", "logstd._cli", "query"),
    "opsplane generate": ("opsplane.cli._cmd_generate", "opsplane.cli.main", "generate"),
    "opsplane test": ("opsplane.cli._cmd_test", "opsplane.cli.main", "test"),
    "loadtest": ("loadtest._cmd_run", "loadtest._cli", "run"),
    "opsplane chart": ("opsplane.cli._cmd_chart", "opsplane.cli.main", "chart"),
    "the shutdown drill": ("opsplane.testing.drill", None, None),
}


def available(piece: str) -> bool:
    """Whether a piece of the plane is installed (its module exists, its command too)."""
    module, registry, command = _PIECES[piece]
    try:
        if importlib.util.find_spec(module) is None:  # found, not imported (no heavy imports)
            return False
        if registry is not None:
            commands = importlib.import_module(registry).COMMANDS
            if command not in commands:
                return False
    except ImportError:
        return False
    if piece == "the orders service":
        with contextlib.suppress(OpsplaneError):
            return (repo_root() / "examples" / "orders" / "service.yaml").is_file()
        return False
    return True


class LiveLogs:
    """Tees services' stdout: every line to out/logs/<name>.log, and (unless quiet) through
    one ``logstd pretty`` process whose output this process relays to the terminal, so that
    the demo's own lines and the logs never tear each other. Quiet passes warnings, errors
    and the shutdown sequence only, so a load test does not flood the screen."""

    def __init__(self, pretty: subprocess.Popen[bytes] | None, out: IO[str]) -> None:
        self.pretty = pretty
        self.out = out
        self.quiet = False
        self.lock = threading.Lock()  # one writer at a time on ``out``
        self._in_lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self.lines: dict[str, int] = {}
        self._last = time.monotonic()
        self._relay: threading.Thread | None = None
        if pretty is not None and pretty.stdout is not None:
            self._relay = threading.Thread(target=self._relay_pretty, args=(pretty.stdout,),
                                           daemon=True, name="logs-pretty")
            self._relay.start()

    def attach(self, name: str, proc: subprocess.Popen[bytes], path: Path) -> None:
        assert proc.stdout is not None
        t = threading.Thread(target=self._pump, args=(name, proc.stdout, path), daemon=True,
                             name=f"logs-{name}")
        self._threads[name] = t
        self.lines[name] = 0
        t.start()

    def _show(self, line: bytes) -> bool:
        if not self.quiet:
            return True
        return (b'"shutdown.' in line or b'"level":"warning"' in line
                or b'"level":"error"' in line)

    def _write(self, text: str) -> None:
        with self.lock:
            self.out.write(text)
            self.out.flush()
        self._last = time.monotonic()

    def _relay_pretty(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self._write(line.decode("utf-8", "replace"))

    def _pump(self, name: str, stream: IO[bytes], path: Path) -> None:
        with path.open("wb") as f:
            for line in iter(stream.readline, b""):
                f.write(line)
                f.flush()
                self.lines[name] += 1
                if not self._show(line):
                    continue
                self._last = time.monotonic()
                if self.pretty is not None and self.pretty.stdin is not None:
                    with self._in_lock, contextlib.suppress(OSError, ValueError):
                        self.pretty.stdin.write(line)
                        self.pretty.stdin.flush()
                else:
                    self._write(f"  {name} | " + line.decode("utf-8", "replace"))

    def settle(self, quiet_for: float = 0.15, at_most: float = 1.5) -> None:
        """Wait until the live view has been idle ``quiet_for`` s (at most ``at_most`` s),
        so the next heading comes after the log lines that belong above it."""
        deadline = time.monotonic() + at_most
        while time.monotonic() < deadline and time.monotonic() - self._last < quiet_for:
            time.sleep(0.05)

    def wait(self, name: str, timeout: float = 10.0) -> None:
        """Until ``name``'s output ended (its process exited) and is all on disk."""
        t = self._threads.get(name)
        if t is not None:
            t.join(timeout)

    def close(self, timeout: float = 10.0) -> None:
        for t in self._threads.values():
            t.join(timeout)
        if self.pretty is not None and self.pretty.stdin is not None:
            with contextlib.suppress(OSError):
                self.pretty.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.pretty.wait(timeout)
        if self._relay is not None:
            self._relay.join(timeout)
            self._relay = None


@dataclass
class Demo:
    """What the stages share: where things go, what runs, what was produced."""

    out_dir: Path
    fast: bool = False
    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    procs: ProcessGroup = field(default_factory=ProcessGroup)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="opsplane-demo-")))
    started: dict[str, int] = field(default_factory=dict)  # name -> pid, for the summary
    artifacts: list[tuple[str, Path]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    live: LiveLogs | None = None
    orders: subprocess.Popen[bytes] | None = None
    payments: subprocess.Popen[bytes] | None = None
    orders_url: str = ""
    payments_url: str = ""
    prometheus_url: str = ""
    drain_delay: float = 1.0
    grace: float = 5.0

    @property
    def service_dir(self) -> Path:
        return repo_root() / "examples" / "orders"

    @property
    def spec(self) -> Path:
        return self.service_dir / "service.yaml"

    @property
    def logs(self) -> Path:
        return self.out_dir / "logs"

    def say(self, text: str = "") -> None:
        if self.live is not None:
            self.live._write(text + "\n")
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def settle(self) -> None:
        """Let the live log view catch up before the demo's next lines."""
        if self.live is not None:
            self.live.settle()

    def stage(self, title: str) -> None:
        self.settle()
        self.say(f"\n== {title}")

    def skip(self, piece: str) -> None:
        self.skipped.append(piece)
        self.say(f"skipped: {piece} not available")

    def show_cmd(self, argv: list[str]) -> None:
        shown = [Path(argv[0]).name, *argv[1:]]
        self.say("$ " + " ".join(_rel(a) for a in shown))

    def call(self, name: str, argv: list[str], *, cwd: Path | None = None,
             capture: bool = False, env: dict[str, str] | None = None,
             timeout: float = 300.0, track: bool = False) -> tuple[int, str]:
        """Run a command to completion inside the process group (stopped on Ctrl-C)."""
        self.show_cmd(argv)
        direct = None if capture else _stream_fd(self.stream)
        p = self.procs.start(name, argv, cwd=cwd, env=env,
                             stdout=direct if direct is not None else subprocess.PIPE,
                             stderr=direct if direct is not None else subprocess.STDOUT)
        if track:
            self.started[name] = p.pid
        try:
            text, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _interrupt(p)
            self.procs.stop(p)
            raise OpsplaneError(f"{name}: did not finish within {timeout:g} s") from None
        except BaseException:  # Ctrl-C: what a terminal would do to a foreground command
            _interrupt(p)
            raise
        decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else ""
        if not capture and decoded:
            self.say(decoded.rstrip())
        return p.returncode, decoded

    def produced(self, what: str, path: Path) -> None:
        self.artifacts.append((what, path))


def _interrupt(p: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """SIGINT to ``p``'s process group (its own session), as Ctrl-C in a terminal would: a
    tool like ``loadtest run`` then stops its own children (Locust) before it exits."""
    if p.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        p.wait(timeout=timeout)


def _rel(arg: str) -> str:
    """A path argument relative to the current directory when it is inside it."""
    p = Path(arg)
    if p.is_absolute():
        with contextlib.suppress(ValueError):
            return str(p.relative_to(Path.cwd()))
    return arg


def _stream_fd(stream: IO[str]) -> IO[str] | None:
    """``stream`` when a child process can write to it directly (it has a file descriptor)."""
    try:
        stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    return stream


# --------------------------------------------------------------------------- the stages


def generate_stage(demo: Demo) -> dict[str, Any]:
    """Dashboards, alert rules and routes, chart values for orders, written into out/
    (the three generators run side by side)."""
    got: dict[str, Any] = {}
    opsplane = tool("opsplane")
    jobs: list[tuple[str, list[str], Path]] = []
    if available("opsplane generate"):
        for what in ("dashboards", "alerts"):
            target = demo.out_dir / what
            jobs.append((what, [opsplane, "generate", what, "-o", str(target), str(demo.spec)],
                         target))
    else:
        demo.skip("opsplane generate (dashboards, alerts)")
    if available("opsplane chart"):
        values = demo.out_dir / "values.yaml"
        jobs.append(("values", [opsplane, "chart", "values", "--spec", str(demo.spec),
                                "-o", str(values)], values))
    else:
        demo.skip("opsplane chart")
    running = []
    for what, argv, target in jobs:
        demo.show_cmd(argv)
        running.append((what, target, demo.procs.start(what, argv, stdout=subprocess.PIPE)))
    for what, target, p in running:
        text, _ = p.communicate(timeout=120)
        if p.returncode != 0:
            raise OpsplaneError(f"generating {what} failed (exit {p.returncode}): "
                                + _last_line(text.decode("utf-8", "replace")))
        if target.is_dir():
            files = sorted(f for f in target.rglob("*") if f.is_file())
            got[what] = files
            demo.say(f"  {_rel(str(target))}/: "
                     + ", ".join(str(f.relative_to(target)) for f in files))
        else:
            got[what] = target
            demo.say(f"  {_rel(str(target))}")
    labels = {"dashboards": "Grafana dashboards (+ provisioning, ConfigMap)",
              "alerts": "Prometheus alert rules, rule tests, Alertmanager routes",
              "values": "Helm values for helm/service"}
    for what, _argv, target in jobs:
        demo.produced(labels[what], target)
    return got


def start_services(demo: Demo) -> dict[str, Any]:
    """Payments stub and orders under ``opsplane serve`` on free loopback ports."""
    demo.logs.mkdir(parents=True, exist_ok=True)
    env = {"LOGSTD_MODE": "json", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    pretty = None
    if available("logstd pretty"):
        err = _stream_fd(demo.stream)
        pretty = demo.procs.start("logstd pretty", [tool("logstd"), "pretty", "-j", "1"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=err if err is not None else subprocess.DEVNULL,
                                  env={"FORCE_COLOR": "1"} if _isatty(demo.stream) else {})
        demo.started["logstd pretty"] = pretty.pid
        demo.say("live logs of both services below, through `logstd pretty` "
                 f"(raw JSON in {_rel(str(demo.logs))}/)")
    else:
        demo.skip("logstd pretty (raw lines shown instead)")
    demo.live = LiveLogs(pretty, demo.stream)
    opsplane = tool("opsplane")
    pay_port, orders_port = free_port(), free_port()
    payments = demo.procs.start(
        "payments", [opsplane, "serve", "payments_stub:app", "--host", "127.0.0.1",
                     "--port", str(pay_port), "--drain-delay", "0", "--grace", "2",
                     "--spec", str(demo.tmp / "no-spec.yaml")],  # orders' spec is not its own
        cwd=demo.service_dir, env={**env, "LOGSTD_SERVICE": "payments"},
        stdout=subprocess.PIPE)
    demo.started["payments"] = payments.pid
    demo.payments = payments
    demo.live.attach("payments", payments, demo.logs / "payments.log")
    demo.payments_url = f"http://127.0.0.1:{pay_port}"
    db = demo.tmp / "orders.db"
    orders = demo.procs.start(
        "orders", [opsplane, "serve", "--host", "127.0.0.1", "--port", str(orders_port),
                   "--drain-delay", f"{demo.drain_delay:g}", "--grace", f"{demo.grace:g}"],
        cwd=demo.service_dir, stdout=subprocess.PIPE,
        env={**env, "DATABASE_URL": f"sqlite:///{db}", "PAYMENTS_URL": demo.payments_url})
    demo.started["orders"] = orders.pid
    demo.orders = orders
    demo.live.attach("orders", orders, demo.logs / "orders.log")
    demo.orders_url = f"http://127.0.0.1:{orders_port}"
    demo.say(f"payments stub: {demo.payments_url} (pid {payments.pid})")
    demo.say(f"orders:        {demo.orders_url} (pid {orders.pid}, opsplane serve, "
             f"SQLite {db})")
    wait_http(f"{demo.payments_url}/healthz/ping", proc=payments)
    wait_http(f"{demo.orders_url}/healthz/readiness", proc=orders)
    demo.say("both ready")
    demo.produced("captured JSON logs", demo.logs)
    return {"orders": demo.orders_url, "payments": demo.payments_url,
            "pids": {"orders": orders.pid, "payments": payments.pid}}


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def smoke_stage(demo: Demo) -> dict[str, Any]:
    """The smoke collection against the running service; a JSON report in out/."""
    if not available("opsplane test"):
        demo.skip("opsplane test")
        return {}
    tests = demo.service_dir / "tests"
    env_file = demo.tmp / "env.demo.yaml"
    import yaml

    env = yaml.safe_load((tests / "env.local.yaml").read_text(encoding="utf-8"))
    env["name"] = "demo"
    env["baseUrl"] = demo.orders_url
    env_file.write_text(yaml.safe_dump(env, sort_keys=False), encoding="utf-8")
    report = demo.out_dir / "smoke-report.json"
    code, text = demo.call("opsplane test",
                           [tool("opsplane"), "test", "-t", str(tests / "test.smoke.yaml"),
                            "-e", str(env_file), "--wait", "10s", "--report", "json",
                            "--out", str(report)], capture=True)
    demo.settle()
    demo.say(_indent(text))
    if code != 0:
        raise OpsplaneError(f"the smoke collection failed against {demo.orders_url} "
                            f"(exit {code}); see the lines above")
    demo.produced("smoke test report (JSON)", report)
    data = json.loads(report.read_text(encoding="utf-8"))
    return {"report": report, "exit": code, "data": data}


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def customer_stage(demo: Demo) -> dict[str, Any]:
    """A few actions on customer C-1001 for the log query to find later."""
    base = demo.orders_url
    steps = []
    status, order = _http("POST", f"{base}/orders", {
        "customerId": CUSTOMER, "items": [{"sku": "SKU-1", "quantity": 2, "price": 9.5}]})
    steps.append(("POST /orders", status, order.get("status") if isinstance(order, dict) else ""))
    oid = order.get("id", "missing") if isinstance(order, dict) else "missing"
    status, _ = _http("GET", f"{base}/orders/{oid}")
    steps.append((f"GET /orders/{oid}", status, ""))
    status, body = _http("POST", f"{base}/orders/{oid}/cancel")
    steps.append((f"POST /orders/{oid}/cancel", status,
                  body.get("status") if isinstance(body, dict) else ""))
    status, body = _http("GET", f"{base}/orders?customerId={CUSTOMER}")
    n = len(body.get("orders", [])) if isinstance(body, dict) else 0
    steps.append((f"GET /orders?customerId={CUSTOMER}", status, f"{n} orders"))
    demo.settle()
    for what, st, note in steps:
        demo.say(f"  {what:<44} {st}  {note}")
    return {"order": oid, "steps": steps}


def load_stage(demo: Demo) -> dict[str, Any]:
    """A bounded Locust run sampling the service's pid, then the recommended resources."""
    if not available("loadtest") or demo.orders is None:
        demo.skip("loadtest")
        return {}
    run_dir = demo.out_dir / "loadtest-run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    users, duration, interval = ("4", "6s", "0.1") if demo.fast else ("10", "20s", "0.25")
    assert demo.live is not None
    demo.live.quiet = True
    demo.say("(live logs: warnings and errors only during the load)")
    try:
        code, _ = demo.call("loadtest run",
                            [tool("loadtest"), "run", "--profile", "mixed", "--users", users,
                             "--spawn-rate", users, "--duration", duration,
                             "--target", demo.orders_url, "--pid", str(demo.orders.pid),
                             "--interval", interval, "--spec", str(demo.spec),
                             "--out", str(run_dir)],
                            cwd=demo.service_dir, track=True)
    finally:
        demo.live.quiet = False
    if code != 0:
        raise OpsplaneError(f"loadtest run failed (exit {code}); see {run_dir}/locust.log")
    demo.produced("load test run (samples, Locust stats)", run_dir)
    values = demo.out_dir / "values-resources.yaml"
    argv = [tool("loadtest"), "recommend-limits", str(run_dir), "-o", str(values)]
    if demo.fast:  # a few seconds of load: fewer samples than a real sizing run needs
        argv += ["--min-samples", "5", "--warmup", "0.5"]
    code, text = demo.call("loadtest recommend-limits", argv, capture=True)
    demo.say(_indent(text))
    if code != 0:
        raise OpsplaneError(f"loadtest recommend-limits refused the run (exit {code}): "
                            + (text.strip().splitlines() or [""])[-1])
    if demo.fast:
        demo.say("  (a --fast run is too short to size a pod; use "
                 "`loadtest run --duration 5m` for real numbers)")
    demo.produced("recommended requests/limits (Helm values)", values)
    import yaml

    resources = yaml.safe_load(values.read_text(encoding="utf-8"))["resources"]
    return {"run_dir": run_dir, "values": values, "resources": resources}


def start_prometheus(demo: Demo) -> dict[str, Any]:
    """Prometheus on a free loopback port scraping orders every second (rules loaded)."""
    binary = shutil.which("prometheus")
    if binary is None:
        demo.skip("prometheus (not on PATH)")
        return {}
    port = free_port()
    target = urllib.parse.urlsplit(demo.orders_url).netloc
    rules = sorted((demo.out_dir / "alerts").glob("*.rules.yaml"))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rules],
        "scrape_configs": [{"job_name": "orders", "static_configs": [
            {"targets": [target], "labels": {"cluster": "demo", "namespace": "demo"}}]}],
    }
    import yaml

    cfg = demo.tmp / "prometheus.yml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    argv = [binary, f"--config.file={cfg}", f"--storage.tsdb.path={demo.tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    demo.show_cmd(argv)
    log = (demo.tmp / "prometheus.log").open("wb")
    p = demo.procs.start("prometheus", argv, stdout=log, cwd=demo.tmp)
    demo.started["prometheus"] = p.pid
    demo.prometheus_url = f"http://127.0.0.1:{port}"
    wait_http(f"{demo.prometheus_url}/-/ready", proc=p)
    demo.say(f"  prometheus {demo.prometheus_url} (pid {p.pid}), scraping {target} every 1 s, "
             f"{len(rules)} rule file(s)")
    return {"url": demo.prometheus_url, "pid": p.pid}


def _prom_query(url: str, expr: str) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=10) as r:
        body = json.loads(r.read())
    if body.get("status") != "success":
        raise OpsplaneError(f"prometheus query failed: {expr}: {body.get('error')}")
    result = body["data"]["result"]
    return result if isinstance(result, list) else []


def dashboard_queries(dashboards: Path, service: str = "orders") -> list[tuple[str, str]]:
    """(panel title, PromQL) of the service dashboard, variables filled for the demo."""
    path = dashboards / f"svc-{service}.json"
    board = json.loads(path.read_text(encoding="utf-8"))
    found: list[tuple[str, str]] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                expr = t.get("expr")
                if isinstance(expr, str) and expr:
                    found.append((str(p.get("title", "")), expr
                                  .replace("$__rate_interval", "1m")
                                  .replace("$cluster", "demo").replace("$namespace", "demo")))

    walk(board.get("panels", []))
    return found


def prometheus_stage(demo: Demo) -> dict[str, Any]:
    """The dashboard's queries run against the live Prometheus and return data."""
    if not demo.prometheus_url:
        return {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not _prom_query(
            demo.prometheus_url, 'up{job="orders"} == 1'):
        time.sleep(0.5)
    if not (demo.out_dir / "dashboards" / "svc-orders.json").exists():
        demo.skip("dashboards (no svc-orders.json to query)")
        return {}
    wanted = ("Requests/s", "p99 latency", "Latency by route", "Requests/s by status class")
    answers: dict[str, int] = {}
    for title, expr in dashboard_queries(demo.out_dir / "dashboards"):
        if title in wanted and title not in answers:
            result = _prom_query(demo.prometheus_url, expr)
            answers[title] = len(result)
            sample = ""
            if result:
                v = float(result[0]["value"][1])
                sample = f"e.g. {v:.3g}" + (f" {result[0]['metric']}" if result[0]["metric"]
                                           else "")
            demo.say(f"  {title:<28} {len(result)} series  {sample}")
    groups = json.loads(urllib.request.urlopen(
        f"{demo.prometheus_url}/api/v1/rules", timeout=10).read())["data"]["groups"]
    n_rules = sum(len(g.get("rules", [])) for g in groups)
    demo.say(f"  alert and recording rules loaded from {_rel(str(demo.out_dir / 'alerts'))}/: "
             f"{n_rules}")
    return {"series": answers, "rules": n_rules}


class _Served:
    """What ``opsplane.testing.drill.drive`` needs of a served app: its port and a way to signal."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, drain: float,
                 grace: float) -> None:
        self.proc, self.port = proc, port
        self.termination_grace = drain + grace + 5

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)


def shutdown_stage(demo: Demo) -> dict[str, Any]:
    """SIGTERM with slow requests in flight, like a rolling update: nothing dropped."""
    if demo.orders is None:
        return {}
    if not available("the shutdown drill"):
        demo.say("  (no drill helpers: plain SIGTERM)")
        code = demo.procs.stop(demo.orders, timeout=demo.drain_delay + demo.grace + 5)
        return {"exit": code}
    import asyncio

    from opsplane.testing import drill

    port = int(urllib.parse.urlsplit(demo.orders_url).port or 0)
    served = _Served(demo.orders, port, demo.drain_delay, demo.grace)
    demo.say(f"  steady load (one slow request of 1.5 s in 3), SIGTERM after 1 s, then "
             f"{demo.drain_delay:g} s of draining")
    assert demo.live is not None
    demo.live.quiet = True
    try:
        outcomes, _probes = asyncio.run(drill.drive(
            cast("drill.ServedApp", served), rate=20, before=1.0,
            after=demo.drain_delay + 0.5, slow_every=3,
            slow_path="/orders/slow?ms={ms}", slow_ms=1500,
            fast_path=f"/orders?customerId={CUSTOMER}"))
        code = demo.orders.wait(timeout=served.termination_grace)
        demo.live.wait("orders")
    finally:
        demo.live.quiet = False
    accepted = set()
    for line in (demo.logs / "orders.log").read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            rec = json.loads(line)
            rid = rec.get("requestId") if isinstance(rec, dict) else None
            if isinstance(rid, str) and rid.startswith("r"):
                accepted.add(rid)
    in_flight = 0
    for o in outcomes:
        if o.rid in accepted and o.result == "refused":
            o.result, o.detail = "dropped", "accepted by the app, closed without a response"
        if o.sent < 0 and o.path.startswith("/orders/slow") and o.sent > -1.5:
            in_flight += 1
    counts = {r: sum(1 for o in outcomes if o.result == r) for r in drill.RESULTS}
    counts["sent"] = len(outcomes)
    demo.settle()
    demo.say(f"  sent {counts['sent']}: completed {counts['completed']}, refused after the "
             f"drain {counts['refused']} (never reached the app; a cluster routes them "
             f"elsewhere), rejected {counts['rejected']}, dropped {counts['dropped']}")
    demo.say(f"  slow requests in flight at SIGTERM: {in_flight}; orders exited with code {code}")
    for o in outcomes:
        if o.result == "dropped":
            demo.say(f"  dropped: {o.rid} {o.path} {o.detail}")
    return {"counts": counts, "exit": code, "in_flight": in_flight}


def lint_stage(demo: Demo) -> dict[str, Any]:
    """``logstd lint`` over the captured logs; findings are shown, not fatal."""
    if not available("logstd lint"):
        demo.skip("logstd lint")
        return {}
    code, text = demo.call("logstd lint", [tool("logstd"), "lint", "--format", "json",
                                           str(demo.logs)], capture=True)
    if code not in (0, 1):
        raise OpsplaneError(f"logstd lint failed (exit {code}): {text.strip()}")
    findings = json.loads(text[text.index("["):]) if "[" in text else []
    by_rule: dict[str, int] = {}
    for f in findings:
        k = f"{f.get('code')} {f.get('rule')}" + (f" ({f['key']})" if f.get("key") else "")
        by_rule[k] = by_rule.get(k, 0) + 1
    demo.say(f"  {len(findings)} findings in {_rel(str(demo.logs))}/ (shown, not fatal: "
             "the dictionary's verdict on what the services wrote)")
    for k, v in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))[:8]:
        demo.say(f"    {v:>5}  {k}")
    return {"findings": len(findings), "by_rule": by_rule}


def query_stage(demo: Demo) -> dict[str, Any]:
    """Every action on customer C-1001, answered over the captured log file."""
    if not available("logstd query"):
        demo.skip("logstd query")
        return {}
    log = demo.logs / "orders.log"
    code, text = demo.call("logstd query", [tool("logstd"), "query", "customer", CUSTOMER,
                                            "--run", str(log)], capture=True)
    if code != 0:
        raise OpsplaneError(f"logstd query --run failed (exit {code}): {text.strip()}")
    lines = text.rstrip().splitlines()
    rows = 0
    if lines and lines[-1].startswith("(") and "row" in lines[-1]:
        with contextlib.suppress(ValueError):
            rows = int(lines[-1].strip("()").split()[0])
    head = [ln for ln in lines[:-1] if ln.strip()]
    shown = head[:14]
    demo.say(_indent("\n".join(shown)))
    if len(head) > len(shown):
        demo.say(f"  ... {len(head) - len(shown)} more")
    demo.say(f"  ({rows} rows)")
    return {"rows": rows}


# --------------------------------------------------------------------------- the whole demo


def summary(demo: Demo) -> str:
    rows = [(what, _rel(str(path)) + ("/" if path.is_dir() else ""))
            for what, path in demo.artifacts]
    width = max((len(w) for w, _ in rows), default=10)
    lines = ["", "== summary", f"{'produced':<{width}}  where", f"{'-' * width}  -----"]
    lines += [f"{w:<{width}}  {p}" for w, p in rows]
    r = demo.results
    facts = []
    if r.get("smoke", {}).get("data") is not None:
        facts.append(("smoke test", "passed"))
    if r.get("load", {}).get("resources"):
        res = r["load"]["resources"]
        facts.append(("recommended resources",
                      f"requests cpu {res['requests']['cpu']} memory {res['requests']['memory']}"
                      f", limits " + " ".join(f"{k} {v}" for k, v in res["limits"].items())))
    if r.get("prometheus", {}).get("series"):
        facts.append(("dashboard queries with data",
                      f"{sum(1 for n in r['prometheus']['series'].values() if n)} of "
                      f"{len(r['prometheus']['series'])}"))
    if r.get("lint"):
        facts.append(("log lint findings", str(r["lint"]["findings"])))
    if r.get("query"):
        facts.append((f"log records for {CUSTOMER}", str(r["query"]["rows"])))
    if r.get("shutdown", {}).get("counts"):
        c = r["shutdown"]["counts"]
        facts.append(("graceful shutdown", f"dropped {c['dropped']} of {c['sent']} requests, "
                                           f"exit code {r['shutdown']['exit']}"))
    if facts:
        lines.append("")
        fw = max(len(k) for k, _ in facts)
        lines += [f"{k:<{fw}}  {v}" for k, v in facts]
    for piece in demo.skipped:
        lines.append(f"skipped: {piece} not available")
    out = _rel(str(demo.out_dir))
    lines += ["", "next commands to try:",
              f"  .venv/bin/logstd pretty {out}/logs/orders.log --where customerId={CUSTOMER}",
              f"  .venv/bin/logstd query customer {CUSTOMER} --to es   "
              "# the same question for Elasticsearch",
              f"  .venv/bin/logstd lint {out}/logs/ --statistics",
              f"  .venv/bin/loadtest report {out}/loadtest-run -o {out}/load-report.html",
              f"  .venv/bin/opsplane chart render -f {out}/values.yaml "
              f"-f {out}/values-resources.yaml --release orders",
              "  .venv/bin/opsplane init invoices --team billing",
              "  make test"]
    return "\n".join(lines)


def alert_drill_stage(demo: Demo) -> dict[str, Any]:
    """``opsplane alerts drill`` on orders (about 40 s, so not under ``--fast``)."""
    if demo.fast:
        demo.say("skipped under --fast (about 40 s): opsplane alerts drill "
                 "examples/orders/service.yaml")
        return {}
    if not all(shutil.which(t) for t in ("prometheus", "prometheus-alertmanager")):
        demo.skip("the alert drill (prometheus, prometheus-alertmanager)")
        return {}
    from alerts.drill import run_drill

    demo.show_cmd(["opsplane", "alerts", "drill", str(demo.spec)])
    result = run_drill(demo.spec, out=demo.stream, workdir=demo.tmp / "alert-drill")
    if not result.ok:
        raise OpsplaneError("alert drill: not every receiver got its alert and its resolve "
                            f"(logs in {demo.tmp / 'alert-drill'})")
    return {"page_seconds": result.page_seconds, "deliveries": len(result.rows)}


def run(out_dir: str | Path = "out", *, fast: bool = False,
        stream: IO[str] | None = None) -> dict[str, Any]:
    """The whole demo; returns each stage's result. Raises OpsplaneError on a failed stage."""
    stream = stream or sys.stdout
    t0 = time.monotonic()
    demo = Demo(out_dir=Path(out_dir).resolve(), fast=fast, stream=stream)
    if fast:
        demo.drain_delay, demo.grace = 0.5, 3.0
    demo.out_dir.mkdir(parents=True, exist_ok=True)
    results = demo.results
    if not available("the orders service") or not available("opsplane serve"):
        demo.stage("1. the logging standard")
        results["logging"] = logging_stage(stream)
        demo.skip("the orders service / opsplane serve (only the logging stage ran)")
        return results
    try:
        with demo.procs:
            demo.stage("1. the logging standard: JSON for machines, local mode for people")
            results["logging"] = logging_stage(stream)
            demo.stage("2. generate dashboards, alert rules, Alertmanager routes and chart "
                       "values from service.yaml")
            results["generate"] = generate_stage(demo)
            demo.stage("3. start the payments stub and orders under `opsplane serve`")
            results["services"] = start_services(demo)
            demo.stage("4. Prometheus against the service")
            results["prometheus_start"] = start_prometheus(demo)
            demo.stage("5. smoke test")
            results["smoke"] = smoke_stage(demo)
            demo.stage(f"6. a few actions on customer {CUSTOMER}")
            results["customer"] = customer_stage(demo)
            demo.stage("7. load test while sampling the service's CPU and memory")
            results["load"] = load_stage(demo)
            demo.stage("8. the dashboard queries on live data")
            results["prometheus"] = prometheus_stage(demo)
            demo.stage("9. SIGTERM with requests in flight: graceful shutdown")
            results["shutdown"] = shutdown_stage(demo)
            if demo.payments is not None:  # its log complete before the lint reads it
                demo.procs.stop(demo.payments, timeout=10)
            assert demo.live is not None
            demo.live.close()
            demo.stage("10. lint the captured logs against the dictionary")
            results["lint"] = lint_stage(demo)
            demo.stage(f"11. every action on customer {CUSTOMER}, from the captured log")
            results["query"] = query_stage(demo)
            demo.stage("12. alerts reach people: page, ticket and chat delivered and resolved")
            results["alert_drill"] = alert_drill_stage(demo)
    except KeyboardInterrupt:
        demo.say("\ninterrupted: every process was stopped")
        raise
    finally:
        if demo.live is not None:
            demo.live.close(timeout=2)
        shutil.rmtree(demo.tmp, ignore_errors=True)
        # after the ProcessGroup stopped them all (also on Ctrl-C and errors)
        demo.say("processes: " + ", ".join(f"{n} pid {p}" for n, p in demo.started.items())
                 + " -- all stopped")
    demo.say(summary(demo))
    demo.say(f"demo finished in {time.monotonic() - t0:.0f} s")
    results["started"] = dict(demo.started)
    results["artifacts"] = list(demo.artifacts)
    results["skipped"] = list(demo.skipped)
    return results
