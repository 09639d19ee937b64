"""The black-box test runner: collections (``test.<name>.yaml``) run against environments
(``env.<name>.yaml``), with captures, assertions, wait-until-ready and reports.

    from opsplane.testing.blackbox import load_collection, load_environment, run, write_report
    result = run(load_collection("test.smoke.yaml"), load_environment("env.local.yaml"))
    write_report(result, "junit", "report.xml")

Importing it has no side effects; httpx loads when a run starts.
"""

from opsplane.testing.blackbox._checks import Failure
from opsplane.testing.blackbox.collection import Collection, json_schema, load_collection
from opsplane.testing.blackbox.environment import Environment, load_environment
from opsplane.testing.blackbox.errors import CollectionError, NotReadyError
from opsplane.testing.blackbox.reports import render_report, write_report
from opsplane.testing.blackbox.runner import (
    RequestResult,
    RunResult,
    run,
    run_async,
    wait_until_ready,
)

__all__ = [
    "Collection",
    "CollectionError",
    "Environment",
    "Failure",
    "NotReadyError",
    "RequestResult",
    "RunResult",
    "json_schema",
    "load_collection",
    "load_environment",
    "render_report",
    "run",
    "run_async",
    "wait_until_ready",
    "write_report",
]
