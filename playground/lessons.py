"""Lessons a teacher can run a GAN lecture from: data, not code.

Each lesson says what it shows, the formula at stake, what to watch and a claim ("what you
should see") that its set-up reliably produces; its variants are the runs it starts (the first
on the lesson's one click, the others one click each). `measure_claims` checks every claim over
seeds that were not used to tune the set-ups: `python -m playground.lessons --seeds 10`.

A teacher link (`?lesson=3&hide=settings,formula&lock=1`) opens one lesson with chosen parts of
the page hidden and its settings locked; `parse_teacher_link` reads one, `teacher_query`
writes one.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .config import GANConfig, preset
from .dirac import DiracSetup

# The kinds of lesson the page knows how to draw.
KINDS = ("run", "side-by-side", "dirac")
TUNING_SEEDS = (100, 101)  # the set-ups were tuned on these; claims are measured on 0, 1, …
LIPSCHITZ_AT = 500  # lesson 5's claim looks at the critics after this many steps


@dataclass(frozen=True)
class Variant:
    """One run a lesson starts: a label for its button and its settings (a preset plus changes)."""

    label: str
    preset: str | None = None
    changes: Mapping = field(default_factory=dict)

    def config(self, seed: int | None = None) -> GANConfig:
        base = preset(self.preset) if self.preset else GANConfig()
        cfg = base.replace(**self.changes)
        return cfg if seed is None else cfg.replace(seed=seed)


@dataclass(frozen=True)
class LiveSwitch:
    """A change a lesson offers while its run is live (Run.set_hyper takes it), and when."""

    label: str
    changes: Mapping
    at_step: int  # the measured claim switches here; on the page the person chooses when


@dataclass(frozen=True)
class Lesson:
    number: int
    key: str
    title: str
    shows: str
    formula: str  # LaTeX
    watch: str
    claim: str  # what you should see
    variants: tuple[Variant, ...]
    kind: str = "run"  # see KINDS
    layers: tuple[str, ...] = ("decision", "manifold", "arrows")  # 2D layers on at the start
    switch: LiveSwitch | None = None
    dirac: DiracSetup | None = None
    links: tuple[tuple[str, str], ...] = ()  # (page path, label) to go further

    def configs(self, seed: int | None = None) -> list[GANConfig]:
        return [v.config(seed) for v in self.variants]


# ---------------------------------------------------------------------- the course
# The lessons' own set-ups, spelled out rather than taken from the presets: a claim was measured
# with exactly these settings, and a preset may be retuned for its own purpose.
_RING = dict(eval_every=250)
_STABLE = dict(
    _RING, dataset="ring8", loss="nonsaturating", beta1=0.0, batch_size=512, ema=0.99, steps=3000
)  # the ring learned: Adam without momentum, a large batch, an average of G's weights
_HOPPING = dict(
    _RING,
    dataset="ring8",
    loss="nonsaturating",
    latent_dim=256,
    layers=2,
    batch_size=512,
    lr_g=3e-4,
    lr_d=3e-4,
    steps=3000,
)  # the unrolled-GAN paper's toy set-up: G's mass hops from region to region
_VANISHING = dict(dataset="ring8", d_steps=5, steps=1500, eval_every=250)
_WGAN = dict(dataset="ring8", beta1=0.0, beta2=0.9, d_steps=5, steps=2000, eval_every=250)

LESSONS: tuple[Lesson, ...] = (
    Lesson(
        1,
        "game",
        "The game itself",
        "A generator G turns noise z into points; a discriminator D scores points as real or "
        "fake. On a ring of 8 Gaussians you see the whole game at once: D's decision map "
        "(background), G's manifold (the mesh: where G sends a regular grid of its noise) and "
        "the arrows that show where G's next update pushes each fake point.",
        r"\min_G \max_D \; \mathbb{E}_{x}[\log D(x)] + \mathbb{E}_{z}[\log(1 - D(G(z)))]",
        "The arrows point up D's slope, towards where D says 'real'. The mesh starts as a small "
        "crumpled sheet in the middle, stretches towards the ring and folds so that most of it "
        "lands on the 8 modes, with thin bridges between them (G is continuous).",
        "By step 3,000 G holds all 8 modes (each gets at least a fair share's fraction of the "
        "samples).",
        (Variant("Ring of 8, learned", None, _STABLE),),
    ),
    Lesson(
        2,
        "collapse",
        "Mode collapse and its fix",
        "The same data with the original GAN's usual settings: G finds one region D likes, D "
        "learns to reject it, G hops to another. Then the fix: Adam without momentum, a large "
        "batch and an average of G's weights.",
        r"L_G = -\mathbb{E}_z[\log D(G(z))]",
        "In the collapsing run the orange points sit on one or two modes and jump; the mesh is "
        "squeezed onto them. Press the second button for the fixed run: the mesh spreads over "
        "the whole ring.",
        "The collapsing run holds at most 4 of 8 modes at step 3,000; the fixed run holds all 8.",
        (
            Variant("See the collapse", None, _HOPPING),
            Variant("See it fixed", None, _STABLE),
        ),
        layers=("decision", "manifold"),
    ),
    Lesson(
        3,
        "vanishing",
        "Vanishing gradients",
        "The original minimax loss against the non-saturating one, side by side on the same "
        "data, with D given a head start (5 D updates per G update). When D confidently rejects "
        "the fakes, log(1 − D(G(z))) is flat, so G gets almost no gradient; −log D(G(z)) is "
        "steepest exactly there.",
        r"\nabla \log(1 - \sigma(f)) = -\sigma(f)\,\nabla f \;\to\; 0, \qquad "
        r"\nabla(-\log \sigma(f)) = -(1 - \sigma(f))\,\nabla f \;\to\; -\nabla f "
        r"\quad (f = D(G(z)) \ll 0)",
        "The gradient-norm chart (log scale): the minimax G's gradient is an order of magnitude "
        "below the non-saturating G's from the first steps on, and its points barely move.",
        "Over the first 500 steps the minimax G's median gradient norm is at least 5x smaller "
        "than the non-saturating G's.",
        (
            Variant("Minimax", None, dict(_VANISHING, loss="minimax")),
            Variant("Non-saturating", None, dict(_VANISHING, loss="nonsaturating")),
        ),
        kind="side-by-side",
    ),
    Lesson(
        4,
        "nonconvergence",
        "Non-convergence",
        "The Dirac-GAN (Mescheder et al. 2018): data a single point at 0, G(z) = θ, "
        "D(x) = ψ·x. Two numbers and the game still does not settle: gradient steps circle the "
        "equilibrium (0, 0) or spiral away from it; a regulariser on D (R1, instance noise) "
        "makes them converge. Then a 2D run whose learning rates are too large for the game.",
        r"v(\theta, \psi) = \bigl(-\partial_\theta L_G,\; -\partial_\psi L_D\bigr), \qquad "
        r"R_1 = \tfrac{\gamma}{2}\,\mathbb{E}_x\|\nabla_x D(x)\|^2 = \tfrac{\gamma}{2}\psi^2",
        "In the (θ, ψ) plane: the simultaneous path spirals out, the alternating one circles, "
        "the R1 path spirals in to the centre. In the 2D run: the orange points never settle; "
        "the cloud keeps sweeping round the ring while D's map keeps flipping.",
        "Dirac-GAN: unregularised simultaneous steps end farther from the equilibrium than they "
        "started, R1 (γ = 1) ends within 0.001 of it. 2D run: in its second half the fixed-noise "
        "samples move at least 3x as far between frames as the stable run's.",
        (
            Variant(
                "2D run, learning rates too large",
                None,
                dict(_STABLE, lr_g=5e-3, lr_d=5e-3, beta1=0.9),
            ),
        ),
        kind="dirac",
        layers=("decision", "arrows"),
        dirac=DiracSetup(loss="minimax", steps=400, lr=0.1),
    ),
    Lesson(
        5,
        "lipschitz",
        "Lipschitz critics",
        "The Wasserstein GAN's critic must be 1-Lipschitz. Three ways to ask for it: clip every "
        "weight to [−c, c] (the original WGAN), penalise the gradient norm's distance from 1 "
        "(WGAN-GP), or divide each layer by its largest singular value (spectral norm, here "
        "with the hinge loss).",
        r"\min_G \max_{\|D\|_L \le 1} \mathbb{E}[D(x)] - \mathbb{E}[D(G(z))], \qquad "
        r"\lambda\,\mathbb{E}_{\hat x}\bigl[(\|\nabla_{\hat x} D(\hat x)\|_2 - 1)^2\bigr]",
        "With clipping the critic's map is nearly flat and G's points drift as a shapeless "
        "cloud; with the gradient penalty or spectral norm the map has clear hills on the "
        "modes and the points split onto them.",
        "At step 500, the clipped critic is nearly flat: its slope between real and fake "
        "points (median ‖∇ₓD‖) is under a quarter of the gradient-penalty critic's, which sits "
        "between 0.5 and 1.5; the spectral-norm critic's is at most 1.",
        (
            Variant("Weight clipping", None, dict(_WGAN, loss="wgan", lr_g=1e-4, lr_d=1e-4)),
            Variant("Gradient penalty", None, dict(_WGAN, loss="wgan-gp", lr_g=1e-4, lr_d=1e-4)),
            Variant(
                "Spectral norm",
                None,
                dict(_WGAN, loss="hinge", spectral_norm=True, lr_g=1e-4, lr_d=1e-4),
            ),
        ),
    ),
    Lesson(
        6,
        "switch",
        "Switch the loss of a collapsing run, live",
        "A run collapsing on the ring (the set-up of lesson 2); while it trains, change the "
        "game it plays. The loss, learning rates, Adam's betas and D's steps change with full "
        "effect at the next step; the models stay as they are.",
        r"L_D = \tfrac12\mathbb{E}[(D(x)-1)^2] + \tfrac12\mathbb{E}[D(G(z))^2], \quad "
        r"L_G = \tfrac12\mathbb{E}[(D(G(z))-1)^2]",
        "Let it collapse, then press the switch button (least squares instead of log loss, "
        "and Adam without momentum): the arrows change at once and points come back onto "
        "modes the run had lost.",
        "Switched at step 1,500, the run covers more modes at step 3,000 than it did at the "
        "switch (a mode is covered when some samples lie within 3 standard deviations of it).",
        (Variant("Collapsing run", None, _HOPPING),),
        layers=("decision", "manifold", "arrows"),
        switch=LiveSwitch(
            "Switch to least squares (LSGAN), no momentum, now",
            dict(loss="lsgan", beta1=0.0),
            1500,
        ),
    ),
    Lesson(
        7,
        "latent",
        "The latent space",
        "G is a continuous map from its noise space to the data. Its manifold (the mesh) is "
        "that map drawn: each grid line of z-space becomes a curve. Here the latent has 2 "
        "dimensions, so the mesh is the whole latent space; in the Latent explorer you can "
        "walk through a trained generator's latent space, interpolate and follow directions.",
        r"x = G(z),\quad z \sim \mathcal{N}(0, I);\qquad "
        r"z_t = (1 - t)\,z_0 + t\,z_1",
        "The mesh is one connected sheet: to put mass on 8 separate modes, G stretches it thin "
        "between them, and some samples always land on those bridges, off every mode.",
        "Even with all 8 modes held at step 3,000, at least 1% of the samples lie off every "
        "mode (beyond 3 standard deviations), on the sheet between them.",
        (Variant("Ring of 8, latent space", None, _STABLE),),
        layers=("manifold",),
        links=(("pages/explore.py", "Open the Latent explorer"),),
    ),
)

BY_NUMBER = {lesson.number: lesson for lesson in LESSONS}
BY_KEY = {lesson.key: lesson for lesson in LESSONS}


def lesson(ref: int | str) -> Lesson:
    """A lesson by number (1, "1") or key ("collapse"); ValueError naming the allowed ones."""
    text = str(ref).strip()
    if text.isdigit() and int(text) in BY_NUMBER:
        return BY_NUMBER[int(text)]
    if text in BY_KEY:
        return BY_KEY[text]
    allowed = ", ".join(f"{x.number} ({x.key})" for x in LESSONS)
    raise ValueError(f"lesson: must be one of {allowed}; got {ref!r}")


# ---------------------------------------------------------------------- teacher links
HIDEABLE = ("picker", "settings", "formula", "watch", "claim", "layers", "controls", "dirac")


@dataclass(frozen=True)
class TeacherView:
    """What a teacher link asks for: one lesson, parts of the page hidden, settings locked."""

    lesson: Lesson | None = None
    hidden: frozenset[str] = frozenset()
    locked: bool = False

    def shows(self, part: str) -> bool:
        return part not in self.hidden


def parse_teacher_link(params: Mapping[str, str]) -> TeacherView:
    """Read `lesson`, `hide` (comma-separated parts of HIDEABLE) and `lock` (1/0) from a page
    URL's query parameters; ValueError naming the parameter and what is allowed."""
    chosen = lesson(params["lesson"]) if params.get("lesson") else None
    hidden = frozenset(p.strip() for p in params.get("hide", "").split(",") if p.strip())
    unknown = sorted(hidden - set(HIDEABLE))
    if unknown:
        raise ValueError(f"hide: parts must be among {', '.join(HIDEABLE)}; got {unknown[0]!r}")
    lock_text = params.get("lock", "0").strip().lower()
    if lock_text not in ("0", "1", "true", "false", ""):
        raise ValueError(f"lock: must be 1 or 0; got {lock_text!r}")
    locked = lock_text in ("1", "true")
    if locked and chosen is None:
        raise ValueError("lock: a locked link must name its lesson (lesson=1 … 7)")
    return TeacherView(chosen, hidden, locked)


