"""Slow motion: one training step of a paused 2D run, shown in its two phases (GAN Lab's
slow-motion mode).

Phase "d": D's updates of one step (`d_steps` of them), G frozen: D's decision map before and
after. Phase "g": G's update, D frozen: the fixed-noise samples before and after, each with its
gradient arrow (−∂L_G/∂x, where the update is meant to move it). Each phase comes with the
loss's formula with the player's part highlighted and one plain sentence.

The run does the work in its own thread: `Run.step(d=True, g=False, ends_step=False)` queues
phase "d" (the step counter stays), `Run.step(d=False, g=True)` phase "g", which ends the step
(one step, one log record for both phases). This module takes a picture (`Run.frame_now`) before
and after each phase and measures what moved.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

from playground.objectives.losses import LOSSES
from playground.runs.snapshots import FINAL, Frame
from playground.views.view2d import ARROW_SHARE

PHASES = ("d", "g")
PHASE_NAMES = {"d": "D's update", "g": "G's update"}
HIGHLIGHT = "#d62728"  # the colour of the highlighted term
WAIT_SECONDS = 30.0  # a phase is one step: far less, unless the machine is very loaded


class SlowMotionError(RuntimeError):
    """A phase could not run (the run is not paused, has ended, or is not 2D)."""


@dataclass(frozen=True)
class PhaseResult:
    """One phase: the pictures before and after it (runner.Frame, 2D data)."""

    phase: str  # "d" or "g"
    before: Frame
    after: Frame

    @property
    def displacement(self) -> np.ndarray:
        """How far each fixed-noise sample moved, (N, 2)."""
        return self.after.samples - self.before.samples

    @property
    def decision_change(self) -> np.ndarray:
        """D's map after minus before (same grid as Frame.decision)."""
        return self.after.decision - self.before.decision

    def arrow_cosine(self) -> float:
        """Mean cosine between each arrowed sample's movement and its arrow (1: every sample
        moved exactly along its arrow; 0: no relation). NaN when nothing moved."""
        arrows = self.before.arrows
        moved = self.displacement[: len(arrows.vectors)]
        norms = np.linalg.norm(moved, axis=1) * np.linalg.norm(arrows.vectors, axis=1)
        keep = norms > 0
        if not keep.any():
            return float("nan")
        dots = (moved * arrows.vectors).sum(axis=1)
        return float(np.mean(dots[keep] / norms[keep]))


def play(run, phase: str, timeout: float = WAIT_SECONDS) -> PhaseResult:
    """Run one phase ("d": D's updates of one step; "g": G's update) on a paused 2D run, with
    pictures before and after. Raises SlowMotionError when it cannot run."""
    if phase not in PHASES:
        raise ValueError(f"phase: must be one of {', '.join(PHASES)}; got {phase!r}")
    snap = run.snapshot()
    if snap.status != "paused":
        raise SlowMotionError(f"slow motion needs a paused run: pause it first ({snap.status})")
    before = run.frame_now()
    if before is None or before.decision is None:
        raise SlowMotionError("slow motion is for 2D point data")
    done = snap.manual_steps  # a D phase leaves the step counter: this counts it
    if not run.step(d=phase == "d", g=phase == "g", ends_step=phase == "g"):
        raise SlowMotionError("slow motion needs a paused run: pause it first")
    deadline = time.monotonic() + timeout
    while True:
        snap = run.snapshot()
        if snap.manual_steps > done:
            break
        if snap.status in FINAL:
            raise SlowMotionError(snap.error or f"the run has {snap.status}")
        if time.monotonic() > deadline:
            raise SlowMotionError(f"the step did not finish within {timeout:.0f} s")
        time.sleep(0.01)
    return PhaseResult(phase, before, run.frame_now())


def magnification(displacement: np.ndarray, extent: tuple[float, float, float, float]) -> float:
    """The factor that draws one step's movements readably: the 95th-percentile movement
    becomes the same share of the window as the gradient arrows' (one step usually moves a
    sample a tiny fraction of the window). Never below 1: movements already that long are
    drawn at their true size. 1 when nothing moved."""
    norms = np.linalg.norm(displacement, axis=1)
    typical = float(np.quantile(norms, 0.95)) if len(norms) else 0.0
    if typical <= 0:
        return 1.0
    return max(1.0, ARROW_SHARE * (extent[1] - extent[0]) / typical)


