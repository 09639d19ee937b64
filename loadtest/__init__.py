"""loadtest: Locust load profiles, resource sampling, recommend-limits.

Locust (and its gevent monkey-patching) is imported only inside the Locust process that
``run_load`` starts; importing this package loads neither Locust, psutil nor PyYAML.
"""

from loadtest.analysis import Recommendation, Run, load_run, recommend
from loadtest.errors import LoadtestError, RefusedError, RunDirError
from loadtest.profiles import PROFILES, SHAPES, read_collection
from loadtest.remote_worker import WorkerOptions, WorkerResult, run_workers
from loadtest.report import render_report, write_report
from loadtest.run import RunOptions, RunResult, run_load
from loadtest.values import render_block, write_values

__all__ = [
    "PROFILES",
    "SHAPES",
    "LoadtestError",
    "Recommendation",
    "RefusedError",
    "Run",
    "RunDirError",
    "RunOptions",
    "RunResult",
    "WorkerOptions",
    "WorkerResult",
    "load_run",
    "read_collection",
    "recommend",
    "render_block",
    "render_report",
    "run_load",
    "run_workers",
    "write_report",
    "write_values",
]
