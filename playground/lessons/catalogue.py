"""Lessons a teacher can run a GAN lecture from: data, not code.

Each lesson says what it shows, the formula at stake, what to watch and a claim ("what you
should see") that its set-up reliably produces; its variants are the runs it starts (the first
on the lesson's one click, the others one click each). `playground.lessons.claims` measures every
claim over seeds that were not used to tune the set-ups: `python -m playground.lessons --seeds
10`.

A teacher link (`?lesson=3&hide=settings,formula&lock=1`) opens one lesson with chosen parts of
the page hidden and its settings locked; `parse_teacher_link` reads one, `teacher_query`
writes one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from playground.lessons.dirac import DiracSetup
from playground.settings.config import GANConfig
from playground.settings.presets import preset

# The kinds of lesson the page knows how to draw.
KINDS = ("run", "side-by-side", "dirac")
# What a side-by-side lesson's chart compares: G's gradient norm, or the modes each member holds.
COMPARISONS = ("g_grad_norm", "modes_held")
TUNING_SEEDS = (100, 101)  # the set-ups were tuned on these; claims are measured on 0, 1, …
LIPSCHITZ_AT = 500  # lesson 5's claim looks at the critics after this many steps
INFOGAN_AT = 1500  # lesson 7's InfoGAN run: its claim reads the codes after this many steps
MEMORISED_IMAGES = 200  # lesson 8 trains on this many of the 1,797 digits, holding out the rest
MEMORISE_AT = 750  # lesson 8's claim looks at D and G after this many steps
DIFFAUGMENT = "color,translation,cutout"  # the DiffAugment paper's policy for small data sets


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
    compare: str = "g_grad_norm"  # side by side: the members' chart (see COMPARISONS)
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
_DIGITS = dict(
    dataset="digits",
    arch="dcgan",
    image_size=16,
    width=32,
    latent_dim=64,
    loss="nonsaturating",
    lr_g=5e-4,
    lr_d=5e-4,
    beta1=0.5,
    batch_size=64,
    log_every=10,
    sample_every=100,
    eval_every=250,
)  # the bundled digits at 16 px: a DCGAN draws them within seconds on a CPU
_MEMORISE = dict(
    _DIGITS, train_images=MEMORISED_IMAGES, steps=1500
)  # a D with few digits to see: it learns them by heart well before G draws digits
_INFOGAN = dict(
    _DIGITS, latent_dim=74, info_cat=10, info_cont=2, lr_g=1e-3, lr_d=2e-4, steps=INFOGAN_AT
)  # InfoGAN's MNIST set-up (G learns 5x faster than D): 62 noise dimensions and 12 of codes

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
        "learns to reject it, G hops to another. Beside it, the fix (lesson 1's set-up): Adam "
        "without momentum, a large batch and an average of G's weights, with a 2D noise and a "
        "deeper G (the optimiser's changes alone stop the hopping run's jumps but leave some "
        "modes unheld). Both train at once, side by side, on the same data.",
        r"L_G = -\mathbb{E}_z[\log D(G(z))]",
        "On the left, the collapsing run: the orange points form one blob that sits between "
        "modes, not on them (0 of 8 held), and keeps jumping round the ring; the mesh is "
        "squeezed into it. On the right, the fixed run: the mesh spreads over the whole ring "
        "and the modes-held chart climbs to 8.",
        "In its second half the collapsing run's samples gather in one clump (their spread "
        "about their centre is under half the ring's radius; over the whole ring it would be 1) "
        "that lies between modes (under 10% of its samples within 3 standard deviations of "
        "one) and jumps: its centre moves at least half the ring's radius every 100 steps on "
        "average. The fixed run holds all 8 modes at step 3,000.",
        (
            Variant("Collapsing run", None, _HOPPING),
            Variant("Fixed run", None, _STABLE),
        ),
        kind="side-by-side",
        layers=("decision", "manifold"),
        compare="modes_held",
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
        layers=("decision",),
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
        "walk through a trained generator's latent space, interpolate and follow directions. "
        "The second run is InfoGAN on the digits: some latent coordinates are codes (a "
        "10-valued category, 2 continuous codes) that a head on D must read back from the "
        "image, so G makes them visible; no labels are used.",
        r"x = G(z),\quad z \sim \mathcal{N}(0, I);\qquad "
        r"z_t = (1 - t)\,z_0 + t\,z_1;\qquad "
        r"\text{InfoGAN: } \min_{G,Q}\max_D \; V(D, G) - \lambda\, I\bigl(c;\, G(z, c)\bigr)",
        "The mesh is one connected sheet: to put mass on 8 separate modes, G stretches it thin "
        "between them, and some samples always land on those bridges, off every mode. In the "
        "InfoGAN run each row of the grid is one value of the category: watch rows turn into "
        "one digit each; then open the Latent explorer on a trained InfoGAN and move the "
        "category and code sliders.",
        "Even with all 8 modes held at step 3,000, at least 1% of the samples lie off every "
        "mode (beyond 3 standard deviations), on the sheet between them. InfoGAN: at step "
        "1,500 the category's values pick out digits: on average at least half of a value's "
        "samples are one digit (a code that ignored the digits would give about 15%).",
        (
            Variant("Ring of 8, latent space", None, _STABLE),
            Variant("InfoGAN codes on the digits", None, _INFOGAN),
        ),
        layers=("manifold",),
        links=(("pages/explore.py", "Open the Latent explorer"),),
    ),
    Lesson(
        8,
        "memorise",
        "D memorises the digits; DiffAugment cures it",
        "With only 200 of the 1,797 digits to learn from, D soon knows each training image by "
        "heart: it scores them as real because it has seen them, not because they look like "
        "digits, and gives G useless gradients. The sign is D's score on the training digits "
        "pulling away from its score on the 1,597 digits it never sees. DiffAugment (Zhao et "
        "al. 2020) shows D every image, real and fake, through the same random differentiable "
        "changes (colour, translation, cutout), so it cannot memorise pixels, and G still "
        "learns through the augmentation.",
        r"\begin{gathered}"  # two lines: on one, the page cut the formula off at its edge
        r"L_D = -\mathbb{E}_x[\log \sigma(D(T(x)))] - \mathbb{E}_z[\log(1 - \sigma(D(T(G(z)))))]"
        r",\quad L_G = -\mathbb{E}_z[\log \sigma(D(T(G(z))))] \\ "
        r"\text{gap} = \mathbb{E}_{x \in \text{train}}[D(x)] - "
        r"\mathbb{E}_{x \in \text{held out}}[D(x)]"
        r"\end{gathered}",
        "Without DiffAugment the grid's digits stay ragged and D(real) sits high while D(fake) "
        "sinks: D wins by recall. With DiffAugment D's two outputs stay close, G keeps "
        "learning, and the grid covers more of the ten digits more cleanly.",
        "At step 750, D's memorisation gap (its mean score on the 200 training digits minus "
        "on the held-out ones) is at least twice as large without DiffAugment as with it, and "
        "the FID with DiffAugment is lower.",
        (
            Variant("Without DiffAugment", None, _MEMORISE),
            Variant("With DiffAugment", None, dict(_MEMORISE, diffaugment=DIFFAUGMENT)),
        ),
        layers=(),
    ),
    Lesson(
        9,
        "ada",
        "ADA: augmentation that tunes itself",
        "Lesson 8's problem with only 100 digits to learn from, and two cures side by side. "
        "Without augmentation D soon knows the 100 by heart. Fixed DiffAugment (lesson 8) "
        "shows D every image through its random changes, always. ADA (Karras et al. 2020) "
        "applies each of its changes (flip, shift, brightness, saturation, contrast, cutout) "
        "to an image only with probability p, and tunes p while it trains. It watches r_t, "
        "the mean sign of D's scores on the real images: 0 when D calls half of them real, 1 "
        "when it calls every one real (it has learnt them by heart). Every 4 D updates p "
        "steps up while r_t is above the target 0.6 and down while it is below, by a step "
        "sized so that p could cross from 0 to 1 in 20 thousand images (about 300 D updates "
        "of 64): augmentation comes in as fast as D starts to memorise, and goes again when "
        "D no longer needs it.",
        r"r_t = \mathbb{E}_{x \in \text{train}}\bigl[\operatorname{sign} D(x)\bigr],\qquad "
        r"p \leftarrow \operatorname{clamp}_{[0,1]}\Bigl(p + \operatorname{sign}(r_t - 0.6)"
        r"\,\frac{B \cdot 4}{\text{kimg} \cdot 1000}\Bigr)",
        "The chart of p and r_t (the ADA run): D is sure of the reals at once, so p climbs "
        "at full speed, to about 0.4 by step 200; with that much augmentation D is no longer "
        "sure (r_t falls below 0.6) and p drops back to about 0 by steps 400 to 500, then "
        "climbs slowly again, to about 0.25 at step 1,500, while r_t hovers near 0.6. Start "
        "the other two runs and compare D's output: without augmentation D(real) sits high "
        "while D(fake) sinks (D wins by recall); with DiffAugment or ADA the two stay closer. "
        "Before Start the page shows the three runs as measured over ten seeds.",
        "At step 1,500 ADA's FID (on the classifier's features, against all 1,797 digits) is "
        "lower than no augmentation's. Measured on seeds 0 to 9: on 9 of 10, median 55.5 "
        "against 74.4; fixed DiffAugment's median is 61.0, and ADA's FID is below it on 7 of "
        "10. Over the second half, without augmentation D tells the training digits from G's "
        "almost perfectly (median real/fake gap 0.99) and calls almost none of the digits it "
        "never sees real; with ADA the gap is 0.61 (r_t averages 0.58 to 0.61, p ends near "
        "0.26), with DiffAugment 0.20.",
        (
            Variant("No augmentation", "digits-ada", dict(ada_target=0.0)),
            Variant(
                "Fixed DiffAugment", "digits-ada", dict(ada_target=0.0, diffaugment=DIFFAUGMENT)
            ),
            Variant("ADA", "digits-ada"),
        ),
        layers=(),
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
        raise ValueError(f"lock: a locked link must name its lesson (lesson=1 … {len(LESSONS)})")
    return TeacherView(chosen, hidden, locked)


def teacher_query(lesson: Lesson, hide: tuple[str, ...] = (), lock: bool = True) -> dict:
    """The query parameters of a teacher link (see parse_teacher_link)."""
    query = {"lesson": str(lesson.number)}
    if hide:
        query["hide"] = ",".join(h for h in HIDEABLE if h in hide)
    if lock:
        query["lock"] = "1"
    return query

