"""Lint captured logs: JSON lines and ``kubectl logs`` output, against the dictionary.

The hot loop parses each line with orjson and looks the record's *shape* (its key
tuple) up in a cache: unknown keys, aliases and missing required keys are decided once
per shape, so a line costs one parse, one dict lookup and the value checks.

``render_text`` is the same loop writing ``path:line:col: CODE message`` lines straight
away: the text after the column of every finding decided per shape is rendered once per
shape, so such a finding costs a ``bytes.find`` (its column) and one string format. Lines
are numbered from a given first line and message variability (LS109) is kept as state
that ``take_variants``/``merge_variants`` move between processes, so a file can be linted
in chunks by several processes with the same output as one (``logstd._lint_stream``).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

from logstd._dictionary import MASK, Dictionary, KeySpec, check_value, normalize
from logstd._finding import Finding
from logstd._lineprefix import json_start

if TYPE_CHECKING:
    from logstd._speedups import Lint

# a token carrying data: anything with a digit in it (ids, numbers, durations, hex)
_VARIABLE = re.compile(r"\S*\d\S*")
VARIABLE_MESSAGE_MIN = 10  # distinct messages per template before LS109 fires
_SHAPE_CACHE_LIMIT = 20_000
_VALUE_CACHE_LIMIT = 4096
_CHECKED_FORMATS = ("iso8601", "uuid", "ip", "hex", "uri")  # what check_value verifies


def parse_line(line: bytes) -> dict[str, Any] | None:
    """The JSON record in one log line, or None for anything else (never raises)."""
    off = json_start(line)
    if off < 0:
        return None
    try:
        rec = orjson.loads(line[off:])
    except orjson.JSONDecodeError:
        return None
    return rec if isinstance(rec, dict) else None


# decided once per shape: (code, key, message, the key as it appears in the line)
_Static = tuple[str, str | None, str, bytes]
# the same for text output: (the key as it appears in the line, code, ": CODE message\n")
_StaticText = tuple[bytes, str, str]
# checked per line: (its order, key, code, value types that pass without a call or None,
# memo of str and int values or None, check, the key as it appears in the line)
_Check = tuple[int, str, str, frozenset[type] | None, dict[Any, str | None] | None,
               Callable[[Any], str | None], bytes]
# a number with bounds, compared inline: (order, key, types, low, high, code, check, needle)
_Range = tuple[int, str, frozenset[type], float, float, str, Callable[[Any], str | None], bytes]
# a value that fails a check: (the check's order, key, code, problem, needle)
_Problem = tuple[int, str, str, str, bytes]
# how a text value passes a check without calling it (see LogLinter._quick)
_Quick = tuple[frozenset[str] | None, Callable[[str], object] | None,
               Callable[..., object] | None, tuple[Any, ...]]
_INF = float("inf")


_NOT_RECORD = "line is not a JSON record"
_NOT_JSON = "line is not valid JSON"


class _Plan:
    """What lines of one shape (key tuple) need: findings decided once for the shape, and
    the checks per line, grouped by how cheaply they pass."""

    __slots__ = ("ranges", "rest", "static", "text", "type_todo", "typed", "types")

    def __init__(self, static: tuple[_Static, ...], text: tuple[_StaticText, ...],
                 checks: list[_Check],
                 ranges: dict[str, tuple[frozenset[type], float, float]]) -> None:
        self.static = static  # in line order
        self.text = text  # the same as (needle, code, ": CODE message\n")
        # keys whose verdict is "passes" for some value types (plain text, unknown scalars):
        # one itemgetter and one dict lookup per line find those that need a closer look
        typed: list[_Check] = []
        in_range: list[_Range] = []
        rest: list[_Check] = []
        for c in checks:
            if c[3] is not None:
                typed.append(c)
            elif c[1] in ranges:
                in_range.append((c[0], c[1], *ranges[c[1]], c[2], c[5], c[6]))
            else:
                rest.append(c)
        self.typed = tuple(typed)
        keys = [c[1] for c in typed]
        self.types: Callable[[dict[str, Any]], tuple[Any, ...]] | None = \
            itemgetter(*keys, *keys[:1]) if keys else None  # 2+ keys: always a tuple
        self.type_todo: dict[tuple[type, ...], tuple[_Check, ...]] = {}
        self.ranges: tuple[_Range, ...] = tuple(in_range)
        self.rest = tuple(rest)


# message variability carried between processes: (template, first line, distinct messages)
Variants = list[tuple[str, int, list[str]]]
_MISS: Any = object()
_SCALAR_TYPES: frozenset[type] = frozenset({str, int, float, bool, type(None)})
_STR: frozenset[type] = frozenset({str})
_new = tuple.__new__


class LogLinter:
    def __init__(self, dictionary: Dictionary, codes: Iterable[str]) -> None:
        self.d = dictionary
        self.codes = frozenset(codes)
        self._shapes: dict[tuple[str, ...], _Plan] = {}
        self._checks: dict[str, Callable[[Any], str | None]] = {}
        # numeric keys without a closed list: value types that pass, low and high bounds
        self._ranges: dict[str, tuple[frozenset[type], float, float]] = {}
        self._nested: dict[str, str | None] = {}
        self._keys: dict[str, tuple[str | None, Any, Any]] = {}  # see _key
        self._missing_keys: list[tuple[str, tuple[_Static, _StaticText]]] | None = None
        self._unknown: dict[str, str] = {}
        # per key: text values already checked -> the problem (levels, services, routes repeat)
        self._memos: dict[str, dict[Any, str | None]] = {}
        # check -> how a text value passes it without the call: (allowed values, pattern
        # search, converter raising ValueError, its arguments after the value), each None
        # or met; for the C path
        self._quick: dict[Callable[[Any], str | None], _Quick] = {}
        self._templates: dict[str, str | None] = {}
        # template -> (first line, distinct messages seen so far, capped)
        self._variants: dict[str, tuple[int, set[str]]] = {}
        self._compiled = self.compiled()

    def compiled(self, shape_limit: int = _SHAPE_CACHE_LIMIT,
                 memo_limit: int = _VALUE_CACHE_LIMIT) -> Lint | None:
        """``render_text`` in C (logstd._speedups) on this linter's plans, checks and state,
        or None where the extension is not built (or LOGSTD_PURE_PYTHON is set). The limits
        bound its own caches."""
        from logstd._native import pure_python

        if pure_python():
            return None
        try:
            from logstd._speedups import Lint
        except ImportError:
            return None
        codes = self.codes
        return Lint(plan_of=self._plan, loads=orjson.loads, decode_error=orjson.JSONDecodeError,
                    json_start=json_start, templates=self._templates,
                    see_message=self._see_message, not_json=_NOT_JSON, not_record=_NOT_RECORD,
                    ls108="LS108" in codes, ls109="LS109" in codes, ls110="LS110" in codes,
                    quick=self._quick, shape_limit=shape_limit, memo_limit=memo_limit)

    def text(self, lines: Iterable[bytes], path: str, first: int = 1) -> tuple[bytes, int]:
        """``render_text`` encoded (UTF-8): by the C path where it is built."""
        if self._compiled is not None:
            return self._compiled.text(lines if type(lines) is list else list(lines), path,
                                       first)
        out, n = self.render_text(lines, path, first)
        return out.encode(), n

    def _plan(self, shape: tuple[str, ...]) -> _Plan:
        """The plan of lines of this shape (cached)."""
        plan = self._shapes.get(shape)
        if plan is None:
            plan = self._shape(shape)
            if len(self._shapes) < _SHAPE_CACHE_LIMIT:
                self._shapes[shape] = plan
        return plan

    # --- per shape ---------------------------------------------------------------------
    def _shape(self, keys: tuple[str, ...]) -> _Plan:
        parts = self._keys
        present: set[str] = set()
        static: list[_Static] = []
        text: list[_StaticText] = []
        checks: list[_Check] = []
        for k in keys:
            part = parts.get(k)
            if part is None:
                part = self._key(k)
                if len(parts) < _VALUE_CACHE_LIMIT:
                    parts[k] = part
            canon, key_static, check = part
            if canon is not None:
                present.add(canon)
            if key_static is not None:
                static.append(key_static[0])
                text.append(key_static[1])
            if check is not None:
                checks.append((len(checks), *check))
        # in the order of the line: missing keys first (at the record's start, by code),
        # then the keys' own findings by key
        missing = [m for req, m in self._missing() if req not in present]
        return _Plan((*(m[0] for m in missing), *static), (*(m[1] for m in missing), *text),
                     checks, self._ranges)

    def _missing(self) -> list[tuple[str, tuple[_Static, _StaticText]]]:
        """(canonical key, its finding when a record lacks it), in the order of codes."""
        found = self._missing_keys
        if found is None:
            d, codes = self.d, self.codes
            raw: list[tuple[str, _Static]] = []
            if "LS104" in codes:
                raw += [(req, ("LS104", req, f"missing required key {req!r}", b""))
                        for req in d.required if req != "message"]
            if "message" in d.keys and "LS108" in codes:
                raw.append(("message", ("LS108", None, "record has no message", b"")))
            self._missing_keys = found = [(req, (st, _text(st))) for req, st in raw]
        return found

    def _key(self, k: str) -> tuple[str | None, tuple[_Static, _StaticText] | None,
                                    tuple[str, str, frozenset[type] | None,
                                          dict[Any, str | None] | None,
                                          Callable[[Any], str | None], bytes] | None]:
        """What a key brings to the plan of any shape holding it: its canonical name (None
        when unknown), the finding decided by the key alone, and its check per line (None
        when the rules that would run it are off)."""
        d, codes = self.d, self.codes
        needle = _needle(k)
        canon = d.lookup.get(k)
        static: _Static | None = None
        check: tuple[str, str, frozenset[type] | None, dict[Any, str | None] | None,
                     Callable[[Any], str | None], bytes]
        if canon is None:
            sens = d.sensitive_spellings.get(normalize(k))
            if sens is not None:
                check = (k, "LS105", None, None, self._sensitive_check(k, sens), needle)
            else:
                if "LS101" in codes:
                    static = ("LS101", k, self._unknown_message(k), needle)
                check = (k, "LS105", _SCALAR_TYPES, None, self._nested_only, needle)
        else:
            if canon != k and "LS102" in codes:
                static = ("LS102", k, f"key {k!r} is an alias: write {canon!r}", needle)
            spec = d.keys[canon]
            if spec.sensitive:
                check = (k, "LS105", None, None, self._sensitive_check(k, spec.sensitive),
                         needle)
            elif canon == "message":
                check = (k, "LS108", None, None, _message_check, needle)
            else:
                code = {"timestamp": "LS106", "level": "LS107"}.get(canon, "LS103")
                plain = spec.type == "string" and spec.allowed is None and spec.pattern is None \
                    and spec.format in (None, "milliseconds", "bytes", "level", "duration")
                # remember text values of keys whose values repeat (closed lists, patterns);
                # ids and timestamps are unique, a memo would only cost
                repeats = spec.allowed is not None or (spec.pattern is not None and
                                                       spec.format not in _CHECKED_FORMATS)
                memo = self._memos.setdefault(k, {}) if repeats and not plain else None
                check = (k, code, _STR if plain else None, memo, self._value_check(spec, k),
                         needle)
        # a message check also feeds message variability (LS109)
        keep = check[1] in codes or (check[1] == "LS108" and "LS109" in codes)
        return canon, None if static is None else (static, _text(static)), \
            check if keep else None

    def _unknown_message(self, key: str) -> str:
        msg = self._unknown.get(key)
        if msg is None:
            guesses = self.d.suggest(key)
            hint = f"; did you mean {' or '.join(guesses)}?" if guesses else ""
            msg = f"unknown key {key!r}{hint}"
            if len(self._unknown) < _VALUE_CACHE_LIMIT:
                self._unknown[key] = msg
        return msg

    def _value_check(self, spec: KeySpec, key: str) -> Callable[[Any], str | None]:
        cached = self._checks.get(key)
        if cached is not None:
            return cached
        prefix = f"{key}: "
        if spec.name == "timestamp":
            def check(v: Any) -> str | None:
                if type(v) is str:
                    try:
                        datetime.fromisoformat(v)
                        return None
                    except ValueError:
                        pass
                return f"{prefix}{v!r} is not an RFC 3339 timestamp"
            self._quick[check] = (None, None, datetime.fromisoformat, ())
        elif spec.type in ("integer", "number") and spec.allowed is None:
            ok = (int,) if spec.type == "integer" else (int, float)
            lo, hi = spec.minimum, spec.maximum
            self._ranges[key] = (frozenset(ok), -_INF if lo is None else lo,
                                 _INF if hi is None else hi)

            def check(v: Any) -> str | None:
                if type(v) in ok and (lo is None or v >= lo) and (hi is None or v <= hi):
                    return None
                problem = check_value(spec, v)
                return prefix + problem if problem else None
        elif spec.type == "string":
            # the passing case without a call into check_value: compiled pattern, set lookup
            rx = re.compile(spec.pattern) if spec.pattern else None
            allowed = frozenset(a for a in spec.allowed if isinstance(a, str)) \
                if spec.allowed is not None else None
            conv, args = _format_conv(spec.format) if spec.format in _CHECKED_FORMATS \
                else (None, ())
            fmt_ok = _passes(conv, args) if conv is not None else None

            def check(v: Any) -> str | None:
                if type(v) is str and (allowed is None or v in allowed) and \
                        (rx is None or rx.search(v)) and (fmt_ok is None or fmt_ok(v)):
                    return None
                problem = check_value(spec, v)
                return prefix + problem if problem else None
            self._quick[check] = (allowed, rx.search if rx is not None else None, conv, args)
        else:
            def check(v: Any) -> str | None:
                problem = check_value(spec, v)
                return prefix + problem if problem else None
        self._checks[key] = check
        return check

    def _sensitive_check(self, key: str, mode: str) -> Callable[[Any], str | None]:
        def check(v: Any) -> str | None:
            if v == MASK:
                return None
            if mode == "drop":
                return f"sensitive key {key!r} must be dropped, found a value"
            return f"sensitive key {key!r} is not redacted (expected {MASK!r})"
        return check

    def _nested_only(self, v: Any) -> str | None:
        if type(v) is dict or type(v) is list:
            return self._walk(v, 0)
        return None

    def _walk(self, v: Any, depth: int) -> str | None:
        if depth > 16:
            return None
        if type(v) is dict:
            for k, x in v.items():
                mode = self._nested.get(k, "?")
                if mode == "?":
                    mode = self.d.sensitivity(k)
                    if len(self._nested) < _VALUE_CACHE_LIMIT:
                        self._nested[k] = mode
                if mode is not None and x != MASK:
                    return f"nested sensitive key {k!r} is not redacted"
                if type(x) is dict or type(x) is list:
                    found = self._walk(x, depth + 1)
                    if found:
                        return found
        elif type(v) is list:
            for x in v:
                found = self._walk(x, depth + 1)
                if found:
                    return found
        return None

    # --- per line ----------------------------------------------------------------------
    def records(self, lines: Iterable[bytes], first: int = 1,
                ) -> Iterator[tuple[int, bytes, int, Any, _Plan | None]]:
        """Each line as (number, line, offset of its JSON, record, plan); record and plan
        are None for a line that is not a record: offset -1 when it holds no JSON object,
        else where its invalid JSON starts. A JSON value that is not an object is skipped.
        The one front of every way of linting (findings, text, counts, groups)."""
        shapes = self._shapes
        loads = orjson.loads
        for n, line in enumerate(lines, first):
            off = 0 if line[:1] == b"{" else json_start(line)
            if off < 0:
                yield n, line, off, None, None
                continue
            try:
                rec = loads(line[off:] if off else line)
            except orjson.JSONDecodeError:
                yield n, line, off, None, None
                continue
            if type(rec) is not dict:
                continue
            shape = tuple(rec)
            plan = shapes.get(shape)
            if plan is None:
                plan = self._plan(shape)
            yield n, line, off, rec, plan

    def lint_lines(self, lines: Iterable[bytes], path: str, first: int = 1,
                   final: bool = True) -> Iterator[Finding]:
        """Findings of every line, in line order and, within a line, in column order.

        Lines are numbered from ``first``; ``final`` adds the message-variability findings
        (LS109) at the end, else they stay in the state (``take_variants``).
        """
        return chain.from_iterable(self._batches(lines, path, first, final))

    def _batches(self, lines: Iterable[bytes], path: str, first: int = 1,
                 final: bool = True) -> Iterator[list[Finding]]:
        """One list of findings per line that has any (a generator step per line, not per
        finding: the hot loop's biggest saving on logs full of findings)."""
        codes = self.codes
        not_json = "LS110" in codes
        variable = "LS109" in codes
        for n, line, off, rec, plan in self.records(lines, first):
            if plan is None:
                if not_json and (off >= 0 or line.strip()):
                    yield [Finding(path, n, off + 1 if off >= 0 else 1, "LS110",
                                   _NOT_JSON if off >= 0 else _NOT_RECORD)]
                continue
            found = [_new(Finding, (path, n, line.find(needle, off) + 1 if needle else
                                    off + 1, code, msg, key))
                     for code, key, msg, needle in plan.static]
            problems = self._problems(rec, plan, n)
            if problems is not None:
                if len(problems) > 1:
                    problems.sort()  # back in the order of the checks
                found += [_new(Finding, (path, n, _col(line, off, needle), code, problem, key))
                          for _i, key, code, problem, needle in problems]
                if len(found) > 1:
                    found.sort(key=_by_col)  # static ones alone are in line order already
            if found:
                yield found
        if variable and final:
            yield list(self.variable_findings(path))

    def render_text(self, lines: Iterable[bytes], path: str, first: int = 1) -> tuple[str, int]:
        """``lint_lines(lines, path, first, final=False)`` as text output: the lines
        ``path:line:col: CODE message`` and how many. Same findings in the same order; the
        per-shape part of each is rendered once per shape, not once per line."""
        codes = self.codes
        not_json = "LS110" in codes
        out: list[str] = []
        append = out.append
        for n, line, off, rec, plan in self.records(lines, first):
            if plan is None:
                if not_json and (off >= 0 or line.strip()):
                    append(f"{path}:{n}:{off + 1}: LS110 {_NOT_JSON}\n" if off >= 0 else
                           f"{path}:{n}:1: LS110 {_NOT_RECORD}\n")
                continue
            problems = self._problems(rec, plan, n)
            text = plan.text
            if problems is None:
                if text:
                    head = f"{path}:{n}:"
                    for needle, _code, rest in text:
                        append(f"{head}{line.find(needle, off) + 1}{rest}")
                continue
            if len(problems) > 1:
                problems.sort()  # back in the order of the checks
            dynamic = [(line.find(needle, off) + 1, code, rest) for needle, code, rest in text]
            dynamic += [(_col(line, off, needle), code, f": {code} {problem}\n")
                        for _i, _key, code, problem, needle in problems]
            if len(dynamic) > 1:
                dynamic.sort(key=_COL_CODE)
            head = f"{path}:{n}:"
            for col, _code, rest in dynamic:
                append(f"{head}{col}{rest}")
        return "".join(out), len(out)

    def count_lines(self, lines: Iterable[bytes], path: str,
                    by_rule: Counter[str], by_key: Counter[str], final: bool = True) -> int:
        """Like ``lint_lines`` but only counts findings by rule and key (for --statistics).

        Findings decided per shape are counted once per shape at the end, so a line costs a
        parse, a lookup and the value checks. Returns the number of findings; ``final``
        counts the message-variability findings too, else they stay in the state.
        """
        seen: Counter[_Plan] = Counter()
        variable = "LS109" in self.codes
        not_json = "LS110" in self.codes
        total = 0
        for _n, line, off, rec, plan in self.records(lines):
            if plan is None:
                if not_json and (off >= 0 or line.strip()):
                    by_rule["LS110"] += 1
                    total += 1
                continue
            if plan.static:
                seen[plan] += 1
            problems = self._problems(rec, plan, 0)  # (no line numbers in counts)
            if problems is not None:
                for _i, key, code, _problem, _needle in problems:
                    by_rule[code] += 1
                    by_key[key] += 1
                total += len(problems)
        for plan, n in seen.items():
            for scode, skey, _msg, _needle in plan.static:
                by_rule[scode] += n
                if skey is not None:
                    by_key[skey] += n
                total += n
        if variable and final:
            for f in self.variable_findings(path):
                by_rule[f.code] += 1
                total += 1
        return total

    def _problems(self, rec: dict[str, Any], plan: _Plan, n: int) -> list[_Problem] | None:
        """The values of ``rec`` that fail their checks (in no particular order: sort to
        get the order of the checks), or None."""
        found: list[_Problem] | None = None
        types = plan.types
        if types is not None:
            sig = tuple(map(type, types(rec)))
            todo = plan.type_todo.get(sig)
            if todo is None:
                # the checks these value types do not pass by type alone
                todo = tuple(c for t, c in zip(sig, plan.typed, strict=False)
                             if c[3] is None or t not in c[3])
                if len(plan.type_todo) < 256:
                    plan.type_todo[sig] = todo
            if todo:
                found = self._run(rec, todo, n, None)
        for i, key, ok, lo, hi, code, check, needle in plan.ranges:
            value = rec[key]
            if type(value) in ok and lo <= value <= hi:
                continue
            problem = check(value)
            if problem is not None:
                if found is None:
                    found = []
                found.append((i, key, code, problem, needle))
        if plan.rest:
            return self._run(rec, plan.rest, n, found)
        return found

    def _run(self, rec: dict[str, Any], checks: tuple[_Check, ...], n: int,
             found: list[_Problem] | None) -> list[_Problem] | None:
        codes = self.codes
        for i, key, code, fast, memo, check, needle in checks:
            value = rec[key]
            kind = type(value)
            if fast is not None and kind in fast:
                continue
            if memo is not None and (kind is str or kind is int):
                problem = memo.get(value, _MISS)
                if problem is _MISS:
                    problem = check(value)
                    if len(memo) < _VALUE_CACHE_LIMIT:
                        memo[value] = problem
            else:
                if code == "LS108":
                    if kind is str:
                        if "LS109" in codes and self._templates.get(value, "") is not None:
                            self._see_message(value, n)
                        if value.strip():
                            continue
                    if "LS108" not in codes:
                        continue
                problem = check(value)
            if problem is not None:
                if found is None:
                    found = []
                found.append((i, key, code, problem, needle))
        return found

    # --- message variability (LS109), across lines and chunks ----------------------------
    def _see_message(self, message: str, line: int) -> None:
        template = self._templates.get(message, "")
        if template == "":
            template = _VARIABLE.sub("<*>", message) if any(
                map(str.isdigit, message)) else None
            if len(self._templates) < 100_000:
                self._templates[message] = template
        if template is None:
            return
        seen = self._variants.get(template)
        if seen is None:
            self._variants[template] = (line, {message})
        elif len(seen[1]) < VARIABLE_MESSAGE_MIN:
            seen[1].add(message)

    def take_variants(self) -> Variants:
        """The message forms seen since the last take (or start), and forget them."""
        out = [(t, line, sorted(forms)) for t, (line, forms) in self._variants.items()]
        self._variants.clear()
        return out

    def merge_variants(self, variants: Variants) -> None:
        """Add what another linter saw on *later* lines of the same file."""
        for template, line, forms in variants:
            seen = self._variants.get(template)
            if seen is None:
                self._variants[template] = (line, set(forms[:VARIABLE_MESSAGE_MIN]))
                continue
            for form in forms:
                if len(seen[1]) >= VARIABLE_MESSAGE_MIN:
                    break
                seen[1].add(form)

    def variable_findings(self, path: str) -> Iterator[Finding]:
        """LS109 findings for the file so far (by first line), and forget the state."""
        for template, (line, variants) in sorted(self._variants.items(), key=lambda t: t[1][0]):
            if len(variants) >= VARIABLE_MESSAGE_MIN:
                yield Finding(path, line, 1, "LS109",
                              f"message varies with data ({VARIABLE_MESSAGE_MIN}+ forms of "
                              f"{template!r}): put the values in keys", None)
        self._variants.clear()


def _format_conv(fmt: str | None) -> tuple[Callable[..., object], tuple[Any, ...]]:
    """What raises ValueError for a text value without ``fmt`` (what
    ``_dictionary._format_problem`` rejects), without its per-call imports: a function
    and the arguments it takes after the value."""
    if fmt == "iso8601":
        return datetime.fromisoformat, ()
    if fmt == "uuid":
        import uuid

        return uuid.UUID, ()
    if fmt == "ip":
        import ipaddress

        return ipaddress.ip_address, ()
    if fmt == "hex":
        return int, (16,)
    return _has_scheme, ()  # uri


def _has_scheme(v: str) -> None:
    if "://" not in v:
        raise ValueError(v)


def _passes(conv: Callable[..., object], args: tuple[Any, ...]) -> Callable[[str], bool]:
    """Whether ``conv`` takes a text value without a ValueError."""
    def ok(v: str) -> bool:
        try:
            conv(v, *args)
        except ValueError:
            return False
        return True
    return ok


def _text(static: _Static) -> _StaticText:
    """A finding decided per shape as text output writes it after the column."""
    code, _key, msg, needle = static
    return needle, code, f": {code} {msg}\n"


def _message_check(v: Any) -> str | None:
    if type(v) is str and v.strip():
        return None
    return "message is empty" if type(v) is str else f"message is {type(v).__name__}, not text"


def _by_col(f: Finding) -> tuple[int, str]:
    return f.col, f.code


_COL_CODE = itemgetter(0, 1)


@functools.lru_cache(maxsize=4096)
def _needle(key: str) -> bytes:
    """The key as orjson writes it, to find its column in a line."""
    return orjson.dumps(key)


def _col(line: bytes, off: int, needle: bytes) -> int:
    i = line.find(needle, off)
    return (i if i >= 0 else off) + 1
