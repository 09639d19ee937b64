"""Library side of ``opsplane canary --once`` (the command stays flags and I/O)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from opsplane.canary.registry import Registry
from opsplane.canary.scheduler import Canary
from opsplane.canary.store import RunRecord


async def once(registry: Registry) -> list[RunRecord]:
    """Every target once, without the schedule or the store."""
    import logging

    canary = Canary(registry)
    quiet = logging.getLogger("opsplane.canary")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the caller prints every run itself
    await canary.start(schedule=False)
    try:
        runs = await asyncio.gather(*(canary.run_target(t, "once") for t in registry.targets))
    finally:
        await canary.stop()
        quiet.setLevel(level)
    return [r for group in runs for r in group]


def preflight(registry: Registry) -> None:
    """What the service needs before it serves, each failure one line (exit 2): the Slack
    secret and API token files readable, the store reachable (its tables made)."""
    from opsplane.canary.store import Store

    model = registry.model
    if model.slack:
        registry.read_ref(model.slack.signingSecret, "slack.signingSecret")
    if model.api:
        registry.read_ref(model.api.token, "api.token")
    Store.open(registry.store_url()).close()


def run_once(registry: Registry, say: Callable[[str], None]) -> int:
    runs = asyncio.run(once(registry))
    for r in runs:
        tail = f": {r.message}" if r.message else ""
        say(f"{r.outcome:8} {r.service}/{r.environment} {r.collection} "
            f"({r.passed} passed, {r.failed} failed, {r.duration_s * 1000:.0f} ms){tail}")
    return 0 if runs and all(r.ok for r in runs) else 1
