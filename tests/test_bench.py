"""`gan-playground bench`: it runs, writes the promised JSON, and its ratios are sane numbers.
Speed itself is never asserted here (the machines are shared and noisy)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from playground import bench
from playground.bench.common import interleaved, paired_ratio, rates
from playground.bench.learning import curve_agreement, curve_distance
from playground.bench.overhead import plain_step
from playground.cli import main
from playground.data.loading import load_dataset
from playground.settings.fields import LOSSES
from playground.settings.presets import preset

OVERHEAD_KEYS = {
    "config",
    "device",
    "plain_steps_per_s",
    "trainer_steps_per_s",
    "run_steps_per_s",
    "ratio_trainer_vs_plain",
    "ratio_run_vs_plain",
    "snapshot_polls",
}
MULTIRUN_KEYS = {
    "config",
    "members",
    "one_run_steps_per_s",
    "batched_steps_per_s",
    "time_ratio_batched_vs_one",
    "speedup_vs_separate",
}


def positive_finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    """One tiny-budget quick run of every section but the (seconds-a-step) DCGAN 64 px one."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    argv = [
        "bench",
        "--quick",
        "--threads",
        "1",
        "--budget",
        "0.03",
        "--only",
        "ui,overhead,multirun,memory",
        "--json",
        str(out),
    ]
    status = main(argv)
    results = json.loads(out.read_text())
    # the exit status says whether a target fell short (tiny blocks: either can happen here)
    assert status == (1 if bench.shortfalls(results["targets"]) else 0)
    return results


def test_quick_bench_writes_every_section(quick_results, capsys):
    r = quick_results
    assert r["mode"] == "quick"
    assert {"machine", "targets", "ui", "overhead", "multirun", "memory"} <= set(r)
    assert {"cpu", "cores", "torch", "torch_threads"} <= set(r["machine"])
    assert [row["config"] for row in r["overhead"]] == ["ring8-stable", "digits-dcgan"]
    for row in r["overhead"]:
        assert OVERHEAD_KEYS <= set(row)
        for key in OVERHEAD_KEYS - {"config", "device", "snapshot_polls"} | {
            "cpu_ratio_run_vs_plain",
            "cpu_ratio_trainer_vs_plain",
        }:
            assert positive_finite(row[key]), (row["config"], key, row[key])
        assert row["snapshot_polls"] >= 1  # the consumer really polled while the Run trained
    # Six seeds, and one member per loss in the losses registry (which grows with new losses).
    members = {"ring8-stable, 6 seeds": 6, f"ring8-stable, {len(LOSSES)} losses": len(LOSSES)}
    assert [row["config"] for row in r["multirun"]][:2] == list(members)
    for row in r["multirun"]:
        assert MULTIRUN_KEYS <= set(row) and row["members"] == members.get(row["config"], 6)
        for key in MULTIRUN_KEYS - {"config", "members"}:
            assert positive_finite(row[key]), (row["config"], key)


def test_quick_bench_ui_and_memory_figures(quick_results):
    ui = quick_results["ui"]
    assert {(f["config"], f["when"]) for f in ui["first_update"]} == {
        (name, when) for name in ("ring8-stable", "digits-dcgan") for when in ("cold", "warm")
    }
    assert all(positive_finite(f["seconds"]) for f in ui["first_update"])
    assert [f["when"] for f in ui["first_picture"]] == ["warm"]  # --quick: no fresh processes
    assert all(positive_finite(f["seconds"]) for f in ui["first_picture"])
    assert positive_finite(ui["slider"]["total_ms"])
    assert ui["slider"]["generate_ms"] <= ui["slider"]["total_ms"]
    assert ui["figures"]["figures"] == 4 and ui["figures"]["history_points"] > 900
    assert positive_finite(ui["figures"]["build_ms"])
    mem = quick_results["memory"]
    assert mem["history_points"] <= mem["history_capacity"]
    assert mem["frames"] <= mem["max_frames"]
    statuses = {t["status"] for t in quick_results["targets"]}
    assert statuses <= {"met", "not met", "not measurable here"}


