"""The organisation file: team defaults, spec overrides, endpoints, and its bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from _sample_spec import sample_raw as _raw

from opsplane.cli.main import main
from opsplane.spec.org import apply_org, load_org
from opsplane.spec.service import parse_spec
from tests.conftest import require_tool

ORG = """\
version: 1
teams:
  commerce:
    chat: {channel: "#commerce", webhook: {secret: commerce-alerting, key: slack}}
    ticket: {project: COM}
    pager: {service: commerce-oncall, routing_key: {file: /run/secrets/pd-key}}
endpoints:
  pager: https://events.pagerduty.com
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _generate(tmp_path: Path, alerting: dict[str, Any], *extra: str) -> dict[str, Any]:
    spec = _write(tmp_path, "service.yaml", yaml.safe_dump(_raw(alerting=alerting)))
    out = tmp_path / "out"
    assert main(["generate", "alerts", str(spec), "-o", str(out), *extra]) == 0
    am: dict[str, Any] = yaml.safe_load((out / "alertmanager" / "alertmanager.yaml").read_text())
    return {r["name"]: r for r in am["receivers"]}


def test_team_defaults_fill_what_the_spec_leaves_out(tmp_path: Path) -> None:
    org = _write(tmp_path, "opsplane.yaml", ORG)
    got = _generate(tmp_path, {"chat": {"channel": "#orders-own"}}, "--org", str(org))
    assert got["orders-chat"]["slack_configs"][0]["channel"] == "#orders-own"
    assert got["orders-pager"]["pagerduty_configs"][0]["routing_key_file"] == \
        "/run/secrets/pd-key"
    assert got["orders-pager"]["pagerduty_configs"][0]["url"] == \
        "https://events.pagerduty.com/v2/enqueue"
    assert got["orders-ticket"]["webhook_configs"][0]["url"] == \
        "http://ticket-bridge.monitoring.svc:9095/alerts/COM"


def test_org_file_found_in_the_working_directory(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "opsplane.yaml", ORG)
    monkeypatch.chdir(tmp_path)
    got = _generate(tmp_path, {})
    assert sorted(got) == ["opsplane-default", "orders-chat", "orders-pager", "orders-ticket"]


def test_apply_org_keeps_the_spec_when_nothing_to_add(tmp_path: Path) -> None:
    org = load_org(_write(tmp_path, "opsplane.yaml", ORG))
    spec = parse_spec(_raw(team="search"))
    assert apply_org(spec, org) is spec
    filled = apply_org(parse_spec(_raw(alerting={})), org)
    assert filled.alerting.ticket is not None
    assert filled.alerting.ticket.project == "COM"


def test_endpoints_file_replaces_the_vendors(tmp_path: Path) -> None:
    ends = _write(tmp_path, "endpoints.yaml", "chat: http://127.0.0.1:9001/api/chat.postMessage\n"
                  "ticket: http://127.0.0.1:9002/\npager: http://127.0.0.1:9003\n")
    got = _generate(tmp_path, _raw()["alerting"], "--endpoints", str(ends))
    chat = got["orders-chat"]["slack_configs"][0]
    assert chat["api_url"] == "http://127.0.0.1:9001/api/chat.postMessage"
    assert "api_url_file" not in chat
    assert chat["http_config"]["authorization"]["credentials_file"] == \
        "/etc/alertmanager/secrets/orders-alerting/slack-url"
    assert got["orders-pager"]["pagerduty_configs"][0]["url"] == \
        "http://127.0.0.1:9003/v2/enqueue"
    assert got["orders-ticket"]["webhook_configs"][0]["url"] == \
        "http://127.0.0.1:9002/alerts/ORD"
    jira = _generate(tmp_path, _raw()["alerting"], "--endpoints", str(ends),
                     "--alertmanager-version", "0.28")
    assert jira["orders-ticket"]["jira_configs"][0]["api_url"] == "http://127.0.0.1:9002"


