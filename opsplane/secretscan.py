"""Find secrets in a repository: chart values, facts, compose files, source.

Three detectors, each reported as a rule name with ``file:line``:

- ``token:<kind>``: known credential formats, by detect-secrets' maintained pattern plugins
  (AWS, GitHub, GitLab, Slack, Stripe, private keys, JWTs, ...) plus a URL with a password;
- ``key:<name>``: a literal value under a key the logstd dictionary marks sensitive
  (``password``, ``token``, ``apiKey``, ``secret``, ... in any spelling, also as the last
  words of a longer name such as ``POSTGRES_PASSWORD`` or ``db.password``);
- ``entropy``: a long random-looking string (mixed case and digits, Shannon entropy >= 4.0).

A finding never carries the secret: only a masked hint (first two characters and the length)
and a fingerprint (sha256 prefix) to allow it on purpose. Allow a line with the comment
``opsplane: allow-secret`` on it or on the line above, or list ``<fingerprint> <path glob>``
in ``.opsplane-secrets-allow`` at the scan root (``*`` for any secret under the glob: test
fixtures).
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from opsplane.errors import BadInputError, OpsplaneError

ALLOW_MARK = "opsplane: allow-secret"
ALLOW_FILE = ".opsplane-secrets-allow"
SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache",
                       ".ruff_cache", ".pytest_cache", ".hypothesis", "build", "dist", ".tox",
                       "runs", "out"})
MAX_BYTES = 1_000_000
# personal data is sensitive in logs but is not a credential
_NOT_CREDENTIALS = frozenset({"email", "creditCardNumber", "cvv"})
# keys that name where a secret lives rather than hold it
_REFERENCE_KEYS = frozenset({"existingsecret", "secretname", "secretref", "secretkeyref",
                             "secretstoreref", "secretkey", "secretsmanager", "passwordfile",
                             "tokenfile", "secretfile", "secrettemplate", "secretenv",
                             "tokenenv", "passwordenv",
                             # GitHub Actions' permission `id-token: write` (OIDC), not a token
                             "idtoken"})
_PLACEHOLDER = re.compile(r"^(\$\{.*\}|\$\(.*\)|\$[A-Z_][A-Z0-9_]*|\{\{.*\}\}|<[^>]*>|%\(.*\)s"
                          r"|\*+|x{3,}|redacted|\[REDACTED\]|null|none|~|true|false|"
                          r"changeme-in-secret-store)$", re.IGNORECASE)
_DNS_NAME = re.compile(r"^[a-z]([-a-z.]*[a-z])?$")
# key = value, key: value, "key": "value", KEY=value (also `export`), in YAML/JSON/env/py/sh
_ASSIGN = re.compile(
    r"""(?P<key>[A-Za-z_][\w.\-]*)["'`]?\s*(?::|=|:=)\s*(?P<q>["']?)(?P<value>[^"'`\s,#}]+"""
    r"""(?:[^"'`\n,#}]*[^"'`\s,#}])?)(?P=q)""")
_TOKENS = re.compile(r"[A-Za-z0-9+/_\-=]{20,}")
_URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.\-]*://[^\s:/@'\"]+:([^\s/@'\"]+)@[^\s'\"]+",
                           re.IGNORECASE)
# in these, an unquoted `name: value` is code (annotations, calls), not data
_CODE_SUFFIXES = (".py", ".pyi", ".js", ".ts", ".go", ".java", ".kt", ".rs", ".rb", ".c", ".h",
                  ".cc", ".cpp", ".hpp")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# the same in a Markdown code block fenced with one of these languages
_CODE_FENCES = frozenset({"python", "py", "pycon", "javascript", "js", "typescript", "ts", "go",
                          "java", "kotlin", "rust", "ruby"})
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


class SecretScanError(OpsplaneError, BadInputError):
    """A path to scan does not exist or cannot be read: bad input."""


