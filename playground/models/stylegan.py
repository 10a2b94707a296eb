"""A small StyleGAN generator (Karras, Laine & Aila, "A Style-Based Generator Architecture for
GANs", CVPR 2019; with StyleGAN2's weight demodulation, Karras et al., "Analyzing and Improving
the Image Quality of StyleGAN", CVPR 2020), at 8, 16, 32 and 64 px.

The idea: z is not fed into the convolutions. A mapping network turns it into an intermediate
latent w, and w steers every layer's "style" (how strongly each input channel counts), while the
picture itself grows from a learned constant.

- Mapping: z is pixel-normalised (divided by its root mean square, so it lies near a sphere),
  then MAPPING_LAYERS fully connected layers with leaky ReLU give w (w_dim = latent_dim). Its
  layers learn 100 times slower (StyleGAN's learning-rate multiplier 0.01), so w's distribution
  moves slowly under the synthesis network that reads it.
- Synthesis: a learned 4x4 constant, one style layer at 4x4, then per doubling of the side a
  bilinear 2x upsampling and two style layers, and a final toRGB (a modulated 1x1 convolution);
  tanh puts the image in [-1, 1] like the project's other generators.
- A style layer is a modulated, demodulated 3x3 convolution. Its style s = A(w) (a learned affine
  map, one scale per input channel, biased to 1) scales the weights, w'_oik = s_i · w_oik, and
  demodulation rescales each output channel back to unit norm, w''_oik = w'_oik / √(Σ_ik w'_oik²
  + ε): for inputs of unit variance the output then has unit variance whatever the style's
  scale, which replaces StyleGAN1's AdaIN without its droplet artefacts. Computed as StyleGAN2's
  non-fused path, out = d ⊙ conv(s ⊙ x, w) with d the demodulation factors: the same numbers as
  a grouped convolution with one modulated kernel per sample, with one shared kernel.
- Then per-pixel Gaussian noise (one image per layer, shared by the channels) times a learned
  per-channel strength (starting at 0), a bias and leaky ReLU (gain √2). In training the noise
  is fresh each call; in eval mode it is a fixed image per layer (StyleGAN's "const" mode), so a
  z always gives the same picture; `noise_mode="none"` leaves it out.
- Every layer's weights are drawn N(0, 1) and scaled by 1/√fan_in at run time ("equalised
  learning rate"), so Adam's steps are the same size for every layer. dcgan_init leaves them
  alone: it only touches nn.Linear/nn.Conv* modules, and G has none.

Each layer (and the toRGB) reads its own w: `synthesis` takes ws of shape (N, num_ws, w_dim).
Style mixing regularisation: in training mode, with probability MIXING_PROB, the ws from a
random crossover layer on are those of the batch's previous sample (the batch rolled by one),
so no layer can assume its neighbours share its style. The draws use torch's global RNG on the
CPU (deterministic under torch.manual_seed, no device sync).

Truncation: G keeps w̄, a running mean of w (w̄ ← w̄ + (1 − W_AVG_BETA)(mean_batch w − w̄) at
every training-mode mapping; a buffer, so checkpoints keep it), and `truncate(w, ψ) = w̄ +
ψ(w − w̄)`: ψ = 1 leaves w, ψ = 0 gives the "average" picture for every z.

Conditioning follows StyleGAN2-ADA: the label's learned embedding is pixel-normalised and
concatenated to the normalised z before the mapping. D is the project's DCGAN discriminator
(nets.dcgan_discriminator: strided convolutions, batch norm dropped under a gradient penalty)
rather than StyleGAN's residual D: at these sizes it is what the other image models are judged
by, so a comparison isolates the generator. Sizes: the side must be 4 · 2^k for the doubling
from 4x4, so 28 px (MNIST) is not built; train MNIST at 32 px instead.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from playground.models.parts import Generator, ModelSettings

SIZES = (8, 16, 32, 64)
BASE_SIDE = 4  # the learned constant is 4x4; each block doubles it
MAPPING_LAYERS = 4  # StyleGAN uses 8; StyleGAN2-ADA's small-data configurations use 2
MAPPING_LR_MUL = 0.01  # the mapping network learns 100x slower (StyleGAN)
MIXING_PROB = 0.9  # style mixing regularisation's probability per training batch
W_AVG_BETA = 0.995  # decay of the running mean of w, per training-mode mapping
ACT_GAIN = math.sqrt(2.0)  # leaky ReLU's gain, so activations keep unit variance
NOISE_MODES = ("random", "const", "none")


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """x / rms(x) over the feature axis: (N, D) -> (N, D) of unit mean square."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * ACT_GAIN


