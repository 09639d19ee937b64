"""opsplane test reports: JUnit XML parsed, JSON, self-contained HTML rendered by Chromium."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from apps.blackbox_server import serve
from conftest import require_tool

import opsplane.testing.blackbox as bb
from opsplane.testing.blackbox.environment import parse_environment
from opsplane.testing.blackbox.reports import GENERATOR

COLLECTIONS = Path(__file__).resolve().parent / "apps" / "collections"
TOKEN = "rep0rt-secret-Value-77"


@pytest.fixture(scope="module")
def results() -> Iterator[tuple[bb.RunResult, bb.RunResult]]:
    """One passing run (2 iterations) and one failing run of the test collections."""
    with serve({"APP_TOKEN": TOKEN}) as base:
        os.environ["RUNNER_REPORT_TOKEN"] = TOKEN
        try:
            env = parse_environment({"baseUrl": base, "variables": {"customerId": "C-1010"},
                                     "secrets": {"token": {"env": "RUNNER_REPORT_TOKEN"}}})
            good = bb.run(bb.load_collection(COLLECTIONS / "test.pass.yaml"), env,
                          iterations=2, source="test.pass.yaml")
            bad = bb.run(bb.load_collection(COLLECTIONS / "test.fail.yaml"), env,
                         source="test.fail.yaml")
        finally:
            del os.environ["RUNNER_REPORT_TOKEN"]
        yield good, bad


def test_junit_xml_parses_and_counts_match(results: tuple[bb.RunResult, bb.RunResult]) -> None:
    good, bad = results
    for run, failures in ((good, 0), (bad, 5)):
        text = bb.render_report(run, "junit")
        assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!-- ' + GENERATOR)
        root = ET.fromstring(text)
        suite = root.find("testsuite")
        assert suite is not None
        cases = suite.findall("testcase")
        assert len(cases) == len(run.results) == int(suite.get("tests", "-1"))
        assert int(root.get("failures", "-1")) == failures == len(
            [c for c in cases if c.find("failure") is not None])
        assert int(suite.get("errors", "-1")) == 0
    root = ET.fromstring(bb.render_report(good, "junit"))
    assert [c.get("name") for c in root.iter("testcase")][:2] == ["readiness #1", "create item #1"]
    failure = ET.fromstring(bb.render_report(bad, "junit")).find(".//testcase/failure")
    assert failure is not None
    assert failure.get("message") == "status: expected 200, got 201"
    assert failure.get("type") == "AssertionFailed"
    assert "$.name: expected \"widget\", got \"gadget\"" in (failure.text or "")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["collection"] == "test.pass.yaml"
    assert props["iterations"] == "2"


def test_junit_errors_for_requests_without_response(tmp_path: Path) -> None:
    col = tmp_path / "test.x.yaml"
    col.write_text("name: x\nrequests:\n  - {name: a, url: /a}\n")
    from apps.blackbox_server import free_port

    run = bb.run(bb.load_collection(col),
                 parse_environment({"baseUrl": f"http://127.0.0.1:{free_port()}"}))
    root = ET.fromstring(bb.render_report(run, "junit"))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "1")
    error = root.find(".//testcase/error")
    assert error is not None
    assert error.get("message") == "connection refused"


def test_json_report(results: tuple[bb.RunResult, bb.RunResult]) -> None:
    _, bad = results
    data = json.loads(bb.render_report(bad, "json"))
    assert data["generator"] == GENERATOR
    assert data["summary"]["ok"] is False
    assert (data["summary"]["requests"], data["summary"]["failed"]) == (5, 5)
    first = data["results"][0]
    assert first["failures"][0] == {"check": "status", "expected": "200", "actual": "201"}
    assert first["response"].startswith('{"id":"I-')


def test_reports_are_written_atomically(results: tuple[bb.RunResult, bb.RunResult],
                                        tmp_path: Path) -> None:
    good, _ = results
    path = bb.write_report(good, "json", tmp_path / "sub" / "r.json")
    assert json.loads(path.read_text())["summary"]["requests"] == 12
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.json"]
    with pytest.raises(bb.CollectionError, match=r"unknown report format 'pdf' \(choose junit"):
        bb.render_report(good, "pdf")


def test_html_report_is_self_contained(results: tuple[bb.RunResult, bb.RunResult]) -> None:
    _, bad = results
    page = bb.render_report(bad, "html")
    assert page.startswith("<!DOCTYPE html>\n<!-- " + GENERATOR)
    for external in ("src=", "href=", "url(", "@import", "<script", "<link", "//cdn"):
        assert external not in page, external
    assert page.count('<tr class="failed">') == 5
    assert "status: expected 200, got 201" in page
    assert "&quot;widget&quot;" in page, "values are escaped"


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into rows of pixel bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8
            assert color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) \
                    & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, bpp, rows


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    exe = require_tool("chromium")
    proc = subprocess.Popen(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
         f"--user-data-dir={profile}", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_html_report_renders_in_headless_chromium(
        results: tuple[bb.RunResult, bb.RunResult], tmp_path: Path) -> None:
    _, bad = results
    page = tmp_path / "report.html"
    bb.write_report(bad, "html", page)
    shot = tmp_path / "report.png"
    done = _chromium([f"--screenshot={shot}", "--window-size=1200,900", page.as_uri()],
                     tmp_path / "profile")
    assert shot.exists(), done.stderr[-2000:]
    if os.environ.get("RUNNER_KEEP_SCREENSHOT"):  # to look at it: RUNNER_KEEP_SCREENSHOT=x.png
        Path(os.environ["RUNNER_KEEP_SCREENSHOT"]).write_bytes(shot.read_bytes())
    width, bpp, rows = _png_pixels(shot.read_bytes())
    assert (width, len(rows)) == (1200, 900)
    pixels = {row[i:i + 3] for row in rows[::4] for i in range(0, len(row), bpp * 4)}
    assert len(pixels) > 20, "the page rendered more than a blank canvas"
    red = bytes.fromhex("cf222e")  # the FAILED badge and failed outcomes
    assert red in pixels


def test_no_secret_in_any_report(results: tuple[bb.RunResult, bb.RunResult]) -> None:
    for run in results:
        for fmt in ("junit", "html", "json"):
            assert TOKEN not in bb.render_report(run, fmt)


def _fixed_result() -> bb.RunResult:
    """A run with fixed timings, so its reports can be golden files."""
    failure = bb.Failure("status", "201", "500")
    run = bb.RunResult("orders smoke", "test.smoke.yaml", "local", "http://127.0.0.1:8080", 1, 1,
                       ("smoke",), duration_s=0.25)
    run.results += [
        bb.RequestResult("readiness", 0, 1, "GET", "http://127.0.0.1:8080/healthz/readiness",
                         ("smoke",), 200, 12.5, excerpt='{"status":"pass"}'),
        bb.RequestResult("create order", 1, 1, "POST", "http://127.0.0.1:8080/orders",
                         ("smoke",), 500, 40.0, (failure,),
                         excerpt='{"error":{"code":"INTERNAL","message":"<db> & co"}}'),
        bb.RequestResult("read order", 2, 1, "GET", "http://127.0.0.1:8080/orders/{{orderId}}",
                         ("smoke",), None, 0.0,
                         error="variable {{orderId}} has no value (its capture failed earlier)"),
    ]
    return run


@pytest.mark.parametrize("fmt", ["junit", "html", "json"])
def test_reports_are_deterministic(fmt: str, golden) -> None:  # type: ignore[no-untyped-def]
    text = bb.render_report(_fixed_result(), fmt)
    assert text == bb.render_report(_fixed_result(), fmt)
    golden(f"runner/report.{ {'junit': 'xml'}.get(fmt, fmt) }", text)


def test_console_report_for_a_fixed_run(golden) -> None:  # type: ignore[no-untyped-def]
    from opsplane.testing.blackbox.reports import text_report

    golden("runner/console.txt", text_report(_fixed_result()))