def test_the_table_is_printed(quick_results):
    table = bench.format_table(quick_results)
    for heading in ("1. Overhead", "3. Many runs", "4. UI costs", "5. Memory", "Targets"):
        assert heading in table


def test_image_throughput_on_a_tiny_dcgan():
    row = bench.image_throughput(
        torch.device("cpu"), bench.QUICK.scaled(0.01), batch=4, size=32, width=8, latent=8
    )
    assert row["batch_size"] == 4
    for key in ("plain_images_per_s", "engine_images_per_s", "ratio_engine_vs_plain"):
        assert positive_finite(row[key])


def test_learning_curves_of_three_ways_and_their_picture():
    """The learning comparison's plumbing, on a CPU (where both engine ways are one and the
    same computation, so their curves must agree exactly, seed for seed)."""
    result = bench.learning(torch.device("cpu"), 80, seeds=2, batch=8, size=32, width=8, latent=8)
    assert result["steps"] == 80 and result["seeds"] == 2
    assert set(result["curves"]) == {"plain", "engine_eager", "engine"}
    for curve in result["curves"].values():
        assert len(curve["d_loss"]) == len(curve["g_loss"]) == 8
        assert all(positive_finite(v) for v in curve["d_loss"] + curve["g_loss"])
    assert result["runs"]["engine"] == result["runs"]["engine_eager"]
    assert result["runs"]["engine"][0] != result["runs"]["engine"][1]  # two seeds
    agreement = result["agreement"]
    assert agreement["agree"] and agreement["fast_vs_eager_median"] <= (
        agreement["eager_vs_eager_max"]
    )
    png = bench.learning_png(result)
    assert png.startswith(b"\x89PNG") and len(png) > 1000


def test_curve_distance_judges_level_and_spread_per_quarter():
    base = [1.0, 3.0] * 20  # mean 2, sd 1 in every quarter
    same = {"d_loss": base, "g_loss": base}
    assert curve_distance(same, same) == 0.0
    out_of_phase = {"d_loss": [3.0, 1.0] * 20, "g_loss": base}
    assert curve_distance(out_of_phase, same) == 0.0  # oscillations need not align
    shifted = {"d_loss": base[:30] + [v + 0.8 for v in base[30:]], "g_loss": base}
    assert curve_distance(shifted, same) == pytest.approx(0.8)
    calmer = {"d_loss": [1.8, 2.2] * 20, "g_loss": base}  # sd 0.2: spread 5x smaller
    assert curve_distance(calmer, same) == pytest.approx(math.log(5))
    near = {"d_loss": base[:30] + [v + 0.1 for v in base[30:]], "g_loss": base}
    verdict = curve_agreement([near, near], [same, shifted])
    assert verdict["agree"]  # 0.1 and 0.7 from the eager runs, which are 0.8 apart
    assert not curve_agreement([calmer], [same, shifted])["agree"]


def test_gpu_targets_are_judged_from_the_figures():
    results = {
        "overhead": [
            dict(config="ring8-stable", device="cuda", ratio_run_vs_plain=9.0,
                 ratio_run_vs_trainer=0.9, ratio_trainer_vs_plain=3.5,
                 ratio_trainer_vs_eager=3.0),
        ],
        "images": [dict(device="cuda", ratio_engine_vs_plain=1.9)],
        "learning": {"steps": 100, "seeds": 2, "agreement": {
            "fast_vs_eager_median": 0.9, "eager_vs_eager_max": 0.5, "agree": False}},
        "multirun": [dict(config="x", device="cuda", members=6, time_ratio_batched_vs_one=1.5,
                          cpu_time_ratio_batched_vs_one=5.0)],
    }
    found = {t["target"]: t["status"] for t in bench.targets(results, torch.device("cuda"))}
    assert found["overhead ratio >= 0.97 (ring8-stable, CUDA)"] == "not met"  # Run/Trainer 0.9
    assert found["GPU ring8 MLP steps/s >= 3x the eager loop"] == "met"
    assert found["GPU DCGAN 64 px images/s >= 2x the plain eager fp32 loop"] == "not met"
    learning = [k for k in found if k.startswith("GPU fast paths: same learning")]
    assert [found[k] for k in learning] == ["not met"]  # further apart than two seeds are
    assert found["N=6 batched <= 2x one run's wall time (x, CUDA)"] == "met"
    assert "not measurable here" not in found.values()


