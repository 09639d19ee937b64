"""Queries from the dictionary: filters and named templates rendered for each log backend.

    q = build_query(dictionary, "customer", ["C-1001"], service="orders", since="1h")
    text, notes = render(q, "logql", dictionary)

Backends: ``logql`` (Grafana Loki), ``es`` (Elasticsearch/OpenSearch Query DSL, ECS
names), ``kql`` (Kibana), ``lucene`` (query_string), ``spl`` (Splunk), ``cloudwatch``
(Logs Insights), ``gcl`` (Google Cloud Logging filter), ``sql`` (DuckDB; ClickHouse in
the notes). ``run_sql`` runs the SQL form over JSON-lines or kubectl output with DuckDB.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from logstd._dictionary import Dictionary, KeySpec
from logstd.errors import UsageError

TEMPLATES_PATH = Path(__file__).with_name("queries.yaml")
BACKENDS = ("logql", "es", "kql", "lucene", "spl", "cloudwatch", "gcl", "sql")
LEVEL_RANK = {"trace": 0, "debug": 1, "info": 2, "notice": 3, "warning": 4, "warn": 4,
              "error": 5, "critical": 6, "fatal": 7}
DEFAULT_LIMIT = 1000
_FILTER = re.compile(r"^\s*(?P<key>[A-Za-z@_][\w.@/-]*?)\s*(?P<op>!=|>=|<=|=~|~|=|>|<)"
                     r"\s*(?P<value>.*?)\s*$")
_OPS = {"=": "eq", "!=": "ne", ">": "gt", ">=": "ge", "<": "lt", "<=": "le", "~": "re",
        "=~": "re"}
_SINCE = re.compile(r"^(\d+)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Filter:
    key: str  # canonical
    op: str  # eq ne gt ge lt le re in
    value: Any
    level: tuple[str, str] | None = None  # (op, level) when a level comparison was expanded


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    args: dict[str, Any] = field(default_factory=dict)
    where: tuple[str, ...] = ()
    order: str | None = None
    sort: str = "timestamp"
    aggregate: str | None = None
    field: str | None = None
    by: str | None = None
    source: str = ""


@dataclass(frozen=True)
class Query:
    filters: tuple[Filter, ...] = ()
    since: int | None = None  # seconds
    since_text: str | None = None
    order: str | None = None
    sort: str = "timestamp"
    aggregate: str | None = None
    field: str | None = None
    by: str | None = None
    limit: int = DEFAULT_LIMIT
    template: str | None = None


# --- templates ---------------------------------------------------------------------------

def load_templates(overlays: Sequence[str | Path] = ()) -> dict[str, Template]:
    """The base templates with overlay files merged on top (a name replaces a template)."""
    from logstd._yamlsrc import LineDict, load_yaml

    out: dict[str, Template] = {}
    for path in (TEMPLATES_PATH, *(Path(p) for p in overlays)):
        if not path.is_file():
            raise UsageError(f"{path}: query template file not found")
        doc = load_yaml(path)
        if not isinstance(doc, LineDict) or not isinstance(doc.get("templates"), LineDict):
            raise UsageError(f"{path}:1: a template file needs a top-level 'templates:' mapping")
        entries = doc["templates"]
        for name, entry in entries.items():
            where = f"{path}:{entries.lines[name]}"
            if not isinstance(entry, dict):
                raise UsageError(f"{where}: template {name!r} must be a mapping")
            known = {"description", "args", "where", "order", "sort", "aggregate", "field", "by"}
            extra = sorted(set(entry) - known)
            if extra:
                raise UsageError(f"{where}: template {name!r}: unknown field {extra[0]!r}")
            if entry.get("aggregate") not in (None, "error-rate", "percentiles"):
                raise UsageError(f"{where}: template {name!r}: aggregate must be error-rate or "
                                 "percentiles")
            if entry.get("order") not in (None, "asc", "desc"):
                raise UsageError(f"{where}: template {name!r}: order must be asc or desc")
            out[name] = Template(
                name=name, description=str(entry.get("description", "")),
                args=dict(entry.get("args") or {}), where=tuple(entry.get("where") or ()),
                order=entry.get("order"), sort=str(entry.get("sort", "timestamp")),
                aggregate=entry.get("aggregate"), field=entry.get("field"), by=entry.get("by"),
                source=where)
    return out


def template_paths(explicit: Sequence[str] | None = None,
                   env: Mapping[str, str] | None = None) -> list[str]:
    if explicit:
        return list(explicit)
    env = os.environ if env is None else env
    raw = env.get("LOGSTD_QUERY_TEMPLATES", "").strip()
    return [p for p in raw.split(os.pathsep) if p]


# --- building ------------------------------------------------------------------------------

def _unknown_key(d: Dictionary, key: str, where: str) -> UsageError:
    guesses = d.suggest(key)
    hint = f"; did you mean {' or '.join(guesses)}?" if guesses else ""
    return UsageError(f"{where}unknown key {key!r}{hint}")


def parse_filter(text: str, d: Dictionary, where: str = "") -> Filter:
    """``key=value``, ``key!=value``, ``key>N`` (also >=, <, <=), ``key~regex``."""
    m = _FILTER.match(text)
    if m is None:
        raise UsageError(f"{where}cannot read filter {text!r} (use key=value, key!=value, "
                         "key>N or key~regex)")
    key, op, raw = m["key"], _OPS[m["op"]], m["value"]
    spec = d.get(key)
    if spec is None:
        raise _unknown_key(d, key, where)
    if op == "re":
        try:
            re.compile(raw)
        except re.error as e:
            raise UsageError(f"{where}{text!r}: not a regular expression: {e}") from e
        return Filter(spec.name, op, raw)
    if spec.name == "level" and op in ("gt", "ge", "lt", "le"):
        lvl = raw.lower()
        if lvl not in LEVEL_RANK:
            raise UsageError(f"{where}{text!r}: unknown level {raw!r} "
                             f"(one of {', '.join(LEVEL_RANK)})")
        rank = LEVEL_RANK[lvl]
        keep: dict[str, Callable[[int], bool]] = {
            "gt": lambda r: r > rank, "ge": lambda r: r >= rank,
            "lt": lambda r: r < rank, "le": lambda r: r <= rank}
        levels = tuple(n for n, r in LEVEL_RANK.items() if keep[op](r))
        return Filter(spec.name, "in", levels, level=(op, lvl))
    value = _typed(spec, raw, text, where, numeric=op in ("gt", "ge", "lt", "le"))
    return Filter(spec.name, op, value)


def _typed(spec: KeySpec, raw: str, text: str, where: str, numeric: bool) -> Any:
    if spec.type in ("integer", "number"):
        try:
            num = float(raw)
        except ValueError:
            raise UsageError(f"{where}{text!r}: {spec.name} is a {spec.type}, "
                             f"{raw!r} is not a number") from None
        return int(num) if num.is_integer() and "." not in raw else num
    if numeric:
        raise UsageError(f"{where}{text!r}: {spec.name} is a {spec.type}; "
                         "> and < compare numbers (and levels)")
    if spec.type == "boolean":
        if raw.lower() not in ("true", "false"):
            raise UsageError(f"{where}{text!r}: {spec.name} is true or false")
        return raw.lower() == "true"
    if spec.name == "level":
        return raw.lower()
    return raw


def parse_since(text: str | None) -> int | None:
    if not text:
        return None
    m = _SINCE.match(text.strip())
    if m is None:
        raise UsageError(f"--since {text!r}: use a number and a unit: 30s, 15m, 1h, 2d, 1w")
    return int(m[1]) * _UNIT[m[2]]


def build_query(
    d: Dictionary,
    template: str | None = None,
    terms: Sequence[str] = (),
    *,
    service: str | None = None,
    since: str | None = None,
    limit: int = DEFAULT_LIMIT,
    templates: Mapping[str, Template] | None = None,
) -> Query:
    """A query from an optional template name plus filters / template arguments."""
    filters: list[Filter] = []
    q = Query(limit=limit, since=parse_since(since), since_text=since)
    rest = list(terms)
    if template is not None:
        templates = templates if templates is not None else load_templates()
        t = templates.get(template)
        if t is None:
            import difflib

            close = difflib.get_close_matches(template, list(templates), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else \
                f" (templates: {', '.join(sorted(templates))})"
            raise UsageError(f"unknown query template {template!r}{hint}")
        args = dict(t.args)
        leftover = []
        for term in rest:
            name, eq, value = term.partition("=")
            if eq and name in args and not name.endswith("!"):
                args[name] = value
            elif not eq and "~" not in term and ">" not in term and "<" not in term:
                unset = [a for a, v in args.items() if v is None]
                if not unset:
                    raise UsageError(f"template {template!r} takes no bare value ({term!r}); "
                                     "use key=value filters")
                args[unset[0]] = term
            else:
                leftover.append(term)
        user_filters = [parse_filter(term, d) for term in leftover]  # typos first
        missing = [a for a, v in args.items() if v is None]
        if missing:
            raise UsageError(f"template {template!r} needs {missing[0]}: "
                             f"logstd query {template} VALUE")
        for w in t.where:
            try:
                text = w.format(**args)
            except (KeyError, IndexError) as e:
                raise UsageError(f"{t.source}: template {template!r}: {w!r} uses an unknown "
                                 f"argument {e}") from None
            filters.append(parse_filter(text, d, f"{t.source}: template {template!r}: "))
        for k in (t.field, t.by, t.sort):
            if k is not None and d.get(k) is None:
                raise _unknown_key(d, k, f"{t.source}: template {template!r}: ")
        q = replace(q, order=t.order, sort=d[t.sort].name, aggregate=t.aggregate,
                    field=d[t.field].name if t.field else None,
                    by=d[t.by].name if t.by else None, template=template)
        filters.extend(user_filters)
        rest = []
    filters.extend(parse_filter(term, d) for term in rest)
    if service:
        filters.insert(0, Filter("service", "eq", service))
    if not filters and q.aggregate is None and template is None:
        raise UsageError("nothing to query: give a template (customer, trace, errors, slow, "
                         "error-rate, latency) or filters like customerId=C-1001")
    return replace(q, filters=tuple(filters))


# --- rendering -----------------------------------------------------------------------------

@dataclass
class Rendered:
    text: str
    notes: list[str] = field(default_factory=list)


def render(q: Query, backend: str, d: Dictionary, now: datetime | None = None) -> Rendered:
    fn = _RENDERERS.get(backend)
    if fn is None:
        raise UsageError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    return fn(q, d, now or datetime.now(UTC))


def _q(s: str) -> str:
    """A double-quoted string with backslash escapes (LogQL, SPL, CloudWatch, GCL, KQL)."""
    return json.dumps(s, ensure_ascii=False)


def _num(v: Any) -> str:
    return json.dumps(v)


def _lit(v: Any) -> str:
    return _num(v) if isinstance(v, int | float) and not isinstance(v, bool) else \
        ("true" if v is True else "false" if v is False else _q(str(v)))


_CMP = {"eq": "=", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _regex_alt(values: Sequence[str]) -> str:
    return "|".join(re.escape(v) for v in values)


def _fields(q: Query) -> list[str]:
    out = ["timestamp", "level", "service", "message"]
    for f in q.filters:
        if f.key not in out:
            out.append(f.key)
    if q.sort not in out:
        out.append(q.sort)
    return out


@dataclass(frozen=True)
class _Syntax:
    """How one backend writes a filter: a format per operator.

    The formats see ``name`` (the field as the backend names it), ``v`` (the value as a
    literal), ``raw`` (the value as given), ``op`` (=, !=, >, >=, <, <=), ``vs`` (the
    values of an ``in``, each through ``item``, joined by ``sep``), ``alt`` (the same as a
    regex alternation), ``q`` (the value double-quoted) and ``slashed`` (``/`` escaped).
    An operator without a format is refused with ``refuse``.
    """

    ops: Mapping[str, str]
    name: Callable[[Dictionary, str], str] = lambda d, key: key
    value: Callable[[Dictionary, str, Any], Any] = lambda d, key, v: v
    lit: Callable[[Any], str] = _lit
    item: Callable[[Any], str] = _q
    sep: str = ", "
    refuse: str = "{key}{op_text}{raw}: not supported by this backend"


def _ops(eq: str, ne: str, compare: str, in_: str, re_: str | None = None,
         **each: str) -> dict[str, str]:
    """Formats for eq, ne, the four comparisons (or ``each`` of them), in and re."""
    ops = {"eq": eq, "ne": ne, "in": in_, **dict.fromkeys(("gt", "ge", "lt", "le"), compare),
           **each}
    if re_ is not None:
        ops["re"] = re_
    return ops


def _conditions(filters: Sequence[Filter], syntax: _Syntax, d: Dictionary) -> list[str]:
    """Each filter written in the backend's syntax, in the order given."""
    out = []
    for f in filters:
        fmt = syntax.ops.get(f.op)
        if fmt is None:
            raise UsageError(syntax.refuse.format(key=f.key, raw=f.value,
                                                  op_text="~" if f.op == "re" else f.op))
        v = syntax.value(d, f.key, f.value)
        many = v if f.op == "in" else ()
        text = v if isinstance(v, str) else str(v)
        out.append(fmt.format(
            name=syntax.name(d, f.key), v=syntax.lit(v) if f.op != "in" else "", raw=v,
            op=_CMP.get(f.op, ""), vs=syntax.sep.join(syntax.item(x) for x in many),
            alt=_regex_alt(many), q=_q(text), slashed=text.replace("/", "\\/")))
    return out


