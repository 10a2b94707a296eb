"""Section ui, first picture: seconds from Run.start() to the run's first Frame (the picture a
2D lesson shows: samples, D's map, G's manifold and the gradient arrows) for lesson 1's run.

Cold is a fresh process that has imported the app's modules, as a server has after its first
page load, measured twice: as the app starts (its warm-up thread has run, `warm_up`) and bare
(no warm-up: the worst case, a click racing the warm-up). Warm is a later Start in the same
process. The run draws its first frame before its first training step, so this is the time to
build the models and the data and draw one frame.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from playground.lessons.catalogue import lesson
from playground.runs.runner import Run

LESSON = "game"  # lesson 1: the 2D run a class sees first
CHILD_TIMEOUT_S = 300.0


def lesson_config():
    """Lesson 1's run on the CPU, as its one click starts it."""
    return lesson(LESSON).configs()[0].replace(device="cpu")


def first_picture(timeout: float = CHILD_TIMEOUT_S) -> float:
    """Seconds from Run.start() until the snapshot holds a frame with samples, D's decision map,
    G's manifold and the arrows (a finished run's frame counts as well)."""
    cfg = lesson_config()
    start = time.perf_counter()
    run = Run(cfg)
    run.start()
    try:
        while True:
            snap = run.snapshot()
            if snap.frames and _is_full_picture(snap.frames[-1]):
                return time.perf_counter() - start
            if not snap.active or time.perf_counter() - start > timeout:
                problem = f"{snap.status}: {snap.error}"
                raise RuntimeError(f"lesson {LESSON}: no first picture ({problem})")
            time.sleep(0.002)
    finally:
        run.stop(wait=30.0)


def _is_full_picture(frame) -> bool:
    return (
        len(frame.samples) > 0
        and frame.decision is not None
        and frame.manifold is not None
        and frame.arrows is not None
    )


def first_picture_cold(warm_up: bool, threads: int | None = None) -> float:
    """first_picture in a fresh Python process (after the app's warm-up when `warm_up`)."""
    code = (
        "import json, torch; "
        + (f"torch.set_num_threads({threads}); " if threads else "")
        + "from playground.bench import firstpicture as f; "
        + ("from playground.training.devices import warm_up; warm_up(); " if warm_up else "")
        + "print(json.dumps(f.first_picture()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"first picture (cold): {done.stderr.strip().splitlines()[-1:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def first_pictures(repeats: int = 3, threads: int | None = None, cold: bool = True) -> list[dict]:
    """Cold (after the warm-up, and bare; each a fresh process, seconds to start) unless `cold`
    is False, and warm: the median of `repeats` each."""
    import statistics

    plan = [
        ("cold, after the app's warm-up", lambda: first_picture_cold(True, threads)),
        ("cold, no warm-up", lambda: first_picture_cold(False, threads)),
        ("warm", first_picture),
    ]
    rows = []
    for when, measure in plan if cold else plan[-1:]:
        if when == "warm":
            first_picture()  # this process's own first Start, not counted
        times = [measure() for _ in range(repeats)]
        rows.append(
            {
                "config": f"lesson 1 ({LESSON})",
                "when": when,
                "seconds": round(statistics.median(times), 3),
                "max_s": round(max(times), 3),
                "repeats": repeats,
            }
        )
    return rows