def test_the_plain_loop_trains_and_refuses_what_it_is_not(tiny_cfg):
    cfg = tiny_cfg()
    data = load_dataset(cfg, "cpu")
    step = plain_step(cfg, data, torch.device("cpu"))
    step()  # runs
    with pytest.raises(ValueError, match="non-saturating"):
        plain_step(tiny_cfg(loss="hinge"), data, torch.device("cpu"))
    with pytest.raises(ValueError):
        plain_step(tiny_cfg(d_steps=2), data, torch.device("cpu"))


def test_interleaving_alternates_and_pairs_rounds():
    calls = []

    def variant(name):
        def block(seconds):
            calls.append(name)
            return 10, 1.0

        return block

    samples = interleaved(
        {"a": variant("a"), "b": variant("b")}, rounds=3, block_s=0.0
    )
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then A B, B A, A B
    assert [s.steps for s in samples["a"]] == [10] * 3 and len(samples["b"]) == 3
    assert rates(samples["a"]) == [10.0] * 3
    assert all(s.cpu >= 0 for s in samples["a"])
    assert paired_ratio([2.0, 4.0, 9.0], [1.0, 2.0, 3.0]) == 2.0


def test_targets_are_judged_from_the_figures():
    results = {
        "overhead": [
            dict(
                config="ring8-stable",
                device="cpu",
                ratio_run_vs_plain=0.99,
                ratio_trainer_vs_plain=0.95,
            ),
        ],
        "multirun": [dict(config="x", members=6, time_ratio_batched_vs_one=2.5)],
        "ui": {
            "first_update": [
                dict(config="ring8-stable", when="cold", seconds=0.5, shown_by_page_s=1.0)
            ],
            "slider": dict(total_ms=150.0),
        },
        "memory": dict(steps=10, growth_after_warmup_mb=3.0),
    }
    found = {t["target"]: t["status"] for t in bench.targets(results, torch.device("cpu"))}
    assert found["overhead ratio >= 0.97 (ring8-stable, CPU)"] == "met"
    assert found["CPU ring8 MLP: engine no slower than the plain loop"] == "not met"
    assert found["slider move <= 100 ms server-side (digits, CPU)"] == "not met"
    assert "not measurable here" in found.values()  # the GPU targets, on a CPU machine


def _judged(monkeypatch, results: dict) -> None:
    """Make `bench` report these figures instead of measuring."""
    def run_bench(**_):
        return {**results, "targets": bench.targets(results, torch.device("cpu"))}

    monkeypatch.setattr(bench, "run_bench", run_bench)
    monkeypatch.setattr(bench, "format_table", lambda r: "table")


def test_a_target_that_falls_short_makes_bench_exit_1(monkeypatch, capsys):
    slow = {
        "ui": {"slider": dict(total_ms=150.0)},
        "memory": dict(steps=10, growth_after_warmup_mb=3.0),
    }
    _judged(monkeypatch, slow)
    assert main(["bench", "--quick"]) == 1
    err = capsys.readouterr().err
    assert "target not met: slider move <= 100 ms server-side (digits, CPU)" in err
    _judged(monkeypatch, {**slow, "ui": {"slider": dict(total_ms=20.0)}})
    assert main(["bench", "--quick"]) == 0
    assert "target not met" not in capsys.readouterr().err


