"""Process lifecycle shared by health, serve and workers: started, draining, shutdown hooks.

One ``State`` per process (``STATE``); tests create their own and pass it in.
Readiness reads it; ``opsplane serve`` flips it on SIGTERM; hooks run at shutdown.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Hook = Callable[[], Awaitable[None] | None]
log = logging.getLogger("opsplane.runtime.lifecycle")


@dataclass
class State:
    started: bool = False  # startup finished (configuration loaded, pools open)
    draining: bool = False  # SIGTERM received: readiness answers 503
    draining_since: float | None = None
    in_flight: int = 0  # requests or messages being handled now
    startup_error: str | None = None  # one line naming what failed at startup
    hooks: list[Hook] = field(default_factory=list)

    def mark_started(self) -> None:
        self.started = True

    def start_draining(self) -> None:
        if not self.draining:
            self.draining = True
            self.draining_since = time.monotonic()

    def on_shutdown(self, hook: Hook) -> Hook:
        """Register a hook (sync or async) run once at shutdown, last registered first."""
        self.hooks.append(hook)
        return hook

    async def run_hooks(self, timeout: float = 5.0) -> None:
        """Run the hooks, last registered first: each within ``timeout``, and all of them
        too (what is still running then is left, and said in the log)."""
        try:
            await asyncio.wait_for(self._run_hooks(timeout), timeout)
        except TimeoutError:
            log.error("shutdown hooks did not finish within the hooks timeout",
                      extra={"event": "shutdown.hooks_timeout"})

    async def _run_hooks(self, timeout: float) -> None:
        for hook in reversed(self.hooks):
            name = getattr(hook, "__qualname__", repr(hook))
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, timeout)
            except Exception as e:  # a failing hook must not stop the others
                log.error("shutdown hook failed", extra={"event": "shutdown.hook_failed",
                                                         "action": name,
                                                         "errorType": type(e).__name__,
                                                         "errorMessage": str(e)})
        self.hooks.clear()


STATE = State()
