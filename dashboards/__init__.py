"""Grafana dashboards generated from service specs (Grafana Foundation SDK, schema 11.6).

Flow: ``validate`` -> ``generate`` (pure dicts) -> ``write`` (atomic). Importing this
package imports no builder: the SDK loads when a dashboard is generated.
"""

from dashboards.generate import (
    configmap,
    overview_dashboard,
    provisioning,
    render,
    service_dashboard,
)
from dashboards.validate import validate
from dashboards.write import write_dashboards

__all__ = [
    "configmap",
    "overview_dashboard",
    "provisioning",
    "render",
    "service_dashboard",
    "validate",
    "write_dashboards",
]