def _unreadable(p: Path, e: OSError) -> SecretScanError:
    import errno

    why = {errno.ENOENT: "no such file or directory",
           errno.ELOOP: "too many levels of symbolic links"}.get(
               e.errno or 0, f"cannot read: {e.strerror or e}")
    return SecretScanError(f"{p}: {why}")


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    rule: str
    hint: str
    fingerprint: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.hint} (fingerprint {self.fingerprint})"


def mask(secret: str) -> str:
    """A hint that identifies a secret to its owner without disclosing it."""
    shown = secret[:2] if len(secret) >= 8 else ""
    return f"{shown}{'*' * 6} ({len(secret)} chars)"


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def entropy(s: str) -> float:
    counts = Counter(s)
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


@lru_cache(maxsize=1)
def sensitive_names() -> frozenset[str]:
    """Normalised spellings (name and aliases) of the dictionary's credential keys."""
    from logstd._dictionary import load_dictionary, normalize

    d = load_dictionary()
    out: set[str] = set()
    for spec in d.keys.values():
        if spec.sensitive and spec.name not in _NOT_CREDENTIALS:
            out.update(normalize(s) for s in (spec.name, *spec.aliases))
    return frozenset(out)


def is_sensitive_key(key: str) -> bool:
    """True when the key, or its last words, spell a credential key of the dictionary."""
    from logstd._dictionary import normalize

    if normalize(key) in _REFERENCE_KEYS:
        return False
    names = sensitive_names()
    words = _WORDS.findall(key.replace("-", "_").replace(".", "_"))
    return any(normalize("".join(words[i:])) in names for i in range(len(words)))


@lru_cache(maxsize=1)
def _plugins() -> tuple[Any, ...]:
    from detect_secrets.plugins import (
        artifactory,
        aws,
        azure_storage_key,
        discord,
        github_token,
        gitlab_token,
        jwt,
        mailchimp,
        npm,
        openai,
        private_key,
        pypi_token,
        sendgrid,
        slack,
        square_oauth,
        stripe,
        telegram_token,
        twilio,
    )

    classes = (aws.AWSKeyDetector, artifactory.ArtifactoryDetector,
               azure_storage_key.AzureStorageKeyDetector, discord.DiscordBotTokenDetector,
               github_token.GitHubTokenDetector, gitlab_token.GitLabTokenDetector,
               jwt.JwtTokenDetector, mailchimp.MailchimpDetector, npm.NpmDetector,
               openai.OpenAIDetector, private_key.PrivateKeyDetector, pypi_token.PypiTokenDetector,
               sendgrid.SendGridDetector, slack.SlackDetector, square_oauth.SquareOAuthDetector,
               stripe.StripeDetector, telegram_token.TelegramBotTokenDetector,
               twilio.TwilioKeyDetector)
    return tuple(c() for c in classes)


def _rule_name(secret_type: str) -> str:
    return "token:" + re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


def _identifier(tok: str) -> bool:
    """`PyUnicode_1BYTE_DATA`, `getHTTPResponse2xx`: a name made of words, not random."""
    if not _IDENTIFIER.fullmatch(tok):
        return False
    words = _WORDS.findall(tok)
    return bool(words) and sum(map(len, words)) / len(words) >= 3


def _looks_random(tok: str) -> bool:
    if len(tok) < 20 or not (re.search(r"[a-z]", tok) and re.search(r"[A-Z]", tok)
                             and re.search(r"\d", tok)):
        return False
    return entropy(tok) >= 4.0


def _literal(value: str) -> bool:
    v = value.strip()
    if len(v) < 4 or _PLACEHOLDER.match(v) or v.startswith(("/", "./", "~/", "file:", "vault:")):
        return False
    if v[0] in "{[(|>&*!" or (" " in v and not re.match(r"(?i)(bearer|basic|token) \S", v)):
        return False  # structure, YAML block markers, anchors, prose
    if re.fullmatch(r"-?\d+(\.\d+)?", v):
        return False
    return not re.fullmatch(r"[A-Za-z_][\w.]*\(.*\)?|[a-z_][\w.]*\[.*", v)  # code, not data


