"""``opsplane serve``: run a service's ASGI app under uvicorn with the drain sequence.

    from opsplane.runtime.serve import resolve, serve
    serve(resolve(app=None, port=8080))      # app and shutdown timing from ./service.yaml

What happens on SIGTERM is described in ``opsplane/runtime/_server.py`` and docs/shutdown.md.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsplane.errors import AppLoadError, OpsplaneError, UsageError
from opsplane.runtime.lifecycle import STATE, State

DEFAULT_PORT = 8080


@dataclass(frozen=True)
class ServeOptions:
    app: str
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    workers: int = 1
    drain_delay: float = 5.0
    grace: float = 20.0
    max_in_flight: int = 256
    service: str | None = None
    hooks_timeout: float = 2.0  # app lifespan shutdown, then State hooks: each at most this
    reuse_port: bool = False

    @property
    def worst_case_seconds(self) -> float:
        """Signal to exit at most: drain_delay + grace + cut (0.5) + lifespan + State hooks.

        Within the "+ 5" of terminationGracePeriodSeconds (docs/shutdown.md).
        """
        return self.drain_delay + self.grace + 0.5 + 2 * self.hooks_timeout


def resolve(app: str | None = None, *, spec_path: str | Path = "service.yaml",
            port: int | None = None, host: str | None = None, workers: int | None = None,
            drain_delay: float | None = None, grace: float | None = None,
            max_in_flight: int | None = None) -> ServeOptions:
    """Options from flags, then ``OPSPLANE_DRAIN_DELAY`` / ``OPSPLANE_GRACE`` /
    ``OPSPLANE_MAX_IN_FLIGHT`` (a chart may set them), then ``service.yaml`` (when present),
    then defaults."""
    from opsplane.spec.service import Shutdown, load_spec

    drain_delay = _env(drain_delay, "OPSPLANE_DRAIN_DELAY", float)
    grace = _env(grace, "OPSPLANE_GRACE", float)
    max_in_flight = _env(max_in_flight, "OPSPLANE_MAX_IN_FLIGHT", int)

    spec_file = Path(spec_path)
    spec = load_spec(spec_file) if spec_file.is_file() else None
    if app is None:
        if spec is None:
            raise UsageError(f"no APP given and no {spec_file} in {Path.cwd()} "
                             "(give module:attribute, or run where service.yaml is)")
        app = spec.app
    if ":" not in app:
        raise UsageError(f"APP {app!r} must be module:attribute (e.g. orders.app:app)")
    shutdown = spec.shutdown if spec is not None else Shutdown()
    opts = ServeOptions(
        app=app,
        host=host or "0.0.0.0",
        port=port if port is not None else (spec.port if spec is not None else DEFAULT_PORT),
        workers=workers or 1,
        drain_delay=shutdown.drain_delay if drain_delay is None else drain_delay,
        grace=shutdown.grace if grace is None else grace,
        max_in_flight=shutdown.max_in_flight if max_in_flight is None else max_in_flight,
        service=spec.name if spec is not None else None,
    )
    _check(opts)
    return opts


def _env(value: Any, name: str, kind: type[Any]) -> Any:
    raw = os.environ.get(name, "").strip()
    if value is not None or not raw:
        return value
    try:
        return kind(raw)
    except ValueError as e:
        raise UsageError(f"{name}={raw!r}: not a{'n integer' if kind is int else ' number'}") \
            from e


def _check(opts: ServeOptions) -> None:
    if not 0 <= opts.port <= 65535:
        raise UsageError(f"--port {opts.port}: not a TCP port (0-65535)")
    if opts.workers < 1:
        raise UsageError(f"--workers {opts.workers}: give 1 or more")
    if opts.drain_delay < 0:
        raise UsageError(f"--drain-delay {opts.drain_delay}: give 0 or more seconds")
    if opts.grace <= 0:
        raise UsageError(f"--grace {opts.grace}: give more than 0 seconds")
    if opts.max_in_flight < 1:
        raise UsageError(f"--max-in-flight {opts.max_in_flight}: give 1 or more")


def load_app(target: str) -> Any:
    """Import ``module:attribute`` with the current folder on sys.path; one-line errors."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    module_name, _, attr = target.partition(":")
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise AppLoadError(f"cannot load app {target!r}: no module named {e.name!r} "
                               f"(looked in {cwd} and the installed packages)") from e
        raise AppLoadError(f"cannot load app {target!r}: {type(e).__name__}: {e}") from e
    except Exception as e:
        raise AppLoadError(f"cannot load app {target!r}: importing {module_name} raised "
                           f"{type(e).__name__}: {e}") from e
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as e:
            raise AppLoadError(f"cannot load app {target!r}: module {module_name} has no "
                               f"attribute {attr!r}") from e
    if not callable(obj):
        raise AppLoadError(f"cannot load app {target!r}: {attr} is not an ASGI app")
    return obj


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OpsplaneError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    return sock