# LogQL ----------------------------------------------------------------------------------

_LOGQL = _Syntax(_ops("{name}{op}{v}", "{name}{op}{v}", "{name}{op}{v}", "{name}=~`{alt}`",
                      "{name}=~{q}"))


def _logql(q: Query, d: Dictionary, now: datetime) -> Rendered:
    service = next((f for f in q.filters if f.key == "service" and f.op == "eq"), None)
    selector = f'{{service={_q(service.value)}}}' if service else '{service=~".+"}'
    parts = [selector, "json",
             *_conditions([f for f in q.filters if f is not service], _LOGQL, d)]
    pipeline = " | ".join(parts)
    rng = q.since_text or "5m"
    notes = ["stream label 'service': use your Loki label if it differs (service_name, app)"]
    if q.aggregate == "error-rate":
        base = " | ".join(p for p in parts if not p.startswith("level"))
        errs = f"{base} | level=~`{_regex_alt(_errors())}`"
        text = (f"sum by ({q.by}) (count_over_time({errs} [{rng}]))\n/\n"
                f"sum by ({q.by}) (count_over_time({base} [{rng}]))")
        notes.append("an instant query; in Grafana use $__range instead of "
                     f"[{rng}]")
    elif q.aggregate == "percentiles":
        lines = [f"quantile_over_time({p}, {pipeline} | unwrap {q.field} [{rng}]) by ({q.by})"
                 for p in ("0.5", "0.95", "0.99")]
        text = "\n".join(lines)
        notes.append("one query per line: p50, p95, p99")
    else:
        text = pipeline
        if q.since_text:
            notes.append(f"time range: logcli query --since={q.since_text} (or Grafana's picker)")
        if q.order == "asc":
            notes.append("oldest first: logcli query --forward (Grafana: sort ascending)")
        if q.sort != "timestamp":
            notes.append(f"Loki returns records by time; sort by {q.sort} in Grafana")
        notes.append(f"limit: logcli query --limit={q.limit}")
    return Rendered(text, notes)


