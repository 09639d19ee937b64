"""``logstd pretty`` masks the values of keys the dictionary marks sensitive.

In any spelling of the key (canonical, alias, case, separators) and at any depth (nested
objects, lists of objects, OpenTelemetry attributes, docker's envelope), in every output
(short, long, compact, json) and on every path (C, Python one-pass, general), which print
the same bytes. ``--show-secrets`` shows them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from _compiled import compiled
from hypothesis import given, settings
from hypothesis import strategies as st

from logstd import load_dictionary
from logstd._pretty import Pretty

DICTIONARY = load_dictionary()
SECRETS = ["hunter2-pw", "tok-abc123", "ak-999", "4111111111111111", "sess-cookie",
           "csecret-77", "bearer-xyz"]
MASK = "[REDACTED]"

# records written by other services, each hiding one or more of SECRETS
RECORDS: list[dict[str, object]] = [
    {"level": "info", "message": "login", "password": "hunter2-pw"},
    {"level": "info", "message": "login", "user_password": "hunter2-pw", "customerId": "C-1"},
    {"level": "info", "msg": "x", "PASSWORD": "hunter2-pw"},
    {"level": "info", "msg": "x", "Api-Key": "ak-999"},
    {"level": "info", "msg": "x", "x_api_key": "ak-999", "attempt": 2},
    {"level": "warn", "msg": "x", "http": {"request": {"headers": {"authorization":
                                                                   "bearer-xyz"}}}},
    {"level": "info", "msg": "x", "db": {"password": "hunter2-pw", "host": "db"}},
    {"level": "info", "msg": "x", "auth": {"scheme": "Bearer", "token": "tok-abc123"}},
    {"level": "info", "msg": "x", "users": [{"name": "a", "accessToken": "tok-abc123"}]},
    {"level": "info", "msg": "x", "batch": [[{"card_number": "4111111111111111"}]]},
    {"level": "info", "msg": "x", "http.request.header.cookie": "sess-cookie"},
    {"level": "info", "msg": "x", "config": {"oauth": {"client_secret": "csecret-77"}}},
    {"level": "info", "msg": "x", "ok": True, "cfg": {"retries": 3, "clientSecret":
                                                      "csecret-77"}},
    {"severityText": "INFO", "body": "otel", "attributes": {"db.password": "hunter2-pw",
                                                            "customer_id": "C-9"}},
    {"severityText": "INFO", "body": "otel", "attributes": [
        {"key": "session_token", "value": {"stringValue": "tok-abc123"}}]},
    {"log": '{"level":"info","message":"in docker","password":"hunter2-pw"}\n',
     "stream": "stdout", "time": "2026-12-06T10:00:00.000Z"},
    {"level": "info", "message": "multi\nline", "password": "hunter2-pw"},
]
LINES = [orjson.dumps(r) for r in RECORDS]
# a record with nothing sensitive stays as it was (and on the one-pass path)
PLAIN = orjson.dumps({"level": "info", "message": "plain", "customerId": "C-1",
                      "http": {"method": "GET", "status": 200}, "tags": [{"a": 1}]})


def _paths(**kw: object) -> dict[str, Pretty]:
    """The same options on the C path, the Python one-pass path and the general path."""
    c = Pretty(DICTIONARY, **kw)  # type: ignore[arg-type]
    py = Pretty(DICTIONARY, **kw)  # type: ignore[arg-type]
    py._compiled = None
    general = Pretty(DICTIONARY, **kw)  # type: ignore[arg-type]
    general._compiled = None
    general.fast_ok = False
    return {"c": c, "python": py, "general": general}


@pytest.mark.parametrize("output", ["short", "long", "compact", "json"])
def test_every_secret_is_masked_on_every_path(output: str) -> None:
    compiled("logstd._speedups", "pretty uses its Python path")
    outs = {name: p.format_lines(LINES) for name, p in _paths(output=output).items()}
    assert outs["c"] == outs["python"] == outs["general"]
    assert len(outs["c"]) == len(LINES)
    for line, shown in zip(LINES, outs["c"], strict=True):
        for secret in SECRETS:
            assert secret not in shown, (line, shown)
        assert MASK in shown, (line, shown)


def test_aliases_and_nesting_are_named_as_the_dictionary_says() -> None:
    p = Pretty(DICTIONARY, color=False)
    out = p.format_lines(LINES[:2] + LINES[6:7] + LINES[8:9])
    assert out[0].endswith("login  password=[REDACTED]")
    assert out[1].endswith("login  password=[REDACTED] customerId=C-1")
    assert "db.password=[REDACTED] db.host=db" in out[2]
    assert 'users=[{"name":"a","accessToken":"[REDACTED]"}]' in out[3]


def test_show_secrets_reveals_them_and_plain_records_are_untouched() -> None:
    compiled("logstd._speedups", "pretty uses its Python path")
    shown = {name: p.format_lines(LINES) for name, p in _paths(show_secrets=True).items()}
    assert shown["c"] == shown["python"] == shown["general"]
    text = "\n".join(shown["c"])
    for secret in SECRETS:
        assert secret in text
    assert MASK not in text
    masked, revealed = Pretty(DICTIONARY), Pretty(DICTIONARY, show_secrets=True)
    assert masked.format_lines([PLAIN]) == revealed.format_lines([PLAIN])
    assert masked.fast(orjson.loads(PLAIN)) is not None  # still the one-pass path


def test_without_a_dictionary_nothing_is_masked() -> None:
    assert "hunter2-pw" in Pretty(None).format_lines(LINES[:1])[0]


@settings(max_examples=80, deadline=None)
@given(st.recursive(
    st.one_of(st.text(alphabet="abc xy", max_size=5), st.integers(-(2**53), 2**53),
              st.booleans(), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["password", "pwd", "apiKey", "Token", "name", "id",
                                         "access_token", "note", "set-cookie", "cvv"]),
                        inner, max_size=3)),
    max_leaves=8))
def test_random_nesting_prints_the_same_on_every_path(value: object) -> None:
    compiled("logstd._speedups", "pretty uses its Python path")
    line = orjson.dumps({"level": "info", "message": "m", "data": value, "secret": "S3CR3T"})
    outs = {name: p.format_lines([line]) for name, p in _paths().items()}
    assert outs["c"] == outs["python"] == outs["general"]
    assert "S3CR3T" not in outs["c"][0]  # random values never hold these letters


def test_cli_masks_and_show_secrets_reveals(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"\n".join(LINES) + b"\n")
    cmd = [sys.executable, "-m", "logstd._cli", "pretty", "--color", "never"]
    for extra in ([], ["-j", "2"], ["--output", "json"], ["--where", "level=info"]):
        out = subprocess.run([*cmd, *extra, str(log)], capture_output=True, check=True).stdout
        assert not any(s.encode() in out for s in SECRETS), extra
    shown = subprocess.run([*cmd, "--show-secrets", str(log)], capture_output=True,
                           check=True).stdout
    assert all(s.encode() in shown for s in SECRETS)
