"""``logstd lint --group``: one line per rule and key, at its first finding, with a count.

A log whose producers spell keys their own way has findings on nearly every line (the
bench log: 6.4 per line); what a reader needs is each kind once, where it first
happens, and how often. A group is (rule, key), or (rule, message) for findings without
a key. Lines are counted per shape like ``--statistics`` does, so grouping costs about
what counting does, and chunks linted by different processes merge exactly: counts add
up and the first finding of the earliest chunk wins.

    app.log:1:134: LS102 key 'custId' is an alias: write 'customerId' (+41,873 more)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from logstd._finding import Finding
from logstd._lint_logs import LogLinter, _Plan

# group -> [count, line, col, code, message]
Groups = dict[tuple[str, str], list[Any]]


def group_lines(linter: LogLinter, lines: Iterable[bytes], path: str,
                first: int = 1) -> tuple[Groups, int]:
    """Groups of the findings of ``lines`` (numbered from ``first``) and how many findings;
    message variability (LS109) stays in ``linter`` as with ``render_text``."""
    not_json = "LS110" in linter.codes
    groups: Groups = {}
    per_shape: Counter[_Plan] = Counter()
    total = 0

    def see(group: tuple[str, str], n: int, col: int, code: str, message: str) -> None:
        entry = groups.get(group)
        if entry is None:
            groups[group] = [1, n, col, code, message]
        else:
            entry[0] += 1

    for n, line, off, rec, plan in linter.records(lines, first):
        if plan is None:
            if not_json and off >= 0:
                see(("LS110", "not JSON"), n, off + 1, "LS110", "line is not valid JSON")
                total += 1
            elif not_json and line.strip():
                see(("LS110", "not a record"), n, 1, "LS110", "line is not a JSON record")
                total += 1
            continue
        if plan.static:
            if plan not in per_shape:  # the first line of this shape: where its groups start
                for code, key, msg, needle in plan.static:
                    group = (code, key if key is not None else msg)
                    if group not in groups:
                        col = line.find(needle, off) + 1 if needle else off + 1
                        groups[group] = [0, n, col, code, msg]
            per_shape[plan] += 1
        problems = linter._problems(rec, plan, n)
        if problems is not None:
            for _i, key, code, problem, needle in problems:
                group = (code, key)
                if group not in groups:
                    i = line.find(needle, off)
                    groups[group] = [1, n, (i if i >= 0 else off) + 1, code, problem]
                else:
                    groups[group][0] += 1
            total += len(problems)
    for plan, times in per_shape.items():
        for code, key, msg, _needle in plan.static:
            groups[(code, key if key is not None else msg)][0] += times
            total += times
    return groups, total


def dumps(groups: Groups) -> bytes:
    return orjson.dumps([[code, name, *entry] for (code, name), entry in groups.items()])


def merge(into: Groups, data: bytes | bytearray) -> None:
    """Add a later chunk's groups (``dumps``) to ``into``."""
    for code, name, count, line, col, code2, message in orjson.loads(data):
        entry = into.get((code, name))
        if entry is None:
            into[(code, name)] = [count, line, col, code2, message]
        else:
            entry[0] += count


def render(groups: Groups, path: str, extra: Iterable[Finding] = ()) -> tuple[bytes, int]:
    """Text lines, by first occurrence, and the number of findings they stand for."""
    rows = sorted(((line, col, code, i, message, count) for i, (count, line, col, code,
                   message) in enumerate(groups.values())), key=lambda r: r[:4])
    out = []
    total = 0
    for line, col, code, _i, message, count in rows:
        more = f" (+{count - 1:,} more)" if count > 1 else ""
        out.append(f"{path}:{line}:{col}: {code} {message}{more}\n")
        total += count
    for f in extra:
        out.append(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n")
        total += 1
    return "".join(out).encode(), total


def group_findings(findings: Iterable[Finding]) -> Groups:
    """Groups of findings already made (Python source)."""
    groups: Groups = {}
    for f in findings:
        group = (f.code, f.key if f.key is not None else f.message)
        entry = groups.get(group)
        if entry is None:
            groups[group] = [1, f.line, f.col, f.code, f.message]
        else:
            entry[0] += 1
    return groups
