"""The key dictionary: the base file, overlays, errors naming file:line, and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from logstd import DictionaryError, load_dictionary
from logstd._cli import main
from logstd._config import overlay_paths
from logstd._dictionary import BASE_PATH, check_value

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_base_dictionary_has_the_issue_keys() -> None:
    d = load_dictionary(cache=False)
    assert len(d) >= 40
    for name in ("timestamp", "level", "message", "service", "version", "environment", "logger",
                 "traceId", "spanId", "requestId", "customerId", "accountId", "userId",
                 "httpMethod", "httpRoute", "httpPath", "httpStatus", "durationMs", "userAgent",
                 "clientIp", "requestBytes", "responseBytes", "errorType", "errorMessage",
                 "stackTrace", "dependency", "dependencyDurationMs", "podName", "namespace",
                 "nodeName", "container", "event", "action", "outcome", "password", "token",
                 "authorization", "apiKey", "secret", "cookie", "creditCardNumber"):
        assert name in d.keys, name
    for name in ("password", "token", "authorization", "apiKey", "secret", "cookie",
                 "creditCardNumber"):
        assert d.keys[name].sensitive in ("mask", "drop")
    assert d.canonical("cust_id") == "customerId"
    assert d.canonical("custId") == "customerId"
    assert set(d.required) == {"timestamp", "level", "message", "service"}
    for spec in d.keys.values():
        assert spec.ecs, spec.name
        assert spec.otel, spec.name
        assert spec.description
        assert spec.examples


def test_every_example_fits_its_type() -> None:
    d = load_dictionary(cache=False)
    for spec in d.keys.values():
        for example in spec.examples:
            assert check_value(spec, example) is None, (spec.name, example)


def test_check_value_messages() -> None:
    d = load_dictionary(cache=False)
    assert d.check("httpStatus", "200") == "expected integer, got string '200'"
    assert d.check("durationMs", -1) == "-1 is below the minimum 0"
    assert d.check("traceId", "xyz") == "'xyz' is not a valid hex"
    assert d.check("outcome", "maybe") == "'maybe' is not one of success, failure, unknown"
    assert d.check("httpStatus", True) == "expected integer, got boolean true"
    assert d.check("unknownKey", 1) is None


def test_suggestions_from_aliases_case_and_edit_distance() -> None:
    d = load_dictionary(cache=False)
    assert d.suggest("custId") == ["customerId"]
    assert d.suggest("CUSTOMER-ID") == ["customerId"]
    assert d.suggest("custmerId")[0] == "customerId"
    assert d.suggest("zzzzzz") == []


def test_sensitivity_by_any_spelling() -> None:
    d = load_dictionary(cache=False)
    assert d.sensitivity("password") == "drop"
    assert d.sensitivity("Access-Token") == "mask"
    assert d.sensitivity("X_API_KEY") == "mask"
    assert d.sensitivity("customerId") is None


def test_cache_gives_the_same_dictionary() -> None:
    fresh = load_dictionary(cache=False)
    load_dictionary()  # writes the cache
    cached = load_dictionary()
    assert fresh.keys == cached.keys
    assert fresh.lookup == cached.lookup


OVERLAY = """\
version: 1
keys:
  cartId:
    type: string
    description: Id of a shopping cart.
    examples: ["K-1"]
    aliases: [cart_id]
  customerId:
    aliases: [kundennummer]
