"""The classifier behind the image measures: the shipped digits one works, training makes a
usable one, and loading refuses anything but a matching safetensors + JSON pair."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from playground.data.loading import load_dataset
from playground.measures import classifier as clf_mod
from playground.measures.classifier import (
    FEATURE_DIM,
    SHIPPED_DIR,
    ClassifierError,
    ClassifierNet,
    find_classifier,
    get_classifier,
    load_classifier,
    save_classifier,
    train_classifier,
)
from playground.settings.config import GANConfig

SHIPPED = SHIPPED_DIR / "digits-32-1.json"


@pytest.fixture(scope="module")
def digits32():
    return load_dataset(GANConfig(dataset="digits", arch="dcgan", image_size=32), "cpu")


def as_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1.0


@pytest.mark.parametrize("channels,size", [(1, 28), (1, 32), (3, 32), (3, 64)])
def test_network_shapes_at_every_size(channels, size):
    net = ClassifierNet(channels, 10)
    x = torch.zeros(2, channels, size, size)
    assert net(x).shape == (2, 10)
    assert net.features(x).shape == (2, FEATURE_DIM)


def test_the_digits_classifier_is_shipped_small_and_accurate(digits32):
    assert SHIPPED.is_file()
    weights = SHIPPED.with_suffix(".safetensors")
    assert weights.stat().st_size < 1_000_000
    clf = load_classifier(SHIPPED)
    meta = json.loads(SHIPPED.read_text())
    assert meta["test_accuracy"] > 0.95
    probs, feats = clf.predict(as_float(digits32.images))
    assert feats.shape == (len(digits32), FEATURE_DIM)
    accuracy = (probs.argmax(1) == digits32.labels).double().mean()
    assert accuracy > 0.95
    assert sum(clf.label_distribution) == pytest.approx(1.0)
    assert clf.num_classes == 10


def test_get_classifier_uses_the_shipped_one_without_training(digits32, monkeypatch, tmp_path):
    monkeypatch.setenv("GAN_PLAYGROUND_CLASSIFIERS", str(tmp_path))

    def no_training(*args, **kwargs):
        raise AssertionError("the shipped classifier should have been used")

    monkeypatch.setattr(clf_mod, "train_classifier", no_training)
    assert find_classifier("digits-32-1") == SHIPPED
    assert get_classifier("digits", digits32).meta["key"] == "digits-32-1"


def test_training_saves_a_classifier_that_reloads_identically(monkeypatch, tmp_path):
    monkeypatch.setenv("GAN_PLAYGROUND_CLASSIFIERS", str(tmp_path))
    monkeypatch.setattr(clf_mod, "MAX_STEPS", 30)  # a test needs a classifier, not a good one
    data = load_dataset(GANConfig(dataset="digits", arch="dcgan", image_size=28), "cpu")
    first = get_classifier("digits", data)  # nothing stored at 28 px: trains (briefly, below)
    assert (tmp_path / "digits-28-1.json").is_file()
    assert (tmp_path / "digits-28-1.safetensors").is_file()
    again = get_classifier("digits", data)
    x = as_float(data.images[:64])
    assert torch.equal(first.predict(x)[0], again.predict(x)[0])
    assert again.meta["image_size"] == 28 and again.meta["train_examples"] > 1500


def test_training_is_deterministic_and_learns(digits32):
    a = train_classifier(digits32, "digits", steps=40, seed=5)
    b = train_classifier(digits32, "digits", steps=40, seed=5)
    for key, value in a.net.state_dict().items():
        assert torch.equal(value, b.net.state_dict()[key]), key
    assert a.meta["test_accuracy"] > 0.5  # 40 steps already beat chance (0.1) by far


def test_global_rng_is_untouched_by_training(digits32):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_classifier(digits32, "digits", steps=2, seed=0)
    assert torch.equal(torch.rand(3), expected)


@pytest.fixture
def copy_of_shipped(tmp_path):
    for suffix in (".json", ".safetensors"):
        shutil.copy(SHIPPED.with_suffix(suffix), tmp_path / f"digits-32-1{suffix}")
    return tmp_path / "digits-32-1.json"


def test_refuses_a_json_that_is_not_a_classifier(copy_of_shipped):
    copy_of_shipped.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ClassifierError, match="not a GAN Playground classifier"):
        load_classifier(copy_of_shipped)


def test_refuses_a_bad_label_distribution(copy_of_shipped):
    meta = json.loads(copy_of_shipped.read_text())
    meta["label_distribution"] = [0.5, 0.5]
    copy_of_shipped.write_text(json.dumps(meta))
    with pytest.raises(ClassifierError, match="label_distribution"):
        load_classifier(copy_of_shipped)


def test_refuses_tensors_that_do_not_fit(copy_of_shipped):
    weights = copy_of_shipped.with_suffix(".safetensors")
    tensors = load_file(str(weights))
    tensors["head.weight"] = torch.zeros(3, FEATURE_DIM)
    save_file(tensors, str(weights))
    with pytest.raises(ClassifierError, match="head.weight"):
        load_classifier(copy_of_shipped)


def test_refuses_non_finite_weights(copy_of_shipped):
    weights = copy_of_shipped.with_suffix(".safetensors")
    tensors = load_file(str(weights))
    tensors["head.bias"] = torch.full_like(tensors["head.bias"], float("nan"))
    save_file(tensors, str(weights))
    with pytest.raises(ClassifierError):
        load_classifier(copy_of_shipped)


def test_refuses_a_missing_or_pickled_weights_file(copy_of_shipped):
    weights = copy_of_shipped.with_suffix(".safetensors")
    torch.save({"x": torch.zeros(1)}, weights)  # a pickle where safetensors should be
    with pytest.raises(ClassifierError):
        load_classifier(copy_of_shipped)
    weights.unlink()
    with pytest.raises(ClassifierError):
        load_classifier(copy_of_shipped)


def test_a_broken_stored_classifier_is_retrained(monkeypatch, tmp_path, digits32):
    monkeypatch.setenv("GAN_PLAYGROUND_CLASSIFIERS", str(tmp_path))
    monkeypatch.setattr(clf_mod, "SHIPPED_DIR", tmp_path / "nothing-shipped")
    (tmp_path / "digits-32-1.json").write_text("{not json")
    trained = []
    real_train = clf_mod.train_classifier

    def quick(data, dataset, **kwargs):
        trained.append(dataset)
        return real_train(data, dataset, steps=2)

    monkeypatch.setattr(clf_mod, "train_classifier", quick)
    clf = get_classifier("digits", digits32)
    assert trained == ["digits"]
    assert load_classifier(tmp_path / "digits-32-1.json").meta["steps"] == clf.meta["steps"] == 2


def test_save_writes_the_pair_atomically(tmp_path, digits32):
    clf = train_classifier(digits32, "digits", steps=1)
    path = save_classifier(clf, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "digits-32-1.json",
        "digits-32-1.safetensors",
    ]
    assert load_classifier(path).meta == clf.meta
