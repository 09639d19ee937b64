"""The canary as a service built with the kit: ``opsplane.instrument`` around the web app,
served by ``opsplane serve`` (health, metrics, JSON logs, the drain sequence).

``opsplane canary`` sets ``OPSPLANE_CANARY_CONFIG`` and serves ``opsplane.canary.service:app``;
the app is built when first asked for (importing this module does nothing). Serve it with
``opsplane canary`` rather than ``opsplane serve``: the former gives the lifespan shutdown
the grace period, so runs in flight at SIGTERM finish or are stored as cut.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from opsplane.canary.registry import Registry, load_registry
from opsplane.runtime.lifecycle import STATE, State

CONFIG_ENV = "OPSPLANE_CANARY_CONFIG"
APP = "opsplane.canary.service:app"


def spec(port: int = 8080) -> Any:
    """The canary's own service spec (what its dashboards, alerts and chart read)."""
    from opsplane.spec.service import ServiceSpec

    return ServiceSpec(name="canary", team="platform", app=APP, port=port,
                       description="production canary: collections run against every "
                                   "environment")


async def _post(url: str, body: dict[str, Any]) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=10) as client:
        await client.post(url, json=body)


def create_app(registry: Registry, *, state: State = STATE, grace: float | None = None,
               registry_metrics: Any = None, **instrument_options: Any) -> Any:
    """The instrumented canary app; its lifespan opens the store and runs the schedule."""
    import asyncio

    import opsplane
    from opsplane.canary.metrics import CanaryMetrics
    from opsplane.canary.scheduler import Canary
    from opsplane.canary.store import Store
    from opsplane.canary.web import build_app

    if grace is None:
        grace = float(os.environ.get("OPSPLANE_GRACE", "") or 20.0)
    canary = Canary(registry, state=state, grace=grace)
    model = registry.model

    def api_token() -> str | None:  # re-read: a rotated token needs no restart
        return registry.read_ref(model.api.token, "api.token") if model.api else None

    slack_secret = (registry.read_ref(model.slack.signingSecret, "slack.signingSecret")
                    if model.slack else None)

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        canary.store = await asyncio.to_thread(Store.open, registry.store_url())
        await asyncio.to_thread(canary.store.prune, time.time() - model.store.retention)
        await canary.start()
        try:
            yield
        finally:
            await canary.stop()
            await asyncio.to_thread(canary.store.close)

    web = build_app(canary, api_token=api_token, slack_secret=slack_secret, post=_post,
                    lifespan=lifespan)
    app = opsplane.instrument(web, spec(), state, **instrument_options)
    canary.metrics = CanaryMetrics(app.metrics.registry)
    app.canary = canary  # type: ignore[attr-defined]
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        path = os.environ.get(CONFIG_ENV)
        if not path:
            raise AttributeError(f"set {CONFIG_ENV} to the canary.yaml to serve")
        return create_app(load_registry(Path(path)))
    raise AttributeError(name)