def test_a_known_shortfall_shows_as_not_met_without_failing(monkeypatch, capsys):
    """The CPU batched target is known to be out of reach (BENCHMARKS.md): it reads 'not met'
    with its reason, and only a shortfall with no known reason fails the exit status."""
    batched = {"multirun": [dict(config="x", members=6, time_ratio_batched_vs_one=5.0,
                                 cpu_time_ratio_batched_vs_one=5.0, device="cpu")]}
    (row,) = [t for t in bench.targets(batched, torch.device("cpu")) if "batched" in t["target"]]
    assert row["status"] == "not met" and row["known"] and "BENCHMARKS.md" in row["why"]
    _judged(monkeypatch, batched)
    assert main(["bench", "--quick"]) == 0
    gpu = {"multirun": [{**batched["multirun"][0], "device": "cuda"}]}
    (row,) = [t for t in bench.targets(gpu, torch.device("cpu")) if "batched" in t["target"]]
    assert row["status"] == "not met" and not row.get("known")


def _quick_overhead_bench(monkeypatch, ratios: list[float]) -> dict:
    """The results of a --quick bench of the overhead section whose successive overhead
    measurements read `ratios` (Run/plain, both clocks)."""
    rows = iter(ratios)

    def fake_overhead(name, cfg, where, budget, data=None):
        ratio = next(rows)
        return dict(config=name, device="cpu", ratio_run_vs_plain=ratio,
                    cpu_ratio_run_vs_plain=ratio, ratio_trainer_vs_plain=1.1,
                    cpu_ratio_trainer_vs_plain=1.1)

    monkeypatch.setattr(bench, "overhead", fake_overhead)
    monkeypatch.setattr(bench, "preset", lambda name: preset("ring8-stable"))
    return bench.run_bench(quick=True, block_s=0.03, sections=("overhead",))


def test_quick_mode_measures_a_falling_overhead_row_again(monkeypatch):
    """A short block can catch a busy moment: --quick measures a CPU overhead row that falls
    short once more and keeps the better one."""
    first, *rest = _quick_overhead_bench(monkeypatch, [0.90, 0.99, 1.0])["overhead"]
    assert first["ratio_run_vs_plain"] == 0.99 and first["measured_times"] == 2
    assert all(row.get("measured_times", 1) == 1 for row in rest)


def test_quick_mode_measures_a_falling_row_three_times_at_most_and_keeps_a_shortfall(monkeypatch):
    """Three measurements that all fall short: the best of them is reported, still not met."""
    results = _quick_overhead_bench(monkeypatch, [0.90, 0.95, 0.93, 1.0, 1.0])
    first, *rest = results["overhead"]
    assert first["ratio_run_vs_plain"] == 0.95 and first["measured_times"] == 3
    assert all(row.get("measured_times", 1) == 1 for row in rest)
    row = next(t for t in bench.targets(results, torch.device("cpu"))
               if t["target"] == "overhead ratio >= 0.97 (ring8-stable, CPU)")
    assert row["status"] == "not met" and not row.get("known")


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--only", "nothing"],
        ["bench", "--budget", "0"],
        ["bench", "--threads", "0"],
    ],
)
def test_bad_bench_arguments_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gan-playground: error:") and "Traceback" not in err


def test_budget_scaling_keeps_the_plan():
    scaled = bench.FULL.scaled(bench.FULL.block_s / 10)
    assert scaled.rounds == bench.FULL.rounds
    assert scaled.memory_steps == bench.FULL.memory_steps // 10
    assert preset("ring8-stable").loss == "nonsaturating"  # the plain loop's assumption