def serve(opts: ServeOptions, *, state: State = STATE, end_process: bool = True) -> int:
    """Serve until a signal; the exit code: 0 drained, 1 something was cut.

    With ``end_process`` (the default: ``serve`` is the process's main loop) the process ends
    as soon as the drain has finished and the logs are flushed, skipping the interpreter's
    teardown (see :func:`_end_process`); pass False to get the code back instead.
    """
    if opts.workers > 1:
        return _supervise(opts)
    import logging

    import logstd
    from opsplane.runtime._server import Drain, StartupAbandoned

    drain = Drain(state, opts.drain_delay, opts.grace, opts.hooks_timeout)
    with drain.installed():  # from here on a SIGTERM is ours, even during the import
        logstd.configure(service=opts.service)
        try:
            drain.importing = True
            app = load_app(opts.app)
            drain.importing = False
            code = _run(opts, app, drain)
        except StartupAbandoned:
            logging.getLogger("opsplane.runtime.serve").info(
                "shutdown signal received while importing the app: exiting before serving",
                extra={"event": "shutdown.completed", "action": drain.signal_name,
                       "durationMs": drain.elapsed_ms(),
                       "count": 0, "outcome": "success"})
            code = 0
        finally:
            drain.importing = False
        if end_process:  # inside: a second signal still finds the drain's handler
            _end_process(code)
    return code


def _end_process(code: int) -> None:
    """End the process now that the drain is over: flush the logs and the standard streams,
    then ``os._exit``.

    Everything a drained server owes is done by then (hooks ran, the closing record is
    written), yet the interpreter's own teardown (finalising every module the app imported)
    is CPU work that took 0.2-0.5 s here, and over 6 s with the cores busy: long enough for
    the kubelet's SIGKILL at the end of the termination grace period to land on a process
    that had already finished its shutdown (the flaky start-up test of issue 23).
    """
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _run(opts: ServeOptions, app: Any, drain: Any) -> int:
    import uvicorn

    from opsplane.runtime._limiter import ConcurrencyLimit
    from opsplane.runtime._server import DrainingServer

    wrapped = ConcurrencyLimit(app, opts.max_in_flight, state=drain.state,
                               **_kit_hooks(app, drain.state))
    # log_config=None: uvicorn logs through logstd; no access log (the kit logs requests)
    config = uvicorn.Config(wrapped, host=opts.host, port=opts.port, log_config=None,
                            access_log=False, lifespan="auto")
    server = DrainingServer(config, drain)
    sockets = [_reuse_port_socket(opts.host, opts.port)] if opts.reuse_port else None
    try:
        server.run(sockets=sockets)
    except SystemExit as e:  # uvicorn's startup failure (bind error, lifespan failed)
        raise OpsplaneError(f"{opts.app} did not start on {opts.host}:{opts.port} "
                            "(see the log above)") from e
    return 1 if drain.cut else 0


def _kit_hooks(app: Any, state: State) -> dict[str, Any]:
    """An app wrapped by ``opsplane.instrument`` keeps ``state.in_flight`` and serves its own
    registry on /metrics: count rejections there, and do not count requests twice."""
    metrics = getattr(app, "metrics", None)
    rejected = getattr(metrics, "rejected", None)
    if getattr(app, "state", None) is not state or not callable(rejected):
        return {}
    return {"on_reject": lambda: rejected("overload"), "count_in_flight": False}


def _supervise(opts: ServeOptions) -> int:
    """``--workers N``: N single-worker processes on one port (SO_REUSEPORT).

    Each worker drains on its own; the supervisor forwards signals and waits for all.
    ``/metrics`` answers for the whole pod: the supervisor makes a fresh directory for
    prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, under the one the
    environment names if it names one, else under the temp dir), gives it to the workers,
    marks each worker dead there when it exits (its live gauges leave the sums) and removes
    the directory when all have exited.
    """
    import shutil
    import signal
    import subprocess
    import tempfile
    import threading

    from prometheus_client import multiprocess

    from opsplane.runtime._metrics import MULTIPROC_ENV

    reserve = _reuse_port_socket(opts.host, opts.port)  # fixes the port when it is 0
    port = reserve.getsockname()[1]
    cmd = [sys.executable, "-m", "opsplane.cli.main", "serve", opts.app, "--host", opts.host,
           "--port", str(port), "--workers", "1", "--reuse-port",
           "--drain-delay", str(opts.drain_delay), "--grace", str(opts.grace),
           "--max-in-flight", str(opts.max_in_flight)]
    try:
        metrics_dir = tempfile.mkdtemp(prefix="opsplane-metrics-",
                                       dir=os.environ.get(MULTIPROC_ENV) or None)
    except OSError as e:
        reserve.close()
        raise OpsplaneError(f"cannot make the metrics directory for --workers: "
                            f"{e.strerror or e} ({e.filename or tempfile.gettempdir()})") from e
    env = {**os.environ, MULTIPROC_ENV: metrics_dir}
    children: list[subprocess.Popen[bytes]] = []
    received: list[int] = []

    def forward(sig: int, frame: object) -> None:
        received.append(sig)
        for child in children:
            if child.poll() is None:
                child.send_signal(sig)

    def reap(child: subprocess.Popen[bytes]) -> None:
        child.wait()
        multiprocess.mark_process_dead(child.pid, metrics_dir)  # type: ignore[no-untyped-call]

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        # own sessions: a terminal's Ctrl+C reaches them once, through the supervisor
        children.extend(subprocess.Popen(cmd, start_new_session=True, env=env)
                        for _ in range(opts.workers))
        reapers = [threading.Thread(target=reap, args=(c,), daemon=True) for c in children]
        for t in reapers:
            t.start()
        for t in reapers:
            t.join()
        codes = [child.returncode for child in children]
    finally:
        for child in children:  # only when starting them failed part-way
            if child.poll() is None:
                child.kill()
                child.wait()
        for s, h in previous.items():
            signal.signal(s, h)
        reserve.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    # a worker the forwarded signal reached before it installed its handlers (still
    # starting) served nothing: that is a clean exit too
    return max(0 if -c in received else (c if c >= 0 else 1) for c in codes)
