"""FID, KID and Inception Score through torchmetrics, on two kinds of features.

- Offline, for every labelled image dataset: the project's own classifier for that dataset is
  the feature extractor (its 64 penultimate features for FID and KID, its class probabilities
  for the Inception Score analogue). These compare runs on the same dataset; they are not the
  Inception FIDs of papers, and are always named for their features ("FID (digits classifier
  features)").
- The standard Inception-v3 FID and KID (torch-fidelity's network, as torchmetrics uses it) when
  its weights are on disk: `$GAN_PLAYGROUND_INCEPTION_WEIGHTS` naming the file, or torch's hub
  cache where torchmetrics and torch-fidelity download them. Nothing is downloaded here.

Real features are computed once per set of real images (`reset_real_features=False`); each
measurement then costs one pass of the generated images through the feature network.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

KID_SUBSET = 1000  # torchmetrics' default subset size, capped by the sample counts
KID_SUBSETS = 50
BATCH = 256
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's file name
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILE
)
INCEPTION_ENV = "GAN_PLAYGROUND_INCEPTION_WEIGHTS"
INCEPTION_HINT = (
    f"Inception FID/KID are off: their weights are not on disk. Download {INCEPTION_URL} "
    f"(95 MB) into {Path('~/.cache/torch/hub/checkpoints')}/ or name the file in ${INCEPTION_ENV}"
)
EXPLANATION = (
    "computed on the features of this project's own {dataset} classifier: they compare runs on "
    "the same dataset, and are not comparable with the Inception FIDs of papers"
)


def describe(dataset: str) -> dict[str, str]:
    """Honest display names of the measures for `dataset`, and the one-line explanation."""
    features = f"{dataset} classifier features"
    return {
        "fid": f"FID ({features})",
        "kid": f"KID ({features})",
        "inception_score": f"IS ({dataset} classifier)",
        "fid_inception": "FID (Inception-v3)",
        "kid_inception": "KID (Inception-v3)",
        "explanation": EXPLANATION.format(dataset=dataset),
    }


# ---------------------------------------------------------------------- classifier features
class ClassifierFeatures(nn.Module):
    """The project's classifier as a torchmetrics feature extractor: images in [-1, 1]
    (N, C, H, W) -> its 64 penultimate features, or its class logits (`logits=True`, for the
    Inception Score, which takes the softmax itself)."""

    def __init__(self, net: nn.Module, logits: bool = False):
        super().__init__()
        self.net = net
        self.logits = logits
        self.num_features = int(net.head.out_features if logits else net.head.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net.features(x.float())
        return self.net.head(h) if self.logits else h


class DistributionMeasures:
    """FID, KID and IS (torchmetrics) of generated images against one fixed set of real ones,
    all on a classifier's features. `real`: (n, C, H, W) in [-1, 1]."""

    def __init__(self, net: nn.Module, real: torch.Tensor):
        from torchmetrics.image import (
            FrechetInceptionDistance,
            InceptionScore,
            KernelInceptionDistance,
        )

        device = real.device
        # torchmetrics warns that KID and IS keep every feature: a few thousand 64-vectors here.
        warnings.filterwarnings("ignore", message=".*will save all extracted features")
        features = ClassifierFeatures(net)
        self.n_real = int(real.shape[0])
        self.fid = FrechetInceptionDistance(feature=features, reset_real_features=False)
        self._kid_cls = KernelInceptionDistance
        self._features = features
        logits = ClassifierFeatures(net, logits=True)
        self.inception_score = InceptionScore(feature=logits, splits=1)
        self.fid.to(device)
        self.inception_score.to(device)
        self._real = real
        for chunk in real.split(BATCH):
            self.fid.update(chunk, real=True)
        self._kids: dict[int, object] = {}

    def _kid(self, n_fake: int):
        """A KID whose subsets hold every sample when both sets are the same size, so the value
        does not depend on the random subsets; else KID_SUBSETS subsets of the smaller size."""
        if n_fake not in self._kids:
            size = min(KID_SUBSET, self.n_real, n_fake)
            whole = size == self.n_real == n_fake
            kid = self._kid_cls(
                feature=self._features,
                subsets=1 if whole else KID_SUBSETS,
                subset_size=size,
                reset_real_features=False,
            ).to(self._real.device)
            for chunk in self._real.split(BATCH):
                kid.update(chunk, real=True)
            self._kids[n_fake] = kid
        return self._kids[n_fake]

    @torch.inference_mode()
    def measure(self, fake: torch.Tensor) -> dict[str, float]:
        """{"fid", "kid", "inception_score"} of generated images `fake` (m, C, H, W), m >= 2."""
        kid = self._kid(int(fake.shape[0]))
        for metric in (self.fid, kid, self.inception_score):
            metric.reset()  # the real features stay (reset_real_features=False)
        for chunk in fake.split(BATCH):
            self.fid.update(chunk, real=False)
            kid.update(chunk, real=False)
            self.inception_score.update(chunk)
        # KID's subsets and IS's shuffle draw from the global RNG: seed a fork of it, so a
        # measure is reproducible and never moves a training run's random stream.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            kid_mean, _ = kid.compute()
            with warnings.catch_warnings():  # one split has no spread to report
                warnings.simplefilter("ignore", UserWarning)
                is_mean, _ = self.inception_score.compute()
            fid = self.fid.compute()
        return {"fid": float(fid), "kid": float(kid_mean), "inception_score": float(is_mean)}