class EqualLinear(nn.Module):
    """A fully connected layer with equalised learning rate: weight N(0, 1/lr_mul²) scaled by
    lr_mul/√in at run time (and bias by lr_mul), so the effective weight starts N(0, 1/in)."""

    def __init__(self, d_in: int, d_out: int, bias_init: float = 0.0, lr_mul: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_out, d_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((d_out,), bias_init / lr_mul))
        self.weight_gain, self.lr_mul = lr_mul / math.sqrt(d_in), lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.weight_gain, self.bias * self.lr_mul)


class MappingNetwork(nn.Module):
    """z (N, z_dim) [+ label embedding (N, z_dim)] -> w (N, w_dim)."""

    def __init__(self, z_dim: int, w_dim: int, conditional: bool, layers: int = MAPPING_LAYERS):
        super().__init__()
        widths = [z_dim * (2 if conditional else 1)] + [w_dim] * layers
        pairs = zip(widths[:-1], widths[1:], strict=True)
        self.fcs = nn.ModuleList(EqualLinear(a, b, lr_mul=MAPPING_LR_MUL) for a, b in pairs)

    def forward(self, z: torch.Tensor, embedded: torch.Tensor | None = None) -> torch.Tensor:
        x = pixel_norm(z)
        if embedded is not None:
            x = torch.cat([x, pixel_norm(embedded)], dim=1)
        for fc in self.fcs:
            x = lrelu(fc(x))
        return x


class ModulatedConv2d(nn.Module):
    """x (N, c_in, H, W), w (N, w_dim) -> (N, c_out, H, W): a k x k convolution whose weights are
    scaled per sample by the style s = A(w) (per input channel) and, with `demodulate`,
    rescaled to unit norm per output channel."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, kernel: int, demodulate: bool = True):
        super().__init__()
        self.affine = EqualLinear(w_dim, c_in, bias_init=1.0)  # styles start at 1
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.weight_gain = 1.0 / math.sqrt(c_in * kernel * kernel)
        self.demodulate, self.padding = demodulate, kernel // 2

    def styles(self, w: torch.Tensor) -> torch.Tensor:
        return self.affine(w)  # (N, c_in)

    def modulated_weight(self, w: torch.Tensor) -> torch.Tensor:
        """Each sample's kernel w''_oik (N, c_out, c_in, k, k), as a grouped convolution would
        use it (the reference form of what `forward` computes)."""
        weight = self.weight[None] * self.weight_gain * self.styles(w)[:, None, :, None, None]
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        return weight

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.styles(w)  # (N, c_in)
        weight = self.weight * self.weight_gain  # (c_out, c_in, k, k)
        out = F.conv2d(x * s[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:
            # d_no = 1/√(Σ_ik (s_ni w_oik)²): (N, c_in) @ (c_in, c_out) -> (N, c_out)
            d = torch.rsqrt(s.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)
            out = out * d[:, :, None, None]
        return out


class StyleLayer(nn.Module):
    """[2x bilinear upsampling,] modulated 3x3 conv, noise x per-channel strength, bias,
    leaky ReLU: (N, c_in, s, s) -> (N, c_out, side, side)."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, side: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(c_in, c_out, w_dim, 3)
        self.noise_strength = nn.Parameter(torch.zeros(c_out))  # learned, starts at no noise
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.register_buffer("noise_const", torch.randn(1, 1, side, side))  # eval-mode noise
        self.up = up

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        x = self.conv(x, w)
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
            x = x + noise * self.noise_strength[:, None, None]
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength[:, None, None]
        return lrelu(x + self.bias[:, None, None])


