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
    """N pooled members, paused between blocks. A block resumes them all in one round (under
    the pool's lock, which a member's between_steps() is), waits out that first round, in which
    the stack is rebuilt as they rejoin (timed on its own: `rejoin_s`, what a real class pays
    each time a student comes or goes), then times the steady state: from one round boundary,
    `seconds` of the pool's thread training, to the next. It returns member-steps (the sum of
    every member's steps) and the seconds between the two boundaries; `cpu_s` holds this
    process's CPU seconds over the same stretch of each block."""

    def __init__(self, configs: list[GANConfig], data, name: str):
        self.pool = Pool(name=name)
        self.rejoin_s: list[float] = []
        self.cpu_s: list[float] = []
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
            resumed = self._steps()
            for member in self.members:
                member.resume()
            rejoin = time.perf_counter()
        deadline = time.monotonic() + WAIT_S
        while self._steps() < resumed + len(self.members):  # the first round: every member once
            if time.monotonic() > deadline or any(not m.alive for m in self.members):
                raise RuntimeError(f"the pool did not step: {self._errors() or 'timed out'}")
            time.sleep(0.0005)
        with lock:  # (waits for the round under way: the clock starts at a round boundary)
            first, start, cpu = self._steps(), time.perf_counter(), time.process_time()
        self.rejoin_s.append(start - rejoin)
        time.sleep(seconds)
        with lock:
            done, end = self._steps() - first, time.perf_counter()
            self.cpu_s.append(time.process_time() - cpu)
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
    cpu = {"lone": rates(samples["lone"], "cpu")}
    for n, block in pools.items():  # their own CPU clock, over the timed stretch (no warm-up)
        steps = [sample.steps for sample in samples[f"pool{n}"]]
        cpu[f"pool{n}"] = [k / max(c, 1e-9) for k, c in zip(steps, block.cpu_s[1:], strict=True)]
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
                # the round in which they rejoin after a pause, the stack rebuilt (median)
                "rejoin_round_ms": round(statistics.median(pools[n].rejoin_s[1:]) * 1e3, 1),
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
