"""Regularisers and augmentations of D's inputs, and the pieces of a GAN step built on them.

One registry, `REGULARISERS`, holds each with its paper, its setting (range, check, whether a
live run may change it, and how the app shows it) and its hooks into the step: what it does to
D's inputs, what it adds to D's loss, whether the batched multi-run can apply it. `Trainer`
(one run, batch axis first) and `MultiRun` (N stacked runs, a leading member axis) ask
`active(configs)` which are on and call the hooks, so the step's pieces exist once: a new
regulariser is its entry here (and its own module where it is more than a function, as
diffaugment and ada are) plus its GANConfig field. `batch_dims` says how many leading
axes index samples (1 for a lone run, 2 for stacked members).

Random draws come from explicit torch.Generators and nothing here reads a tensor's value on the
host, so a step built from these pieces can be captured as a CUDA graph (fast.StepGraph).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import torch

from playground.objectives import ada
from playground.objectives.diffaugment import (
    diff_augment,
    parse_policy,
)
from playground.objectives.losses import LOSSES

Tensor = torch.Tensor
Members = Tensor | None  # the stacked members a term applies to, as an index; None = all
Rows = tuple[int, ...] | None  # the same members as a tuple


class Streams(Protocol):
    """What a run gives the regularisers' hooks: its random streams and its batch layout.
    `Trainer` is one run (`batch_dims` 1); `MultiRun` stacks N members on a leading axis
    (`batch_dims` 2) and draws each member's numbers from that member's own stream."""

    batch_dims: int
    generator: torch.Generator | None  # the lone run's stream (None for stacked members)

    def normal(self, shape: torch.Size) -> Tensor:
        """N(0, 1) draws shaped `shape` (the member axis first when stacked)."""

    def uniform(self, shape: torch.Size, dtype: torch.dtype, rows: Rows) -> Tensor:
        """U[0, 1) draws shaped `shape`; when stacked, one slice per member of `rows` (None:
        every member), each from that member's stream."""


class RunState(Protocol):
    """The state a stateful entry keeps for one run (made by its `state` hook), e.g. ADA's
    augmentation probability. It lives on the run's device; the host reads it only at a log."""

    def observe(self, real_scores: Tensor) -> None:
        """D's raw scores on the real batch of one D update (detached)."""

    def logged(self) -> dict[str, float]:
        """The values of the entry's `series` at a log (the one host read)."""

    def resume(self, record: dict[str, float] | None) -> None:
        """Go on from a run's last logged point (None: a run that never logged)."""


class DTerm(NamedTuple):
    """What a term added to D's loss sees in D's update: D's inputs as it scored them (real
    requires grad when a term asked for it), its scores on real, D itself (`critic(x,
    members)`) and the run's streams."""

    real: Tensor
    fake: Tensor
    r: Tensor
    critic: Callable[[Tensor, Members], Tensor]
    streams: Streams