def teacher_query(lesson: Lesson, hide: tuple[str, ...] = (), lock: bool = True) -> dict:
    """The query parameters of a teacher link (see parse_teacher_link)."""
    query = {"lesson": str(lesson.number)}
    if hide:
        query["hide"] = ",".join(h for h in HIDEABLE if h in hide)
    if lock:
        query["lock"] = "1"
    return query


# ---------------------------------------------------------------------- measured claims
@dataclass(frozen=True)
class ClaimResult:
    seed: int
    holds: bool
    detail: str


def _train(cfg: GANConfig, on_step: Callable | None = None):
    """Train `cfg` on the CPU to the end; `on_step(trainer)` after every step."""
    from .trainer import Trainer

    trainer = Trainer(cfg.replace(device="cpu", eval_every=0))
    while trainer.step < trainer.cfg.steps:
        trainer.train_step()
        if on_step is not None:
            on_step(trainer)
    return trainer


def _coverage(trainer, n: int = 2500) -> dict:
    from .data import mixture_spec
    from .metrics import coverage_2d

    centres, sigma = mixture_spec(trainer.cfg.dataset)
    return coverage_2d(trainer.sample(n, seed=12345).numpy(), centres, sigma)


@dataclass(frozen=True)
class _Outcome:
    """What the claims read from one finished training."""

    coverage: dict
    movement: float  # mean move of a fixed-noise sample per 100 steps, 2nd half, / view width


