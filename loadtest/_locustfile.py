"""The locustfile ``loadtest run`` hands to Locust, in Locust's own process.

Never imported by opsplane itself (Locust monkey-patches with gevent on import). Reads the
run's profile configuration from the JSON file named by ``LOADTEST_CONFIG`` and defines
exactly one user class (and one shape class when a shape is chosen) at module level.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from locust import FastHttpUser, HttpUser, LoadTestShape, between, events

from loadtest.profiles import READ_WEIGHTS, read_collection, shape_tick

CFG: dict[str, Any] = json.loads(Path(os.environ["LOADTEST_CONFIG"]).read_text(encoding="utf-8"))
PATHS: dict[str, str] = CFG["paths"]
_NO_REPLAY: dict[str, Any] = {"variables": {}, "headers": {}, "requests": []}
REPLAY: dict[str, Any] = (read_collection(CFG["collection"], CFG.get("env_file"))
                          if CFG["collection"] else _NO_REPLAY)


def _order_body(customer: str) -> dict[str, Any]:
    n = random.randint(1, 3)
    return {"customerId": customer,
            "items": [{"sku": f"SKU-{random.randint(1, 20)}", "quantity": random.randint(1, 3),
                       "price": round(random.uniform(1, 50), 2)} for _ in range(n)]}


class _Orders:
    """Tasks against the orders API; mixed into the chosen Locust user class."""

    client: Any
    ids: list[str]

    def _customer(self) -> str:
        return str(random.choice(CFG["customers"]))

    def _create(self) -> None:
        with self.client.post(PATHS["orders"], json=_order_body(self._customer()),
                              name="POST orders", catch_response=True) as r:
            if r.status_code == 201:
                try:
                    self.ids.append(str(r.json()["id"]))
                except (ValueError, KeyError, TypeError):
                    r.failure("201 without an order id")
            else:
                r.failure(f"status {r.status_code}")

    def list_orders(self) -> None:
        self.client.get(PATHS["orders"], params={"customerId": self._customer()},
                        name="GET orders?customerId")

    def get_order(self) -> None:
        if not self.ids:
            self._create()
            return
        self.client.get(PATHS["order"].format(id=random.choice(self.ids)), name="GET order")

    def create_order(self) -> None:
        self._create()

    def cancel_order(self) -> None:
        if not self.ids:
            self._create()
            return
        oid = self.ids.pop(random.randrange(len(self.ids)))
        with self.client.post(PATHS["cancel"].format(id=oid), name="POST order cancel",
                              catch_response=True) as r:
            if r.status_code in (200, 409):  # 409: already cancelled is a valid answer
                r.success()
            else:
                r.failure(f"status {r.status_code}")

    def ping(self) -> None:
        self.client.get(PATHS["ping"], name="GET ping")

    def replay(self) -> None:
        """The collection once, in order, as the runner would: variables and captures."""
        from opsplane.testing.blackbox.runner import render

        scope = dict(REPLAY["variables"])
        for req in REPLAY["requests"]:
            try:
                url = render(req["url"], scope)
                kwargs: dict[str, Any] = {
                    "headers": render({**REPLAY["headers"], **req["headers"]}, scope) or None,
                    "params": render(req["query"], scope) or None}
                if req["has_json"]:
                    kwargs["json"] = render(req["json"], scope)
                elif req["body"] is not None:
                    kwargs["data"] = render(req["body"], scope)
            except Exception:  # a capture an earlier request could not provide
                return
            with self.client.request(req["method"], url, name=req["name"], catch_response=True,
                                     **kwargs) as r:
                if req["capture"]:
                    _capture(r, req["capture"], scope)


def _capture(response: Any, capture: dict[str, str], scope: dict[str, Any]) -> None:
    import jsonpath

    try:
        doc = response.json()
    except Exception:
        return
    for name, path in capture.items():
        hit = jsonpath.findall(path, doc)
        if hit:
            scope[name] = hit[0]


def _build_user() -> type:
    base: type = FastHttpUser if CFG["user_class"] == "fast" else HttpUser
    profile = CFG["profile"]
    weights: dict[str, int] = (READ_WEIGHTS if profile == "read"
                               else {"replay": 1} if profile == "replay" else CFG["weights"])
    tasks: dict[Callable[..., None], int] = {
        getattr(_Orders, name): w for name, w in weights.items() if w > 0}

    def on_start(self: Any) -> None:
        self.ids = []
        if profile != "replay":
            self._create()

    lo, hi = CFG["wait"]
    return type("ProfileUser", (_Orders, base), {
        "tasks": tasks, "wait_time": between(lo, hi), "on_start": on_start,
        "abstract": False, "__module__": __name__})


ProfileUser = _build_user()

if CFG.get("shape"):
    class ProfileShape(LoadTestShape):
        def tick(self) -> tuple[int, float] | None:
            t = float(self.get_run_time())  # type: ignore[no-untyped-call]
            return shape_tick(CFG["shape"], t, CFG["users"], CFG["spawn_rate"], CFG["duration"])



def _report_progress(environment: Any, **_kwargs: Any) -> None:
    """The master (or the single process) writes its runner's state every second.

    ``loadtest run`` reads it for its progress line (users from the runner itself, not from
    the stats history CSV that Locust flushes only every few seconds).
    """
    import gevent
    from locust.runners import MasterRunner, WorkerRunner

    path = os.environ.get("LOADTEST_PROGRESS")
    runner = environment.runner
    if not path or runner is None or isinstance(runner, WorkerRunner):
        return
    started = False
    refused = REFUSED  # workers whose profile differs (see _check_worker_profiles)
    # requests/s from the request counts over the last 6 s: Locust's current_rps leaves out
    # the last 2 s and, on a master, stays 0 until the workers' 3-second reports add up
    window: deque[tuple[float, int, int]] = deque(maxlen=7)

    def loop() -> None:
        nonlocal started
        while True:
            started = started or runner.state in ("spawning", "running")
            total = environment.stats.total
            now = time.monotonic()
            window.append((now, total.num_requests, total.num_failures))
            t0, n0, f0 = window[0]
            span = max(now - t0, 1e-6)
            doc = {"time": time.time(), "state": runner.state, "started": started,
                   "users": runner.user_count,
                   "workers": runner.worker_count if isinstance(runner, MasterRunner) else None,
                   "rps": round((total.num_requests - n0) / span, 3) if len(window) > 1 else 0,
                   "fail_rps": (round((total.num_failures - f0) / span, 3)
                                if len(window) > 1 else 0),
                   "refused_workers": len(refused)}
            tmp = f"{path}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f)
            os.replace(tmp, path)  # the reader never sees half a file
            gevent.sleep(1)

    gevent.spawn(loop)


REFUSED: list[str] = []
PROFILE_MISMATCH = ("this worker's profile differs from the master's: start `loadtest worker` "
                    "with the master's --profile, --path, --spec, --collection/--env and "
                    "--user-class")


def _profile_digest() -> str:
    """What each simulated user does (not how many, nor how long): equal on every node."""
    import hashlib

    what = {k: CFG[k] for k in ("profile", "paths", "customers", "wait", "user_class")}
    what["weights"] = CFG["weights"] if CFG["profile"] == "mixed" else None
    what["replay"] = REPLAY["requests"] if CFG["collection"] else None
    # a digest only: the replayed requests (and any secret in them) never leave the worker
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _check_worker_profiles(environment: Any, **_kwargs: Any) -> None:
    """Each worker sends its profile digest; the master refuses a worker whose differs.

    Remote workers get their profile from their own flags (as in Locust, where every
    worker has its own locustfile): a worker started with other flags would measure
    another load. The master counts it in the progress file (``loadtest run`` stops the
    run and says why); the worker logs why and exits 1.
    """
    import gevent
    from locust.runners import MasterRunner, WorkerRunner

    runner = environment.runner
    digest = _profile_digest()
    if isinstance(runner, MasterRunner):
        def on_profile(environment: Any, msg: Any, **_kw: Any) -> None:
            if msg.data.get("digest") != digest:
                REFUSED.append(msg.node_id)
                runner.send_message("loadtest_refused", {"reason": PROFILE_MISMATCH},
                                    client_id=msg.node_id)

        runner.register_message("loadtest_profile", on_profile)
    elif isinstance(runner, WorkerRunner):
        def on_refused(environment: Any, msg: Any, **_kw: Any) -> None:
            # Locust's own stderr log (the worker has no log file): one line a person reads
            sys.stderr.write(f"refused by the master: {msg.data['reason']}\n")
            environment.process_exit_code = 1
            gevent.spawn(runner.quit)

        runner.register_message("loadtest_refused", on_refused)
        runner.send_message("loadtest_profile", {"digest": digest})


events.init.add_listener(_report_progress)  # type: ignore[no-untyped-call]
events.init.add_listener(_check_worker_profiles)  # type: ignore[no-untyped-call]
