"""FID, KID and Inception Score (torchmetrics) on the digits classifier's features, and the
Inception-v3 path from a weights file on disk.

Sanity, on the bundled digits at 32 px (the shipped classifier), 800 images a side:
- real data against a disjoint split of itself: the noise floor, FID about 6 (KID about 40);
- a "generator" forced to one class (real images of the digit 3 only): FID above 600, IS near 1;
- the shipped digits-dcgan example lies between them, and a 1-step model
  is far worse than it on all three; KID orders all of them as FID does.
"""

from __future__ import annotations

import pickle

import pytest
import torch

from playground.measures import fid
from playground.measures.classifier import SHIPPED_DIR, load_classifier
from playground.measures.fid import DistributionMeasures, InceptionMeasures, inception_weights
from playground.settings.config import GANConfig
from playground.storage.checkpoints import load_checkpoint
from playground.training.trainer import Trainer

N = 800
EXAMPLE = "checkpoints/examples/digits-dcgan"


@pytest.fixture(scope="module")
def example():
    return load_checkpoint(EXAMPLE)


@pytest.fixture(scope="module")
def sets(example):
    """Two disjoint sets of real digits, one class only, the example's samples: (n, 1, 32, 32)."""
    data = example.data
    real = data.images.float() / 127.5 - 1
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    threes = real[data.labels == 3]
    return {
        "reference": real[order[:N]],
        "split": real[order[N : 2 * N]],
        "one class": threes[torch.arange(N) % len(threes)],
        "example": example.sample(N, seed=1),
    }


@pytest.fixture(scope="module")
def scores(sets):
    clf = load_classifier(SHIPPED_DIR / "digits-32-1.json")
    measures = DistributionMeasures(clf.net, sets["reference"])
    return {name: measures.measure(x) for name, x in sets.items() if name != "reference"}


def test_real_against_a_disjoint_split_sits_at_the_noise_floor(scores):
    split = scores["split"]
    assert 0 <= split["fid"] < 15  # measured 6.0 at 800 a side
    assert split["inception_score"] > 8  # ten clear classes in equal shares (at most 10)


def test_one_class_scores_far_worse_and_its_is_is_near_one(scores):
    one = scores["one class"]
    assert one["fid"] > 20 * scores["split"]["fid"]
    assert one["inception_score"] < 1.3
    assert one["kid"] > 20 * scores["split"]["kid"]


def test_the_shipped_example_scores_between(scores):
    split, example, one = scores["split"], scores["example"], scores["one class"]
    assert split["fid"] < example["fid"] < one["fid"]
    assert split["kid"] < example["kid"] < one["kid"]  # KID agrees in ordering
    assert one["inception_score"] < example["inception_score"] < split["inception_score"]


def test_the_example_beats_a_one_step_model(example, sets):
    from playground.measures.evaluation import Evaluator

    cfg = GANConfig(**{**example.cfg.to_dict(), "steps": 1, "device": "cpu"}).validate()
    fresh = Trainer(cfg, data=example.data)
    fresh.train_step()
    ev = Evaluator("digits", example.data)
    trained = ev.measure(example.sample(500, seed=2)).measures
    one_step = ev.measure(fresh.sample(500, seed=2)).measures
    assert trained["fid"] < one_step["fid"]
    assert trained["kid"] < one_step["kid"]
    assert trained["inception_score"] > one_step["inception_score"]


def test_measures_are_reproducible_and_leave_the_global_rng_alone(sets):
    clf = load_classifier(SHIPPED_DIR / "digits-32-1.json")
    measures = DistributionMeasures(clf.net, sets["reference"][:300])
    torch.manual_seed(123)
    first = measures.measure(sets["example"][:200])  # fewer fakes: KID draws random subsets
    after = torch.rand(3)
    torch.manual_seed(123)
    assert measures.measure(sets["example"][:200]) == first
    assert torch.equal(torch.rand(3), after)


def test_names_say_which_features(monkeypatch):
    names = fid.describe("digits")
    assert names["fid"] == "FID (digits classifier features)"
    assert "not comparable" in names["explanation"]