_OUTCOMES: dict[str, _Outcome] = {}  # trainings several claims share (same config and seed)


def _outcome(cfg: GANConfig) -> _Outcome:
    """Train `cfg` once (later calls with the same settings reuse the result) and measure it:
    coverage at the end, and how far the fixed-noise samples move between frames 100 steps
    apart over the second half of the run."""
    key = cfg.to_json()
    if key not in _OUTCOMES:
        moves, last = [], []

        def watch(trainer) -> None:
            if trainer.step % 100 == 0 and trainer.step >= trainer.cfg.steps // 2:
                now = trainer.fixed_samples()
                if last:
                    moves.append(float(np.linalg.norm(now - last[0], axis=1).mean()))
                last[:] = [now]

        trainer = _train(cfg, watch)
        x0, x1, _, _ = trainer.extent()
        _OUTCOMES[key] = _Outcome(_coverage(trainer), float(np.mean(moves)) / (x1 - x0))
    return _OUTCOMES[key]


def _claim_game(seed: int) -> ClaimResult:
    held = _outcome(BY_KEY["game"].variants[0].config(seed)).coverage["modes_held"]
    return ClaimResult(seed, held == 8, f"{held}/8 held")


def _claim_collapse(seed: int) -> ClaimResult:
    collapse, fixed = (
        _outcome(cfg).coverage["modes_held"] for cfg in BY_KEY["collapse"].configs(seed)
    )
    return ClaimResult(
        seed, collapse <= 4 and fixed == 8, f"collapse {collapse}/8, fixed {fixed}/8"
    )


