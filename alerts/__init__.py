"""Prometheus alert rules and the Alertmanager routing tree generated from service specs.

Flow: ``validate`` -> ``generate`` (pure dicts) -> ``render`` (text) -> ``write`` (atomic).
"""

from alerts.generate import Links, alertmanager, prometheus_rule, rule_tests, rules
from alerts.render import render
from alerts.validate import validate
from alerts.write import write_alerts

__all__ = [
    "Links",
    "alertmanager",
    "prometheus_rule",
    "render",
    "rule_tests",
    "rules",
    "validate",
    "write_alerts",
]