@dataclass(frozen=True)
class Widget:
    """How the app shows a setting: its label, its help and, for a number, the step of its
    -/+ buttons and the bounds they stop at."""

    label: str
    help: str
    step: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class Regulariser:
    """One regulariser or augmentation, composable with any loss. `setting` is the GANConfig
    field that holds its strength (a number in `bounds`, or text checked by `check`); `on(cfg)`
    says whether a run uses it; `data` the kinds of dataset it applies to.

    Its hooks (the step calls those of the regularisers that are on, in registry order):
    - `d_input(x, cfg, step, streams)`: changes what D sees (real and generated alike, in both
      players' updates, before packing);
    - `d_term(term, members, rows)`: what the step adds to D's loss, times `weight(cfg)`:
      a scalar for a lone run; for stacked members one value per member in `members` (an
      index, also given as the tuple `rows`), or per member when they are None (all);
    - `real_grad`: its term differentiates D's scores on real w.r.t. D's input;
    - `state(cfg, device)`: a stateful entry's RunState for a lone run, which its `d_input`
      then gets as a fifth argument; it observes D's scores on real at every D update, its
      `series` are logged in the run's history, and a run loaded from a checkpoint resumes it
      from its last logged point. `uses` names the other settings it reads.
    `batched`: the batched multi-run (MultiRun) can apply it to its stacked members; `live`: a
    running run may change its setting (config.LIVE_SETTINGS lists it); `graphable`: a step
    using it can be captured once as a CUDA graph and replayed (fast.FastPaths), i.e. it bakes
    in no value that changes from step to step."""

    name: str
    setting: str
    source: str
    sentence: str
    widget: Widget
    on: Callable[[Any], bool]
    data: tuple[str, ...] = ("points", "images")
    bounds: tuple[float, float] | None = None
    check: Callable[[Any], object] | None = None  # raises ValueError, a one-line reason
    weight: Callable[[Any], float] = lambda cfg: 1.0
    d_input: Callable[[Tensor, Any, int, Streams], Tensor] | None = None
    d_term: Callable[[DTerm, Members, Rows], Tensor] | None = None
    real_grad: bool = False
    state: Callable[[Any, torch.device | str], RunState] | None = None
    series: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    batched: bool = True
    live: bool = True
    graphable: bool = True


def _gp_on(cfg) -> bool:
    # The loss registry says which losses use a gradient penalty.
    return LOSSES[cfg.loss].lipschitz == "gradient penalty"


def _gp_term(term: DTerm, members: Members, rows: Rows) -> Tensor:
    # The penalty of `members` (all when None), each interpolating with its own draws.
    real, fake, dims = term.real.detach(), term.fake, term.streams.batch_dims
    if members is not None:
        real, fake = real.index_select(0, members), fake.index_select(0, members)
    shape = real.shape[:dims] + (1,) * (real.dim() - dims)
    eps = term.streams.uniform(shape, real.dtype, rows)
    return gradient_penalty(lambda x: term.critic(x, members), real, fake, batch_dims=dims, eps=eps)


def _r1_term(term: DTerm, members: Members, rows: Rows) -> Tensor:
    # The gradient is taken w.r.t. everything D scored (members' inputs are disjoint), then
    # the members it is on for are kept.
    value = r1_penalty(term.r, term.real, batch_dims=term.streams.batch_dims)
    return value if members is None else value.index_select(0, members)


def _noise_input(x: Tensor, cfg, step: int, streams: Streams) -> Tensor:
    std = annealed_noise_std(cfg.instance_noise, step, cfg.steps)
    return add_noise(x, std, lambda: streams.normal(x.shape))


def _augment_input(x: Tensor, cfg, step: int, streams: Streams) -> Tensor:
    return diff_augment(x, parse_policy(cfg.diffaugment), streams.generator)


def _ada_input(x: Tensor, cfg, step: int, streams: Streams, state: ada.AdaState) -> Tensor:
    return ada.augment(x, state.p, streams.generator)


