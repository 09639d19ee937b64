"""logstd._jsonc accepts and rejects what orjson.loads does, and returns equal objects.

The streaming CLIs decode with ``logstd._jsonc`` where it is built (it spares them
orjson's import) and with orjson otherwise, so a line must mean the same to both: the
tests compare the two on hand-picked edge cases, on random JSON documents, on random
bytes and on documents with bytes flipped.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from _compiled import compiled
from hypothesis import given, settings
from hypothesis import strategies as st

from logstd import _json


def _module() -> Any:
    return compiled("logstd._jsonc", "the CLIs decode with orjson")


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 and 1.0 differ; -0.0 and 0.0 differ).

    Iterative: the documents nest 1024 deep."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            if math.copysign(1.0, x) != math.copysign(1.0, y) or x != y:
                return False
        elif isinstance(x, dict):
            if list(x) != list(y):
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif x != y:
            return False
    return True


def _agree(data: bytes | str) -> None:
    jsonc = _module()
    try:
        want: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        want = orjson.JSONDecodeError
    try:
        got: Any = jsonc.loads(data)
    except jsonc.JSONDecodeError:
        got = orjson.JSONDecodeError
    if want is orjson.JSONDecodeError or got is orjson.JSONDecodeError:
        assert got is want, (data, want, got)
    else:
        assert _same(got, want), (data, want, got)


EDGES = [
    b"{}", b"[]", b"0", b"-0", b"-0.0", b"0.0", b"1", b"-1", b"1.5", b"1e5", b"1E5", b"1e+5",
    b"1e-5", b"0e0", b"-0e0", b"1e-7", b"0.1", b"0.000123", b"123.456e-3", b"2.5E+10",
    b"18446744073709551615", b"18446744073709551616", b"99999999999999999999",
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
    b"-9223372036854775809", b"-18446744073709551615", b"1234567890123456789",
    b"12345678901234567890", b"123456789012345678901234567890.5", b"9007199254740993",
    b"9007199254740993.0", b"0.30000000000000004", b"1.7976931348623157e308",
    b"1.7976931348623159e308", b"1e308", b"1e309", b"1e400", b"-1e400", b"1e-400",
    b"4.9e-324", b"2.4e-324", b"1e22", b"1e23", b"123456789012345.6789",
    b"0.0000000000000000000000001", b"1." b"", b".5", b"01", b"-01", b"-", b"+1", b"1.0e",
    b"1e", b"1e+", b"--1", b"0x10", b"NaN", b"Infinity", b"-Infinity", b"nan",
    b"true", b"false", b"null", b"tru", b"nul", b"truex", b"True",
    b'""', b'"a"', b'"\\"\\\\\\/\\b\\f\\n\\r\\t"', b'"\\u00e9"', b'"\\u0000"', b'"\\uD83D\\uDE00"',
    b'"\\ud83d\\ude00"', b'"\\ud800"', b'"\\udc00"', b'"\\udc00\\ud800"', b'"\\ud800\\u0041"',
    b'"\\ud800\\\\"', b'"\\u12"', b'"\\u12g4"', b'"\\x"', b'"\\', b'"abc', b'"\x01"', b'"\t"',
    b'"\x7f"', b'"\xff"', b'"\xc3\xa9"', b'"\xc3"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"',
    b'"\xc0\x80"', b'"\xe2\x82\xac"', b'"\xf0\x9f\x98\x80"', b"\xef\xbb\xbf{}",
    b'{"a":1,"a":2,"b":3}', b'{"a" : [ true , false , null ] }', b"[1,]", b'{"a":1,}',
    b"[,1]", b"{,}", b'{"a"}', b'{"a":}', b'{"a" 1}', b"{1:2}", b"[1 2]", b'{"a":1 "b":2}',
    b' {"a":1} ', b'{"a":1}\n', b"\t{}\r\n", b"\x0c{}", b"{}x", b"{}{}", b"", b"  ", b"\n",
    b'{"message":"caf\xc3\xa9","n":-12.5e-1,"ok":true,"x":null,"l":[1,[2,[3]]]}',
    b"[" * 1024 + b"]" * 1024, b"[" * 1025 + b"]" * 1025,
    b'{"a":' * 1024 + b"1" + b"}" * 1024, b'{"a":' * 1025 + b"1" + b"}" * 1025,
    "{\"é\":1}", "\"\ud800\"", "\"plain\"", "[1, 2.5, \"x\"]",
]


@pytest.mark.parametrize("data", EDGES, ids=range(len(EDGES)))
def test_edge_cases_decode_as_orjson_decodes_them(data: bytes | str) -> None:
    _agree(data)


def test_long_strings_and_escapes_past_the_small_buffers() -> None:
    text = "é\\n" * 500 + "\\ud83d\\ude00" * 50 + "x" * 10_000
    _agree(('{"k":"' + text + '"}').encode())
    _agree(b'{"' + b"k" * 100 + b'":1,"' + b"k" * 100 + b'":2}')  # keys past the key cache
    _agree(b"1" * 70 + b".5")                                     # a number past its buffer


def test_bytearray_and_memoryview_are_read() -> None:
    jsonc = _module()
    assert jsonc.loads(bytearray(b'{"a":[1]}')) == {"a": [1]}
    assert jsonc.loads(memoryview(b'{"a":[1]}')) == {"a": [1]}
    with pytest.raises(jsonc.JSONDecodeError):
        jsonc.loads(12)


def test_the_cli_decoder_is_the_compiled_one_where_built() -> None:
    jsonc = _module()
    assert _json.loads is jsonc.loads
    assert issubclass(_json.JSONDecodeError, ValueError)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(json_values, st.booleans())
def test_random_documents_decode_alike(value: Any, as_text: bool) -> None:
    import json

    text = json.dumps(value, ensure_ascii=not as_text)
    _agree(text if as_text else text.encode("utf-8", "surrogatepass"))


@settings(max_examples=400, deadline=None)
@given(json_values, st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)),
                             min_size=1, max_size=4))
def test_documents_with_flipped_bytes_are_accepted_or_rejected_alike(
        value: Any, flips: list[tuple[int, int]]) -> None:
    import json

    data = bytearray(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    for at, byte in flips:
        data[at % len(data)] = byte
    _agree(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_are_accepted_or_rejected_alike(data: bytes) -> None:
    _agree(data)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(rb"\A-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,4})?\Z"))
def test_random_numbers_decode_alike(data: bytes) -> None:
    _agree(data)
