"""The one table of a run's settings: for each GANConfig field its label, help, unit, bounds,
widget step, whether a live run may change it, and where the app shows it. The name of a row
is the field's name, which is also its name in a page URL and in `--set NAME=VALUE`.

Everything that shows, parses or checks a setting reads this table: the Train page's widgets,
the URL codec, the command line's `--set` and `settings`, and `GANConfig.validate` (bounds and
choices). Defaults and types live on the dataclass itself (settings/config.py). A regulariser's
row is made from its registry entry (objectives/regularisers.py), where its facts are written.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.data import registry as datasets
from playground.models import architectures, infogan
from playground.objectives import losses
from playground.objectives.regularisers import REGULARISERS

# The allowed values of the pick-one settings, read from the registries that own them.
DATASETS = tuple(datasets.DATASETS)
ARCHITECTURES = tuple(architectures.ARCHITECTURES)
LOSSES = losses.names_where()  # every loss in the registry, in its order
OPTIMIZERS = ("adam", "rmsprop", "sgd")
DEVICES = ("auto", "cpu", "cuda", "mps")
IMAGE_SIZES = datasets.IMAGE_SIZES


@dataclass(frozen=True)
class Field:
    """One setting as a person meets it. `low`/`high` bound a number (validation refuses
    anything outside, the widget's −/+ buttons stop there); `step` is a float widget's −/+
    step, fitted to its scale (Streamlit's default 0.01 would turn a learning rate of 0.001
    into −0.009); `choices` are a pick-one setting's values; `main` settings show first."""

    name: str
    label: str
    help: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple = ()
    live: bool = False
    main: bool = False

    def bounds_text(self) -> str:
        """The allowed values in words, e.g. "1 to 100" or "adam, rmsprop, sgd"."""
        if self.choices:
            return ", ".join(map(str, self.choices))
        if self.low is None:
            return ""
        if isinstance(self.low, int) and isinstance(self.high, int):
            return f"{self.low:,} to {self.high:,}"
        return f"{self.low:g} to {self.high:g}"


def _live_note(text: str) -> str:
    return f"{text} Can be changed while a run is live."


_ROWS = (
    # --- shown first (the page's main settings), in this order
    Field("dataset", "Dataset", "2D toys train in seconds and make collapse visible. "
          + " ".join(f"{d.name}: {d.summary}" for d in datasets.DATASETS.values()),
          choices=DATASETS, main=True),
    Field("arch", "Architecture",
          " ".join(f"{a.name}: {a.summary}" for a in architectures.ARCHITECTURES.values()),
          choices=ARCHITECTURES, main=True),
    Field("loss", "Loss", "The game G and D play; its formula is shown below.",
          choices=LOSSES, live=True, main=True),
    Field("lr_g", "Generator learning rate", _live_note("Generator learning rate."),
          low=1e-7, high=1.0, step=1e-4, live=True, main=True),
    Field("lr_d", "Discriminator learning rate", _live_note("Discriminator learning rate."),
          low=1e-7, high=1.0, step=1e-4, live=True, main=True),
    Field("d_steps", "D steps per G step",
          _live_note("D updates per G update (WGANs use 5)."), unit="updates",
          low=1, high=100, live=True, main=True),
    Field("batch_size", "Batch size", "Samples per update, for real and fake each.",
          unit="samples", low=2, high=8192, main=True),
    Field("latent_dim", "Noise dimensions (z)",
          "Size of the noise vector z that G turns into a sample (with InfoGAN codes, it "
          "counts them too: the codes are z's last coordinates).", low=1, high=1024, main=True),
    Field("steps", "Training steps",
          "Total training steps (one step = d_steps D updates + g_steps G updates).",
          unit="steps", low=1, high=10_000_000, live=True, main=True),
    Field("seed", "Random seed", "Same seed and settings give the same run.",
          low=0, high=2**31 - 1, main=True),
    Field("device", "Device", "auto picks the GPU when there is one.", choices=DEVICES,
          main=True),
    # --- under "Advanced", in this order
    Field("data_folder", "Image folder",
          "A folder of your own images (searched recursively), or upload a zip of them with "
          "the uploader at the top of the sidebar."),
    Field("points_file", "Points file (CSV)",
          "A CSV file of 2D points, x then y a line (dataset own-points). Drawing or uploading "
          "points on this page sets it; the command line takes any such file."),
    Field("image_size", "Image size (pixels)",
          "Images are resized and centre-cropped to this many pixels a side.", unit="pixels",
          choices=IMAGE_SIZES),
    Field("grayscale", "Grayscale", "Convert colour images to one channel."),
    Field("train_images", "Training images (0 = all)",
          "Train on only this many of the dataset's images (the same fixed draw every time) "
          "and hold the rest out: with few images D can memorise them (lesson 8). 0 trains on "
          "all of them.", unit="images", low=0, high=10_000_000),
    Field("conditional", "Conditional on the class",
          "Give G and D the class label, so you can ask G for a given digit."),
    Field("hidden", "MLP hidden units", "Units per hidden layer of the MLP.", unit="units",
          low=4, high=4096),
    Field("layers", "MLP hidden layers", "Hidden layers of the MLP.", low=1, high=8),
    Field("width", "DCGAN width (channels)",
          "Base channel count of the convolutional models (DCGAN: ngf = ndf; SNGAN: D's width, "
          "G has twice it): wider is stronger and slower.", unit="channels", low=4, high=512),
    Field("spectral_norm", "Spectral norm on D",
          "Normalise each D layer by its largest singular value: keeps D smooth (Miyato et al. "
          "2018)."),
    Field("pack", "PacGAN pack size",
          "PacGAN: D judges this many samples together, so a generator that keeps producing the "
          "same thing is easy to catch (Lin et al. 2018). 1 = off.", unit="samples",
          low=1, high=8),
    Field("info_cat", "InfoGAN categories",
          "InfoGAN (Chen et al. 2016): values of a categorical code in z (0 = none). A head Q "
          "on D must tell the code back from the image, so G learns to make each value look "
          "different, often one value per digit, with no labels.",
          low=0, high=infogan.MAX_CATEGORIES),
    Field("info_cont", "InfoGAN continuous codes",
          "InfoGAN: continuous codes in z, uniform in [-1, 1], that Q must read back; each tends "
          "to control one smooth property (slant, thickness).", low=0, high=infogan.MAX_CONTINUOUS),
    Field("info_weight", "InfoGAN weight λ",
          "InfoGAN's λ: the weight of the mutual-information term (Q's cross-entropy and "
          "Gaussian error on the codes) in G's and D's losses.", low=0.0, high=100.0, step=0.1),
    Field("clip_value", "Weight clip c",
          "WGAN clips every D weight to [−c, c] to keep it Lipschitz.",
          low=1e-5, high=10.0, step=0.005, live=True),
    Field("label_smoothing", "Label smoothing",
          "One-sided: D's target for real samples becomes 1 − this, so D is never fully "
          "confident.", low=0.0, high=0.5, step=0.05, live=True),
    # Each regulariser's row comes from its registry entry, where its facts are written.
    *(Field(r.setting, r.widget.label, r.widget.help,
            low=r.bounds[0] if r.bounds else None, high=r.bounds[1] if r.bounds else None,
            step=r.widget.step[0] if r.widget.step else None, live=r.live)
      for r in REGULARISERS.values()),
    Field("ada_kimg", "ADA speed (thousand images)",
          "How fast ADA tunes its augmentation probability p: p could go from 0 to 1 in this "
          "many thousand real images shown to D. The paper uses 500 for runs of millions of "
          "images; 20 suits a run of a few thousand steps. Used only when the ADA target is on.",
          unit="thousand images", low=0.1, high=100_000.0, step=5.0),
    Field("optimizer", "Optimizer",
          "Adam is the default for GANs; RMSprop is what the original WGAN used.",
          choices=OPTIMIZERS),
    Field("beta1", "Adam β1",
          "Adam's momentum; 0.5 is the DCGAN choice (less momentum than the default 0.9).",
          low=0.0, high=0.9999, step=0.05, live=True),
    Field("beta2", "Adam β2", "Adam's second-moment decay.", low=0.0, high=0.99999,
          step=0.0005, live=True),
    Field("g_steps", "G steps per step", "G updates per step.", unit="updates", low=1, high=100,
          live=True),
    Field("grad_clip", "Gradient norm clip",
          "Before each update, a player's gradient is scaled down to this norm when it is "
          "longer (0 = off): one huge step can no longer throw a run off. Watch the gradient "
          "norm chart: clipped updates stay at this line. Can be changed while a run is live.",
          low=0.0, high=1000.0, step=0.5, live=True),
    Field("ema", "Generator EMA decay",
          "Sample from an exponential moving average of G's weights (0 = off; 0.999 typical): "
          "smoother pictures.", low=0.0, high=0.99999, step=0.001),
    Field("log_every", "Log every (steps)", "Steps between points on the curves.",
          unit="steps", low=1, high=100_000, live=True),
    Field("sample_every", "Samples every (steps)",
          "Steps between the sample pictures kept for the timeline. The live picture also "
          "refreshes about twice a second by itself, whenever drawing it is cheap.", unit="steps",
          low=1, high=1_000_000, live=True),
    Field("eval_every", "Measure collapse every (steps)",
          "Steps between mode-collapse measures (modes or classes covered; see the Diagnostics "
          "page). They cost a few percent of training time; 0 turns them off.", unit="steps",
          low=0, high=1_000_000, live=True),
    Field("fast_paths", "GPU fast paths",
          "On a GPU: bf16 arithmetic and the channels-last layout for DCGAN, and each training "
          "step replayed as one CUDA graph. No effect on a CPU. Off = plain fp32, one kernel "
          "launch at a time (for comparison)."),
)
FIELDS: dict[str, Field] = {f.name: f for f in _ROWS}

# The settings a live run (and `gan-playground train --resume`) may change, with full effect:
# the optimisers, the losses and the training loop read them afresh at the next step. Every
# other setting shapes the models, the data, the optimiser's kind or the random streams, so
# changing it means a new run. (A loss change is further refused where it would change D's
# layers: see settings.live.check_live_changes.)
LIVE_SETTINGS = tuple(f.name for f in _ROWS if f.live)
MAIN_SETTINGS = tuple(f.name for f in _ROWS if f.main)
ADVANCED_SETTINGS = tuple(f.name for f in _ROWS if not f.main)


def settings_table() -> str:
    """Every setting as text, one a line: name, allowed values, live or not, label (for
    `gan-playground settings`)."""
    width = max(map(len, FIELDS))
    lines = []
    for f in _ROWS:
        bounds = f.bounds_text()
        unit = f" {f.unit}" if f.unit and bounds and not f.choices else ""
        live = "live" if f.live else "    "
        lines.append(f"{f.name:<{width}}  {live}  {f.label}" + (f" [{bounds}{unit}]" if bounds
                                                                 else ""))
    return "\n".join(lines)