REGULARISERS: dict[str, Regulariser] = {
    r.name: r
    for r in (
        Regulariser(
            "gradient penalty",
            "gp_weight",
            "Gulrajani et al. 2017 (WGAN-GP)",
            "Pushes the norm of D's input gradient towards 1 between real and fake samples; "
            "on with every loss whose Lipschitz fact is 'gradient penalty'.",
            Widget(
                "Gradient penalty weight λ",
                "λ, how strongly WGAN-GP pushes D's gradient norm towards 1.",
                (1.0, 0.0, 1000.0),
            ),
            on=_gp_on,
            bounds=(0.0, 1000.0),
            weight=lambda cfg: cfg.gp_weight,
            d_term=_gp_term,
        ),
        Regulariser(
            "r1",
            "r1_gamma",
            "Mescheder et al. 2018, 'Which training methods for GANs actually converge?'",
            "Penalises the squared norm of D's gradient on real data (weight gamma / 2), so D "
            "stays flat where the data is and the game settles instead of circling.",
            Widget(
                "R1 weight γ",
                "R1 (Mescheder et al. 2018): γ/2 times D's squared gradient norm on real data, "
                "with any loss; keeps D flat on the data so training settles. 0 = off; 0.1–10 "
                "typical.",
                (0.1, 0.0, 1000.0),
            ),
            on=lambda cfg: cfg.r1_gamma > 0,
            bounds=(0.0, 1000.0),
            weight=lambda cfg: cfg.r1_gamma / 2,
            d_term=_r1_term,
            real_grad=True,
        ),
        Regulariser(
            "diffaugment",
            "diffaugment",
            "Zhao et al. 2020, 'Differentiable Augmentation for Data-Efficient GAN Training'",
            "The same kinds of random translation, cutout and colour change applied to real and "
            "generated images before D, differentiably, so D cannot memorise a small dataset.",
            Widget(
                "DiffAugment policy",
                "DiffAugment (Zhao et al. 2020), images only: the same kinds of random change "
                "applied to real and generated images before D, comma-separated from color, "
                "translation, cutout. Empty = off. Stops D memorising a small dataset.",
            ),
            on=lambda cfg: bool(parse_policy(cfg.diffaugment)),
            data=("images",),
            check=parse_policy,  # raises ValueError naming an unknown policy
            d_input=_augment_input,
            live=False,  # a new policy is a new run: it was never offered as a live change
            batched=False,  # per-image draws from one generator; the multi-run is 2D only
        ),
        Regulariser(
            "ada",
            "ada_target",
            "Karras et al. 2020, 'Training Generative Adversarial Networks with Limited Data' "
            "(StyleGAN2-ADA)",
            "Random flips, shifts, colour changes and cutouts applied to real and generated "
            "images before D, each with probability p, differentiably; p rises while D is too "
            "sure of the real images (r_t = E[sign D(real)] above the target) and falls "
            "otherwise, so the augmentation is as strong as the data set's size needs.",
            Widget(
                "ADA target r_t",
                "ADA (Karras et al. 2020), images only: every image D sees, real or generated, "
                "is flipped, shifted, recoloured and cut out, each with probability p, and p "
                "is tuned as training goes so that r_t = E[sign D(real)], D's certainty about "
                "the real images, stays at this target (0.6 in the paper). 0 = off. Watch p "
                "and r_t in the run's history.",
                (0.05, 0.0, 1.0),
            ),
            on=lambda cfg: cfg.ada_target > 0,
            data=("images",),
            bounds=(0.0, 1.0),
            d_input=_ada_input,
            state=ada.AdaState.of,
            series=ada.SERIES,
            uses=("ada_kimg",),
            live=False,  # a new target is a new run: its p so far was tuned to the old one
            batched=False,  # per-image draws from one generator; the multi-run is 2D only
            graphable=False,  # p is adjusted every few D updates, counted on the host
        ),
        Regulariser(
            "instance noise",
            "instance_noise",
            "Sønderby et al. 2016",
            "Gaussian noise on every input D sees, annealed to zero, so real and fake overlap.",
            Widget(
                "Instance noise",
                "Std of Gaussian noise added to everything D sees, fading to 0: blurs the two "
                "distributions so they overlap early on.",
                (0.05, 0.0, 10.0),
            ),
            on=lambda cfg: cfg.instance_noise > 0,
            bounds=(0.0, 10.0),
            d_input=_noise_input,
            graphable=False,  # its strength is annealed with the step, a host-side number
        ),
    )
}


@dataclass(frozen=True)
class Active:
    """A regulariser that is on in a run: for stacked members, `members` holds the rows of
    those it is on for (None: every member, or the lone run) and `weight` one weight per row
    (a number when they share one)."""

    entry: Regulariser
    members: Tensor | None
    rows: tuple[int, ...] | None
    weight: float | Tensor
    state: RunState | None = None  # a stateful entry's, in a lone run (see with_states)


