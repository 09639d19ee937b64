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

from loadtest.errors import LoadtestError

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
    customers: list[str] = field(default_factory=lambda: list(CUSTOMERS))
    wait: tuple[float, float] = (0.05, 0.2)
    user_class: str = "fast"  # "fast" = FastHttpUser, "http" = HttpUser

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "shape": self.shape, "users": self.users,
                "spawn_rate": self.spawn_rate, "duration": self.duration,
                "paths": self.paths, "weights": self.weights, "collection": self.collection,
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
    raise LoadtestError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")


def read_collection(path: str | Path) -> list[dict[str, Any]]:
    """The requests of a black-box collection, for the ``replay`` profile.

    The one place that knows the collection format. Reads a minimal subset: a YAML list of
    requests, or a mapping with a ``requests`` list; each request has ``method``, ``url``
    (or ``path``), optional ``json``, ``headers`` and ``name``. ``{{baseUrl}}``-style
    prefixes and absolute URLs are reduced to the path, so the run's ``--target`` applies.
    """
    import re

    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise LoadtestError(f"{p}: cannot read collection: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        raise LoadtestError(f"{p}: collection is not valid YAML") from e
    items = data.get("requests") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise LoadtestError(f"{p}: a collection is a list of requests (or a mapping with "
                            "'requests')")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        req = item.get("request", item) if isinstance(item, dict) else None
        url = req.get("url", req.get("path")) if isinstance(req, dict) else None
        if not isinstance(req, dict) or not isinstance(url, str):
            raise LoadtestError(f"{p}: request [{i}]: needs method and url")
        url = re.sub(r"^\{\{\s*\w+\s*\}\}", "", url)
        url = re.sub(r"^https?://[^/]+", "", url) or "/"
        method = str(req.get("method", "GET")).upper()
        out.append({"name": str(item.get("name") or f"{method} {url}"),
                    "method": method, "url": url,
                    "json": req.get("json"), "headers": req.get("headers") or {}})
    return out
