"""The linter's rules: one code, one name, one line of description each.

LS1xx check captured logs (JSON lines, kubectl output); LS2xx check Python source.
A rule with ``default=False`` runs only when selected by code.
"""

from __future__ import annotations

from dataclasses import dataclass

from logstd.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    description: str
    default: bool = True


RULES: dict[str, Rule] = {r.code: r for r in (
    Rule("LS101", "unknown-key", "key is not in the dictionary (with a did-you-mean)"),
    Rule("LS102", "alias-key", "key is an alias; write the dictionary's canonical name"),
    Rule("LS103", "wrong-type", "value does not fit the key's type, format or range"),
    Rule("LS104", "missing-required", "record lacks a key the dictionary marks required"),
    Rule("LS105", "unredacted-sensitive", "sensitive key carries a value that is not redacted"),
    Rule("LS106", "bad-timestamp", "timestamp is not an RFC 3339 / ISO 8601 string"),
    Rule("LS107", "unknown-level", "level is not one of the dictionary's levels"),
    Rule("LS108", "missing-message", "record has no message or an empty one"),
    Rule("LS109", "variable-message",
         "many distinct messages differ only in numbers or ids: the data belongs in keys"),
    Rule("LS110", "not-json", "line is not a JSON record (off by default)", default=False),
    Rule("LS200", "syntax-error", "Python file cannot be parsed, so it was not linted"),
    Rule("LS201", "unknown-key", "logged key is not in the dictionary (with a did-you-mean)"),
    Rule("LS202", "alias-key", "logged key is an alias; write the canonical name"),
    Rule("LS203", "formatted-message",
         "message built with an f-string, % or .format(): the values belong in keys"),
    Rule("LS204", "print-call", "print() in service code; log instead (can be switched off)"),
    Rule("LS205", "secret-logged", "a secret (by its name) is passed to a logging call"),
    Rule("LS206", "reserved-extra",
         "extra key clashes with a LogRecord attribute (KeyError at run time)"),
)}

PRINT_RULE = "LS204"


def expand(codes: list[str], where: str) -> set[str]:
    """Rule codes named by ``codes``: full codes, prefixes (``LS2``) or ``ALL``."""
    out: set[str] = set()
    for raw in codes:
        code = raw.strip().upper()
        if not code:
            continue
        if code == "ALL":
            out.update(RULES)
            continue
        hits = {c for c in RULES if c.startswith(code)}
        if not hits:
            import difflib

            close = difflib.get_close_matches(code, list(RULES), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else " (see logstd lint --list-rules)"
            raise ConfigError(f"{where}: unknown rule code {raw!r}{hint}")
        out.update(hits)
    return out


def default_codes() -> set[str]:
    return {c for c, r in RULES.items() if r.default}


def list_rules() -> str:
    lines = []
    for r in RULES.values():
        off = "" if r.default else "  [off by default]"
        lines.append(f"{r.code}  {r.name:<22} {r.description}{off}")
    return "\n".join(lines)