"""


def test_overlay_adds_keys_and_aliases(tmp_path: Path) -> None:
    d = load_dictionary([write(tmp_path, "org.yaml", OVERLAY)], cache=False)
    assert d.canonical("cart_id") == "cartId"
    assert d.canonical("kundennummer") == "customerId"
    assert d.canonical("custId") == "customerId"  # base aliases kept


def test_overlay_redefining_a_type_names_both_places(tmp_path: Path) -> None:
    p = write(tmp_path, "svc.yaml", "keys:\n  customerId:\n    type: integer\n")
    with pytest.raises(DictionaryError) as e:
        load_dictionary([p], cache=False)
    base_line = next(i for i, line in enumerate(BASE_PATH.read_text().splitlines(), 1)
                     if line.strip() == "customerId:") + 1
    assert str(e.value) == (f"{p}:3: key 'customerId' redefines type as 'integer'; "
                            f"{BASE_PATH}:{base_line} defines it as 'string'")


def test_two_keys_claiming_one_alias_names_both_places(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", OVERLAY)
    b = write(tmp_path, "b.yaml", "keys:\n  basketId:\n    type: string\n    description: b\n"
              "    examples: [x]\n    aliases: [cart_id]\n")
    with pytest.raises(DictionaryError) as e:
        load_dictionary([a, b], cache=False)
    assert str(e.value) == (f"{b}:6: alias 'cart_id' is claimed by key 'basketId' "
                            f"and by key 'cartId' at {a}:7")


def test_alias_that_is_another_keys_name(tmp_path: Path) -> None:
    p = write(tmp_path, "c.yaml", "keys:\n  cartId:\n    type: string\n    description: c\n"
              "    examples: [x]\n    aliases: [orderId]\n")
    with pytest.raises(DictionaryError, match=r"c.yaml:6: alias 'orderId' of key 'cartId' is the "
                       r"name of key 'orderId' defined at .*keys.yaml:\d+"):
        load_dictionary([p], cache=False)


@pytest.mark.parametrize(("text", "message"), [
    ("keys:\n  cartId: [\n", "{p}:3: YAML syntax error: "),
    ("keys:\n  cartId:\n    type: strin\n    description: x\n    examples: [x]\n",
     "{p}:3: key 'cartId': field 'type': Input should be "),
    ("keys:\n  cartId:\n    type: string\n    description: x\n    examples: [1]\n",
     "{p}:5: key 'cartId': example expected string, got integer 1"),
    ("keys:\n  cartId:\n    type: string\n    description: x\n    examples: [x]\n    colour: red\n",
     "{p}:6: key 'cartId': field 'colour': unknown field"),
    ("keys:\n  cart_id:\n    type: string\n    description: x\n    examples: [x]\n",
     "{p}:2: key 'cart_id': field 'name': String should match pattern"),
    ("keys:\n  a1:\n    type: string\n    description: x\n    examples: [x]\n"
     "  a1:\n    type: string\n",
     "{p}:6: duplicate key 'a1' (first at line 2)"),
    ("nokeys: 1\n", "{p}:1: a dictionary needs a top-level 'keys:' mapping"),
    ("version: 2\nkeys: {}\n", "{p}:1: unsupported version 2 (this logstd reads version 1)"),
])
def test_malformed_overlay_gives_one_line_naming_file_and_line(
        tmp_path: Path, text: str, message: str) -> None:
    p = write(tmp_path, "bad.yaml", text)
    with pytest.raises(DictionaryError) as e:
        load_dictionary([p], cache=False)
    assert str(e.value).startswith(message.format(p=p)), str(e.value)
    assert "\n" not in str(e.value)


def test_cli_malformed_overlay_exits_2_with_one_line(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.yaml", "keys:\n  cartId:\n    type: nope\n")
    r = subprocess.run([sys.executable, "-m", "logstd._cli", "--dictionary", str(p), "keys"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {p}:3: key 'cartId': field 'type'")


def test_overlay_precedence_flag_env_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.logstd]\ndictionary = ["org.yaml"]\n')
    assert overlay_paths(env={}, start=tmp_path) == [tmp_path / "org.yaml"]
    assert overlay_paths(env={"LOGSTD_DICTIONARY": "a.yaml:b.yaml"}, start=tmp_path) == [
        Path("a.yaml"), Path("b.yaml")]
    assert overlay_paths(["c.yaml"], env={"LOGSTD_DICTIONARY": "a.yaml"}) == [Path("c.yaml")]


def test_malformed_pyproject_is_named(tmp_path: Path) -> None:
    from logstd import ConfigError

    (tmp_path / "pyproject.toml").write_text("[tool.logstd\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: malformed TOML: .*line 1"):
        overlay_paths(env={}, start=tmp_path)


def test_keys_show_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "show", "cust_id"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("customerId  (string, group business)")
    assert "aliases:       customer_id, custId" in out
    assert main(["keys", "show", "custmerId"]) == 2
    assert capsys.readouterr().err == ("error: unknown key 'custmerId'; "
                                       "did you mean customerId, userId?\n")


def test_docs_page_and_constants_are_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "--markdown"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "log-keys.md").read_text(), \
        "docs/log-keys.md is stale: run `make docs`"
    assert main(["keys", "--python"]) == 0
    assert capsys.readouterr().out == (ROOT / "logstd" / "keys.py").read_text(), \
        "logstd/keys.py is stale: run `make docs`"


def test_json_schema_validates_records(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import jsonschema

    assert main(["keys", "--json-schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    good = {"timestamp": "2026-11-28T20:52:45.123Z", "level": "info", "message": "m",
            "service": "orders", "httpStatus": 200}
    assert not list(v.iter_errors(good))
    bad = {**good, "httpStatus": "200"}
    assert [e.path[0] for e in v.iter_errors(bad)] == ["httpStatus"]
    assert {e.validator for e in v.iter_errors({"level": "info"})} == {"required"}


def test_pyproject_section_is_parsed_once_per_content(tmp_path: Path) -> None:
    """[tool.logstd] is kept in the cache by the file's checksum: the next run reads JSON
    instead of importing a TOML parser; an edited file is parsed again; a damaged entry is
    ignored; a section with TOML dates is not cached (JSON would change them)."""
    from logstd._config import tool_section

    py = write(tmp_path, "pyproject.toml",
               '[tool.logstd]\ndictionary = ["keys.yaml"]\n[tool.logstd.lint]\nselect = ["LS1"]\n')
    first = tool_section(py)
    assert first == {"dictionary": ["keys.yaml"], "lint": {"select": ["LS1"]}}
    (entry,) = (tmp_path / "cache" / "logstd").glob("tool-logstd-*.json")
    entry.write_text('{"dictionary": ["from-the-cache.yaml"]}')  # proves the cache is read
    assert tool_section(py) == {"dictionary": ["from-the-cache.yaml"]}
    entry.write_bytes(b"\xff not json")
    assert tool_section(py) == first
    py.write_text('[tool.logstd]\ndictionary = ["other.yaml"]\n')
    assert tool_section(py) == {"dictionary": ["other.yaml"]}
    dated = write(tmp_path, "dated.toml", "[tool.logstd]\nsince = 2026-01-01\n")
    before = set((tmp_path / "cache" / "logstd").glob("tool-logstd-*.json"))
    assert str(tool_section(dated)["since"]) == "2026-01-01"
    assert set((tmp_path / "cache" / "logstd").glob("tool-logstd-*.json")) == before
