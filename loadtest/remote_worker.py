"""``loadtest worker``: Locust worker processes that dial a master on another machine.

The master is a ``loadtest run ... --expect-workers M --master-bind-host 0.0.0.0`` on the
machine that samples the target and writes the run directory. As with Locust's own
distributed mode, the load size and duration (users, spawn rate, shape) live on the master
only; what each simulated user does (profile, paths, weights, replayed collection, user
class) is given to the workers with the same flags as to the master.
A worker ends when the master ends the run (or on Ctrl-C / SIGTERM, stopping its Locust
processes).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loadtest._signals import StopSignals, Terminated
from loadtest.errors import OptionError
from loadtest.run import LOCUST_MASTER_PORT, RunOptions, locust_worker_cmd, profile_config, stop

# Locust retries a master that does not answer 60 times, 5 s each, before giving up: a worker
# started before its master waits for it.


@dataclass
class WorkerOptions:
    master_host: str
    master_port: int = LOCUST_MASTER_PORT
    processes: int = 1
    profile: str = "mixed"
    paths: dict[str, str] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)
    collection: str | None = None
    env_file: str | None = None
    user_class: str = "fast"


@dataclass
class WorkerResult:
    status: str          # completed | interrupted | failed
    exit_codes: list[int | None]
    message: str = ""


def run_workers(opts: WorkerOptions,
                progress: Callable[[str], None] | None = None) -> WorkerResult:
    """Start ``processes`` Locust workers for the master; return when they have all ended."""
    if not opts.master_host.strip():
        raise OptionError("--master-host: give the master's host name or address")
    if not 0 < opts.master_port < 65536:
        raise OptionError(f"--master-port {opts.master_port}: not a TCP port")
    if opts.processes < 1:
        raise OptionError("--processes must be 1 or more")
    # the load size is the master's: these values only satisfy the profile's checks
    cfg = profile_config(RunOptions(
        profile=opts.profile, users=1, spawn_rate=1, duration=1, target="",
        paths=opts.paths, weights=opts.weights, collection=opts.collection,
        env_file=opts.env_file, user_class=opts.user_class))
    status, message = "completed", ""
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="loadtest-worker-") as tmp:
        work = Path(tmp)
        (work / "locust-config.json").write_text(json.dumps(cfg.to_json()) + "\n")
        env = {**os.environ, "LOADTEST_CONFIG": str(work / "locust-config.json"),
               "PYTHONUNBUFFERED": "1"}
        env.pop("LOCUST_LOCUSTFILE", None)
        env.pop("LOADTEST_PROGRESS", None)
        cmd = locust_worker_cmd(opts.master_host, opts.master_port)
        with StopSignals() as signals:
            try:
                with signals.held():
                    for _ in range(opts.processes):
                        # Locust's warnings (e.g. "Failed to connect to master") go to our
                        # stderr as they come: a worker can wait minutes for its master
                        procs.append(subprocess.Popen(cmd, cwd=work, env=env,
                                                      stdout=subprocess.DEVNULL))
                if progress:
                    progress(f"{opts.processes} Locust worker(s) (pids "
                             f"{' '.join(str(p.pid) for p in procs)}) working for the master "
                             f"at {opts.master_host}:{opts.master_port}")
                while any(p.poll() is None for p in procs):
                    time.sleep(0.2)
            except Terminated:
                status, message = "interrupted", "stopped by SIGTERM; Locust workers stopped"
            except KeyboardInterrupt:
                status, message = "interrupted", "interrupted; Locust workers stopped"
            finally:
                stop(procs)
        codes = [p.returncode for p in procs]
    if status == "completed" and any(c != 0 for c in codes):
        status = "failed"
        message = (f"a Locust worker exited with status {next(c for c in codes if c != 0)} "
                   "(Locust's messages are above)")
    return WorkerResult(status, codes, message)