class ToRGB(nn.Module):
    """Modulated 1x1 conv to the image's channels, no demodulation, no activation."""

    def __init__(self, c_in: int, c_out: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(c_in, c_out, w_dim, 1, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(c_out))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[:, None, None]


def doublings(size: int) -> int:
    """Blocks from the 4x4 constant to `size`: 1 at 8 px, 2 at 16, 3 at 32, 4 at 64."""
    if size not in SIZES:
        raise ValueError(f"StyleGAN builds {', '.join(map(str, SIZES))} px images, not {size}")
    return (size // BASE_SIDE).bit_length() - 1


def channel_plan(width: int, size: int) -> list[int]:
    """Channels at 4x4, 8x8, …, size: DCGAN's G's at each side, width · size / (2 · side),
    halving as the side doubles (8 px with width 32: 32 at 4x4, 16 at 8x8)."""
    n = doublings(size)
    return [max(1, width * size // (2 * BASE_SIDE * 2**i)) for i in range(n + 1)]


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> pre-tanh image (N, C, size, size), from a learned 4x4 constant."""

    def __init__(self, w_dim: int, channels: list[int], image_channels: int):
        super().__init__()
        self.const = nn.Parameter(torch.randn(channels[0], BASE_SIDE, BASE_SIDE))
        layers = [StyleLayer(channels[0], channels[0], w_dim, BASE_SIDE)]
        for i in range(1, len(channels)):
            side = BASE_SIDE * 2**i
            layers.append(StyleLayer(channels[i - 1], channels[i], w_dim, side, up=True))
            layers.append(StyleLayer(channels[i], channels[i], w_dim, side))
        self.layers = nn.ModuleList(layers)
        self.to_rgb = ToRGB(channels[-1], image_channels, w_dim)
        self.num_ws = len(layers) + 1  # one w per style layer and one for the toRGB

    def forward(self, ws: torch.Tensor, noise_mode: str) -> torch.Tensor:
        # repeat, not expand: a view of a parameter requires grad even under no_grad.
        x = self.const[None].repeat(ws.shape[0], 1, 1, 1)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], noise_mode)
        return self.to_rgb(x, ws[:, -1])


class StyleGenerator(Generator):
    """z (N, latent_dim) [+ label (N,)] -> image (N, C, size, size) in [-1, 1], through
    w = mapping(z) and synthesis(ws); `body` is the synthesis network."""

    def __init__(
        self,
        mapper: MappingNetwork,
        synthesis: SynthesisNetwork,
        latent_dim: int,
        w_dim: int,
        out_shape: tuple[int, ...],
        num_classes: int = 0,
    ):
        super().__init__(synthesis, latent_dim, out_shape, num_classes, image=True)
        self.mapper = mapper
        self.w_dim = w_dim
        self.mixing_prob = MIXING_PROB
        self.register_buffer("w_avg", torch.zeros(w_dim))  # running mean of w, for truncation

    @property
    def num_ws(self) -> int:
        return self.body.num_ws

    def mapping(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """w (N, w_dim); in training mode this also moves w_avg towards the batch's mean w."""
        w = self.mapper(z, None if self.embed is None else self.embed(labels))
        if self.training:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, W_AVG_BETA))
        return w

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """w̄ + ψ(w − w̄), for w (N, w_dim) or ws (N, num_ws, w_dim)."""
        return self.w_avg + psi * (w - self.w_avg)

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """The same w for every layer: (N, w_dim) -> (N, num_ws, w_dim)."""
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)

    def synthesis(self, ws: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        """ws (N, num_ws, w_dim) -> images in [-1, 1]. noise_mode: "random" (fresh noise),
        "const" (each layer's fixed noise image) or "none"; by default random in training
        mode and const in eval mode."""
        if noise_mode is None:
            noise_mode = "random" if self.training else "const"
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, not {noise_mode!r}")
        if ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be (N, {self.num_ws}, {self.w_dim}), not {tuple(ws.shape)}")
        return torch.tanh(self.body(ws, noise_mode))

    def mix_styles(self, ws: torch.Tensor) -> torch.Tensor:
        """Style mixing regularisation: with probability mixing_prob, the ws from a random
        crossover layer on come from the batch rolled by one (another sample's w)."""
        # Both draws every call, on the CPU's global RNG (named, so a meta-device build's cost
        # estimate also draws real numbers): the same stream whatever the outcome.
        mix = float(torch.rand((), device="cpu")) < self.mixing_prob
        crossover = int(torch.randint(1, self.num_ws, (), device="cpu"))
        if not mix:
            return ws
        return torch.cat([ws[:, :crossover], ws.roll(1, dims=0)[:, crossover:]], dim=1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        ws = self.broadcast(self.mapping(z, labels))
        if self.training and self.mixing_prob > 0:
            ws = self.mix_styles(ws)
        return self.synthesis(ws)


def stylegan_generator(
    cfg: ModelSettings, out_shape: tuple[int, ...], num_classes: int
) -> StyleGenerator:
    channels, size, _ = out_shape
    w_dim = cfg.latent_dim  # as in StyleGAN, where z and w are both 512-dimensional
    mapper = MappingNetwork(cfg.latent_dim, w_dim, conditional=num_classes > 0)
    synthesis = SynthesisNetwork(w_dim, channel_plan(cfg.width, size), channels)
    return StyleGenerator(mapper, synthesis, cfg.latent_dim, w_dim, out_shape, num_classes)
