"""loadtest: Locust load profiles, resource sampling, recommend-limits.

Locust (and its gevent monkey-patching) is imported only inside the Locust process that
``run_load`` starts; importing this package loads neither Locust, psutil nor PyYAML.
"""

from loadtest.analysis import Recommendation, Run, load_run, recommend
from loadtest.errors import LoadtestError, RefusedError, RunDirError
from loadtest.profiles import PROFILES, SHAPES, read_collection
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
    "load_run",
    "read_collection",
    "recommend",
    "render_block",
    "render_report",
    "run_load",
    "write_report",
    "write_values",
]
