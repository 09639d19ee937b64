"""Every alert has a generated runbook page, and the dashboard panel it names links back."""

from __future__ import annotations

import pytest
from _sample_spec import SAMPLE
from _sample_spec import sample_raw as _raw

from alerts import Links, render, rules
from dashboards.generate import service_dashboard
from opsplane.spec.alertmap import panel_of
from opsplane.spec.service import ServiceSpec, load_spec, parse_spec

BASE = "https://wiki.example.org/runbooks"


@pytest.fixture(params=["sample", "no-dependencies"])
def spec(request: pytest.FixtureRequest) -> ServiceSpec:
    if request.param == "sample":
        return load_spec(SAMPLE)
    return parse_spec(_raw(dependencies=[]))


def test_every_alert_points_at_its_generated_page(spec: ServiceSpec) -> None:
    links = Links(runbook_url=BASE)
    files = render([spec], links=links)
    alerts = list(rules(spec, links)["groups"][1]["rules"])
    assert alerts
    for rule in alerts:
        url = rule["annotations"]["runbook_url"]
        assert url == f"{BASE}/{spec.name}/{rule['alert'].lower()}"
        page = files[f"runbooks/{url.removeprefix(BASE + '/')}.md"]
        assert page.startswith(f"# {rule['alert']}: {spec.name}\n")
        assert rule["expr"] in page  # the query
        assert rule["annotations"]["summary"] in page  # what fired
        assert "## First steps\n\n1. " in page
        _, panel = panel_of(spec, rule["alert"], rule["labels"].get("slo"))
        assert f"Panel **{panel}**" in page
    pages = {p for p in files if p.startswith("runbooks/")}
    assert pages == {f"runbooks/{spec.name}/{r['alert'].lower()}.md" for r in alerts}


def test_panels_link_to_their_alerts_runbooks(spec: ServiceSpec) -> None:
    links = Links(runbook_url=BASE)
    dash = service_dashboard(spec, runbook_url=BASE)
    panels = {p["title"]: p for p in dash["panels"] if p.get("type") != "row"}
    urls = {r["annotations"]["runbook_url"] for r in rules(spec, links)["groups"][1]["rules"]}
    linked: set[str] = set()
    for p in panels.values():
        for link in p.get("links", []):
            assert link["url"] in urls, (p["title"], link)
            linked.add(link["url"])
    assert linked == urls  # every alert is reachable from some panel
    for rule in rules(spec, links)["groups"][1]["rules"]:
        _, title = panel_of(spec, rule["alert"], rule["labels"].get("slo"))
        assert title in panels, title
        assert rule["annotations"]["runbook_url"] in [x["url"] for x in panels[title]["links"]]