def active(configs: Sequence[Any], device: torch.device | str = "cpu") -> list[Active]:
    """The regularisers on for a lone run (one config) or for the stacked members of a
    multi-run (one config each, in member order), in registry order."""
    found = []
    for entry in REGULARISERS.values():
        rows = tuple(i for i, cfg in enumerate(configs) if entry.on(cfg))
        if not rows:
            continue
        weights = [entry.weight(configs[i]) for i in rows]
        if len(rows) == len(configs) and len(set(weights)) == 1:
            found.append(Active(entry, None, None, weights[0]))
        else:
            index = torch.tensor(rows, dtype=torch.long, device=device)
            found.append(Active(entry, index, rows, torch.tensor(weights, device=device)))
    return found


def with_states(
    actives: list[Active], cfg, device: torch.device | str, previous: Sequence[Active] = ()
) -> list[Active]:
    """A lone run's actives with each stateful entry's state: the one it had in `previous`
    (a live change of another setting keeps it), else a new one."""
    kept = {a.entry.name: a.state for a in previous if a.state is not None}
    return [
        dataclasses.replace(a, state=kept.get(a.entry.name) or a.entry.state(cfg, device))
        if a.entry.state is not None
        else a
        for a in actives
    ]


def d_input(x: Tensor, actives: list[Active], cfg, step: int, streams: Streams) -> Tensor:
    """What D sees of samples x after the input hooks that are on (before packing)."""
    for a in actives:
        if a.entry.d_input is None:
            continue
        if a.state is None:
            x = a.entry.d_input(x, cfg, step, streams)
        else:
            x = a.entry.d_input(x, cfg, step, streams, a.state)
    return x


def observe(actives: list[Active], real_scores: Tensor) -> None:
    """Show the stateful entries D's raw scores on one D update's real batch."""
    for a in actives:
        if a.state is not None:
            a.state.observe(real_scores.detach())


def series(actives: list[Active]) -> tuple[str, ...]:
    """The series the entries that are on log besides the step's own."""
    return tuple(k for a in actives for k in a.entry.series)


def logged(actives: list[Active]) -> dict[str, float]:
    """The stateful entries' series at a log."""
    record: dict[str, float] = {}
    for a in actives:
        if a.state is not None:
            record.update(a.state.logged())
    return record


def resume(actives: list[Active], record: dict[str, float] | None) -> None:
    """Let the stateful entries go on from a run's last logged point."""
    for a in actives:
        if a.state is not None:
            a.state.resume(record)


def needs_real_grad(actives: list[Active]) -> bool:
    return any(a.entry.real_grad for a in actives)


def add_d_terms(loss: Tensor, actives: list[Active], term: DTerm) -> Tensor:
    """D's loss plus each term that is on, weighted (per stacked member where they differ)."""
    for a in actives:
        if a.entry.d_term is None:
            continue
        value = a.entry.d_term(term, a.members, a.rows)
        if a.members is None:
            loss = loss + a.weight * value
        else:
            loss = loss.index_add(0, a.members, a.weight * value)
    return loss


def check_setting(entry: Regulariser, cfg) -> str | None:
    """Why `cfg`'s value of the entry's setting is refused (one line), or None. Its `bounds`
    are checked with every setting's (settings.fields reads them into the settings table)."""
    value = getattr(cfg, entry.setting)
    if entry.check is not None:
        try:
            entry.check(value)
        except ValueError as exc:
            return str(exc)
    if entry.on(cfg) and cfg.is_points and "points" not in entry.data:
        return f"applies to images only; '{cfg.dataset}' is 2D points, so leave it off"
    return None


class OneStream:
    """Streams of a lone run: every draw from its one generator, batch axis first."""

    batch_dims = 1

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def normal(self, shape: torch.Size) -> Tensor:
        return torch.randn(shape, device=self.generator.device, generator=self.generator)

    def uniform(self, shape: torch.Size, dtype: torch.dtype, rows: Rows) -> Tensor:
        gen = self.generator
        return torch.rand(shape, device=gen.device, generator=gen, dtype=dtype)