# ---------------------------------------------------------------------- Inception-v3
def random_inception_state() -> dict[str, torch.Tensor]:
    """torch-fidelity's Inception-v3 state dict with random values: the right names, shapes
    and format, built without its download (its constructor is told to load nothing)."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tfi, "load_state_dict_from_url", lambda *a, **k: {})
        patch.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, s: None)
        net = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    gen = torch.Generator().manual_seed(0)
    state = {}
    for name, value in net.state_dict().items():
        if value.is_floating_point():
            noise = torch.randn(value.shape, generator=gen)
            if value.ndim > 1:  # He-scaled weights, so features neither vanish nor explode
                value = noise * (2.0 / value[0].numel()) ** 0.5
            elif name.endswith(("running_var", ".weight")):
                value = 1.0 + 0.1 * noise.abs()
            else:
                value = 0.1 * noise
        state[name] = value
    return state


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / fid.INCEPTION_FILE
    torch.save(random_inception_state(), path)
    return path


def test_inception_weights_are_found_by_setting_or_hub_cache(weights_file, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(fid.INCEPTION_ENV, raising=False)
    assert inception_weights() is None  # absent: nothing is downloaded
    assert "Download" in fid.INCEPTION_HINT and fid.INCEPTION_ENV in fid.INCEPTION_HINT
    monkeypatch.setenv(fid.INCEPTION_ENV, str(weights_file))
    assert inception_weights() == weights_file
    monkeypatch.delenv(fid.INCEPTION_ENV)
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / fid.INCEPTION_FILE).write_bytes(weights_file.read_bytes())
    assert inception_weights() == hub / fid.INCEPTION_FILE


def test_inception_fid_and_kid_from_weights_on_disk(weights_file, sets):
    real, fake = sets["reference"][:6], sets["one class"][:6]
    measures = InceptionMeasures(weights_file, real)
    same = measures.measure(sets["reference"][:6])
    other = measures.measure(fake)
    assert set(other) == {"fid_inception", "kid_inception"}
    assert abs(same["fid_inception"]) < 1e-2  # identical sets
    assert other["fid_inception"] > 100 * abs(same["fid_inception"])
    # KID's unbiased estimate of identical sets is not 0 (the pairs of a sample with itself are
    # left out of one term only), but it stays below that of another set.
    assert other["kid_inception"] > same["kid_inception"]


class _Pixels(torch.utils.data.Dataset):
    """Images as torch-fidelity reads a data set: uint8 RGB (3, H, W), one at a time."""

    def __init__(self, images: torch.Tensor):
        self.pixels = fid._uint8_rgb(images)

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.pixels[i]


def test_inception_fid_agrees_with_torch_fidelity_on_the_same_weights(weights_file, sets):
    """The field's reference implementation, given the same Inception-v3 weights file and the
    same two image sets, gives the same FID to 1e-3 relative. The weights are random (the real
    file is a 95 MB download this machine may not have), which checks everything but the
    trained values: resizing, the 2048 pool features, and the distance itself."""
    torch_fidelity = pytest.importorskip("torch_fidelity")
    real, fake = sets["reference"][:32], sets["one class"][:32]
    ours = InceptionMeasures(weights_file, real).measure(fake)["fid_inception"]
    theirs = torch_fidelity.calculate_metrics(
        input1=_Pixels(fake), input2=_Pixels(real), fid=True, cuda=False, verbose=False,
        cache=False, feature_extractor_weights_path=str(weights_file), batch_size=32,
    )["frechet_inception_distance"]
    assert ours == pytest.approx(theirs, rel=1e-3), (ours, theirs)


class _Hostile:
    def __reduce__(self):
        return (exec, ("raise SystemExit('pickle code ran')",))


def test_a_weights_file_holding_code_is_refused_unrun(tmp_path, sets):
    path = tmp_path / "weights.pth"
    with open(path, "wb") as out:
        pickle.dump({"x": _Hostile()}, out)
    with pytest.raises(ValueError, match="not a plain tensor weights file"):
        InceptionMeasures(path, sets["reference"][:4])


# ---------------------------------------------------------------------- gan-playground diagnose
def test_diagnose_json_scores_the_example_better_than_a_one_step_model(
    tmp_path, capsys, monkeypatch
):
    import json

    from playground.cli import main

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no Inception weights there
    monkeypatch.delenv(fid.INCEPTION_ENV, raising=False)
    one_step = tmp_path / "one-step"
    argv = ["train", "--preset", "digits-dcgan", "--steps", "1", "--out", str(one_step)]
    assert main([*argv, "--quiet"]) == 0
    results = {}
    for name, path in (("example", EXAMPLE), ("one step", one_step)):
        capsys.readouterr()
        assert main(["diagnose", str(path), "--json", "--samples", "500"]) == 0
        out, err = capsys.readouterr()
        results[name] = json.loads(out)
        assert "Inception FID/KID are off" in err  # the one line saying how to get them
        assert "fid_inception" not in results[name]
    trained, fresh = results["example"], results["one step"]
    assert trained["fid"] < fresh["fid"]
    assert trained["kid"] < fresh["kid"]
    assert trained["inception_score"] > fresh["inception_score"]


def test_diagnose_adds_inception_fid_when_the_weights_are_on_disk(
    weights_file, capsys, monkeypatch
):
    import json

    from playground.cli import main

    monkeypatch.setenv(fid.INCEPTION_ENV, str(weights_file))
    capsys.readouterr()
    assert main(["diagnose", EXAMPLE, "--json", "--samples", "12"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"fid", "kid", "inception_score", "fid_inception", "kid_inception"} <= set(result)
    capsys.readouterr()
    assert main(["diagnose", EXAMPLE, "--samples", "12", "--no-inception"]) == 0
    text = capsys.readouterr().out
    assert "FID (digits classifier features)" in text and "Inception-v3" not in text
