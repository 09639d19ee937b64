"""Write the generated dashboards: validate, render everything, then atomic writes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opsplane.atomic import write_files
from opsplane.spec.alertmap import DEFAULT_RUNBOOKS
from opsplane.spec.service import ServiceSpec


def write_dashboards(specs: Sequence[ServiceSpec], outdir: str | Path,
                     sources: Sequence[str] | None = None,
                     runbook_url: str = DEFAULT_RUNBOOKS) -> list[Path]:
    """Generate and write every dashboard file for ``specs``; nothing is written on error."""
    from dashboards.generate import render
    from dashboards.validate import validate

    validate(specs, sources)
    return write_files(outdir, render(specs, runbook_url=runbook_url))