def _claim_vanishing(seed: int) -> ClaimResult:
    norms = []
    for cfg in BY_KEY["vanishing"].configs(seed):
        trainer = _train(cfg.replace(steps=500, log_every=5))
        norms.append(float(np.median(trainer.history.copy()["g_grad_norm"])))
    ratio = norms[1] / max(norms[0], 1e-12)
    return ClaimResult(
        seed, ratio >= 5, f"‖∇G‖ minimax {norms[0]:.3g}, non-sat. {norms[1]:.3g} ({ratio:.0f}x)"
    )


def _claim_nonconvergence(seed: int) -> ClaimResult:
    from .dirac import distances, trajectory

    setup = BY_KEY["nonconvergence"].dirac
    plain = distances(trajectory(setup))
    r1 = distances(trajectory(DiracSetup(**{**vars(setup), "regulariser": "r1"})))
    wild = _outcome(BY_KEY["nonconvergence"].variants[0].config(seed)).movement
    calm = _outcome(BY_KEY["game"].variants[0].config(seed)).movement  # the stable run
    holds = plain[-1] > plain[0] and r1[-1] < 1e-3 and wild >= 3 * calm
    return ClaimResult(
        seed,
        holds,
        f"Dirac {plain[0]:.2f}→{plain[-1]:.2f}, R1 →{r1[-1]:.1e}; moves {wild:.3f} vs {calm:.3f}",
    )


