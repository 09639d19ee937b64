"""Leaks are judged on every run long enough (not only soak runs); a probable leak makes
``recommend-limits`` refuse (exit 1, slope and window in one line) unless --accept-leak; the
report shows the slope and the verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest._cli import main
from loadtest.analysis import load_run, recommend
from loadtest.leak import MIN_WINDOW_S, describe
from tests.loadtest_helpers import make_run

INTERVAL = 0.5


def _mixed_run(d: Path, mem: list[float]) -> Path:
    """A mixed (not soak) run: no warm-up, one sample every 0.5 s."""
    return make_run(d, [0.2] * len(mem), mem, shape="mixed", warmup_s=0.0)


def _noise(i: int) -> float:
    return (0.3, -0.2, 0.1, -0.3, 0.2)[i % 5]


# 35 s of a service growing 112 MiB/h (the case of issue 23): 0.0156 MiB a sample
LEAKING = [120.0 + 112 / 3600 * INTERVAL * i + _noise(i) / 10 for i in range(70)]
FLAT = [120.0 + _noise(i) for i in range(70)]
# warms up (fills caches) then levels off: growth over the window, but not at its end
WARMING = [120.0 + 20 * (1 - 0.7 ** i) + _noise(i) / 10 for i in range(70)]


def test_a_short_mixed_run_that_grows_is_a_probable_leak(tmp_path: Path) -> None:
    g = recommend(load_run(_mixed_run(tmp_path / "r", LEAKING))).stats["memory_growth"]
    assert g["judged"] is True
    assert g["probable_leak"] is True
    assert g["slope_mib_per_h"] == pytest.approx(112, rel=0.05)
    assert g["window_s"] >= MIN_WINDOW_S
    assert describe(g).startswith(f"{g['slope_mib_per_h']:+.1f} ± ")
    assert "probable leak" in describe(g)


@pytest.mark.parametrize("mem", [FLAT, WARMING], ids=["flat", "warming-up"])
def test_flat_or_levelling_off_is_no_leak(tmp_path: Path, mem: list[float]) -> None:
    g = recommend(load_run(_mixed_run(tmp_path / "r", mem))).stats["memory_growth"]
    assert g["judged"] is True
    assert g["probable_leak"] is False
    assert describe(g).endswith(": no leak")


def test_a_run_too_short_is_not_judged(tmp_path: Path) -> None:
    short = LEAKING[:30]  # 15 s
    g = recommend(load_run(_mixed_run(tmp_path / "r", short)),
                  min_samples=20).stats["memory_growth"]
    assert g["judged"] is False
    assert g["probable_leak"] is False
    assert "not judged" in describe(g)


def test_recommend_limits_refuses_a_leak_in_one_line(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = _mixed_run(tmp_path / "r", LEAKING)
    values = tmp_path / "values.yaml"
    assert main(["recommend-limits", str(run_dir), "-o", str(values)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {run_dir}: probable memory leak: +11")
    assert "MiB/h over a 33.5 s window" in err
    assert "--accept-leak" in err
    assert not values.exists()  # nothing written

    assert main(["recommend-limits", str(run_dir), "-o", str(values), "--accept-leak"]) == 0
    out = capsys.readouterr().out
    assert "memory growth +11" in out
    assert "probable leak" in out
    assert values.exists()


def test_report_shows_the_slope_and_the_verdict(tmp_path: Path) -> None:
    run_dir = _mixed_run(tmp_path / "r", LEAKING)
    html = tmp_path / "report.html"
    assert main(["report", str(run_dir), "-o", str(html)]) == 0
    text = html.read_text()
    assert "memory growth" in text
    assert "MiB/h over a 33.5 s window: probable leak" in text