# ---------------------------------------------------------------------- formulas and sentences
def _box(tex: str) -> str:
    return r"\boxed{" + _colour(tex) + "}"


def _colour(tex: str) -> str:
    return r"\textcolor{" + HIGHLIGHT + "}{" + tex + "}"


def _parts(formula: str) -> list[str]:
    return [part.strip() for part in formula.split(r",\quad")]


def _own_part(formula: str, phase: str) -> str | None:
    """The formula's "L_D = …" (phase d) or "L_G = …" (phase g) part, if it has one."""
    head = "L_D" if phase == "d" else "L_G"
    return next((p for p in _parts(formula) if p.startswith(head)), None)


_MINMAX = re.compile(r"^(\\min_G)\s*(\\max_(?:D|\{[^{}]*\}))\s*(?:\\;)?\s*(.*)$")


def _top_level_terms(objective: str) -> list[str]:
    """`objective` cut at its top-level + and − signs (inside no bracket), signs kept."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(objective):
        depth += ch in "[({"
        depth -= ch in "])}"
        if depth == 0 and objective[i : i + 3] in (" + ", " - "):
            terms.append(objective[start:i])
            start = i
    terms.append(objective[start:])
    return terms


def _minmax_highlight(formula: str, phase: str) -> str | None:
    """A min-max formula (min_G max_D V) with D's max and all of V highlighted (phase d) or G's
    min and the terms through G(z) (phase g); None for another shape."""
    found = _MINMAX.match(formula)
    if found is None:
        return None
    g_min, d_max, objective = found.groups()
    if phase == "d":
        return g_min + " " + _box(d_max + r" \; " + objective)
    terms = []
    for term in _top_level_terms(objective):
        if "G(z)" in term:  # G's own term: keep its sign outside the box
            sign = term[:3] if term.startswith((" + ", " - ")) else ""
            term = sign + _box(term[len(sign) :].strip())
        terms.append(term)
    return rf"{_colour(g_min)} {d_max} \; " + "".join(terms)


def _borrowed_part(name: str, phase: str) -> str | None:
    """The player's part from another loss that shares this loss's function for the player
    (e.g. two losses whose G minimises the same −E[D(G(z))])."""
    entry = LOSSES[name]
    own = entry.d_loss if phase == "d" else entry.g_loss
    for other in LOSSES.values():
        if other.name != name and (other.d_loss if phase == "d" else other.g_loss) is own:
            part = _own_part(other.formula, phase)
            if part is not None:
                return part
    return None


def formula(loss: str, phase: str) -> str:
    """The loss's LaTeX formula (the losses registry's) with the part the phase optimises
    highlighted: D's objective for phase "d", G's for phase "g"."""
    if phase not in PHASES:
        raise ValueError(f"phase: must be one of {', '.join(PHASES)}; got {phase!r}")
    text = LOSSES[loss].formula
    own = _own_part(text, phase)
    if own is not None:
        return r",\quad ".join(_box(p) if p == own else p for p in _parts(text))
    minmax = _minmax_highlight(text, phase)
    if minmax is not None:
        return minmax
    borrowed = _borrowed_part(loss, phase)
    if borrowed is not None:
        return text + r",\quad " + _box(borrowed)
    return _box(text)  # a shape this module does not know: the whole formula, highlighted


def sentence(loss: str, phase: str, d_steps: int = 1) -> str:
    """One plain sentence (or two) saying what the phase does, for `loss`."""
    entry = LOSSES[loss]
    player = "D" if entry.probability or entry.lipschitz == "none" else "The critic"
    if phase == "d":
        updates = "one update" if d_steps == 1 else f"{d_steps} updates (d_steps)"
        aim = entry.d_aim or (  # the registry's words, else its facts
            "raises its probability of 'real' on the real points and lowers it on the fakes"
            if entry.probability
            else "raises its score on the real points and lowers it on the fakes"
        )
        return f"{player} takes {updates} while G is frozen: it {aim}."
    if phase == "g":
        return (
            "G takes one update while D is frozen: the fakes move roughly along their green "
            "arrows, −∂L_G/∂x, towards where D says 'real' (G's shared weights and the "
            "optimiser's momentum bend each path)." + (f" {entry.g_note}" if entry.g_note else "")
        )
    raise ValueError(f"phase: must be one of {', '.join(PHASES)}; got {phase!r}")
