"""Walking the latent space of a trained generator: seeds, truncation, interpolation and
GANSpace-style principal directions.

`LatentModel` is a frozen, eval-mode copy of a generator with the few facts a viewer needs
(latent size, classes, output kind and shape, the 2D window). It never trains and never changes,
so one copy can serve many sliders and many sessions at once: every call runs under
`torch.inference_mode()` and only reads the weights.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from playground.data import loading
from playground.models.architectures import build_models
from playground.models.infogan import Codes
from playground.storage.checkpoints import (
    CheckpointError,
    check_against,
    load_tensors,
    read_meta,
    saved_points_source,
)
from playground.training.generator_state import N_REAL, GeneratorState
from playground.views.view2d import plot_window

METHODS = ("linear", "spherical")

# A latent vector z (latent_dim,), a batch of them, or the samples G makes from them: a CPU torch
# tensor. The explorer's pages hold these through this module's functions, never torch itself.
Vector = torch.Tensor


@dataclass(eq=False)  # eq=False: comparing modules and tensors field by field is meaningless
class LatentModel:
    generator: torch.nn.Module  # eval mode, requires_grad off; z (N, latent_dim) -> samples
    latent_dim: int
    num_classes: int  # 0 when the generator takes no label
    kind: str  # "points" or "images"
    shape: tuple[int, ...]  # (2,) or (C, H, W)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    step: int = 0
    dataset: str = ""
    extent: tuple[float, float, float, float] | None = None  # 2D data-space window
    real: np.ndarray | None = None  # (N_REAL, 2) float32 real points, 2D only
    fixed_z: torch.Tensor | None = None  # the run's fixed noise batch, CPU
    fixed_labels: torch.Tensor | None = None
    codes: Codes = field(default_factory=Codes)  # InfoGAN's codes: the last coordinates of z

    @classmethod
    def from_trainer(cls, trainer, device: str | torch.device | None = None) -> LatentModel:
        """A frozen copy of `trainer.sampler` (the EMA generator when there is one).

        The copy is independent of the trainer: training on can go on while this is explored.
        `device` defaults to the trainer's device."""
        target = torch.device(device) if device is not None else trainer.device
        generator = copy.deepcopy(trainer.sampler).to(target).eval().requires_grad_(False)
        data = trainer.data
        real = extent = None
        if data.kind == "points":
            extent = trainer.extent()
            points, _ = data.sample(N_REAL, torch.Generator(data.device).manual_seed(0))
            real = points.float().cpu().numpy()
        return cls(
            generator=generator,
            latent_dim=trainer.cfg.latent_dim,
            num_classes=trainer.num_classes,
            kind=data.kind,
            shape=tuple(data.shape),
            device=target,
            step=trainer.step,
            dataset=trainer.cfg.dataset,
            extent=extent,
            real=real,
            fixed_z=trainer.fixed_z.detach().cpu().clone(),
            fixed_labels=None
            if trainer.fixed_labels is None
            else trainer.fixed_labels.detach().cpu().clone(),
            codes=Codes.of(trainer.cfg),
        )

    @classmethod
    def from_state(cls, state: GeneratorState, device: str | torch.device = "cpu") -> LatentModel:
        """Rebuild a run's generator from `Run.generator_state()` (see GeneratorState)."""
        cfg = state.config
        with torch.device("meta"):  # no random init: the weights are assigned from the state
            generator, _ = build_models(cfg, state.shape, state.num_classes)
        _load_module(generator, state.weights, "generator")
        target = torch.device(device)
        return cls(
            generator=generator.to(target).eval().requires_grad_(False),
            latent_dim=cfg.latent_dim,
            num_classes=state.num_classes if cfg.conditional else 0,
            kind=state.kind,
            shape=state.shape,
            device=target,
            step=state.step,
            dataset=cfg.dataset,
            extent=state.extent,
            real=state.real,
            fixed_z=state.fixed_z,
            fixed_labels=state.fixed_labels,
            codes=Codes.of(cfg),
        )

    @torch.inference_mode()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | int | None = None) -> torch.Tensor:
        """z (N, latent_dim) [+ labels (N,), or one class for all N] -> float32 samples
        (N, *shape) on the CPU."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be (N, {self.latent_dim}), got {tuple(z.shape)}")
        if isinstance(labels, int):
            if not 0 <= labels < max(self.num_classes, 1):
                raise ValueError(f"class must be from 0 to {self.num_classes - 1}, got {labels}")
            labels = torch.full((z.shape[0],), labels, dtype=torch.long)
        if self.num_classes and labels is None:
            labels = torch.arange(z.shape[0]) % self.num_classes
        if not self.num_classes:
            labels = None
        out = self.generator(
            z.to(self.device, torch.float32), None if labels is None else labels.to(self.device)
        )
        return out.float().cpu()

    def sample(self, n: int, seed: int = 0, psi: float = 1.0) -> torch.Tensor:
        """n samples from noise seeded by `seed` (class labels cycle 0, 1, …), truncated by psi."""
        gen = torch.Generator().manual_seed(seed)
        z = truncate(torch.randn(n, self.latent_dim, generator=gen), psi)
        return self.generate(self.codes.fill(z, gen))  # InfoGAN codes from their priors


# ---------------------------------------------------------------------- loading
def load_latent_model(path: str | Path, device: str | torch.device = "cpu") -> LatentModel:
    """The generator of a checkpoint folder, without its discriminator, optimisers or dataset.

    Exploring needs no training data, so an MNIST checkpoint opens on a machine that never
    downloaded MNIST. Only safetensors and checked JSON are read; any problem raises
    CheckpointError."""
    folder = Path(path)
    meta = read_meta(folder)
    cfg = meta["config_obj"]
    kind, shape, num_classes = _data_facts(meta)
    # Built on the meta device: no memory and no random init (which would draw from, and so
    # disturb, the global RNG a training thread may be seeding right now); the checkpoint's
    # tensors are then assigned in place of the empty ones.
    with torch.device("meta"):
        generator, _ = build_models(cfg, shape, num_classes)
    files = meta["files"]
    role = "generator_ema" if "generator_ema" in files else "generator"
    _load_module(generator, load_tensors(folder, files[role]), role)
    fixed = load_tensors(folder, files["fixed"])
    fixed_z, fixed_labels = fixed.get("z"), fixed.get("labels")
    if fixed_z is None or fixed_z.ndim != 2 or fixed_z.shape[1] != cfg.latent_dim:
        raise CheckpointError("fixed noise does not match the config's latent_dim")
    if not torch.isfinite(fixed_z).all():
        raise CheckpointError("fixed noise holds NaN or inf")
    classes = num_classes if cfg.conditional else 0
    if classes:
        if fixed_labels is None or fixed_labels.shape != fixed_z.shape[:1]:
            raise CheckpointError("fixed noise labels are missing or malformed")
        if fixed_labels.min() < 0 or fixed_labels.max() >= classes:
            raise CheckpointError("fixed noise labels are out of range")
    real = extent = None
    if kind == "points":
        own = saved_points_source(folder, meta, cfg.replace(device="cpu"))  # the user's points
        real, extent = _real_points(cfg, own)
    target = torch.device(device)
    return LatentModel(
        generator=generator.to(target).eval().requires_grad_(False),
        latent_dim=cfg.latent_dim,
        num_classes=classes,
        kind=kind,
        shape=shape,
        device=target,
        step=meta["step"],
        dataset=cfg.dataset,
        extent=extent,
        real=real,
        fixed_z=fixed_z.float(),
        fixed_labels=fixed_labels.long() if classes else None,
        codes=Codes.of(cfg),
    )


def _data_facts(meta: dict) -> tuple[str, tuple[int, ...], int]:
    data = meta.get("data")
    cfg = meta["config_obj"]
    if not isinstance(data, dict):
        raise CheckpointError("checkpoint.json: field 'data' is missing or malformed")
    kind, shape, classes = data.get("kind"), data.get("shape"), data.get("num_classes")
    valid_shape = isinstance(shape, list) and all(
        isinstance(s, int) and not isinstance(s, bool) and 0 < s <= 4096 for s in shape
    )
    if kind == "points":
        valid_shape = valid_shape and shape == [2]
    elif kind == "images":
        valid_shape = valid_shape and len(shape) == 3 and shape[0] in (1, 3)
    else:
        raise CheckpointError(f"checkpoint.json: unknown data kind {kind!r}")
    if not valid_shape:
        raise CheckpointError(f"checkpoint.json: data shape {shape!r} does not fit kind {kind}")
    if not isinstance(classes, int) or isinstance(classes, bool) or not 0 <= classes <= 10_000:
        raise CheckpointError("checkpoint.json: data num_classes is malformed")
    if (kind == "points") != cfg.is_points:
        raise CheckpointError(f"checkpoint.json: data kind {kind} contradicts {cfg.dataset}")
    return kind, tuple(shape), classes


def _load_module(module: torch.nn.Module, tensors: dict[str, torch.Tensor], role: str) -> None:
    check_against(module.state_dict(), tensors, role)
    module.load_state_dict(tensors, assign=True)
    if any(t.is_meta for t in (*module.parameters(), *module.buffers())):
        raise CheckpointError(f"{role}: some weights were not in the checkpoint")


def _real_points(cfg, source=None) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Real 2D points (generated in code, or the user's own saved with the checkpoint) and the
    window every 2D view uses."""
    source = source if source is not None else loading.load_dataset(cfg, "cpu")
    real, _ = source.sample(N_REAL, torch.Generator().manual_seed(0))
    return real.float().numpy(), plot_window(source)