def test_generated_config_with_endpoints_passes_amtool(tmp_path: Path) -> None:
    import subprocess

    amtool = require_tool("amtool")
    ends = _write(tmp_path, "endpoints.yaml", "chat: http://127.0.0.1:9001/api\n"
                  "ticket: http://127.0.0.1:9002\npager: http://127.0.0.1:9003\n")
    _generate(tmp_path, _raw()["alerting"], "--endpoints", str(ends))
    r = subprocess.run([amtool, "check-config",
                        str(tmp_path / "out" / "alertmanager" / "alertmanager.yaml")],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(("name", "text", "message"), [
    ("opsplane.yaml", "version: 1\nteams:\n  commerce:\n    chat: {chanel: '#x'}\n",
     "opsplane.yaml:4: teams.commerce.chat.chanel: unknown field (did you mean channel?)"),
    ("opsplane.yaml", "version: 2\n", "opsplane.yaml:1: version: Input should be 1"),
    ("opsplane.yaml", "teams: [a]\n", "opsplane.yaml:1: teams: Input should be a valid "
                                      "dictionary"),
    ("opsplane.yaml", "teams:\n  x: {chat: {channel: a}\n", "opsplane.yaml:3: YAML syntax error"),
    ("endpoints.yaml", "chat: http://127.0.0.1:1\npager: ftp://x\n",
     "endpoints.yaml:2: pager: 'ftp://x' is not an http(s) URL"),
    ("endpoints.yaml", "ticket: https://user:pw@jira.example.com\n",
     "endpoints.yaml:1: ticket: the URL carries credentials; reference them by file instead"),
    ("endpoints.yaml", "- chat\n", "endpoints.yaml:1: (top): an endpoints file (chat, ticket, "
                                   "pager) is a mapping"),
])
def test_bad_org_or_endpoints_file_is_one_line(tmp_path: Path, capsys: Any, name: str,
                                               text: str, message: str) -> None:
    bad = _write(tmp_path, name, text)
    spec = _write(tmp_path, "service.yaml", yaml.safe_dump(_raw()))
    flag = "--org" if name == "opsplane.yaml" else "--endpoints"
    assert main(["generate", "alerts", str(spec), "-o", str(tmp_path / "out"),
                 flag, str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}/{message}"), err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_ticket_alert_without_receiver_is_named(tmp_path: Path, capsys: Any) -> None:
    """Pager only: pages reach someone, the ticket alerts do not."""
    spec = _write(tmp_path, "service.yaml", yaml.safe_dump(
        _raw(alerting={"pager": {"service": "x", "routing_key": {"file": "/k"}}})))
    assert main(["generate", "alerts", str(spec), "-o", str(tmp_path / "out")]) == 2
    assert "alert ErrorBudgetBurn (severity ticket) would reach no one: set " \
           "alerting.ticket or alerting.chat" in capsys.readouterr().err


def test_init_fills_alerting_from_the_team(tmp_path: Path) -> None:
    org = _write(tmp_path, "opsplane.yaml", ORG)
    assert main(["init", "invoices", "--team", "commerce", "--org", str(org),
                 "--dir", str(tmp_path / "inv")]) == 0
    data = yaml.safe_load((tmp_path / "inv" / "service.yaml").read_text())
    assert data["alerting"] == {
        "chat": {"channel": "#commerce",
                 "webhook": {"secret": "commerce-alerting", "key": "slack"}},
        "ticket": {"project": "COM"},
        "pager": {"service": "commerce-oncall", "routing_key": {"file": "/run/secrets/pd-key"}}}
    out = tmp_path / "out"
    assert main(["generate", "alerts", str(tmp_path / "inv" / "service.yaml"),
                 "-o", str(out)]) == 0
    assert main(["init", "other", "--team", "nobody", "--org", str(org),
                 "--dir", str(tmp_path / "o")]) == 0
    text = (tmp_path / "o" / "service.yaml").read_text()
    assert "alerting" not in yaml.safe_load(text)
    assert "team nobody has no defaults" in text
