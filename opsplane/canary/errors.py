"""Errors that leave the canary.

Hierarchy::

    OpsplaneError (opsplane.errors)
    └── RegistryError    canary.yaml is malformed or missing (file:line: key: what); exit 2

A target whose collection cannot be read is not an error: it is a run with outcome
``broken``, shown on the page and in the metrics while the canary keeps going.
"""

from __future__ import annotations

from opsplane.errors import OpsplaneError


class RegistryError(OpsplaneError):
    """The registry (canary.yaml) is missing or malformed."""

    exit_code = 2
