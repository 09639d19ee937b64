"""Load profiles and shapes, as plain data (no Locust here: the locustfile reads these).

Profiles (what one simulated user does):

- ``read``: GET-heavy: list a customer's orders, fetch an order, ping.
- ``mixed``: read-write mix; task weights from ``service.yaml`` ``load.weights``
  (task names: ``list_orders``, ``get_order``, ``create_order``, ``cancel_order``, ``ping``).
- ``replay``: the integration collection, every request in order, as one task
  (N users = the integration test run in N shells at once).

Shapes (how many users over time; ``None`` = constant users for the duration):
``ramp`` (linear to N over 60 % of the run, then hold), ``step`` (N/4, N/2, 3N/4, N, each a
quarter of the run), ``spike`` (N/5, then N for the middle fifth, then N/5 again), ``soak``
(N for the whole duration; used for memory-growth analysis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.errors import BadFileError, OptionError

PROFILES = ("read", "mixed", "replay")
SHAPES = ("ramp", "step", "spike", "soak")

#: the orders API of the brief; every path can be overridden (``--path name=/x``)
DEFAULT_PATHS: dict[str, str] = {
    "orders": "/orders",                 # POST create, GET ?customerId= list
    "order": "/orders/{id}",             # GET one
    "cancel": "/orders/{id}/cancel",     # POST
    "ping": "/healthz/ping",
}
DEFAULT_WEIGHTS: dict[str, int] = {
    "list_orders": 4, "get_order": 4, "create_order": 2, "cancel_order": 1, "ping": 1,
}
READ_WEIGHTS: dict[str, int] = {"list_orders": 5, "get_order": 5, "ping": 1}
CUSTOMERS = [f"C-{1000 + i}" for i in range(1, 11)]


@dataclass
class ProfileConfig:
    """Everything the locustfile needs; written as JSON into the run directory."""

    profile: str
    shape: str | None
    users: int
    spawn_rate: float
    duration: float
    paths: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PATHS))
    weights: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    collection: str | None = None  # replay: read in the Locust process (headers stay out of files)
    env_file: str | None = None  # replay: env.<name>.yaml whose variables and secrets apply
    customers: list[str] = field(default_factory=lambda: list(CUSTOMERS))
    wait: tuple[float, float] = (0.05, 0.2)
    user_class: str = "fast"  # "fast" = FastHttpUser, "http" = HttpUser

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "shape": self.shape, "users": self.users,
                "spawn_rate": self.spawn_rate, "duration": self.duration,
                "paths": self.paths, "weights": self.weights, "collection": self.collection,
                "env_file": self.env_file,
                "customers": self.customers, "wait": list(self.wait),
                "user_class": self.user_class}


def shape_tick(shape: str, t: float, users: int, spawn_rate: float,
               duration: float) -> tuple[int, float] | None:
    """(user count, spawn rate) at ``t`` seconds into the run, or None when it is over."""
    if t >= duration:
        return None
    fast = max(spawn_rate, float(users))
    if shape == "ramp":
        return max(1, math.ceil(users * min(1.0, t / (0.6 * duration)))), fast
    if shape == "step":
        k = min(4, int(t // (duration / 4)) + 1)
        return max(1, math.ceil(users * k / 4)), fast
    if shape == "spike":
        base = max(1, users // 5)
        return (users if 0.4 * duration <= t < 0.6 * duration else base), fast
    if shape == "soak":
        return users, spawn_rate
    raise OptionError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")


def read_collection(path: str | Path, env_file: str | Path | None = None) -> dict[str, Any]:
    """A black-box collection (``test.<name>.yaml``, the runner's format) as replay data.

    Validated by the runner's own loader, so replay and ``opsplane test`` read the same
    files. Returns ``{"variables": {...}, "headers": {...}, "requests": [...]}``: the
    collection's variables (and those of ``env_file``, which win), headers sent with every
    request, and each request's name, method, url, query, json/body, headers and captures.
    ``{{variables}}`` stay in place; the replay task renders them per user, with captures.
    Absolute URLs keep only their path, so the run's ``--target`` applies.
    """
    import re

    from opsplane.testing.blackbox import CollectionError, load_collection, load_environment

    try:
        coll = load_collection(path)
        env = load_environment(env_file) if env_file else None
    except CollectionError as e:
        raise BadFileError(str(e)) from e
    variables: dict[str, Any] = dict(coll.variables)
    headers = dict(coll.headers)
    if env is not None:
        variables.update(env.variables)
        variables.update(env.secrets)
        headers.update(env.headers)
    requests = []
    for r in coll.requests:
        url = re.sub(r"^https?://[^/]+", "", r.url) or "/"
        requests.append({"name": r.name, "method": r.method, "url": url, "query": dict(r.query),
                         "json": r.json_ if r.has_json else None, "has_json": r.has_json,
                         "body": r.body, "headers": dict(r.headers), "capture": dict(r.capture)})
    return {"variables": variables, "headers": headers, "requests": requests}
