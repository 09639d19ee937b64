"""Profiles and shapes as data: shape ticks, the collection reader, option checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.errors import LoadtestError
from loadtest.profiles import read_collection, shape_tick
from loadtest.run import RunOptions, parse_duration, profile_config


def test_shapes() -> None:
    assert shape_tick("ramp", 0, 10, 2, 100) == (1, 10)
    assert shape_tick("ramp", 30, 10, 2, 100) == (5, 10)
    assert shape_tick("ramp", 80, 10, 2, 100) == (10, 10)
    assert [shape_tick("step", t, 8, 2, 100) for t in (0, 30, 60, 99)] == [
        (2, 8), (4, 8), (6, 8), (8, 8)]
    assert [shape_tick("spike", t, 10, 2, 100) for t in (10, 45, 70)] == [
        (2, 10), (10, 10), (2, 10)]
    assert shape_tick("soak", 50, 10, 2, 100) == (10, 2)
    for shape in ("ramp", "step", "spike", "soak"):
        assert shape_tick(shape, 100, 10, 2, 100) is None  # the run ends on time
    with pytest.raises(LoadtestError, match="unknown shape 'wave'"):
        shape_tick("wave", 1, 10, 2, 100)


def test_read_collection_uses_the_runner_format(tmp_path: Path) -> None:
    c = tmp_path / "test.replay.yaml"
    c.write_text(
        "version: 1\nname: replay\nvariables: {customerId: C-1}\nheaders: {X-Api-Key: '{{k}}'}\n"
        "requests:\n"
        "  - name: create\n    method: post\n    url: 'http://localhost:8080/orders'\n"
        "    json: {customerId: '{{customerId}}'}\n    capture: {orderId: $.id}\n"
        "  - name: read\n    url: '/orders/{{orderId}}'\n")
    e = tmp_path / "env.local.yaml"
    e.write_text("baseUrl: http://127.0.0.1:1\nvariables: {k: key-1, customerId: C-2}\n")
    data = read_collection(c, e)
    assert data["variables"] == {"customerId": "C-2", "k": "key-1"}
    assert data["headers"] == {"X-Api-Key": "{{k}}"}
    assert [(r["name"], r["method"], r["url"], r["capture"]) for r in data["requests"]] == [
        ("create", "POST", "/orders", {"orderId": "$.id"}),
        ("read", "GET", "/orders/{{orderId}}", {})]
    assert data["requests"][0]["json"] == {"customerId": "{{customerId}}"}


def test_read_collection_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("{}")
    with pytest.raises(LoadtestError) as e:
        read_collection(bad)
    assert str(e.value).startswith(f"{bad}")
    assert "\n" not in str(e.value)
    with pytest.raises(LoadtestError, match=r"none\.yaml"):
        read_collection(tmp_path / "none.yaml")


def test_durations() -> None:
    assert parse_duration("45") == 45
    assert parse_duration("45s") == 45
    assert parse_duration("2m") == 120
    assert parse_duration("1h30m") == 5400
    with pytest.raises(LoadtestError):
        parse_duration("")


def _opts(**kw: object) -> RunOptions:
    base: dict[str, object] = {"profile": "mixed", "users": 2, "spawn_rate": 1.0,
                               "duration": 5.0, "target": "http://127.0.0.1:1"}
    base.update(kw)
    return RunOptions(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "message"), [
    ({"paths": {"basket": "/b"}}, "--path 'basket': known paths are orders, order, cancel, ping"),
    ({"weights": {"browse": 1}}, "load weight 'browse': known tasks are list_orders, "
                                 "get_order, create_order, cancel_order, ping"),
    ({"weights": {"ping": 0}}, "mixed profile: every load weight is 0"),
    ({"profile": "replay"}, "--profile replay needs --collection FILE"),
    ({"users": 0}, "--users, --spawn-rate and --duration must be positive"),
])
def test_option_errors(kw: dict[str, object], message: str) -> None:
    with pytest.raises(LoadtestError) as e:
        profile_config(_opts(**kw))
    assert str(e.value) == message


def test_spec_weights_and_paths() -> None:
    cfg = profile_config(_opts(weights={"create_order": 3, "ping": 1},
                               paths={"orders": "/api/orders"}))
    assert cfg.weights == {"create_order": 3, "ping": 1}
    assert cfg.paths["orders"] == "/api/orders"
    assert cfg.paths["ping"] == "/healthz/ping"


def test_public_surface() -> None:
    import loadtest

    assert loadtest.__all__ == [
        "PROFILES", "SHAPES", "LoadtestError", "Recommendation", "RefusedError", "Run",
        "RunDirError", "RunOptions", "RunResult", "WorkerOptions", "WorkerResult", "load_run",
        "read_collection", "recommend", "render_block", "render_report", "run_load",
        "run_workers", "write_report", "write_values"]
    for name in loadtest.__all__:
        assert getattr(loadtest, name) is not None


def test_run_dir_must_be_new(tmp_path: Path) -> None:
    import os

    from loadtest.run import run_load

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "samples.csv").write_text("x")
    with pytest.raises(LoadtestError) as e:
        run_load(_opts(pid=os.getpid(), out=str(tmp_path / "old")))
    assert str(e.value) == f"{tmp_path / 'old'}: run directory exists and is not empty"
