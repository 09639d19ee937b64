"""``opsplane secrets scan``: planted secrets found exactly, the repo clean, nothing disclosed."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsplane.cli import main as _cli
from opsplane.secretscan import Finding, fingerprint, is_sensitive_key, mask, scan, scan_text

ROOT = Path(__file__).resolve().parent.parent

# built at run time so that this file does not itself hold a secret
AWS = "AKIA" + "Q3EGRWQZ7TLBNK2V"
GH = "ghp_" + "x8Kd2LmQ9vTzR4" + "nB7wPe1YcA6sJf" + "U3hG0iNo"
PW = "Tr0ub4dor" + "&3horse"
RANDOM = "q8ZrT2vL9x" + "Wm4KpN7sYd" + "3BfGh6Jc"
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----"
DB_PW = "s3cr3t" + "-Pg-pass"


def plant(tmp_path: Path) -> dict[str, str]:
    files = {
        "chart/values.yaml": (
            "name: orders\n"
            "facts:\n"
            "  PAYMENTS_URL: http://payments\n"
            f"  DB_PASSWORD: \"{PW}\"\n"
            "secrets:\n"
            "  existingSecret: orders-env\n"
            "  env:\n"
            "    - {name: API_TOKEN, secret: orders-api, key: token}\n"),
        "docker-compose.yaml": (
            "services:\n  orders:\n    environment:\n"
            f"      DATABASE_URL: postgresql://orders:{DB_PW}@postgres/orders\n"
            f"      AWS_ACCESS_KEY_ID: {AWS}\n"),
        "app/settings.py": (
            "import os\n"
            f"GITHUB = \"{GH}\"\n"
            "token: str = os.environ['TOKEN']\n"
            f"SIGNING = \"{RANDOM}\"\n"),
        "deploy/key.pem": f"{PEM}\nMIIEow...\n",
        "deploy/ok.env": (
            "PASSWORD=${DB_PASSWORD}\n"
            "API_KEY=\n"
            f"LEGACY_TOKEN={PW}  # opsplane: allow-secret (rotated, kept for a migration)\n"),
    }
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return files


def test_planted_secrets_found_exactly(tmp_path: Path) -> None:
    plant(tmp_path)
    found = [(f.path, f.line, f.rule) for f in scan([tmp_path], root=tmp_path)]
    assert found == [
        ("app/settings.py", 2, "token:github-token"),
        ("app/settings.py", 4, "entropy"),
        ("chart/values.yaml", 4, "key:DB_PASSWORD"),
        ("deploy/key.pem", 1, "token:private-key"),
        ("docker-compose.yaml", 4, "token:url-password"),
        ("docker-compose.yaml", 5, "token:aws-access-key"),
    ]


def test_findings_never_disclose_the_secret(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    plant(tmp_path)
    assert _cli.main(["secrets", "scan", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    for secret in (AWS, GH, PW, RANDOM, DB_PW):
        assert secret not in captured.out + captured.err
        assert secret[2:10] not in captured.out
    assert "6 secret(s) found" in captured.err
    assert "docker-compose.yaml:5: token:aws-access-key: AK****** (20 chars)" in captured.out


def test_mask_and_fingerprint() -> None:
    assert mask("abcdefghij") == "ab****** (10 chars)"
    assert mask("short") == "****** (5 chars)"
    assert fingerprint("x") == fingerprint("x") != fingerprint("y")
    assert str(Finding("a.yaml", 3, "entropy", "ab******", "00ff")) == \
        "a.yaml:3: entropy: ab****** (fingerprint 00ff)"


@pytest.mark.parametrize(("key", "sensitive"), [
    ("password", True), ("POSTGRES_PASSWORD", True), ("db.password", True),
    ("clientSecret", True), ("x-api-key", True), ("accessToken", True),
    ("existingSecret", False), ("secretName", False), ("passwordFile", False),
    ("tokenizer", False), ("email", False), ("company", False), ("author", False),
])
def test_sensitive_key_names_come_from_the_dictionary(key: str, sensitive: bool) -> None:
    assert is_sensitive_key(key) is sensitive


def test_references_and_placeholders_are_not_secrets() -> None:
    text = ("secret: orders-db\nkey: password\npassword: ${DB_PASSWORD}\n"
            "token: \"{{ .Values.token }}\"\napiKey: <set in the store>\n"
            "password_file: /run/secrets/db\n"
            "checksum: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n")
    assert scan_text(text, "values.yaml") == []


def test_markdown_code_blocks_are_read_as_their_language() -> None:
    """In a ```python block `api_key: SecretStr` is an annotation; in ```yaml it is data."""
    text = ("# Settings\n```python\nclass S:\n    api_key: SecretStr\n    password: str\n"
            f"    token = \"{PW}\"\n```\n```yaml\napi_key: {PW}\n```\npassword: {PW}\n")
    found = scan_text(text, "docs/settings.md")
    assert [(f.line, f.rule) for f in found] == [(6, "key:token"), (9, "key:api_key"),
                                                 (11, "key:password")]


def test_names_in_code_are_not_random_tokens() -> None:
    """C and Python identifiers made of words pass; a random token in code is still found."""
    token = "xK9" + "mQ2vL7pR4tW8zN3bH6cJ"
    text = ("PyUnicode_1BYTE_DATA(s); getHTTPResponse2xxCount();\n"
            f"static const char *k = \"{token}\";\n")
    assert [(f.line, f.rule) for f in scan_text(text, "ext.c")] == [(2, "entropy")]


def test_allowlist_file_by_fingerprint(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(f"password: {PW}\n")
    (tmp_path / "b.yaml").write_text(f"password: {PW}\n")
    assert len(scan([tmp_path], root=tmp_path)) == 2
    (tmp_path / ".opsplane-secrets-allow").write_text(f"{fingerprint(PW)} a.yaml  # fixture\n")
    assert [f.path for f in scan([tmp_path], root=tmp_path)] == ["b.yaml"]
    (tmp_path / ".opsplane-secrets-allow").write_text("* [ab].yaml  # fixtures\n")
    assert scan([tmp_path], root=tmp_path) == []


def test_repository_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert [str(f) for f in scan(["."])] == []


def test_missing_path_is_a_clear_error(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["secrets", "scan", str(tmp_path / "nope")]) == 2  # bad input
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope'}: no such file or directory\n"


def test_clean_folder_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "values.yaml").write_text("name: orders\nfacts: {LOG_LEVEL: info}\n")
    assert _cli.main(["secrets", "scan", str(tmp_path)]) == 0
    assert capsys.readouterr().err == "no secrets found\n"