# ---------------------------------------------------------------------- latent arithmetic
def z_from_seed(seed: int, latent_dim: int) -> torch.Tensor:
    """The latent (latent_dim,) for a seed: N(0, I) from a CPU generator, so every machine and
    every device gives the same z for the same seed."""
    return torch.randn(latent_dim, generator=torch.Generator().manual_seed(int(seed)))


def with_noise(z: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """z (latent_dim,) with its first len(noise) coordinates replaced by `noise` (the rest, e.g.
    InfoGAN's codes, kept)."""
    return torch.cat([noise, z[noise.shape[0]:]])


def along(directions: torch.Tensor, amounts: list[float]) -> torch.Tensor:
    """The latent shift (latent_dim,) that moves amounts[j] along directions[j] (k, latent_dim)."""
    if len(amounts) != directions.shape[0]:
        raise ValueError(f"{directions.shape[0]} directions need {directions.shape[0]} amounts")
    weights = torch.tensor(amounts, dtype=directions.dtype).reshape(-1, 1)
    return (weights * directions).sum(0)  # zeros (latent_dim,) when there are no directions


def truncate(z: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick: move z towards the latent's mean by the factor psi.

    StyleGAN writes it w' = w̄ + ψ(w − w̄). Our prior is N(0, I), whose mean is 0, so this is
    simply ψ·z. ψ < 1 pulls samples towards the typical, well-trained middle of the latent
    (cleaner samples, less variety); ψ > 1 pushes them out to rarely-sampled regions."""
    return z * psi


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """(1 − t)·a + t·b. A tensor t of shape (n,) gives (n, *a.shape)."""
    t = _as_weights(t, a)
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: along the great circle from a to b, with the norm interpolated
    linearly. A straight line between two Gaussian samples passes close to the origin, where
    z has a norm the generator never saw in training (‖z‖ ≈ √d); slerp stays on the shell.

    When a and b are (nearly) parallel or antiparallel the circle is undefined or numerically
    unstable, and the straight line is used instead."""
    t = _as_weights(t, a)
    norm_a, norm_b = a.norm(), b.norm()
    if norm_a < 1e-12 or norm_b < 1e-12:
        return lerp(a, b, t)
    cos = torch.clamp(torch.dot(a.flatten() / norm_a, b.flatten() / norm_b), -1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    if sin.abs() < 1e-6:
        return lerp(a, b, t)
    # On the unit sphere: sin((1−t)Ω)/sinΩ · â + sin(tΩ)/sinΩ · b̂, then scale by the lerped norm.
    direction = torch.sin((1 - t) * omega) * (a / norm_a) + torch.sin(t * omega) * (b / norm_b)
    return direction / sin * ((1 - t) * norm_a + t * norm_b)


def _as_weights(t: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor | float:
    if isinstance(t, torch.Tensor) and t.ndim > 0:
        return t.to(like.dtype).reshape(-1, *([1] * like.ndim))  # (n, 1, …) broadcasts
    return float(t)


def interpolate(
    a: torch.Tensor, b: torch.Tensor, n: int, method: str = "spherical"
) -> torch.Tensor:
    """n latents (n, latent_dim) evenly spaced from a to b inclusive."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if n < 1:
        raise ValueError("n must be at least 1")
    t = torch.linspace(0.0, 1.0, n) if n > 1 else torch.zeros(1)
    return (slerp if method == "spherical" else lerp)(a, b, t)


# ---------------------------------------------------------------------- directions
@torch.inference_mode()
def principal_directions(
    model: LatentModel, k: int, n: int = 512, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """GANSpace-style directions (Härkönen et al. 2020), found on the outputs.

    Sample n latents Z (n, d), generate X (n, p), take the top principal components of X and
    their scores S (n, k); then solve Z·W ≈ S by least squares: column j of W (d,) is the latent
    direction whose movement best predicts the j-th output component. Returns the unit
    directions (k', d) and each component's fraction of the output variance (k',), where
    k' = min(k, d, p, n − 1).

    InfoGAN: the latents are drawn from G's prior (codes one-hot and uniform, as in training)
    and the directions move the noise only: their code coordinates are 0, so the codes stay
    as the explorer's code controls set them (k' counts the noise dimensions, not d)."""
    gen = torch.Generator().manual_seed(seed)
    z = model.codes.prior(n, model.latent_dim, gen)
    x = model.generate(z).reshape(n, -1)
    x = x - x.mean(dim=0)
    noise = model.latent_dim - model.codes.size  # z's first coordinates; the codes follow
    k = max(0, min(k, noise, x.shape[1], n - 1))
    # PCA through the smaller of the two Gram matrices (an eigh of at most n x n is far cheaper
    # than an SVD of X): the eigenvectors of XᵀX are the components, those of XXᵀ the scores.
    if x.shape[1] <= n:
        evals, evecs = torch.linalg.eigh((x.T @ x).double())  # ascending eigenvalues
        top = evals.argsort(descending=True)[:k]
        scores = x.double() @ evecs[:, top]  # (n, k) coordinates along each component
    else:
        evals, evecs = torch.linalg.eigh((x @ x.T).double())
        top = evals.argsort(descending=True)[:k]
        scores = evecs[:, top] * evals[top].clamp_min(0).sqrt()
    total = evals.clamp_min(0).sum()
    explained = evals[top].clamp_min(0) / total if total > 0 else torch.zeros(k).double()
    zn = z[:, :noise]
    zc = (zn - zn.mean(dim=0)).double()
    weights = torch.linalg.lstsq(zc, scores).solution  # (noise, k)
    directions = F.pad(weights.T, (0, model.codes.size))  # (k, d): codes untouched
    norms = directions.norm(dim=1, keepdim=True)
    directions = torch.where(norms > 1e-12, directions / norms.clamp_min(1e-12), 0.0)
    # A component's sign is arbitrary; fix it so the largest entry is positive (repeatable UI).
    largest = directions.abs().argmax(dim=1, keepdim=True)
    signs = torch.sign(directions.gather(1, largest))
    directions = directions * torch.where(signs == 0, 1.0, signs)
    return directions.float(), explained.float()


def output_change(
    model: LatentModel, direction: torch.Tensor, n: int = 64, seed: int = 1, step: float = 1.0
) -> float:
    """Mean distance between G(z) and G(z + step·direction) over n random z: how much moving
    along a direction changes a sample (used to rank and test directions)."""
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    before = model.generate(z).reshape(n, -1)
    after = model.generate(z + step * direction).reshape(n, -1)
    return float((after - before).norm(dim=1).mean())


# ---------------------------------------------------------------------- W space (StyleGAN)
def has_styles(generator: torch.nn.Module) -> bool:
    """Whether a generator has a W space: a mapping z -> w, a running mean w̄ and a synthesis
    from one w per layer (models.stylegan.StyleGenerator)."""
    return all(hasattr(generator, name) for name in ("mapping", "synthesis", "truncate", "num_ws"))


def _device_of(generator: torch.nn.Module) -> torch.device:
    return next(generator.parameters()).device


@torch.inference_mode()
def style_ws(
    generator: torch.nn.Module,
    z: torch.Tensor,
    psi: float = 1.0,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """The per-layer styles (N, num_ws, w_dim) of latents z (N, latent_dim): w = mapping(z),
    truncated in W towards G's running mean, w̄ + ψ(w − w̄), the same w for every layer. On the
    CPU. Truncating w rather than z is StyleGAN's way: W is where G's typical images sit."""
    if not has_styles(generator):
        raise ValueError(f"{type(generator).__name__} has no W space (not a StyleGAN generator)")
    device = _device_of(generator)
    labels = None if labels is None else labels.to(device)
    w = generator.mapping(z.to(device, torch.float32), labels)
    return generator.broadcast(generator.truncate(w, psi)).float().cpu()


def crossed_ws(ws_coarse: torch.Tensor, ws_fine: torch.Tensor, crossover: int) -> torch.Tensor:
    """Styles (N, num_ws, w_dim) with the layers before `crossover` from ws_coarse and the rest
    from ws_fine: 0 is all ws_fine, num_ws all ws_coarse."""
    if ws_coarse.shape != ws_fine.shape:
        raise ValueError(f"ws of shapes {tuple(ws_coarse.shape)} and {tuple(ws_fine.shape)}")
    if not 0 <= crossover <= ws_coarse.shape[1]:
        raise ValueError(f"crossover must be from 0 to {ws_coarse.shape[1]}, got {crossover}")
    return torch.cat([ws_coarse[:, :crossover], ws_fine[:, crossover:]], dim=1)


@torch.inference_mode()
def synthesise(generator: torch.nn.Module, ws: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) in [-1, 1] on the CPU from styles ws (N, num_ws, w_dim); the
    generator's own noise mode (fixed per-layer noise in eval mode)."""
    return generator.synthesis(ws.to(_device_of(generator), torch.float32)).float().cpu()


def mix_styles(
    generator: torch.nn.Module,
    z_coarse: torch.Tensor,
    z_fine: torch.Tensor,
    crossover: int,
    psi: float = 1.0,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Style mixing: images (N, C, H, W) whose layers before `crossover` (the low-resolution
    ones: overall shape) read z_coarse's w and whose later layers (stroke, fine detail) read
    z_fine's. z_coarse and z_fine are (N, latent_dim), paired row by row."""
    coarse = style_ws(generator, z_coarse, psi, labels)
    fine = style_ws(generator, z_fine, psi, labels)
    return synthesise(generator, crossed_ws(coarse, fine, crossover))


@torch.inference_mode()
def w_directions(
    generator: torch.nn.Module, k: int, n: int = 2000, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The principal directions of W: map n latents drawn from N(0, I) (seeded) to their styles
    w, and take the top k principal components of those w. Returns the unit directions (k', w_dim),
    each one's share of W's variance (k',) and the spread of the w along it (k', one standard
    deviation), k' = min(k, w_dim, n − 1). W is where a StyleGAN generator's styles live, so
    its principal directions are ways its images commonly vary (a slider moves w along one)."""
    if not has_styles(generator):
        raise ValueError(f"{type(generator).__name__} has no W space (not a StyleGAN generator)")
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.latent_dim, generator=gen)
    w = style_ws(generator, z)[:, 0].double()  # (n, w_dim): every layer's w is the same
    w = w - w.mean(dim=0)
    k = max(0, min(k, w.shape[1], n - 1))
    evals, evecs = torch.linalg.eigh(w.T @ w / max(n - 1, 1))
    top = evals.argsort(descending=True)[:k]
    total = evals.clamp_min(0).sum()
    share = evals[top].clamp_min(0) / total if total > 0 else torch.zeros(k, dtype=torch.double)
    directions = evecs[:, top].T  # (k, w_dim), unit rows
    largest = directions.abs().argmax(dim=1, keepdim=True)  # a repeatable sign
    directions = directions * torch.where(directions.gather(1, largest) < 0, -1.0, 1.0)
    return directions.float(), share.float(), evals[top].clamp_min(0).sqrt().float()


def _class_rows(model: LatentModel, label: int | None, n: int) -> torch.Tensor | None:
    """One class for n rows, as a conditional G wants it (None for an unconditional G)."""
    if not model.num_classes:
        return None
    return torch.full((n,), 0 if label is None else int(label), dtype=torch.long)


def styled(
    model: LatentModel,
    seed: int,
    psi: float,
    shift: torch.Tensor | None = None,
    label: int | None = None,
) -> torch.Tensor:
    """The image (1, C, H, W) of a seed's style, truncated in W by psi and moved by `shift`
    (w_dim,) in W at every layer (latent.along over w_directions, for instance)."""
    z = z_from_seed(seed, model.latent_dim)[None]
    ws = style_ws(model.generator, z, psi, _class_rows(model, label, 1))
    if shift is not None:
        ws = ws + shift.to(ws.dtype)
    return synthesise(model.generator, ws)


def mixing_grid(
    model: LatentModel,
    coarse_seeds: list[int],
    fine_seeds: list[int],
    crossover: int,
    psi: float = 1.0,
    label: int | None = None,
) -> torch.Tensor:
    """The style-mixing grid, row by row, (len(coarse)+1)·(len(fine)+1) images: a blank corner
    (black, -1) and the fine seeds' own images along the top; then each row starts with a coarse
    seed's own image, followed by its mixes with every fine seed (mix_styles at `crossover`)."""
    g = model.generator
    coarse = torch.stack([z_from_seed(s, model.latent_dim) for s in coarse_seeds])
    fine = torch.stack([z_from_seed(s, model.latent_dim) for s in fine_seeds])
    nc, nf = len(coarse_seeds), len(fine_seeds)
    mixed = mix_styles(g, coarse.repeat_interleave(nf, 0), fine.repeat(nc, 1), crossover, psi,
                       _class_rows(model, label, nc * nf))
    tops = synthesise(g, style_ws(g, fine, psi, _class_rows(model, label, nf)))
    sides = synthesise(g, style_ws(g, coarse, psi, _class_rows(model, label, nc)))
    cells = [torch.full_like(tops[:1], -1.0), tops]  # the corner: black
    for i in range(nc):
        cells += [sides[i : i + 1], mixed[i * nf : (i + 1) * nf]]
    return torch.cat(cells)
