"""Section classroom: a class of N students on one server, simulated. N runs of ring8-stable's
config (one seed each, the same shape) train in one runs.pool.Pool on the CPU, as N visitors'
runs do (runs.backends makes them pool members), against a lone run measured in the same
interleaved rounds; and the roofline, the share of the machine's measured fp32 matmul rate that
a row's arithmetic reaches.

The roofline: the machine's fp32 matmul FLOP/s is measured once per device with torch.matmul on
square matrices (the best of a few repeats: what the machine can do when nothing else is in
the way), and a step's FLOPs are counted from the models (training.cost: 2·in·out per linear
layer per sample, ×3 for a forward and its backward, one G forward for D's fakes and D on the
real and the fake batch in each D update, G through D in the G update). steps/s × FLOPs a step
/ matmul FLOP/s is the share. A 2D step is small matrices and elementwise work, so its share is
well under 1; what it shows is how much of the machine a row leaves unused.
"""

from __future__ import annotations

import statistics
import time

import torch

from playground.data.loading import load_dataset
from playground.runs.pool import Pool, PooledRun
from playground.settings.config import GANConfig
from playground.settings.presets import preset
from playground.training.cost import estimate
from playground.training.trainer import Trainer

from .common import NEVER, Budget, interleaved, loop_block, paired_ratio, rates, sync_device

STUDENTS = (1, 10, 30)
MATMUL_SIZE = 1024  # 2.1 GFLOP a product: long enough to time, short enough to repeat
WAIT_S = 120.0  # for members to build or pause (a loaded machine); never reached in practice


# ---------------------------------------------------------------------- the roofline
def matmul_rate(device: torch.device, seconds: float = 0.3, size: int = MATMUL_SIZE) -> dict:
    """The machine's fp32 matmul rate: the best FLOP/s of `size`² products repeated for about
    `seconds` (at least three), with the torch threads this process uses."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device)
    b = torch.randn(size, size, generator=gen).to(device)
    torch.matmul(a, b)  # warm-up: first-use allocations and kernel choice
    sync_device(device)
    best, repeats, began = 0.0, 0, time.perf_counter()
    while repeats < 3 or time.perf_counter() - began < seconds:
        start = time.perf_counter()
        torch.matmul(a, b)
        sync_device(device)
        best = max(best, 2 * size**3 / max(time.perf_counter() - start, 1e-9))
        repeats += 1
    return {
        "device": device.type,
        "size": size,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "gflop_per_s": round(best / 1e9, 2),
    }


def step_flops(cfg: GANConfig) -> int:
    """One training step's arithmetic (training.cost's count: D updates and the G update)."""
    return estimate(cfg).step_flops


def roofline_share(steps_per_s: float, flops_per_step: float, rate: dict) -> float:
    """The share of the measured matmul rate that `steps_per_s` steps of `flops_per_step` are."""
    return round(steps_per_s * flops_per_step / (rate["gflop_per_s"] * 1e9), 4)


# ---------------------------------------------------------------------- the class
class PoolBlock:
    """N pooled members, paused between blocks. A block resumes them all at one round boundary
    (under the pool's lock, which a member's between_steps() is), lets the pool's thread train
    them for `seconds`, and ends at a round boundary too; it returns member-steps (the sum of
    every member's steps) and the seconds between the two boundaries. The block includes the
    stack's rebuild as the members rejoin (a few milliseconds), as a real pool pays it when
    students come and go."""

    def __init__(self, configs: list[GANConfig], data, name: str):
        self.pool = Pool(name=name)
        self.members: list[PooledRun] = []
        for cfg in configs:
            trainer = Trainer(cfg, data=data)
            # Past the first 10 logs (the start-up pictures of a watched run), as overhead does.
            trainer.step = 10 * cfg.log_every
            self.members.append(self.pool.member(trainer=trainer, pictures=False))
        for member in self.members:
            member.start(paused=True)
        self._wait_paused()

    def _wait_paused(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while not all(m.status == "paused" for m in self.members):
            if any(not m.alive for m in self.members):
                raise RuntimeError(f"a pooled run ended: {self._errors()}")
            if time.monotonic() > deadline:
                raise RuntimeError("the pooled runs never paused")
            time.sleep(0.002)
        with self.members[0].between_steps():  # the round that paused them has ended
            pass

    def _errors(self) -> str:
        return "; ".join(m.snapshot().error or m.status for m in self.members if not m.alive)

    def _steps(self) -> int:
        return sum(m.trainer.step for m in self.members)

    def __call__(self, seconds: float) -> tuple[int, float]:
        lock = self.members[0].between_steps()
        with lock:
            first = self._steps()
            for member in self.members:
                member.resume()
            start = time.perf_counter()
        time.sleep(seconds)
        with lock:
            done, end = self._steps() - first, time.perf_counter()
            for member in self.members:
                member.pause()
        self._wait_paused()  # nothing of the pool's runs into the next variant's block
        if done == 0:
            raise RuntimeError(f"the pool took no step in {seconds} s: {self._errors()}")
        return done, end - start

    def close(self) -> None:
        self.pool.close(wait=30.0)


def classroom_pool(
    budget: Budget,
    students: tuple[int, ...] = STUDENTS,
    cfg: GANConfig | None = None,
    name: str = "ring8-stable",
    rate: dict | None = None,
) -> dict:
    """N students in one Pool (for each N in `students`) against a lone Trainer, all in the
    same interleaved rounds on the CPU. `rate`: the CPU's matmul rate (measured if None)."""
    device = torch.device("cpu")
    cfg = (cfg or preset(name)).replace(device="cpu", steps=NEVER)
    data = load_dataset(cfg, device)
    rate = rate or matmul_rate(device)
    lone = Trainer(cfg, data=data)
    lone.step = 10 * cfg.log_every
    variants = {"lone": loop_block(lone.train_step, device)}
    pools: dict[int, PoolBlock] = {}
    try:
        for n in students:
            configs = [cfg.replace(seed=cfg.seed + i) for i in range(n)]
            pools[n] = PoolBlock(configs, data, name=f"gan-pool-bench-{n}")
            variants[f"pool{n}"] = pools[n]
        samples = interleaved(variants, budget.rounds, budget.block_s)
    finally:
        for block in pools.values():
            block.close()
    wall = {k: rates(v) for k, v in samples.items()}
    cpu = {k: rates(v, "cpu") for k, v in samples.items()}
    flops = step_flops(cfg)
    lone_rate = statistics.median(wall["lone"])
    rows = []
    for n in students:
        total = wall[f"pool{n}"]
        per_student = [t / n for t in total]
        rows.append(
            {
                "students": n,
                "largest_stack": pools[n].pool.largest_stack,
                "member_steps_per_s": round(statistics.median(total), 2),
                "per_student_steps_per_s": round(statistics.median(per_student), 2),
                "per_student_vs_lone": round(paired_ratio(per_student, wall["lone"]), 4),
                "total_vs_lone": round(paired_ratio(total, wall["lone"]), 4),
                "cpu_total_vs_lone": round(paired_ratio(cpu[f"pool{n}"], cpu["lone"]), 4),
                "roofline_share": roofline_share(statistics.median(total), flops, rate),
            }
        )
    return {
        "config": name,
        "device": "cpu",
        "batch_size": cfg.batch_size,
        "hidden": cfg.hidden,
        "step_gflop": round(flops / 1e9, 4),
        "lone_steps_per_s": round(lone_rate, 2),
        "lone_roofline_share": roofline_share(lone_rate, flops, rate),
        "matmul": rate,
        "rows": rows,
        "rounds": budget.rounds,
        "block_s": budget.block_s,
    }