def critic_slope(trainer, n: int = 512) -> float:
    """D's median gradient norm ‖∇ₓD(x̂)‖ at points x̂ between real and fake samples (where
    WGAN-GP's penalty looks): about 1 for a critic that uses its Lipschitz budget."""
    import torch

    gen = torch.Generator(trainer.device).manual_seed(5)
    real, _ = trainer.data.sample(n, gen)
    fake = torch.as_tensor(trainer.fixed_samples()[:n], device=trainer.device)
    n = min(len(real), len(fake))
    eps = torch.rand(n, 1, generator=gen, device=trainer.device)
    mixed = (eps * real[:n] + (1 - eps) * fake[:n]).requires_grad_(True)
    with torch.enable_grad():
        scores = trainer.D(mixed.repeat(1, trainer.cfg.pack))
        (grad,) = torch.autograd.grad(scores.sum(), mixed)
    return float(grad.norm(dim=1).median())


def _claim_lipschitz(seed: int) -> ClaimResult:
    slopes = []
    for cfg in BY_KEY["lipschitz"].configs(seed):
        slopes.append(critic_slope(_train(cfg.replace(steps=LIPSCHITZ_AT))))
    clip, gp, sn = slopes
    holds = clip < 0.25 * gp and 0.5 <= gp <= 1.5 and sn <= 1.0 + 1e-3
    return ClaimResult(seed, holds, f"slope: clip {clip:.3f}, GP {gp:.2f}, SN {sn:.2f}")


def _claim_switch(seed: int) -> ClaimResult:
    lesson6 = BY_KEY["switch"]
    switch = lesson6.switch
    at_switch: list[int] = []

    def watch(trainer) -> None:
        if trainer.step == switch.at_step:  # as Run.set_hyper applies it, between steps
            at_switch.append(_coverage(trainer)["modes_covered"])
            trainer.apply(dict(switch.changes))

    after = _coverage(_train(lesson6.variants[0].config(seed), watch))["modes_covered"]
    return ClaimResult(
        seed, after > at_switch[0], f"{at_switch[0]}/8 covered at the switch → {after}/8"
    )


def _claim_latent(seed: int) -> ClaimResult:
    cov = _outcome(BY_KEY["latent"].variants[0].config(seed)).coverage
    off = 1.0 - cov["high_quality_fraction"]
    holds = cov["modes_held"] == 8 and off >= 0.01
    return ClaimResult(seed, holds, f"{cov['modes_held']}/8 held, {100 * off:.1f}% off-mode")


CLAIMS: dict[str, Callable[[int], ClaimResult]] = {
    "game": _claim_game,
    "collapse": _claim_collapse,
    "vanishing": _claim_vanishing,
    "nonconvergence": _claim_nonconvergence,
    "lipschitz": _claim_lipschitz,
    "switch": _claim_switch,
    "latent": _claim_latent,
}


def measure_claims(
    seeds: tuple[int, ...], keys: tuple[str, ...] | None = None, log: Callable = print
) -> dict[str, list[ClaimResult]]:
    """Each lesson's claim on each seed (CPU, one training at a time), seed by seed, so an
    interrupted measurement still covers every lesson on its first seeds."""
    keys = keys or tuple(CLAIMS)
    results: dict[str, list[ClaimResult]] = {key: [] for key in keys}
    for seed in seeds:
        for key in keys:
            started = time.perf_counter()
            result = CLAIMS[key](seed)
            results[key].append(result)
            log(
                f"{key} seed {seed}: {'holds' if result.holds else 'FAILS'} ({result.detail}; "
                f"{time.perf_counter() - started:.0f} s)"
            )
        _OUTCOMES.clear()  # trainings are shared within a seed only
    return results


def claims_table(results: dict[str, list[ClaimResult]]) -> str:
    """A Markdown table: lesson, claim, seeds on which it holds."""
    rows = ["| lesson | claim | holds on |", "|---|---|---|"]
    for key, found in results.items():
        entry = BY_KEY[key]
        held = sum(r.holds for r in found)
        rows.append(f"| {entry.number}. {entry.title} | {entry.claim} | {held} of {len(found)} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the lessons' claims over fresh seeds.")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 … N−1 (default 10)")
    parser.add_argument("--first", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--only", nargs="*", choices=tuple(CLAIMS), help="these lessons only")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    seeds = tuple(range(args.first, args.first + args.seeds))
    results = measure_claims(seeds, tuple(args.only or ()) or None)
    print(claims_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