# ---------------------------------------------------------------------- Inception-v3
def inception_weights() -> Path | None:
    """The Inception-v3 weights file when it is on disk: $GAN_PLAYGROUND_INCEPTION_WEIGHTS, else
    torch's hub cache (where torchmetrics and torch-fidelity put their download); None else."""
    named = os.environ.get(INCEPTION_ENV, "").strip()
    if named:
        path = Path(named).expanduser()
        return path if path.is_file() else None
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    return cached if cached.is_file() else None


def _safe_weights_copy(path: Path) -> Path:
    """A private copy of the weights file after checking that it holds only tensors.

    torch-fidelity loads the file with `torch.load(weights_only=False)`, which would run any
    code a hostile file holds. The bytes are read once, vetted with the restricted loader
    (`weights_only=True`: tensors and plain containers only), and exactly those bytes are
    written to a private temporary file for torch-fidelity to read."""
    data = path.read_bytes()
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle refused, truncated file, not a torch file ...
        raise ValueError(f"{path} is not a plain tensor weights file: {exc}") from None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{path} does not hold a dictionary of tensors")
    handle, name = tempfile.mkstemp(suffix=".pth")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    return Path(name)


class _PoolFeatures(torch.nn.Module):
    """torch-fidelity's own Inception-v3 feature extractor (the network its FID uses), giving the
    2048 pool features of uint8 RGB images as torchmetrics' FID and KID take a feature module.
    torchmetrics' copy of the network (NoTrainInceptionV3) differs from it by up to 2% on the
    same weights, and the features are what decides the agreement with torch-fidelity's FID."""

    num_features = 2048

    def __init__(self, weights: Path):
        super().__init__()
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        self.net = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights)
        ).eval()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net(pixels)[0]


class InceptionMeasures:
    """The standard FID and KID on Inception-v3 pool features (2048), torchmetrics' way, from a
    weights file on disk. `real`: (n, C, H, W) in [-1, 1]; grey images are repeated to RGB."""

    def __init__(self, weights: Path, real: torch.Tensor):
        from torchmetrics.image import FrechetInceptionDistance, KernelInceptionDistance

        warnings.filterwarnings("ignore", message=".*will save all extracted features")

        copy = _safe_weights_copy(Path(weights))
        try:
            network = _PoolFeatures(copy)
        finally:
            copy.unlink(missing_ok=True)
        self.fid = FrechetInceptionDistance(feature=network, reset_real_features=False)
        self.n_real = int(real.shape[0])
        self._kid_cls = KernelInceptionDistance
        self.fid.to(real.device)
        self._real = real
        for chunk in real.split(BATCH // 4):
            self.fid.update(_uint8_rgb(chunk), real=True)

        self._kids: dict[int, object] = {}

    def _kid(self, n_fake: int):
        if n_fake not in self._kids:
            size = min(KID_SUBSET, self.n_real, n_fake)
            kid = self._kid_cls(
                feature=self.fid.inception,  # FID's network: no second copy of the weights
                subsets=1 if size == self.n_real == n_fake else KID_SUBSETS,
                subset_size=size,
                reset_real_features=False,
            ).to(self._real.device)
            for chunk in self._real.split(BATCH // 4):
                kid.update(_uint8_rgb(chunk), real=True)
            self._kids[n_fake] = kid
        return self._kids[n_fake]

    @torch.inference_mode()
    def measure(self, fake: torch.Tensor) -> dict[str, float]:
        """{"fid_inception", "kid_inception"} of generated images `fake` (m, C, H, W)."""
        kid = self._kid(int(fake.shape[0]))
        self.fid.reset()
        kid.reset()
        for chunk in fake.split(BATCH // 4):
            pixels = _uint8_rgb(chunk)
            self.fid.update(pixels, real=False)
            kid.update(pixels, real=False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            kid_mean, _ = kid.compute()
            fid = self.fid.compute()
        return {"fid_inception": float(fid), "kid_inception": float(kid_mean)}


def _uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats (N, C, H, W) -> uint8 RGB, what torch-fidelity's Inception expects."""
    pixels = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels
