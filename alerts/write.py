"""Write the generated alert files: validate, render everything, then atomic writes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opsplane.atomic import write_files
from opsplane.spec.service import ServiceSpec


def write_alerts(specs: Sequence[ServiceSpec], outdir: str | Path,
                 sources: Sequence[str] | None = None, **options: Any) -> list[Path]:
    """Generate and write every alert file for ``specs``; nothing is written on error."""
    from alerts.render import render
    from alerts.validate import validate

    validate(specs, sources)
    return write_files(outdir, render(specs, sources=sources, **options))