def scan_text(text: str, path: str) -> list[Finding]:
    """Findings in one file's text (``path`` labels them; its suffix picks the rules)."""
    from logstd._dictionary import normalize

    lines = text.splitlines()
    code_file = path.endswith(_CODE_SUFFIXES)
    markdown = path.endswith((".md", ".markdown"))
    fence: str | None = None  # the language of the Markdown code block we are in
    found: dict[tuple[int, str], Finding] = {}

    def add(lineno: int, rule: str, secret: str) -> None:
        fp = fingerprint(secret)
        found.setdefault((lineno, fp), Finding(path, lineno, rule, mask(secret), fp))

    for i, line in enumerate(lines, 1):
        if markdown and line.lstrip().startswith(("```", "~~~")):
            fence = None if fence is not None else line.lstrip()[3:].strip().lower()
            continue
        code = code_file or fence in _CODE_FENCES
        if ALLOW_MARK in line or (i > 1 and ALLOW_MARK in lines[i - 2]):
            continue
        for plugin in _plugins():
            for secret in plugin.analyze_string(line):
                add(i, _rule_name(plugin.secret_type), secret)
        for m in _URL_PASSWORD.finditer(line):
            if _literal(m.group(1)):
                add(i, "token:url-password", m.group(1))
        for m in _ASSIGN.finditer(line):
            key, value = m.group("key"), m.group("value")
            if not is_sensitive_key(key.rsplit(".", 1)[-1]) or not _literal(value):
                continue
            if code and not m.group("q"):
                continue  # in source only a string literal is data (not `token: str`)
            if normalize(value) in sensitive_names():
                continue  # `PASSWORD = "password"` names a key, it is not one
            if key.lower() == "secret" and _DNS_NAME.match(value):
                continue  # `secret: orders-db` names a Kubernetes Secret (a SecretRef)
            add(i, f"key:{key}", value)
        for m in _TOKENS.finditer(line):
            tok = m.group(0)
            if (code or markdown) and _identifier(tok):
                continue
            if _looks_random(tok) and not any(k[0] == i for k in found):
                add(i, "entropy", tok)
    return sorted(found.values())


def _allowlist(root: Path) -> list[tuple[str, str]]:
    p = root / ALLOW_FILE
    if not p.is_file():
        return []
    out = []
    for raw in p.read_text(encoding="utf-8").splitlines():
        parts = raw.split("#", 1)[0].split()
        if len(parts) >= 2:
            out.append((parts[0], parts[1]))
    return out


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for raw in paths:
        p = Path(raw)
        try:
            p.stat()
        except OSError as e:
            raise _unreadable(p, e) from None
        if p.is_file():
            yield p
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS
                                 and not d.endswith(".egg-info"))
            for name in sorted(filenames):
                f = Path(dirpath) / name
                if f.is_file():  # a dangling or looping symlink in a tree is not content
                    yield f


def scan(paths: Sequence[str | Path] = (".",), *, root: str | Path | None = None,
         skipped: list[str] | None = None) -> list[Finding]:
    """Scan files and folders; returns the findings not allowed, sorted by file and line.

    Files over ``MAX_BYTES`` and binary files are not scanned; each one is added to
    ``skipped`` (``path (why)``) when a list is given, so that a caller can say so.
    """
    base = Path(root) if root is not None else Path.cwd()
    allowed = _allowlist(base)
    findings: list[Finding] = []
    for f in iter_files(paths):
        try:
            size = f.stat().st_size
            if size > MAX_BYTES:
                if skipped is not None:
                    skipped.append(f"{f} ({size / 1e6:.1f} MB, over {MAX_BYTES / 1e6:g} MB)")
                continue
            data = f.read_bytes()
        except OSError as e:
            raise _unreadable(f, e) from None
        if b"\0" in data[:8192]:
            if skipped is not None:
                skipped.append(f"{f} (binary)")
            continue
        text = data.decode("utf-8", errors="replace")
        try:
            label = f.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            label = f.as_posix()
        for finding in scan_text(text, label):
            if any(fp in ("*", finding.fingerprint) and fnmatch.fnmatch(label, glob)
                   for fp, glob in allowed):
                continue
            findings.append(finding)
    return sorted(findings)
