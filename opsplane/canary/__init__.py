"""The production canary: registered collections run against every environment on a
schedule; results kept (SQLite or PostgreSQL), shown (HTML page, JSON API), measured
(blackbox_exporter's series) and started from chat (Slack) or scripts (``POST /runs``).

    from opsplane.canary import load_registry, create_app
    app = create_app(load_registry("canary.yaml"))   # serve with opsplane serve

Importing it has no side effects.
"""

from opsplane.canary.errors import RegistryError
from opsplane.canary.registry import Registry, Target, load_registry, parse_registry
from opsplane.canary.scheduler import Canary
from opsplane.canary.service import create_app
from opsplane.canary.store import ResultRecord, RunRecord, Store

__all__ = [
    "Canary",
    "Registry",
    "RegistryError",
    "ResultRecord",
    "RunRecord",
    "Store",
    "Target",
    "create_app",
    "load_registry",
    "parse_registry",
]