def test_quick_mode_skips_what_its_deadline_leaves_no_time_for(monkeypatch):
    monkeypatch.setattr(bench, "QUICK", dataclasses.replace(bench.QUICK, deadline_s=1e-9))
    results = bench.run_bench(quick=True, block_s=0.03, sections=bench.SECTIONS)
    assert results["skipped"] and not results["overhead"] and "memory" not in results
    assert results["machine"]["torch_threads"] == 1  # --quick's default
    assert "Skipped" in bench.format_table(results)


def test_a_capped_long_run_stops_in_time_and_stays_bounded():
    budget = dataclasses.replace(bench.QUICK, memory_steps=10**6, memory_seconds=0.5)
    mem = bench.memory(budget)
    assert 0 < mem["steps"] < mem["planned_steps"] == 10**6
    assert mem["history_points"] <= mem["history_capacity"]
    assert mem["frames"] <= mem["max_frames"]


def test_first_picture_waits_for_a_frame_with_every_2d_layer(monkeypatch):
    from playground.bench import firstpicture

    original = firstpicture.lesson_config
    monkeypatch.setattr(
        firstpicture, "lesson_config", lambda: original().replace(hidden=16, steps=5)
    )
    seen = []
    full = firstpicture._is_full_picture
    monkeypatch.setattr(firstpicture, "_is_full_picture", lambda f: seen.append(f) or full(f))
    assert positive_finite(firstpicture.first_picture())
    last = seen[-1]
    assert last.decision is not None and last.manifold is not None and last.arrows is not None


def test_first_picture_cold_is_measured_in_a_fresh_process():
    from playground.bench import firstpicture

    assert positive_finite(firstpicture.first_picture_cold(warm_up=True, threads=1))


def test_a_slow_cold_start_under_quick_is_reported_but_a_slow_warm_one_fails(monkeypatch, capsys):
    """--quick takes one cold first-update sample on a shared machine: a slow one reads 'not met'
    with its reason without failing the exit status; the warm figure (what a visitor sees after
    the app's start-up warm-up) and the full run's cold figure still gate."""
    def ui(when: str, mode: str) -> dict:
        row = dict(config="digits-dcgan", when=when, seconds=2.7, shown_by_page_s=3)
        return {"mode": mode, "ui": {"first_update": [row]}}

    def judged(when: str, mode: str) -> dict:
        (row,) = [t for t in bench.targets(ui(when, mode), torch.device("cpu"))
                  if t["target"].startswith("first live update")]
        return row

    row = judged("cold", "quick")
    assert row["status"] == "not met" and row["known"] and "warm" in row["why"]
    _judged(monkeypatch, ui("cold", "quick"))
    assert main(["bench", "--quick"]) == 0
    for when, mode in (("warm", "quick"), ("cold", "full")):
        row = judged(when, mode)
        assert row["status"] == "not met" and not row.get("known")
        _judged(monkeypatch, ui(when, mode))
        assert main(["bench", "--quick"]) == 1
    assert "target not met: first live update" in capsys.readouterr().err


def test_the_classroom_target_gates_the_full_run_but_not_quick(monkeypatch):
    """--quick's half-length pool blocks on a shared machine report a short classroom ratio
    without failing; the full run (or a lone run far from the machine's limit) still fails."""
    def room(mode: str) -> dict:
        row = dict(students=30, total_vs_lone=1.9, cpu_total_vs_lone=1.5, roofline_share=0.3)
        return {"mode": mode, "classroom": {"rows": [row], "lone_roofline_share": 0.15}}

    def judged(mode: str) -> dict:
        (row,) = [t for t in bench.targets(room(mode), torch.device("cpu"))
                  if t["target"].startswith("30 pooled students")]
        return row

    quick, full = judged("quick"), judged("full")
    assert quick["status"] == "not met" and quick["known"] and "--quick" in quick["why"]
    assert full["status"] == "not met" and not full.get("known")
    _judged(monkeypatch, room("quick"))
    assert main(["bench", "--quick"]) == 0
    _judged(monkeypatch, room("full"))
    assert main(["bench", "--quick"]) == 1
