"""--level, --where, --since/--until, --keys, --hide, --output, --local-time, colours, follow."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from pretty_cli import ENV, pretty

LINES = [
    b'{"timestamp":"2026-11-28T20:00:00.000Z","level":"debug","msg":"a","custId":"C-1",'
    b'"status":200,"http":{"method":"GET"}}',
    b'{"timestamp":"2026-11-28T20:10:00.000Z","level":"info","msg":"b","customer_id":"C-2",'
    b'"status":503,"traceId":"4bf92f3577b34da6a3ce929d0e0e4736"}',
    b'{"ts":1795896000.5,"level":"warn","msg":"c","customerId":"C-1","status":404}',
    b'{"time":1795896600000,"level":50,"msg":"d","customerId":"C-3","status":500}',
    b"plain text",
]
DATA = b"\n".join(LINES) + b"\n"


def messages(*args: str) -> list[str]:
    r = pretty("--color", "never", "--output", "json", *args, data=DATA)
    assert r.returncode == 0, r.stderr
    return [orjson.loads(line)["msg"] if line.startswith(b"{") else "?"
            for line in r.stdout.splitlines()]


@pytest.mark.parametrize(("args", "expected"), [
    ([], ["a", "b", "c", "d", "?"]),  # plain text passes through when nothing filters
    (["--level", "info"], ["b", "c", "d"]),
    (["--level", "WARNING"], ["c", "d"]),
    (["--level", "error"], ["d"]),
    (["--where", "cust_id=C-1"], ["a", "c"]),  # any spelling of customerId
    (["--where", "customerId=C-1", "--where", "httpStatus=404"], ["c"]),
    (["--where", "httpStatus!=200"], ["b", "c", "d"]),
    (["--where", "status~=^5"], ["b", "d"]),
    (["--where", "http.method=GET"], ["a"]),
    (["--where", "level=warning"], ["c"]),
    (["--where", "message=b"], ["b"]),
    (["--since", "2026-11-28T20:05:00Z"], ["b", "d"]),
    (["--until", "2026-11-28T20:05:00Z"], ["a", "c"]),
    (["--since", "2026-11-28T20:00:00.2Z", "--until", "2026-11-28T20:05:00Z"], ["c"]),
    (["--since", "2026-11-28T21:05:00+01:00"], ["b", "d"]),
    (["--since", "2026-11-28"], ["a", "b", "c", "d"]),
])
def test_filters(args: list[str], expected: list[str]) -> None:
    assert messages(*args) == expected


def test_plain_text_passes_without_filters_and_is_left_out_with_them() -> None:
    assert pretty("--output", "json", data=DATA).stdout.splitlines()[-1] == b"plain text"
    assert b"plain text" not in pretty("--level", "debug", data=DATA).stdout


def test_since_as_duration_ago() -> None:
    now = time.time()
    lines = [orjson.dumps({"ts": now - 3600, "msg": "old"}),
             orjson.dumps({"ts": now - 60, "msg": "new"})]
    r = pretty("--since", "15m", "--output", "json", data=b"\n".join(lines) + b"\n")
    assert [orjson.loads(x)["msg"] for x in r.stdout.splitlines()] == ["new"]


def test_keys_and_hide() -> None:
    line = LINES[0] + b"\n"
    assert pretty("--keys", "cust_id", data=line).stdout == \
        b"20:00:00.000 DEBUG  a  customerId=C-1\n"
    assert pretty("--keys", "customerId,http.method", data=line).stdout == \
        b"20:00:00.000 DEBUG  a  customerId=C-1 http.method=GET\n"
    assert pretty("--hide", "status", "--hide", "http", data=line).stdout == \
        b"20:00:00.000 DEBUG  a  customerId=C-1\n"
    out = pretty("--output", "json", "--hide", "customerId", data=line).stdout
    assert orjson.loads(out) == {"timestamp": "2026-11-28T20:00:00.000Z", "level": "debug",
                                 "msg": "a", "status": 200, "http": {"method": "GET"}}


def test_output_json_keeps_records_as_they_were() -> None:
    r = pretty("--output", "json", "--level", "info", data=DATA)
    assert r.stdout == b"\n".join(orjson.dumps(orjson.loads(x)) for x in LINES[1:4]) + b"\n"


def test_local_time() -> None:
    line = LINES[1] + b"\n"
    r = pretty("--local-time", data=line, env={"TZ": "Asia/Kolkata"})
    assert r.stdout.startswith(b"01:40:00.000 INFO ")
    r = pretty("--local-time", "-o", "long", data=line, env={"TZ": "Asia/Kolkata"})
    assert r.stdout.startswith(b"2026-11-29T01:40:00.000+05:30 INFO ")


@pytest.mark.parametrize(("args", "env", "colour"), [
    ([], {}, False),  # not a terminal
    ([], {"FORCE_COLOR": "1"}, True),
    (["--color", "always"], {"NO_COLOR": "1"}, True),
    (["--color", "auto"], {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
    (["--color", "never"], {"FORCE_COLOR": "1"}, False),
])
def test_colour_choice(args: list[str], env: dict[str, str], colour: bool) -> None:
    out = pretty(*args, data=LINES[1] + b"\n", env=env).stdout
    assert (b"\x1b[" in out) == colour


def test_follow_shows_an_appended_line(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(LINES[0] + b"\n")
    proc = subprocess.Popen([sys.executable, "-m", "logstd._cli", "pretty", "--follow",
                             str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=ENV)
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        assert proc.stdout.readline().startswith(b"20:00:00.000 DEBUG  a ")
        with path.open("ab") as f:
            f.write(LINES[2][:30])  # half a line is not shown until its end arrives
            f.flush()
            os.fsync(f.fileno())
            f.write(LINES[2][30:] + b"\n")
        assert proc.stdout.readline() == \
            b"20:00:00.500 WARN   c  customerId=C-1 httpStatus=404\n"
        path.write_bytes(LINES[1] + b"\n")  # truncated and rewritten: read from the start
        assert proc.stdout.readline().startswith(b"20:10:00.000 INFO   b ")
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
