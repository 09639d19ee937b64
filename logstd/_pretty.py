"""``logstd pretty``'s library: one log line (bytes) -> one normalised record -> one human line.

Any producer's JSON record is normalised to *time, level, source, message, fields*:
the head keys come from a built-in table of every common producer's spelling (zap,
logrus, pino, bunyan, structlog, python-json-logger, logstash-logback, Elastic ECS,
Google Cloud, OpenTelemetry) plus the dictionary's aliases, and the remaining keys are
renamed to their canonical names (``customer_id`` -> ``customerId``). Line prefixes
added on the way are peeled first: kubectl ``--prefix`` (``[pod/x/app] ``) becomes the
source, kubectl ``--timestamps`` and docker/CRI (``<time> stdout F ``) give the time
when the record has none, docker's json-file envelope (``{"log": ..., "stream": ...}``)
is unwrapped. Anything else passes through unchanged (dimmed).

Values of keys the dictionary marks sensitive (``sensitive: mask|drop``: passwords, tokens,
card numbers...) are shown as ``[REDACTED]``, whatever the key's spelling (aliases, case,
separators: ``user_password``, ``Api-Key``) and at any depth (nested objects, lists of them,
OpenTelemetry attributes, ``--output json``), unless ``show_secrets``. Logs written by other
services reach the screen: the dictionary's promise holds there too.

Every record is rendered by the shared :class:`logstd._render.Renderer`, the one of local
logging mode. ``Pretty.format_lines`` maps N complete input lines to exactly N output
entries (or fewer, only when a filter drops a record): nothing is lost or duplicated.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Iterable, Sequence

from logstd import _json
from logstd._cri import partials_finder
from logstd._lineprefix import prefix_regex
from logstd._render import (
    DIM,
    LEVEL_RANK,
    RESET,
    Renderer,
    flatten,
    format_value,
    level_label,
)

# typing is not imported at run time (start-up of the streaming CLIs)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from logstd._speedups import Fast

OUTPUTS = ("short", "long", "compact", "json")
# lines longer than this are passed through as text, never parsed (bounded memory)
MAX_RECORD_BYTES = 4 * 1024 * 1024

# --- roles of the keys a record's head is made of -------------------------------------------
TIME, LEVEL, MESSAGE, SOURCE = 0, 1, 2, 3
TRACE, SPAN, ATTRS, RESOURCE, NOISE, SEVNUM, NAME, DOCKER_LOG = 4, 5, 6, 7, 8, 9, 10, 11
OTLP_EXPORT = 12  # {"resourceLogs": [...]}: an OTLP/JSON export holding many records
SECRET = 13  # a key the dictionary marks sensitive: masked, by the general path
# built-in spellings, best first (the dictionary's aliases are added after these)
_HEAD_TABLE: dict[int, tuple[str, ...]] = {
    TIME: ("timestamp", "time", "ts", "@timestamp", "timeUnixNano", "time_unix_nano",
           "observedTimeUnixNano", "observed_timestamp", "datetime", "asctime", "eventTime",
           "date", "@t"),
    LEVEL: ("level", "lvl", "severity", "levelname", "log.level", "severityText",
            "severity_text", "loglevel", "log_level", "@l", "level_name"),
    MESSAGE: ("message", "msg", "@message", "event", "body", "@m", "short_message"),
    SOURCE: ("service", "service.name", "serviceName", "service_name", "app", "application"),
}
_SPECIAL: dict[str, int] = {
    "attributes": ATTRS, "resource": RESOURCE, "severityNumber": SEVNUM,
    "severity_number": SEVNUM, "name": NAME,
    # bookkeeping of the producers, shown only with --output long
    "@version": NOISE, "level_value": NOISE, "ecs.version": NOISE, "v": NOISE,
    "droppedAttributesCount": NOISE, "dropped_attributes_count": NOISE, "flags": NOISE,
    "dropped_attributes": NOISE, "trace_flags": NOISE, "traceFlags": NOISE,
}
# OpenTelemetry SeverityNumber ranges -> level
_SEVERITY_NUMBER = ("trace",) * 4 + ("debug",) * 4 + ("info",) * 4 + ("warn",) * 4 + \
    ("error",) * 4 + ("fatal",) * 4

_ISO_SRC = (
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?\s*"
    r"(Z|z|UTC|[+-]\d\d(?::?\d\d)?)?")
_compiled: dict[str, Any] = {}


def _regex(name: str) -> Any:
    pattern = _compiled.get(name)
    if pattern is None:
        pattern = _compiled[name] = (prefix_regex() if name == "prefix"
                                     else re.compile(_ISO_SRC))
    return pattern


# names of object-valued keys that read better shorter (Google Cloud's special fields)
_OBJECT_NAMES = {
    "logging.googleapis.com/labels": "labels",
    "logging.googleapis.com/sourceLocation": "sourceLocation",
    "logging.googleapis.com/operation": "operation",
}


class Record:
    """A normalised record: display time, level, source, message and the other fields."""

    __slots__ = ("epoch", "fields", "level", "message", "raw", "source", "time")

    def __init__(self, time: str, epoch: float | None, level: str, source: str,  # noqa: PLR0917
                 message: str, fields: list[tuple[str, Any]], raw: dict[str, Any]) -> None:
        self.time = time  # canonical "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC), or the value as written
        self.epoch = epoch
        self.level = level
        self.source = source
        self.message = message
        self.fields = fields
        self.raw = raw

    def as_dict(self) -> dict[str, Any]:
        return {"time": self.time, "level": self.level, "source": self.source,
                "message": self.message, "fields": dict(self.fields)}

    def __repr__(self) -> str:
        return f"Record({self.as_dict()!r})"


# --- time ---------------------------------------------------------------------------------

_sec_cache: dict[int, str] = {}
_day_cache: dict[str, int] = {}


def _iso_from_ms(total_ms: int) -> str:
    sec, ms = divmod(total_ms, 1000)
    prefix = _sec_cache.get(sec)
    if prefix is None:
        try:
            prefix = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(sec))
        except (OverflowError, OSError, ValueError):
            return str(total_ms)
        if len(_sec_cache) > 4096:
            _sec_cache.clear()
        _sec_cache[sec] = prefix
    return f"{prefix}.{ms:03d}Z"


def epoch_ms(value: float) -> int:
    """Milliseconds since the epoch from a number in s, ms, us or ns (chosen by magnitude)."""
    a = abs(value)
    if type(value) is int:
        if a >= 10**17:
            return value // 1_000_000
        if a >= 10**14:
            return value // 1000
        if a >= 10**11:
            return value
        return value * 1000
    if a >= 1e17:
        return round(value / 1e6)
    if a >= 1e14:
        return round(value / 1e3)
    if a >= 1e11:
        return round(value)
    return round(value * 1000)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    if not (1 <= m <= 12 and 1 <= d <= 31):
        raise ValueError(f"no such date {y}-{m}-{d}")
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _midnight(day: str) -> int | None:
    hit = _day_cache.get(day)
    if hit is None:
        try:
            hit = _days_from_civil(int(day[0:4]), int(day[5:7]), int(day[8:10])) * 86400
        except ValueError:
            return None
        if len(_day_cache) > 1024:
            _day_cache.clear()
        _day_cache[day] = hit
    return hit


def iso_epoch(iso: str) -> float | None:
    """Seconds since the epoch of a canonical "YYYY-MM-DDTHH:MM:SS.mmmZ" string."""
    base = _midnight(iso[:10])
    if base is None:
        return None
    try:
        return base + int(iso[11:13]) * 3600 + int(iso[14:16]) * 60 + int(iso[17:19]) + \
            int(iso[20:23]) / 1000
    except ValueError:
        return None


def normalize_time(value: Any) -> str | None:
    """Any producer's time as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC), or None when not a time."""
    t = type(value)
    if t is str:
        s: str = value
        n = len(s)
        if n == 24 and s[23] == "Z" and s[10] == "T" and s[19] == ".":
            return s
        if n > 24 and s[-1] == "Z" and s[10] == "T" and s[19] == "." and s[20:-1].isdigit():
            return s[:23] + "Z"
        m = _regex("iso").fullmatch(s.strip())
        if m is None:
            if s.isdigit() and n <= 20:
                return _iso_from_ms(epoch_ms(int(s)))
            return None
        y, mo, d, hh, mi, ss, frac, tz = m.groups()
        ms = int((frac or "0")[:3].ljust(3, "0"))
        if tz is None or tz in "ZzUTC":
            if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31 and int(hh) < 24 and int(mi) < 60
                    and int(ss or 0) < 61):
                return None
            return f"{y}-{mo}-{d}T{hh}:{mi}:{ss or '00'}.{ms:03d}Z"
        base = _midnight(f"{y}-{mo}-{d}")
        if base is None:
            return None
        off = int(tz[1:3]) * 3600 + int(tz[-2:] if len(tz) > 3 else 0) * 60
        total = (base + int(hh) * 3600 + int(mi) * 60 + int(ss or 0)) * 1000 + ms
        return _iso_from_ms(total - off * 1000 if tz[0] == "+" else total + off * 1000)
    if (t is int or t is float) and abs(value) < 1e20:
        return _iso_from_ms(epoch_ms(value))
    if t is dict and "seconds" in value:  # Google Cloud {"seconds": N, "nanos": N}
        try:
            return _iso_from_ms(int(value["seconds"]) * 1000 + int(value.get("nanos", 0))
                                // 1_000_000)
        except (TypeError, ValueError):
            return None
    return None


def parse_when(text: str, now: float | None = None) -> float:
    """--since/--until: RFC 3339 (or a date) or a duration ago (30s, 15m, 2h, 1d); epoch s."""
    s = text.strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", s)
    if m:
        mult = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return (_time.time() if now is None else now) - float(m.group(1)) * mult
    if re.fullmatch(r"\d{4}-\d\d-\d\d", s):
        s += "T00:00:00Z"
    iso = normalize_time(s)
    epoch = iso_epoch(iso) if iso else None
    if epoch is None:
        raise ValueError(f"{text!r} is neither an RFC 3339 time nor a duration like 15m")
    return epoch


# --- values -------------------------------------------------------------------------------


def _any_value(v: Any) -> Any:
    """OpenTelemetry's OTLP/JSON AnyValue ({"stringValue": "x"}) -> the plain value."""
    if type(v) is not dict or len(v) != 1:
        return v
    ((kind, inner),) = v.items()
    if kind in ("stringValue", "boolValue", "doubleValue"):
        return inner
    if kind == "intValue":
        try:
            return int(inner)
        except (TypeError, ValueError):
            return inner
    if kind == "arrayValue" and type(inner) is dict:
        return [_any_value(x) for x in inner.get("values") or ()]
    if kind == "kvlistValue" and type(inner) is dict:
        return dict(_kv_list(inner.get("values") or ()))
    if kind == "bytesValue":
        return inner
    return v


def _kv_list(items: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if type(items) is dict:
        return [(str(k), v) for k, v in items.items()]
    if type(items) is not list:
        return out
    for kv in items:
        if type(kv) is dict and "key" in kv:
            out.append((str(kv["key"]), _any_value(kv.get("value"))))
    return out


def _trace_id(v: Any) -> Any:
    """projects/p/traces/<id> (Google), 0x<id> (OpenTelemetry Python), upper case -> hex id."""
    if type(v) is not str:
        return v
    if "/traces/" in v:
        v = v.rpartition("/traces/")[2]
    if v[:2] in ("0x", "0X"):
        v = v[2:]
    return v.lower() if not v.islower() and not v.isdigit() else v


def _text(v: Any) -> str:
    if type(v) is str:
        return v
    if v is None:
        return ""
    return format_value(v)


def _message_text(v: Any) -> str:
    """A message that is not a str: an OTLP AnyValue unwrapped, anything else as text."""
    if type(v) is dict:
        v = _any_value(v)
    return v if type(v) is str else _text(v)


def _one_line(v: Any) -> Any:
    if type(v) is str and "\n" in v:
        first, _, rest = v.strip("\n").partition("\n")
        if rest:
            return f"{first} [+{rest.count(chr(10)) + 1} lines]"
        return first
    if type(v) is dict:
        return {k: _one_line(x) for k, x in v.items()}
    return v


# --- filters ------------------------------------------------------------------------------


class Where:
    """One --where condition: KEY=VALUE, KEY!=VALUE or KEY~=REGEX (canonical key names)."""

    def __init__(self, text: str, canonical: dict[str, str]) -> None:
        for op in ("!=", "~=", "="):
            key, sep, value = text.partition(op)
            if sep and key.strip():
                break
        else:
            raise ValueError(f"--where {text!r}: expected KEY=VALUE, KEY!=VALUE or KEY~=REGEX")
        self.text = text
        self.op = op
        key = key.strip()
        self.key = canonical.get(key, key)
        self.raw_key = key  # "http.method" also finds {"http": {"method": ...}}
        self.value = value
        self.regex = None
        if op == "~=":
            try:
                self.regex = re.compile(value)
            except re.error as e:
                raise ValueError(f"--where {text!r}: bad regular expression: {e}") from None
        self.level = level_label(value)[0] if self.key == "level" else None

    def test(self, rec: Record) -> bool:
        key = self.key
        found = True
        value: Any
        if key == "level":
            value = level_label(rec.level)[0] if rec.level else ""
            want: Any = self.level
            if self.op == "~=":
                value = rec.level
        elif key == "message":
            value = rec.message
        elif key in ("service", "source"):
            value = rec.source
        elif key == "timestamp":
            value = rec.time
        else:
            value = _lookup(rec.fields, key)
            if value is _MISSING and self.raw_key != key:
                value = _lookup(rec.fields, self.raw_key)
            found = value is not _MISSING
        if self.key != "level" or self.op == "~=":
            want = self.value
        if not found:
            return self.op == "!="
        shown = value if type(value) is str else format_value(value)
        if self.regex is not None:
            return self.regex.search(shown) is not None
        return bool((shown == want) == (self.op == "="))


_MISSING = object()
# fast()'s plan for a key it leaves to the general path; the plan's size bound
_SLOW = 99
_PLAN_LIMIT = 8192


def _lookup(fields: Sequence[tuple[str, Any]], key: str) -> Any:
    for k, v in fields:
        if k == key:
            return v
    head, _, rest = key.partition(".")
    if rest:
        for k, v in fields:
            if k == head and type(v) is dict:
                node: Any = v
                for part in rest.split("."):
                    if type(node) is not dict or part not in node:
                        break
                    node = node[part]
                else:
                    return node
            elif k.startswith(head + ".") and k == key:
                return v
    return _MISSING


def _decode(line: bytes) -> tuple[dict[str, Any], str, str | None] | None:
    """(JSON object, kubectl source, prefix time) of one line; None when it holds no object.

    Prefixes are peeled first: kubectl ``--prefix`` gives the source, kubectl
    ``--timestamps`` and docker/CRI give a time.
    """
    source = ""
    prefix_time = None
    body = line
    if line[:1] != b"{":
        m = _regex("prefix").match(line)
        if m is None or m.end() == 0:
            return None
        body = line[m.end():]
        if body[:1] != b"{":
            return None
        src, ts = m.group(1), m.group(2)
        if src:
            source = src.decode("utf-8", "replace")
        if ts:
            prefix_time = ts.decode("ascii", "replace")
    if len(body) > MAX_RECORD_BYTES:
        return None
    try:
        obj = _json.loads(body)
    except _json.JSONDecodeError:
        return None
    if type(obj) is not dict:
        return None
    return obj, source, prefix_time


# --- the formatter ------------------------------------------------------------------------


class Pretty:
    """Parses, filters and renders log lines; build once, call ``format_lines`` per chunk.

    ``dictionary`` is anything with a ``lookup`` mapping (spelling -> canonical name),
    normally :func:`logstd.load_dictionary`'s result; None uses the built-in table only.
    """

    def __init__(
        self,
        dictionary: Any = None,
        *,
        color: bool = False,
        output: str = "short",
        level: str | None = None,
        where: Iterable[str] = (),
        since: float | None = None,
        until: float | None = None,
        keys: Iterable[str] | None = None,
        hide: Iterable[str] = (),
        local_time: bool = False,
        show_secrets: bool = False,
    ) -> None:
        if output not in OUTPUTS:
            raise ValueError(f"--output {output!r}: expected one of {', '.join(OUTPUTS)}")
        self.color = color
        self.output = output
        self.long = output == "long"
        self.compact = output == "compact"
        self.json = output == "json"
        self.local_time = local_time
        self.renderer = Renderer(color=color)
        # key spelling -> whether its value is masked (a cache: keys are few, bounded anyway)
        self._sensitivity = None if show_secrets else getattr(dictionary, "sensitivity", None)
        self.masking = self._sensitivity is not None
        self._secret: dict[str, bool] = {}
        self._format_value = self._value_text if self.masking else format_value
        self._mask = ""
        if self.masking:  # imported here: at import time it would change pretty's start-up
            from logstd._dictionary import MASK

            self._mask = MASK
        lookup: dict[str, str] = dict(getattr(dictionary, "lookup", {}) or {})
        self.canonical = lookup
        # key -> role for the head keys and the special ones; key -> priority
        roles: dict[str, tuple[int, int]] = {}
        for role, names in _HEAD_TABLE.items():
            canon = ("timestamp", "level", "message", "service")[role]
            extra = [s for s, c in lookup.items() if c == canon and s not in names]
            for prio, name in enumerate((*names, *sorted(extra))):
                roles.setdefault(name, (role, prio))
        for name, role in _SPECIAL.items():
            roles.setdefault(name, (role, 0))
        for spelling, canon in lookup.items():
            if canon == "traceId":
                roles.setdefault(spelling, (TRACE, 0))
            elif canon == "spanId":
                roles.setdefault(spelling, (SPAN, 0))
        for name in ("traceId", "trace_id", "traceid"):
            roles.setdefault(name, (TRACE, 0))
        for name in ("spanId", "span_id", "spanid"):
            roles.setdefault(name, (SPAN, 0))
        roles.setdefault("log", (DOCKER_LOG, 0))
        roles.setdefault("resourceLogs", (OTLP_EXPORT, 0))
        self.roles = roles
        # one lookup per key in the hot loop: a role, or the canonical name to write
        self.kinds: dict[str, Any] = {**lookup, **{k: k for k in _OBJECT_NAMES}, **roles}
        self.min_rank = None
        if level is not None:
            label = level_label(level)[0]
            if label not in LEVEL_RANK:
                raise ValueError(f"--level {level!r}: expected one of trace, debug, info, warn, "
                                 "error, fatal")
            self.min_rank = LEVEL_RANK[label]
        self.where = [Where(w, lookup) for w in where]
        self.since = since
        self.until = until
        # the canonical name and the spelling given ("http.method" is also a nested key)
        self.keys = {n for k in keys for n in (k, lookup.get(k, k))} if keys else None
        self.hide = {n for k in hide for n in (k, lookup.get(k, k))}
        self.filtering = bool(self.min_rank is not None or self.where or since is not None
                              or until is not None)
        self.trimming = self.keys is not None or bool(self.hide)
        # trace ids are cut to 8 digits while parsing, unless a filter needs them whole
        self.short_trace = not self.long and not self.filtering
        self._dim_pre = DIM if color else ""
        # the one-pass path (see ``fast``): plain short output, nothing filtered or trimmed
        self.fast_ok = output == "short" and not self.filtering and not self.trimming \
            and not local_time
        self._plan: dict[str, str | int] = {}
        self._compiled = self.compiled() if self.fast_ok else None
        self.has_partials = partials_finder(self._compiled is not None)
        self._fast = self._compiled or self.fast
        self._dim_post = RESET if color else ""

    # -- parsing ----------------------------------------------------------------------

    def parse(self, line: bytes) -> Record | None:
        """The normalised record of one line (without its newline), or None when not one."""
        decoded = _decode(line)
        return None if decoded is None else self.record(*decoded)

    def record(self, obj: dict[str, Any], source: str = "", prefix_time: str | None = None,
               depth: int = 0) -> Record | None:
        """Normalise one decoded JSON object."""
        kinds = self.kinds
        roles = self.roles
        canon = self.canonical
        long = self.long
        short_trace = self.short_trace
        pairs: list[tuple[str, Any]] = []
        head: list[Any] = [None, None, None, None]
        prio = [99, 99, 99, 99]
        losers: list[tuple[str, Any]] = []
        sevnum = None
        name = None
        for k, v in obj.items():
            r = kinds.get(k)
            if r is None:
                pairs.append((k, v))
                continue
            if type(r) is str:
                pairs.append((r, v) if type(v) is not dict else (_OBJECT_NAMES.get(k, k), v))
                continue
            role, p = r
            if role <= SOURCE:
                if p < prio[role] and v is not None and v != "":
                    if head[role] is not None:
                        losers.append(head[role])
                    head[role] = (k, v)
                    prio[role] = p
                else:
                    losers.append((k, v))
            elif role == TRACE:
                tid = _trace_id(v)
                pairs.append(("traceId", tid[:8] if short_trace and type(tid) is str else tid))
            elif role == SPAN:
                pairs.append(("spanId", _trace_id(v)))
            elif role == ATTRS:
                for ak, av in _kv_list(v) if type(v) in (list, dict) else (("attributes", v),):
                    r2 = roles.get(ak)
                    if r2 is not None and r2[0] == SOURCE and head[SOURCE] is None:
                        head[SOURCE] = (ak, av)
                        prio[SOURCE] = 50
                    pairs.append((ak if type(av) is dict else canon.get(ak, ak), av))
            elif role == RESOURCE:
                attrs = v.get("attributes") if type(v) is dict else None
                rsrc = dict(_kv_list(attrs)) if attrs is not None else \
                    (v if type(v) is dict else {})
                svc = rsrc.get("service.name")
                if svc and prio[SOURCE] > 60:
                    head[SOURCE] = ("service.name", svc)
                    prio[SOURCE] = 60
                if long:
                    pairs.append((k, v))
            elif role == NOISE:
                if long or (k == "v" and v != 0):
                    pairs.append((k, v))
            elif role == SEVNUM:
                sevnum = v
                if long:
                    pairs.append((k, v))
            elif role == NAME:
                name = v
            elif role == OTLP_EXPORT:
                pairs.append((k, v))  # expanded by format_line (see records_of_export)
            else:  # "log": docker's json-file envelope, or ECS's nested log object
                if type(v) is str and depth == 0 and "stream" in obj and len(obj) <= 5:
                    return self._docker(v, obj, source)
                if type(v) is dict and ("level" in v or "logger" in v):
                    nested = dict(v)
                    if head[LEVEL] is None and "level" in nested:
                        head[LEVEL] = ("log.level", nested.pop("level"))
                        prio[LEVEL] = 90
                    if "logger" in nested:
                        pairs.append(("logger", nested.pop("logger")))
                    if nested:
                        pairs.append((k, nested))
                    continue
                pairs.append((k, v))
        # time
        time_v = head[TIME]
        ts = ""
        if time_v is not None:
            ts_iso = normalize_time(time_v[1])
            ts = _text(time_v[1]) if ts_iso is None else ts_iso
        elif prefix_time is not None:
            ts = normalize_time(prefix_time) or prefix_time
        # level
        lv = head[LEVEL]
        if lv is not None:
            level = lv[1] if type(lv[1]) is str else _text(lv[1])
        elif sevnum is not None and type(sevnum) is int and 1 <= sevnum <= 24:
            level = _SEVERITY_NUMBER[sevnum - 1]
        else:
            level = ""
        # message
        mv = head[MESSAGE]
        if mv is None:
            message = ""
        else:
            mval = mv[1]
            message = mval if type(mval) is str else _message_text(mval)
        # source: kubectl prefix, else the service
        sv = head[SOURCE]
        if sv is not None:
            sval = sv[1]
            if type(sval) is dict:
                sname = sval.get("name")
                if sname is not None:
                    rest = {a: b for a, b in sval.items() if a != "name"}
                    if rest:
                        pairs.append(("service", rest))
                    sval = sname
                else:
                    pairs.append((sv[0], sval))
                    sval = ""
            if source:
                if sval:
                    pairs.insert(0, ("service", sval))
            else:
                source = sval if type(sval) is str else _text(sval)
        if name is not None:
            numeric = head[LEVEL] is not None and type(head[LEVEL][1]) is int
            if not source and type(name) is str and numeric:
                source = name  # pino's and bunyan's name is the application's
            elif type(name) is str and not numeric and "logger" not in obj:
                pairs.append(("logger", name))  # Python's LogRecord name
            else:
                pairs.append(("name" if type(name) is dict else canon.get("name", "name"), name))
        if losers:
            for k, v in losers:
                pairs.append((k if type(v) is dict else canon.get(k, k), v))
        if self.masking:
            pairs = self._masked_pairs(pairs)
        epoch = None
        return Record(ts, epoch, level, source, message, pairs, obj)

    # -- sensitive values -----------------------------------------------------------------

    def is_secret(self, key: str) -> bool:
        """Whether the value of ``key`` is masked: any spelling of a sensitive key, or a
        dotted key with one in it (``http.authorization.scheme``)."""
        hit = self._secret.get(key)
        if hit is None:
            sensitivity = self._sensitivity
            hit = sensitivity is not None and type(key) is str and (
                sensitivity(key) is not None
                or ("." in key and any(sensitivity(part) is not None
                                       for part in key.split(".") if part)))
            if len(self._secret) < _PLAN_LIMIT:
                self._secret[key] = hit
        return hit

    def redact(self, value: Any, depth: int = 0) -> Any:
        """``value`` with the values of sensitive keys masked at any depth; the same object
        when there is nothing to mask (no copy)."""
        t = type(value)
        if depth > 64:
            return value
        if t is dict:
            out = None
            secret = self._secret
            for k, v in value.items():
                hit = secret.get(k)
                if hit is None:
                    hit = self.is_secret(k)
                if hit:
                    new: Any = self._mask
                elif type(v) is dict or type(v) is list:
                    new = self.redact(v, depth + 1)
                else:
                    continue
                if new is not v:
                    if out is None:
                        out = dict(value)
                    out[k] = new
            kv = value.get("key")  # OTLP/JSON's {"key": K, "value": {"stringValue": ...}}
            if type(kv) is str and "value" in value and self.is_secret(kv):
                if out is None:
                    out = dict(value)
                out["value"] = self._mask
            return value if out is None else out
        if t is list:
            items = None
            for i, v in enumerate(value):
                if type(v) is dict or type(v) is list:
                    new = self.redact(v, depth + 1)
                    if new is not v:
                        if items is None:
                            items = list(value)
                        items[i] = new
            return value if items is None else items
        return value

    def _masked_pairs(self, pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        out = pairs
        secret = self._secret
        for i, (k, v) in enumerate(pairs):
            hit = secret.get(k)
            if hit is None:
                hit = self.is_secret(k)
            if hit:
                new: Any = self._mask
            elif type(v) is dict or type(v) is list:
                new = self.redact(v)
            else:
                continue
            if new is not v:
                if out is pairs:
                    out = list(pairs)
                out[i] = (k, new)
        return out

    def _value_text(self, v: Any) -> str:
        """format_value for the one-pass paths: a list's nested secrets masked first."""
        if self.masking and type(v) is list:
            v = self.redact(v)
        return format_value(v)

    def records_of_export(self, obj: dict[str, Any], source: str = "",
                          prefix_time: str | None = None) -> list[Record] | None:
        """The log records of an OTLP/JSON export (the OpenTelemetry Collector's file
        exporter: ``{"resourceLogs": [{"resource": ..., "scopeLogs": [{"scope": ...,
        "logRecords": [...]}]}]}``), each with its resource and scope; None when ``obj``
        is not one."""
        exported = obj.get("resourceLogs")
        if type(exported) is not list or len(obj) != 1:
            return None
        out = []
        for res in exported:
            if type(res) is not dict:
                continue
            resource = res.get("resource")
            for scope_logs in res.get("scopeLogs") or ():
                if type(scope_logs) is not dict:
                    continue
                scope = scope_logs.get("scope")
                scope_name = scope.get("name") if type(scope) is dict else None
                for lr in scope_logs.get("logRecords") or ():
                    if type(lr) is not dict:
                        continue
                    one = dict(lr)
                    if resource is not None:
                        one.setdefault("resource", resource)
                    if scope_name:
                        one.setdefault("scope", scope_name)
                    rec = self.record(one, source, prefix_time)
                    if rec is not None:
                        out.append(rec)
        return out

    def _format_export(self, line: bytes,
                       decoded: tuple[dict[str, Any], str, str | None]) -> str | None:
        """An OTLP/JSON export line (decoded): one output line per kept log record."""
        recs = self.records_of_export(*decoded)
        if recs is None:
            return None
        shown = [self.render_json(r) if self.json else self.render(r)
                 for r in recs if not self.filtering or self.keep(r)]
        if not shown:
            return None if self.filtering or recs else self.plain(line)
        return "\n".join(shown)

    def _docker(self, log: str, obj: dict[str, Any], source: str) -> Record | None:
        inner = log.rstrip("\n")
        if inner[:1] == "{":
            try:
                o2 = _json.loads(inner)
            except _json.JSONDecodeError:
                o2 = None
            if type(o2) is dict:
                t = obj.get("time")
                return self.record(o2, source, t if type(t) is str else None, depth=1)
        return None

    # -- filters -------------------------------------------------------------------------

    def keep(self, rec: Record) -> bool:
        if self.min_rank is not None and rec.level:
            rank = LEVEL_RANK.get(level_label(rec.level)[0], LEVEL_RANK["INFO "])
            if rank < self.min_rank:
                return False
        if self.since is not None or self.until is not None:
            epoch = rec.epoch if rec.epoch is not None else iso_epoch(rec.time) \
                if len(rec.time) == 24 else None
            if epoch is None:
                return False
            if self.since is not None and epoch < self.since:
                return False
            if self.until is not None and epoch > self.until:
                return False
        return all(w.test(rec) for w in self.where)

    def _trim(self, fields: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        keys, hide = self.keys, self.hide
        out = []
        for k, v in fields:
            top = k.partition(".")[0]
            if hide and (k in hide or top in hide):
                continue
            if keys is not None and k not in keys and top not in keys:
                if type(v) is dict:
                    sub = {a: b for a, b in v.items() if f"{k}.{a}" in keys}
                    if sub:
                        out.append((k, sub))
                continue
            out.append((k, v))
        return out

    # -- rendering -----------------------------------------------------------------------

    def show_time(self, ts: str) -> str:
        if len(ts) != 24 or ts[23] != "Z":
            return ts
        if self.local_time:
            epoch = iso_epoch(ts)
            if epoch is None:
                return ts
            lt = _time.localtime(epoch)
            ms = ts[20:23]
            if self.long:
                off = _time.strftime("%z", lt)
                return _time.strftime("%Y-%m-%dT%H:%M:%S", lt) + f".{ms}{off[:3]}:{off[3:]}"
            return _time.strftime("%H:%M:%S", lt) + f".{ms}"
        return ts if self.long else ts[11:23]

    def render(self, rec: Record) -> str:
        """The human line(s) of one record (no trailing newline)."""
        fields = rec.fields
        if self.trimming:
            fields = self._trim(fields)
        if not self.long and not self.short_trace:
            fields = [("traceId", v[:8]) if k == "traceId" and type(v) is str else (k, v)
                      for k, v in fields]
        message = rec.message
        if self.compact:
            fields = [(k, _one_line(v)) for k, v in fields]
            message = _one_line(message)
        ts = rec.time
        if len(ts) == 24 and ts[23] == "Z" and not self.long and not self.local_time:
            ts = ts[11:23]
        elif ts:
            ts = self.show_time(ts)
        return self.renderer.render(ts, rec.level, rec.source, message, fields)

    def render_json(self, rec: Record) -> str:
        raw = self.redact(rec.raw) if self.masking else rec.raw
        if self.trimming:
            keys, hide = self.keys, self.hide
            canon = self.canonical
            raw = {k: v for k, v in raw.items()
                   if canon.get(k, k) not in hide and k not in hide
                   and (keys is None or canon.get(k, k) in keys or k in keys
                        or self.roles.get(k, (99,))[0] <= SOURCE)}
        return _json.dumps(raw).decode()

    def plain(self, line: bytes) -> str:
        text = line.decode("utf-8", "surrogateescape")
        if self.color and text:
            return f"{self._dim_pre}{text}{self._dim_post}"
        return text

    # -- the one-pass path ----------------------------------------------------------------

    def _plan_of(self, k: str) -> str | int:
        """What ``fast`` does with key ``k``: a ``key=`` prefix, a head role, or _SLOW."""
        r = self.kinds.get(k)
        act: str | int
        if self.masking and self.is_secret(k):
            act = SECRET  # masked by the general path (records holding secrets are few)
        elif r is None:
            act = self.renderer.prefix(k)
        elif type(r) is str:
            act = self.renderer.prefix(r) if k not in _OBJECT_NAMES else _SLOW
        else:
            act = r[0] if r[0] in (TIME, LEVEL, MESSAGE, SOURCE, TRACE, SPAN) else _SLOW
        if len(self._plan) < _PLAN_LIMIT:
            self._plan[k] = act
        return act

    def fast(self, obj: dict[str, Any], source: str = "",
             prefix_time: str | None = None) -> str | None:
        """``render(record(obj))`` in one pass over the keys, for the common record shapes.

        Used only when ``fast_ok`` (short output, no filter, no trimming). Returns None
        for a shape it leaves to the general path (two spellings of one head key, OTel
        attributes, nested names, multi-line values, ...); what it returns is the same
        text as the general path's, which the tests check on every producer's sample.
        ``logstd._speedups.Fast`` is this same function in C, built on the same helpers.
        """
        plan = self._plan
        rend = self.renderer
        values = rend.values
        inline: list[str] = []
        head: list[Any] = [None, None, None, None]
        for k, v in obj.items():
            act = plan.get(k)
            if act is None:
                act = self._plan_of(k)
            if act.__class__ is str:
                t = v.__class__
                if t is str:
                    val = values.get(v)
                    if val is None:
                        if "\n" in v:
                            return None
                        val = rend.text(v)
                    inline.append(act + val)
                elif t is int or t is float:
                    inline.append(act + repr(v))
                elif t is dict:
                    text = self._dict_text(k, v)
                    if text is None:
                        return None
                    inline.append(text)
                else:
                    inline.append(act + self._format_value(v))
            elif act <= SOURCE:  # type: ignore[operator]
                if head[act] is not None or v is None or v == "":  # type: ignore[index]
                    return None
                head[act] = v  # type: ignore[index]
            elif act in (TRACE, SPAN):
                text = self._trace_text(act, v)
                if text is None:
                    return None
                inline.append(text)
            else:
                return None
        tv = head[TIME]
        if tv is not None:
            ts = self._time_text(tv)
        elif prefix_time is not None:
            ts = self._time_text(prefix_time)
        else:
            ts = ""
        lv = head[LEVEL]
        level = "" if lv is None else lv if type(lv) is str else _text(lv)
        mv = head[MESSAGE]
        message = "" if mv is None else mv if type(mv) is str else _message_text(mv)
        if "\n" in message:
            return None
        sv = head[SOURCE]
        if sv is not None:
            if type(sv) is dict:
                return None
            if source:
                if sv:
                    if type(sv) is not str or "\n" in sv:
                        return None
                    inline.insert(0, rend.prefix("service") + rend.text(sv))
            else:
                source = sv if type(sv) is str else _text(sv)
        return rend.assemble(ts, level, source, message, inline, [])

    # the helpers fast() and its C twin call

    def _dict_text(self, k: str, v: dict[str, Any]) -> str | None:
        pairs: list[tuple[str, Any]] = []
        flatten(k, v, pairs)
        rend = self.renderer
        secret = self._secret if self.masking else None
        out = []
        for k2, v2 in pairs:
            if v2.__class__ is str and "\n" in v2:
                return None
            if secret is not None:
                hit = secret.get(k2)
                if hit is None:
                    hit = self.is_secret(k2)
                if hit:
                    return None  # a secret inside: masked by the general path
            out.append(rend.prefix(k2) + self._format_value(v2))
        return " ".join(out)

    def _trace_text(self, role: int, v: Any) -> str | None:
        tid = _trace_id(v)
        if type(tid) is dict:
            return None  # shown flattened, by the general path
        if role == TRACE and type(tid) is str:
            tid = tid[:8]
        rend = self.renderer
        pre = rend.prefix("traceId" if role == TRACE else "spanId")
        if type(tid) is str:
            return None if "\n" in tid else pre + rend.text(tid)
        return pre + format_value(tid)

    @staticmethod
    def _time_text(tv: Any) -> str:
        ts_iso = normalize_time(tv)
        ts = _text(tv) if ts_iso is None else ts_iso
        return ts[11:23] if len(ts) == 24 and ts[23] == "Z" else ts

    def compiled(self) -> Fast | None:
        """``fast`` in C (logstd._speedups), or None where the extension is not built
        (or LOGSTD_PURE_PYTHON is set)."""
        from logstd._native import pure_python

        if pure_python():
            return None
        try:
            from logstd._speedups import Fast
        except ImportError:
            return None
        rend = self.renderer
        secrets: dict[str, Any] = {"secret": self._secret, "secret_of": self.is_secret} \
            if self.masking else {}
        try:
            return self._fast_of(Fast, rend, secrets)
        except TypeError:  # an extension built before masking: the Python path masks
            return None

    def _fast_of(self, fast: Any, rend: Renderer, secrets: dict[str, Any]) -> Fast:
        return fast(plan=self._plan, values=rend.values, levels=rend.levels,  # type: ignore[no-any-return]
                    plan_of=self._plan_of, text=rend.text, format_value=self._format_value,
                    dict_text=self._dict_text, trace_text=self._trace_text,
                    time_text=self._time_text, value_text=_text, message_text=_message_text,
                    level_parts=rend.level_parts, time_pre=rend.time_pre,
                    time_post=rend.time_post, src_pre=rend.src_pre, src_post=rend.src_post,
                    prefixes=rend.prefixes, prefix=rend.prefix,
                    trace_pre=rend.prefix("traceId"), span_pre=rend.prefix("spanId"),
                    service_pre=rend.prefix("service"),
                    loads=_json.loads, general=self._format_line_safe,
                    max_record=MAX_RECORD_BYTES, **secrets)

    def format_line(self, line: bytes) -> str | None:
        """One input line (no newline) -> its output (may hold newlines), None if filtered."""
        decoded = _decode(line)
        if decoded is not None and self.fast_ok:
            out = self._fast(*decoded)
            if out is not None:
                return out
        if decoded is not None and "resourceLogs" in decoded[0]:
            exported = self._format_export(line, decoded)
            if exported is not None or self.filtering:
                return exported
        rec = None if decoded is None else self.record(*decoded)
        if rec is None:
            if self.filtering:
                return None
            if self.json:
                return line.decode("utf-8", "surrogateescape")
            return self.plain(line)
        if self.filtering and not self.keep(rec):
            return None
        if self.json:
            return self.render_json(rec)
        return self.render(rec)

    def _format_line_safe(self, line: bytes) -> str | None:
        try:
            return self.format_line(line)
        except Exception:  # a record shape nobody foresaw: show the line, go on
            return None if self.filtering else self.plain(line)

    def format_lines(self, lines: Iterable[bytes]) -> list[str]:
        """Each line's output; a line this code cannot format is passed through as text."""
        if self._compiled is not None:
            return self._compiled.lines(lines if type(lines) is list else list(lines))
        out = []
        fmt = self._format_line_safe
        for line in lines:
            s = fmt(line)
            if s is not None:
                out.append(s)
        return out

    def format_chunk(self, data: bytes, partials: bool | None = None) -> bytes:
        """Complete lines (each ending in a newline) -> their output, as bytes. ``partials``:
        whether ``data`` holds CRI partial lines to join, when the caller has looked."""
        if not data:
            return b""
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        if partials is None:
            partials = self.has_partials(data)
        if partials:
            from logstd._cri import join_partials

            lines = join_partials(lines)
        out = self.format_lines(lines)
        if not out:
            return b""
        out.append("")  # the join ends with the last newline: no second copy of the text
        text = "\n".join(out)
        out.pop()
        return encode(text, out)


def encode(text: str, parts: Sequence[str] = ()) -> bytes:
    """UTF-8 with the original bytes of passed-through invalid UTF-8 restored."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        pieces = []
        for p in parts or (text,):
            try:
                pieces.append(p.encode("utf-8", "surrogateescape"))
            except UnicodeEncodeError:
                pieces.append(p.encode("utf-8", "backslashreplace"))
        return b"\n".join(pieces) + b"\n" if parts else pieces[0]
