"""The benchmark's classroom section (bench.classroom): simulated students in one shared pool
against a lone run, and the roofline shares. Tiny sizes; behaviour only, never a speed."""

from __future__ import annotations

import dataclasses

import pytest

from playground import bench
from playground.bench import classroom as room
from playground.bench.targets import targets

TINY_BUDGET = dataclasses.replace(bench.QUICK, block_s=0.03, rounds=2)


def test_matmul_rate_and_the_roofline_share():
    rate = room.matmul_rate(room.torch.device("cpu"), seconds=0.0, size=64)
    assert rate["gflop_per_s"] > 0 and rate["repeats"] >= 3 and rate["size"] == 64
    fake = {"gflop_per_s": 10.0}
    assert room.roofline_share(100.0, 2e7, fake) == 0.2  # 2 GFLOP/s of 10


def test_the_step_count_is_the_mlp_arithmetic(tiny_cfg):
    cfg = tiny_cfg(hidden=16, layers=2, latent_dim=2, batch_size=8, d_steps=1, ema=0.0)
    # Per sample: G 2->16->16->2 and D 2->16->16->1, 2·in·out a linear layer.
    g = 2 * (2 * 16 + 16 * 16 + 16 * 2)
    d = 2 * (2 * 16 + 16 * 16 + 16 * 1)
    d_update = 8 * (g + 3 * 2 * d)  # G's fakes (no backward), D forward+backward on two batches
    g_update = 8 * 3 * (g + d)  # G through D, forward and backward
    assert room.step_flops(cfg) == pytest.approx(d_update + g_update, rel=0.02)


def test_the_section_measures_every_class_against_a_lone_run(tiny_cfg):
    cfg = tiny_cfg(steps=10)  # the section trains for ever whatever `steps` says
    result = room.classroom_pool(TINY_BUDGET, (1, 3), cfg=cfg, name="tiny",
                            rate={"gflop_per_s": 1.0, "device": "cpu"})
    assert result["config"] == "tiny" and result["lone_steps_per_s"] > 0
    one, three = result["rows"]
    assert (one["students"], three["students"]) == (1, 3)
    assert one["largest_stack"] == 0, "a class of one is stepped by its own Trainer"
    assert three["largest_stack"] == 3, "three students train as one stack"
    flops = room.step_flops(cfg.replace(steps=room.NEVER))
    for row in (one, three):
        assert row["member_steps_per_s"] > 0 and row["total_vs_lone"] > 0
        assert row["cpu_total_vs_lone"] > 0 and row["rejoin_round_ms"] > 0
        assert row["per_student_vs_lone"] == pytest.approx(
            row["total_vs_lone"] / row["students"], rel=1e-3)
        assert row["roofline_share"] == pytest.approx(
            row["member_steps_per_s"] * flops / 1e9, rel=1e-3, abs=1e-4)


def test_a_pool_block_counts_every_members_steps_and_leaves_them_paused(tiny_cfg):
    cfg = tiny_cfg(steps=room.NEVER)
    data = room.load_dataset(cfg, room.torch.device("cpu"))
    block = room.PoolBlock([cfg.replace(seed=s) for s in range(4)], data, "gan-pool-block-test")
    try:
        before = [m.trainer.step for m in block.members]
        done, seconds = block(0.05)
        after = [m.trainer.step for m in block.members]
        # The rejoining round is timed apart: the block counts the steady state after it.
        assert 0 < done <= sum(after) - sum(before) - len(block.members) and seconds > 0
        assert len(block.rejoin_s) == len(block.cpu_s) == 1
        assert all(a > b for a, b in zip(after, before, strict=True)), "every member stepped"
        assert all(m.status == "paused" for m in block.members)
        assert [m.trainer.step for m in block.members] == after, "nothing steps between blocks"
    finally:
        block.close()
    assert all(not m.alive for m in block.members)


def test_only_classroom_runs_the_section_and_prints_its_table(tiny_cfg, monkeypatch):
    monkeypatch.setattr(bench, "CLASSROOM_STUDENTS", (1, 2))
    monkeypatch.setattr(room, "preset", lambda name: tiny_cfg())
    assert bench.parse_sections("classroom") == ("classroom",)
    results = bench.run_bench(quick=True, block_s=0.03, sections=bench.parse_sections("classroom"))
    assert [r["students"] for r in results["classroom"]["rows"]] == [1, 2]
    assert results["matmul"]["cpu"]["gflop_per_s"] > 0
    assert "overhead" not in results and not results["skipped"]
    table = bench.format_table(results)
    assert "3b. Classroom" in table and "Roofline:" in table


def thirty(total: float, cpu: float, lone_share: float) -> dict:
    row = dict(students=30, total_vs_lone=total, cpu_total_vs_lone=cpu, roofline_share=0.5)
    return {"classroom": {"rows": [row], "lone_roofline_share": lone_share}}


@pytest.mark.parametrize(
    "total, cpu, lone_share, status, known",
    [
        (2.0, 1.9, 0.1, "met", False),
        (2.0, 1.5, 0.1, "not met", False),  # both clocks must agree
        (1.2, 1.2, 0.1, "not met", False),  # far from the roofline: a real shortfall
        (1.2, 1.2, 0.4, "not met", True),  # arithmetic-bound: known, does not fail the exit
    ],
)
def test_the_thirty_students_target(total, cpu, lone_share, status, known):
    found = [t for t in targets(thirty(total, cpu, lone_share), room.torch.device("cpu"))
             if t["target"].startswith("30 pooled students")]
    assert len(found) == 1
    assert found[0]["status"] == status and bool(found[0].get("known")) == known
    assert (found[0] in bench.shortfalls(found)) == (status == "not met" and not known)
