"""recommend-limits: the arithmetic (figures worked out by hand), refusals, values file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from loadtest._cli import main
from loadtest.analysis import (
    cpu_millicores,
    load_run,
    loaded_samples,
    memory_mebibytes,
    percentile,
    recommend,
)
from loadtest.errors import RefusedError, RunDirError
from loadtest.values import render_block, write_values
from tests.loadtest_helpers import make_run

# 60 samples every 0.5 s: the first 4 at zero users, then 56 loaded ones.
# Loaded CPU values are 0.01 .. 0.56 cores (shuffled order does not matter), memory 40..95 MiB.
ZERO = 4
CPU = [0.9] * ZERO + [round(0.01 * (i + 1), 2) for i in range(56)]
MEM = [500.0] * ZERO + [40.0 + i for i in range(56)]
USERS = [0] * ZERO + [5] * 56


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "orders-run", CPU, MEM, users=USERS)


def test_percentile_is_nearest_rank() -> None:
    vals = [float(v) for v in range(1, 11)]
    assert percentile(vals, 95) == 10.0   # rank ceil(9.5) = 10
    assert percentile(vals, 50) == 5.0    # rank 5
    assert percentile(vals, 91) == 10.0   # rank ceil(9.1) = 10
    assert percentile(vals, 90) == 9.0


def test_rounding_rules() -> None:
    assert cpu_millicores(0.0) == 10
    assert cpu_millicores(0.1) == 100
    assert cpu_millicores(0.1001) == 110
    assert cpu_millicores(0.15 * 1.5) == 230   # 225m -> 230m
    assert memory_mebibytes(10 * 2**20) == 64
    assert memory_mebibytes(100 * 2**20) == 104
    assert memory_mebibytes(104 * 2**20) == 104


def test_recommendation_arithmetic(run_dir: Path) -> None:
    run = load_run(run_dir)
    # zero-user samples dropped, and the last second of load (2 samples at 0.5 s)
    loaded = loaded_samples(run)
    assert len(loaded) == 54
    rec = recommend(run, min_samples=40)
    # loaded CPU: 0.01..0.54; p95 = rank ceil(51.3) = 52 -> 0.52 x 1.5 = 0.78 -> 780m
    # p99 = rank ceil(53.46) = 54 -> 0.54 x 1.5 = 0.81 -> 810m
    # memory peak 40+53 = 93 MiB x 1.5 = 139.5 -> rounded up to 8 -> 144Mi
    assert rec.resources == {"requests": {"cpu": "780m", "memory": "144Mi"},
                             "limits": {"cpu": "810m", "memory": "144Mi"}}
    assert rec.stats["loaded_samples"] == 54


def test_margin_percentile_and_no_cpu_limit(run_dir: Path) -> None:
    run = load_run(run_dir)
    rec = recommend(run, margin=2.0, request_percentile=50, cpu_limit=False, min_samples=40)
    # p50 = rank 27 -> 0.27 x 2 = 540m; memory 93 x 2 = 186 -> 192Mi
    assert rec.resources == {"requests": {"cpu": "540m", "memory": "192Mi"},
                             "limits": {"memory": "192Mi"}}


def test_warmup_is_dropped(tmp_path: Path) -> None:
    run = load_run(make_run(tmp_path / "r", CPU, MEM, users=USERS, warmup_s=5.0))
    # loaded starts at elapsed 2.5 s; warm-up 5 s drops samples before 7.5 s (10 samples)
    assert len(loaded_samples(run)) == 44
    assert min(s["cpu_cores"] for s in loaded_samples(run)) == pytest.approx(0.11)


def test_oom_bumps_memory(tmp_path: Path) -> None:
    run = load_run(make_run(tmp_path / "r", CPU, MEM, users=USERS, oom_kills=1))
    rec = recommend(run, min_samples=40)
    # 139.5 MiB -> max(239.5, 167.4) = 239.5 -> 240Mi
    assert rec.resources["limits"]["memory"] == "240Mi"


def test_cpu_limit_never_below_request(tmp_path: Path) -> None:
    run = load_run(make_run(tmp_path / "r", [0.2] * 50, [10.0] * 50))
    rec = recommend(run, request_percentile=99, limit_percentile=50, min_samples=40)
    assert rec.cpu_request_m == rec.cpu_limit_m == 300


@pytest.mark.parametrize(("kw", "meta", "message"), [
    ({}, {"status": "target_exited", "message": "target pid 7 exited during the run"},
     "the run did not finish (target pid 7 exited during the run); no recommendation from "
     "a partial run"),
    ({"failures": 100}, {}, "failure ratio 10.0% exceeds 5.0%: the service was saturated "
                            "and its figures would be wrong"),
    ({"requests": 0}, {}, "Locust recorded no requests"),
])
def test_refusals(tmp_path: Path, kw: dict[str, int], meta: dict[str, str], message: str) -> None:
    d = make_run(tmp_path / "r", CPU, MEM, users=USERS, **kw, **meta)
    with pytest.raises(RefusedError) as e:
        recommend(load_run(d), min_samples=40)
    assert str(e.value) == f"{d}: {message}"


def test_too_short_is_refused(tmp_path: Path) -> None:
    d = make_run(tmp_path / "r", [0.1] * 30, [50.0] * 30)
    with pytest.raises(RefusedError) as e:
        recommend(load_run(d))
    assert str(e.value) == (f"{d}: only 28 loaded samples after the warm-up (need at least 40);"
                            " run longer")


def test_bad_run_dirs(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="no such run directory"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirError) as e:
        load_run(tmp_path / "empty")
    assert str(e.value) == f"{tmp_path / 'empty'}: not a loadtest run directory (no metadata.json)"
    d = make_run(tmp_path / "v2", CPU, MEM, version=2)
    with pytest.raises(RunDirError) as e:
        load_run(d)
    assert str(e.value) == (f"{d / 'metadata.json'}: run format version 2 is not supported "
                            "(this loadtest reads version 1)")
    d = make_run(tmp_path / "nosamples", CPU, MEM)
    (d / "samples.csv").unlink()
    with pytest.raises(RunDirError) as e:
        load_run(d)
    assert str(e.value) == f"{d}: incomplete run directory (no samples.csv)"
    d = make_run(tmp_path / "badrow", CPU, MEM)
    with (d / "samples.csv").open("a") as f:
        f.write("1.0,2.0,lots,3,1,5\n")
    with pytest.raises(RunDirError) as e:
        load_run(d)
    assert str(e.value).startswith(f"{d / 'samples.csv'}:62: malformed sample row")


def test_values_file_contract_shape(run_dir: Path, tmp_path: Path, golden) -> None:  # type: ignore[no-untyped-def]
    rec = recommend(load_run(run_dir), min_samples=40)
    out = tmp_path / "values-resources.yaml"
    text = write_values(out, rec)
    assert text.startswith("# Generated by opsplane loadtest recommend-limits; do not edit")
    data = yaml.safe_load(out.read_text())
    assert set(data) == {"resources"}
    res = data["resources"]
    assert set(res) == {"requests", "limits"}
    for part in ("requests", "limits"):
        assert set(res[part]) == {"cpu", "memory"}
        assert res[part]["cpu"].endswith("m")
        assert res[part]["memory"].endswith("Mi")
    golden("loadtest/values-resources.yaml", text)


def test_values_update_keeps_the_rest(run_dir: Path, tmp_path: Path) -> None:
    rec = recommend(load_run(run_dir), min_samples=40)
    out = tmp_path / "values.yaml"
    original = ("# team values\nreplicaCount: 2  # two is enough\n"
                "resources:\n  requests:\n    cpu: 1\n\n# image below\nimage:\n  tag: v1\n")
    out.write_text(original)
    write_values(out, rec)
    first = out.read_text()
    assert first.startswith("# team values\nreplicaCount: 2  # two is enough\n")
    assert first.endswith("\n\n# image below\nimage:\n  tag: v1\n")
    assert yaml.safe_load(first)["resources"] == rec.resources
    assert yaml.safe_load(first)["image"] == {"tag": "v1"}
    write_values(out, rec)  # idempotent: our header is replaced, not stacked
    assert out.read_text() == first
    assert first.count("# Generated by opsplane loadtest") == 1
    assert render_block(rec) in first


def test_values_appended_when_absent(run_dir: Path, tmp_path: Path) -> None:
    rec = recommend(load_run(run_dir), min_samples=40)
    out = tmp_path / "values.yaml"
    out.write_text("replicaCount: 3")
    write_values(out, rec)
    data = yaml.safe_load(out.read_text())
    assert data["replicaCount"] == 3
    assert data["resources"] == rec.resources


def test_cli_table_json_and_values(run_dir: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v.yaml"
    # MEM climbs 1 MiB a sample: a leak, accepted here (tests/test_loadtest_leak.py refuses it)
    assert main(["recommend-limits", str(run_dir), "--accept-leak", "-o", str(out)]) == 0
    table = capsys.readouterr().out
    assert "cpu request        780m  p95 0.5200 cores x 1.5" in table
    assert "memory limit      144Mi  = memory request" in table
    assert yaml.safe_load(out.read_text())["resources"]["limits"]["cpu"] == "810m"
    assert main(["recommend-limits", str(run_dir), "--accept-leak", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["resources"]["requests"] == {"cpu": "780m", "memory": "144Mi"}
    assert doc["statistics"]["cpu_cores"]["p95"] == 0.52


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend-limits", str(tmp_path / "missing")]) == 2  # bad input
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'missing'}: no such run directory\n"
    (tmp_path / "bad.yaml").write_text("a: [\n")
    d = make_run(tmp_path / "r", CPU, MEM, users=USERS)
    assert main(["recommend-limits", str(d), "--accept-leak", "-o",
                 str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {tmp_path / 'bad.yaml'}: not valid YAML; fix it or write "
                   "elsewhere (-o)\n")


def test_soak_memory_growth_flags_a_leak(tmp_path: Path) -> None:
    n = 80
    growing = [50.0 + 0.5 * i + (0.2 if i % 2 else -0.2) for i in range(n)]
    run = load_run(make_run(tmp_path / "leak", [0.1] * n, growing, shape="soak"))
    g = recommend(run, min_samples=40).stats["memory_growth"]
    # 0.5 MiB per 0.5 s sample = 3600 MiB/h
    assert g["slope_mib_per_h"] == pytest.approx(3600, rel=0.01)
    assert g["probable_leak"] is True
    flat = [50.0 + (0.2 if i % 2 else -0.2) for i in range(n)]
    run = load_run(make_run(tmp_path / "flat", [0.1] * n, flat, shape="soak"))
    assert recommend(run, min_samples=40).stats["memory_growth"]["probable_leak"] is False


def test_step_saturation_point(tmp_path: Path) -> None:
    d = make_run(tmp_path / "step", [0.1] * 60, [50.0] * 60, shape="step")
    rows = ["Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,99%"]
    for i, (u, p99) in enumerate([(2, 40), (2, 42), (4, 45), (4, 50), (6, 95), (6, 120),
                                  (8, 400), (8, 500)]):
        rows.append(f"{1_800_000_000 + i},{u},,Aggregated,50,0,5,20,{p99}")
    (d / "locust_stats_history.csv").write_text("\n".join(rows) + "\n")
    # level 2: p99 median 40 (nearest rank of [40, 42]); level 6: 95 > 2 x 40
    assert recommend(load_run(d), min_samples=40).stats["saturation_users"] == 6


def test_report_of_a_bad_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "-o", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'empty'}: not a loadtest run directory (no metadata.json)\n")
    assert not (tmp_path / "r.html").exists()


def test_report_is_deterministic(run_dir: Path, tmp_path: Path) -> None:
    from loadtest.report import render_report

    first = render_report(run_dir, min_samples=40)
    assert first == render_report(run_dir, min_samples=40)
    assert first.count("<svg") == 4
    assert "request = limit 144Mi" in first  # the memory line of the recommendation


def test_pandas_is_imported_by_the_analysis_only() -> None:
    """The analysis runs on pandas; importing loadtest or its CLI does not load it."""
    import subprocess
    import sys

    code = ("import sys, loadtest, loadtest._cli, loadtest.analysis; "
            "assert 'pandas' not in sys.modules, 'pandas at import'; "
            "from loadtest.analysis import percentile; percentile([3.0, 1.0, 2.0], 50); "
            "assert 'pandas' in sys.modules, 'the analysis did not use pandas'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stderr


def test_step_levels_skip_rows_without_numbers(tmp_path: Path) -> None:
    d = make_run(tmp_path / "step", [0.1] * 60, [50.0] * 60, shape="step")
    rows = ["Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,99%"]
    for i, (u, p99, fails) in enumerate([(2, "40", 0), (2, "N/A", 0), ("", "41", 0),
                                         (4, "60", 0), (4, "70", 1), (6, "70", 0)]):
        rows.append(f"{1_800_000_000 + i},{u},,Aggregated,50,{fails},5,20,{p99}")
    rows.append(f"{1_800_000_100},6,GET,/orders,50,0,5,20,900")  # not the Aggregated row
    (d / "locust_stats_history.csv").write_text("\n".join(rows) + "\n")
    # level 4: p99 60 < 2 x 40, failures 1/100 = 1 % (not above); level 6: no trigger either
    assert recommend(load_run(d), min_samples=40).stats["saturation_users"] is None
    rows[5] = f"{1_800_000_004},4,,Aggregated,50,2,5,20,70"  # 2/100 failures: above 1 %
    (d / "locust_stats_history.csv").write_text("\n".join(rows) + "\n")
    assert recommend(load_run(d), min_samples=40).stats["saturation_users"] == 4