class MemberStreams:
    """Streams of N stacked members: member i's slice of a draw comes from generators[i]."""

    batch_dims = 2
    generator = None

    def __init__(self, generators: Sequence[torch.Generator]):
        self.generators = list(generators)

    def normal(self, shape: torch.Size) -> Tensor:
        each = shape[1:]
        return torch.stack(
            [torch.randn(each, device=g.device, generator=g) for g in self.generators]
        )

    def uniform(self, shape: torch.Size, dtype: torch.dtype, rows: Rows) -> Tensor:
        gens = self.generators if rows is None else [self.generators[i] for i in rows]
        each = shape[1:]
        return torch.stack(
            [torch.rand(each, device=g.device, generator=g, dtype=dtype) for g in gens]
        )


# ---------------------------------------------------------------------- shared step pieces
def annealed_noise_std(instance_noise: float, step: int, steps: int) -> float:
    """Instance noise's std at `step`: linear from `instance_noise` to 0 over the run."""
    return instance_noise * max(0.0, 1.0 - step / steps)


def add_noise(x: Tensor, std: float, draw: Callable[[], Tensor]) -> Tensor:
    """Instance noise (Sønderby et al. 2016): x + std·ε, with ε = draw() shaped like x.
    Nothing is drawn when std is 0, so a run without noise keeps its random stream."""
    return x if std <= 0 else x + std * draw()


def pack(x: Tensor, m: int, batch_dims: int = 1) -> Tensor:
    """PacGAN (Lin et al. 2018): D scores `m` consecutive samples jointly, so a generator that
    repeats itself is easy to spot. (…, B, C, rest) -> (…, B / m, m·C, rest), where the batch
    axis B is axis `batch_dims - 1`."""
    if m == 1:
        return x
    lead, rest = x.shape[: batch_dims - 1], x.shape[batch_dims + 1 :]
    b, c = x.shape[batch_dims - 1], x.shape[batch_dims]
    return x.reshape(*lead, b // m, c * m, *rest)


def shown_score(scores: Tensor, probability: bool | Tensor) -> Tensor:
    """D's output as people see it: σ(score) for the losses whose D outputs a probability
    (losses.Loss.probability), else the raw score. `probability` may be a boolean tensor that
    broadcasts against `scores` (one flag per stacked member)."""
    if isinstance(probability, Tensor):
        return torch.where(probability, torch.sigmoid(scores), scores)
    return torch.sigmoid(scores) if probability else scores


def _sample_norms(grad: Tensor, batch_dims: int) -> Tensor:
    return grad.flatten(batch_dims).norm(dim=-1) if grad.dim() > batch_dims else grad.abs()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
    batch_dims: int = 1,
    eps: Tensor | None = None,
) -> Tensor:
    # WGAN-GP (Gulrajani et al. 2017): E[(‖∇_x̂ D(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)x̃,
    # ε ~ U[0, 1] per sample: a soft 1-Lipschitz constraint on lines between real and fake.
    # Returns one value per leading index (a scalar for batch_dims = 1; (N,) for N members).
    # `eps` (shaped real.shape[:batch_dims] + 1s) may be given, e.g. drawn per member.
    if eps is None:
        shape = real.shape[:batch_dims] + (1,) * (real.dim() - batch_dims)
        eps = torch.rand(shape, device=real.device, generator=generator, dtype=real.dtype)
    mixed = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((_sample_norms(grad, batch_dims) - 1.0) ** 2).mean(-1)


def r1_penalty(scores: Tensor, real: Tensor, batch_dims: int = 1) -> Tensor:
    # R1 (Mescheder et al. 2018, eq. 9): R1 = γ/2 · E_x~data[‖∇_x D(x)‖²]. This returns the
    # expectation E‖∇_x D(x)‖² of D's `scores` on `real` (which must require grad and be what
    # D scored, so D runs once); the trainer weighs it by r1_gamma / 2. Under packing each
    # score's gradient is over its whole pack. One value per leading index, as above.
    (grad,) = torch.autograd.grad(scores.sum(), real, create_graph=True)
    return (_sample_norms(grad, batch_dims) ** 2).mean(-1)