def _errors() -> tuple[str, ...]:
    return tuple(n for n, r in LEVEL_RANK.items() if r >= LEVEL_RANK["error"])


# Elasticsearch ---------------------------------------------------------------------------

def ecs_name(d: Dictionary, key: str) -> str:
    spec = d[key]
    if spec.ecs:
        return spec.ecs
    return "labels." + re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _ecs_value(d: Dictionary, key: str, value: Any) -> Any:
    """ECS event.duration is in nanoseconds; the dictionary's milliseconds are scaled."""
    spec = d[key]
    if ecs_name(d, key) == "event.duration" and spec.format == "milliseconds" and \
            isinstance(value, int | float):
        return int(value * 1_000_000)
    return value


def _scaled_note(q: Query, d: Dictionary) -> list[str]:
    keys = {f.key for f in q.filters} | {k for k in (q.field,) if k}
    if any(ecs_name(d, k) == "event.duration" and d[k].format == "milliseconds" for k in keys):
        return ["ECS event.duration is in nanoseconds: milliseconds were multiplied by 1e6"]
    return []


_ES_RANGE = {"gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}


def _es_clause(f: Filter, d: Dictionary) -> tuple[str, dict[str, Any]]:
    name = ecs_name(d, f.key)
    v = _ecs_value(d, f.key, f.value)
    if f.op == "eq":
        return "filter", {"term": {name: v}}
    if f.op == "ne":
        return "must_not", {"term": {name: v}}
    if f.op == "in":
        return "filter", {"terms": {name: list(v)}}
    if f.op == "re":
        return "filter", {"regexp": {name: v}}
    return "filter", {"range": {name: {_ES_RANGE[f.op]: v}}}


def _es(q: Query, d: Dictionary, now: datetime) -> Rendered:
    bool_q: dict[str, list[Any]] = {}
    for f in q.filters:
        kind, clause = _es_clause(f, d)
        bool_q.setdefault(kind, []).append(clause)
    ts = ecs_name(d, "timestamp")
    if q.since_text:
        bool_q.setdefault("filter", []).append({"range": {ts: {"gte": f"now-{q.since_text}"}}})
    body: dict[str, Any] = {"query": {"bool": bool_q} if bool_q else {"match_all": {}}}
    if q.aggregate == "error-rate":
        by = ecs_name(d, q.by or "service")
        body = {"size": 0, **body, "aggs": {"by": {
            "terms": {"field": by, "size": 100, "order": {"_key": "asc"}},
            "aggs": {"errors": {"filter": {"terms": {ecs_name(d, "level"): list(_errors())}}},
                     "error_rate": {"bucket_script": {
                         "buckets_path": {"errors": "errors._count", "total": "_count"},
                         "script": "params.errors / params.total"}}}}}}
    elif q.aggregate == "percentiles":
        by = ecs_name(d, q.by or "httpRoute")
        body = {"size": 0, **body, "aggs": {"by": {
            "terms": {"field": by, "size": 100, "order": {"_key": "asc"}},
            "aggs": {"latency": {"percentiles": {"field": ecs_name(d, q.field or "durationMs"),
                                                  "percents": [50, 95, 99]}}}}}}
    else:
        sort_field = ts if q.sort == "timestamp" else ecs_name(d, q.sort)
        body["sort"] = [{sort_field: {"order": q.order or "desc"}}]
        body["size"] = q.limit
    return Rendered(json.dumps(body, indent=2, ensure_ascii=False),
                    ["POST /logs-*/_search with this body", *_scaled_note(q, d)])


# KQL / Lucene ------------------------------------------------------------------------------

def _no_aggregate(q: Query, backend: str) -> None:
    if q.aggregate:
        raise UsageError(f"{q.template or q.aggregate} is an aggregation; {backend} only filters "
                         "(use --to es, logql, spl, cloudwatch or sql)")


_KQL = _Syntax(_ops("{name}:{v}", "NOT {name}:{v}", "{name} {op} {v}", "{name}:({vs})"),
               name=ecs_name, value=_ecs_value, sep=" OR ",
               refuse="KQL has no regular expressions ({key}~{raw}); use --to lucene or --to es")


def _kql(q: Query, d: Dictionary, now: datetime) -> Rendered:
    _no_aggregate(q, "KQL")
    parts = _conditions(q.filters, _KQL, d)
    notes = ["paste into Kibana's search bar (KQL)", *_scaled_note(q, d)]
    if q.since_text:
        notes.append(f"time range: Kibana's picker, last {q.since_text}")
    if q.order or q.sort != "timestamp":
        notes.append(f"sort: {ecs_name(d, q.sort)} {q.order or 'desc'} in Discover")
    return Rendered(" AND ".join(parts) or "*", notes)


_LUCENE_SPECIAL = re.compile(r'([+\-=&|><!(){}\[\]^"~*?:\\/])')


def _lucene_name(d: Dictionary, key: str) -> str:
    return _LUCENE_SPECIAL.sub(r"\\\1", ecs_name(d, key)).replace("\\.", ".")


_LUCENE = _Syntax(_ops("{name}:{v}", "NOT {name}:{v}", "", "{name}:({vs})", "{name}:/{slashed}/",
                       gt="{name}:{{{raw} TO *}}", ge="{name}:[{raw} TO *]",
                       lt="{name}:{{* TO {raw}}}", le="{name}:[* TO {raw}]"),
                  name=_lucene_name, value=_ecs_value, sep=" OR ")


def _lucene(q: Query, d: Dictionary, now: datetime) -> Rendered:
    _no_aggregate(q, "Lucene")
    parts = _conditions(q.filters, _LUCENE, d)
    if q.since_text:
        parts.append(f"{_lucene_name(d, 'timestamp')}:[now-{q.since_text} TO *]")
    notes = ['query_string query (Elasticsearch/OpenSearch "q=" or Discover\'s Lucene mode)',
             *_scaled_note(q, d)]
    return Rendered(" AND ".join(parts) or "*", notes)


# Splunk -------------------------------------------------------------------------------------

_SPL = _Syntax(_ops("{name}={v}", "NOT {name}={v}", "{name}{op}{v}", "{name} IN ({vs})"))
_SPL_REGEX = _Syntax({"re": "regex {name}={q}"})  # a command after the search, not a term


def _spl(q: Query, d: Dictionary, now: datetime) -> Rendered:
    terms = ["search", *_conditions([f for f in q.filters if f.op != "re"], _SPL, d)]
    post = _conditions([f for f in q.filters if f.op == "re"], _SPL_REGEX, d)
    if q.since_text:
        terms.append(f"earliest=-{q.since_text}")
    pipeline = [" ".join(terms), *post]
    if q.aggregate == "error-rate":
        errs = ", ".join(_q(x) for x in _errors())
        pipeline += [f"stats count AS total, count(eval(in(level, {errs}))) AS errors BY {q.by}",
                     "eval error_rate=round(errors/total, 4)", f"sort 0 {q.by}"]
    elif q.aggregate == "percentiles":
        pipeline += [f"stats count AS n, perc50({q.field}) AS p50, perc95({q.field}) AS p95, "
                     f"perc99({q.field}) AS p99 BY {q.by}", f"sort 0 {q.by}"]
    else:
        field_ = "_time" if q.sort == "timestamp" else q.sort
        if q.order == "asc":
            pipeline.append(f"sort 0 +{field_}")
        elif q.sort != "timestamp":
            pipeline.append(f"sort 0 -{field_}")
        pipeline.append(f"head {q.limit}")
    return Rendered(" | ".join(pipeline), ["add index=... for your deployment"])


# CloudWatch Logs Insights -------------------------------------------------------------------

_CLOUDWATCH = _Syntax(_ops("{name} {op} {v}", "{name} {op} {v}", "{name} {op} {v}",
                           "{name} in [{vs}]", "{name} like /{slashed}/"))


def _cloudwatch(q: Query, d: Dictionary, now: datetime) -> Rendered:
    conds = _conditions(q.filters, _CLOUDWATCH, d)
    lines = []
    notes = []
    if q.aggregate is None:
        lines.append("fields @timestamp, " + ", ".join(_fields(q)[1:]))
    if conds:
        lines.append("filter " + " and ".join(conds))
    if q.aggregate == "error-rate":
        errs = ", ".join(_q(x) for x in _errors())
        lines += [f"fields level in [{errs}] as isError",
                  f"stats count(*) as total, sum(isError) as errors, "
                  f"sum(isError) / count(*) as errorRate by {q.by}", f"sort {q.by} asc"]
    elif q.aggregate == "percentiles":
        lines += [f"filter ispresent({q.field})",
                  f"stats count(*) as n, pct({q.field}, 50) as p50, pct({q.field}, 95) as p95, "
                  f"pct({q.field}, 99) as p99 by {q.by}", f"sort {q.by} asc"]
    else:
        sort_field = "@timestamp" if q.sort == "timestamp" else q.sort
        lines += [f"sort {sort_field} {q.order or 'desc'}", f"limit {q.limit}"]
    if q.since_text:
        notes.append(f"time range: the console's picker or --start-time (last {q.since_text})")
    return Rendered("\n| ".join(lines), notes)


# Google Cloud Logging ------------------------------------------------------------------------

_GCL_SEVERITY = {"trace": "DEBUG", "debug": "DEBUG", "info": "INFO", "notice": "NOTICE",
                 "warning": "WARNING", "warn": "WARNING", "error": "ERROR",
                 "critical": "CRITICAL", "fatal": "EMERGENCY"}


_GCL = _Syntax(_ops("{name}{op}{v}", "NOT {name}={v}", "{name}{op}{v}", "{name}=({vs})",
                    "{name}=~{q}"), name=lambda d, key: f"jsonPayload.{key}", sep=" OR ")


def _gcl_severity(f: Filter) -> str:
    """A level filter as Cloud Logging's own severity field."""
    if f.level is not None:
        return f"severity{_CMP[f.level[0]]}{_GCL_SEVERITY[f.level[1]]}"
    if f.op in ("eq", "ne"):
        return f"severity{_CMP[f.op]}{_GCL_SEVERITY.get(f.value, f.value.upper())}"
    vals = sorted({_GCL_SEVERITY.get(v, v.upper()) for v in f.value})
    return f"severity=({' OR '.join(vals)})"


def _gcl(q: Query, d: Dictionary, now: datetime) -> Rendered:
    _no_aggregate(q, "a Cloud Logging filter")
    conds = [_gcl_severity(f) if f.key == "level" else _conditions([f], _GCL, d)[0]
             for f in q.filters]
    if q.since is not None:
        start = (now - timedelta(seconds=q.since)).astimezone(UTC)
        conds.append(f'timestamp>="{start.strftime("%Y-%m-%dT%H:%M:%SZ")}"')
    notes = ["gcloud logging read '<filter>' or the Logs Explorer"]
    if q.order == "asc":
        notes.append("oldest first: gcloud logging read --order=asc")
    if q.sort != "timestamp":
        notes.append(f"Cloud Logging sorts by time only; sort by {q.sort} afterwards")
    return Rendered("\n".join(conds), notes)


# SQL (DuckDB) -------------------------------------------------------------------------------

def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _sql_lit(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return json.dumps(v)
    return _sql_str(str(v))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_SQL = _Syntax(_ops("{name} {op} {v}", "{name} IS DISTINCT FROM {v}", "{name} {op} {v}",
                    "{name} IN ({vs})", "regexp_matches({name}, {v})"),
               name=lambda d, key: _ident(key), lit=_sql_lit, item=_sql_lit)


def _sql_where(q: Query, d: Dictionary) -> list[str]:
    conds = _conditions(q.filters, _SQL, d)
    if q.since is not None:
        conds.append(f"TRY_CAST({_ident('timestamp')} AS TIMESTAMPTZ) >= "
                     f"now() - INTERVAL {q.since} SECOND")
    return conds


def _sql(q: Query, d: Dictionary, now: datetime) -> Rendered:
    conds = _sql_where(q, d)
    if q.aggregate == "error-rate":
        by = _ident(q.by or "service")
        errs = ", ".join(_sql_str(x) for x in _errors())
        sel = (f"SELECT {by}, count(*) AS total, count(*) FILTER (WHERE level IN ({errs})) "
               f"AS errors,\n       round(count(*) FILTER (WHERE level IN ({errs})) / count(*), "
               "4) AS error_rate")
        conds.append(f"{by} IS NOT NULL")
        tail = [f"GROUP BY {by}", f"ORDER BY {by}"]
    elif q.aggregate == "percentiles":
        by, fld = _ident(q.by or "httpRoute"), _ident(q.field or "durationMs")
        sel = (f"SELECT {by}, count(*) AS n, quantile_cont({fld}, 0.5) AS p50,\n"
               f"       quantile_cont({fld}, 0.95) AS p95, quantile_cont({fld}, 0.99) AS p99")
        conds += [f"{by} IS NOT NULL", f"{fld} IS NOT NULL"]
        tail = [f"GROUP BY {by}", f"ORDER BY {by}"]
    else:
        sel = "SELECT " + ", ".join(_ident(c) for c in _fields(q))
        direction = (q.order or "desc").upper()
        tail = [f"ORDER BY {_ident(q.sort)} {direction} NULLS LAST, {_ident('line')}",
                f"LIMIT {q.limit}"]
        if q.sort == "timestamp":
            tail[0] = f"ORDER BY {_ident('timestamp')} {direction}, {_ident('line')}"
    lines = [sel, "FROM logs"]
    if conds:
        lines.append("WHERE " + "\n  AND ".join(conds))
    lines += tail
    notes = ["table logs: one row per record, one column per dictionary key "
             "(logstd query --run FILE... builds it)",
             "ClickHouse: JSONExtractString(line, 'key') for columns, match(col, 're') for "
             "~, countIf(...) for FILTER, quantiles(0.5, 0.95, 0.99)(col) for quantile_cont"]
    return Rendered("\n".join(lines) + ";", notes)


_RENDERERS = {"logql": _logql, "es": _es, "kql": _kql, "lucene": _lucene, "spl": _spl,
              "cloudwatch": _cloudwatch, "gcl": _gcl, "sql": _sql}


# --- running the SQL locally --------------------------------------------------------------

_JSON_IN_LINE = r"^(?:\[[^\]]*\] )?(?:\d{4}-\d\d-\d\dT\S+ )?(\{.*)$"
_SQL_TYPE = {"integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}


def logs_view_sql(d: Dictionary, files: Sequence[str]) -> str:
    """``CREATE VIEW logs``: one row per JSON record in ``files``, a column per key.

    Lines that hold no JSON object are skipped; kubectl ``--prefix``/``--timestamps``
    prefixes are stripped; a key is read from its canonical name or any alias.
    """
    cols = []
    for spec in d.keys.values():
        spellings = (spec.name, *spec.aliases)
        if len(spellings) == 1:
            expr = f"json_extract_string(j, {_sql_str(_json_path(spec.name))})"
        else:  # one parse of the record for all spellings, the first present wins
            paths = ", ".join(_sql_str(_json_path(s)) for s in spellings)
            expr = (f"list_filter(json_extract_string(j, [{paths}]), "
                    "lambda x: x IS NOT NULL)[1]")
        if spec.name == "level":
            expr = f"lower({expr})"
        sql_type = _SQL_TYPE.get(spec.type)
        if sql_type:
            expr = f"TRY_CAST({expr} AS {sql_type})"
        cols.append(f"{expr} AS {_ident(spec.name)}")
    file_list = "[" + ", ".join(_sql_str(f) for f in files) + "]"
    return (
        "CREATE OR REPLACE TEMP VIEW raw_lines AS SELECT line, j FROM (\n"
        "  SELECT row_number() OVER () AS line, CASE WHEN starts_with(column0, '{') "
        f"THEN column0 ELSE regexp_extract(column0, {_sql_str(_JSON_IN_LINE)}, 1) END AS j\n"
        f"  FROM read_csv({file_list}, columns={{'column0': 'VARCHAR'}}, header=false, "
        "delim='\\x01', quote='', escape='', auto_detect=false, max_line_size=10000000, "
        "null_padding=true, ignore_errors=true)\n"
        ") WHERE j <> '' AND json_valid(j);\n"
        "CREATE OR REPLACE TEMP VIEW logs AS SELECT line,\n  "
        + ",\n  ".join(cols) + "\nFROM raw_lines;"
    )


def _json_path(key: str) -> str:
    return '$."' + key.replace('"', '\\"') + '"'


def _read_input(f: str) -> bytes:
    """The bytes of one --run input (``-`` is stdin); a one-line error naming it otherwise."""
    import errno
    import sys

    if f == "-":
        return sys.stdin.buffer.read()
    try:
        with open(f, "rb") as fh:
            return fh.read()
    except OSError as e:
        why = {errno.ENOENT: "no such file", errno.EISDIR: "is a directory",
               errno.ELOOP: "too many levels of symbolic links",
               errno.EACCES: "cannot read (permission denied)",
               errno.EPERM: "cannot read (permission denied)"}.get(
                   e.errno or 0, f"cannot read: {(e.strerror or str(e)).lower()}")
        raise UsageError(f"{f}: {why}") from None


def prepared_lines(data: bytes) -> bytes | None:
    """``data`` as DuckDB reads it, or None when it can read ``data`` as it is.

    CRI lines (``<time> stdout F <record>``) lose their prefix, and a run of partial lines
    (``P`` pieces up to the ``F`` piece) is joined into one record in its first piece's line,
    the other pieces' lines left empty (every line keeps its number), as ``logstd pretty``
    and ``logstd lint`` read them. Bytes that are not UTF-8 become U+FFFD; NUL and the
    reader's column delimiter (0x01) become spaces, CR LF ends become LF (a CR elsewhere
    becomes a space: DuckDB's reader refuses line ends of both kinds).
    """
    from logstd._cri import _cri, has_cri_partials, join_partials

    cri = b" stdout F " in data or b" stderr F " in data or has_cri_partials(data)
    clean = b"\x00" not in data and b"\x01" not in data and b"\r" not in data
    if clean and not cri:
        try:
            data.decode("utf-8")
            return None
        except UnicodeDecodeError:
            pass
    if cri:
        lines = data.split(b"\n")
        if has_cri_partials(data):
            lines = join_partials(lines, keep_places=True)
        match = _cri().match
        for i, line in enumerate(lines):
            m = match(line)
            if m is not None:
                lines[i] = line[m.end():]
        data = b"\n".join(lines)
    data = data.decode("utf-8", "replace").encode("utf-8")
    data = data.replace(b"\r\n", b"\n")
    return data.replace(b"\x00", b" ").replace(b"\x01", b" ").replace(b"\r", b" ")


def run_sql(q: Query, d: Dictionary,
            files: Sequence[str]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run the SQL form of ``q`` with DuckDB over log files: (column names, rows).

    ``-`` reads stdin; CRI lines are read as their records (see :func:`prepared_lines`).
    """
    import tempfile

    if list(files).count("-") > 1:
        raise UsageError("--run: stdin (-) can be read once")
    try:
        import duckdb
    except ImportError:
        raise UsageError("logstd query --run needs DuckDB: pip install 'opsplane[query]'") \
            from None
    sql = _sql(q, d, datetime.now(UTC)).text
    with tempfile.TemporaryDirectory(prefix="logstd-query-") as tmp:
        paths: list[str] = []
        for n, f in enumerate(files):
            data = _read_input(f)
            ready = prepared_lines(data)
            if ready is None and f != "-":
                paths.append(str(Path(f).resolve()))
                continue
            copy = Path(tmp) / f"{n}.log"
            copy.write_bytes(data if ready is None else ready)
            paths.append(str(copy))
        con = duckdb.connect()
        try:
            con.execute(logs_view_sql(d, paths))
            cur = con.execute(sql)
            names = [c[0] for c in cur.description or []]
            return names, [tuple(r) for r in cur.fetchall()]
        except duckdb.Error as e:
            raise UsageError(f"{', '.join(files)}: duckdb: {str(e).splitlines()[0]}") from e
        finally:
            con.close()
