"""Grafana dashboards generated from service specs (grafanalib, adapted to Grafana 11.6).

Flow: ``validate`` -> ``generate`` (pure dicts) -> ``write`` (atomic). Importing this
package imports no builder: grafanalib loads when a dashboard is generated.
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
