"""Any valid spec gives schema-valid, deterministic dashboards and consistent alert rules."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts import alertmanager, rules
from dashboards import overview_dashboard, service_dashboard
from opsplane.spec.service import parse_spec

SCHEMA = Path(__file__).resolve().parent.parent.parent / "shared" / "schemas" / "grafana" / \
    "dashboard-11.6.jsonschema.json"

names = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)
objectives = st.floats(min_value=93.1, max_value=99.999).map(lambda x: round(x, 3))
thresholds = st.sampled_from([5, 10, 25, 80, 100, 250, 300, 1000, 2500, 12000])
routes = st.dictionaries(names.map(lambda n: f"/{n}/{{id}}"),
                         st.fixed_dictionaries({"threshold_ms": thresholds,
                                                "target": objectives}), max_size=3)
deps = st.lists(st.tuples(names, st.sampled_from(["http", "sql", "redis"])),
                max_size=3, unique_by=lambda d: d[0])


@st.composite
def specs(draw: Any) -> dict[str, Any]:
    return {
        "name": draw(names), "team": draw(names), "app": "app:app",
        "slos": {"availability": draw(objectives),
                 "latency": {"threshold_ms": draw(thresholds), "target": draw(objectives)},
                 "routes": draw(routes), "window_days": draw(st.integers(1, 90))},
        "dependencies": [{"name": n, "kind": k, "url_env": "X_URL"} for n, k in draw(deps)],
        "alerting": {"chat": {"channel": "#c"}},
    }


@functools.cache
def _validator() -> jsonschema.Draft7Validator | None:
    if not SCHEMA.exists():
        return None
    return jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_any_valid_spec(data: dict[str, Any]) -> None:
    spec = parse_spec(data)
    board = service_dashboard(spec)
    validator = _validator()
    if validator is not None:
        assert list(validator.iter_errors(board)) == []
    assert service_dashboard(parse_spec(data)) == board
    assert overview_dashboard([spec])["uid"] == "svc-overview"
    groups = rules(spec)["groups"]
    n_slos = 2 + len(spec.slos.routes)
    assert len(groups[0]["rules"]) == 7 * n_slos
    burn = [r for r in groups[1]["rules"] if r["alert"] == "ErrorBudgetBurn"]
    assert len(burn) == 2 * n_slos
    assert [r["receiver"] for r in alertmanager([spec])["route"]["routes"][0]["routes"]] == \
        [f"{spec.name}-chat"]
