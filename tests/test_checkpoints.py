"""Checkpoint folders: an exact round trip, only safetensors and JSON on disk, pickles refused
without being run, every kind of damaged file refused, and atomic saves."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from playground.storage import checkpoints
from playground.storage.checkpoints import (
    META,
    CheckpointError,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)
from playground.training.trainer import Trainer


def trained(cfg, steps: int = 4, make=Trainer) -> Trainer:
    trainer = make(cfg)
    for _ in range(steps):
        trainer.train_step()
    return trainer


def assert_same_module(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
        assert sa[key].dtype == sb[key].dtype, key


def assert_same_optimizer(a: torch.optim.Optimizer, b: torch.optim.Optimizer) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["state"].keys() == sb["state"].keys() and sa["state"]
    for index, state in sa["state"].items():
        assert state.keys() == sb["state"][index].keys()
        for key, value in state.items():
            other = sb["state"][index][key]
            if torch.is_tensor(value):
                assert torch.equal(value, other), (index, key)
            else:
                assert value == other, (index, key)
    groups_a = [{k: v for k, v in g.items() if k != "params"} for g in sa["param_groups"]]
    groups_b = [{k: v for k, v in g.items() if k != "params"} for g in sb["param_groups"]]
    assert groups_a == groups_b


def assert_same_trainer(a: Trainer, b: Trainer) -> None:
    assert_same_module(a.G, b.G)
    assert_same_module(a.D, b.D)
    if a.G_ema is not None or b.G_ema is not None:
        assert_same_module(a.G_ema, b.G_ema)
    assert_same_optimizer(a.opt_g, b.opt_g)
    assert_same_optimizer(a.opt_d, b.opt_d)
    assert a.step == b.step
    assert torch.equal(a.fixed_z, b.fixed_z)
    if a.fixed_labels is None:
        assert b.fixed_labels is None
    else:
        assert torch.equal(a.fixed_labels, b.fixed_labels)
    assert a.history.copy() == b.history.copy() and a.history.stride == b.history.stride
    assert a.cfg == b.cfg


@pytest.fixture
def saved(tiny_cfg, tmp_path):
    """A tiny trained ring8 run with an EMA generator, saved; returns (trainer, folder)."""
    trainer = trained(tiny_cfg(ema=0.9, steps=50), steps=5)
    folder = save_checkpoint(trainer, tmp_path / "ckpt", metrics={"modes_held": 3})
    return trainer, folder


def tensor_file(folder: Path, role: str) -> Path:
    return folder / json.loads((folder / META).read_text())["files"][role]


def edit_meta(folder: Path, change) -> None:
    meta = json.loads((folder / META).read_text())
    change(meta)
    (folder / META).write_text(json.dumps(meta))


def edit_tensors(folder: Path, role: str, change) -> None:
    path = tensor_file(folder, role)
    tensors = load_file(str(path))
    change(tensors)
    save_file(tensors, str(path))


def refused(folder: Path, *words: str) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(folder)
    message = str(info.value)
    for word in words:
        assert word in message, message
    return message


# ---------------------------------------------------------------------- round trip
def test_round_trip_restores_everything_exactly(saved):
    trainer, folder = saved
    loaded = load_checkpoint(folder)
    assert_same_trainer(trainer, loaded)
    meta = read_meta(folder)
    assert meta["metrics"] == {"modes_held": 3}
    assert meta["data"] == {"kind": "points", "shape": [2], "num_classes": 0}
    assert meta["config_obj"] == trainer.cfg


def test_training_resumes_from_a_checkpoint(saved):
    trainer, folder = saved
    loaded = load_checkpoint(folder)
    g0 = {k: v.clone() for k, v in loaded.G.state_dict().items()}
    for _ in range(3):
        loaded.train_step()
    assert loaded.step == 8
    assert any(not torch.equal(g0[k], v) for k, v in loaded.G.state_dict().items())
    assert loaded.history.copy()["step"][-1] == 8.0
    assert len(loaded.history) == len(trainer.history) + 3
    # Adam kept counting from the saved state instead of starting over.
    assert int(loaded.opt_g.state_dict()["state"][0]["step"]) == 8


def test_loading_without_optimizers_starts_them_fresh(saved):
    _, folder = saved
    loaded = load_checkpoint(folder, with_optimizers=False)
    assert not loaded.opt_g.state and not loaded.opt_d.state


def test_saving_without_optimizers(tiny_cfg, tmp_path):
    trainer = trained(tiny_cfg())
    folder = save_checkpoint(trainer, tmp_path / "small", with_optimizers=False)
    assert "optimizers" not in json.loads((folder / META).read_text())["files"]
    loaded = load_checkpoint(folder)
    assert_same_module(trainer.G, loaded.G)
    assert not loaded.opt_g.state


def test_image_checkpoint_round_trip_keeps_batchnorm_and_labels(
    tiny_image_cfg, make_trainer, tmp_path
):
    trainer = trained(tiny_image_cfg(conditional=True, ema=0.5), steps=2, make=make_trainer)
    folder = save_checkpoint(trainer, tmp_path / "digits")
    loaded = load_checkpoint(folder)
    assert_same_trainer(trainer, loaded)
    assert any("running_mean" in key for key in loaded.G.state_dict())
    assert torch.equal(loaded.sample(6, seed=1), trainer.sample(6, seed=1))


def test_folder_holds_only_safetensors_and_json(saved, tiny_cfg):
    trainer, folder = saved
    names = sorted(p.name for p in folder.iterdir())
    assert META in names
    tensor_names = [n for n in names if n != META]
    assert tensor_names and all(n.endswith(".safetensors") for n in tensor_names)
    roles = {n.split("-")[0] for n in tensor_names}
    assert roles == {"generator", "discriminator", "generator_ema", "optimizers", "fixed"}
    for name in tensor_names:
        load_file(str(folder / name))  # each is a real safetensors file
        assert not (folder / name).read_bytes().startswith(b"PK"), "not a torch.save zip"
    json.loads((folder / META).read_text())
    # Saving again replaces the files; the old ones are removed, not left to pile up.
    trainer.train_step()
    save_checkpoint(trainer, folder)
    again = sorted(p.name for p in folder.iterdir())
    assert len(again) == len(names) and set(again) != set(names)
    assert load_checkpoint(folder).step == trainer.step


# ---------------------------------------------------------------------- never unpickle
class Payload:
    """Unpickling this creates the marker file: proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_pickle_in_place_of_a_tensor_file_is_refused_unexecuted(saved, tmp_path, writer):
    _, folder = saved
    marker = tmp_path / "pwned"
    target = tensor_file(folder, "generator")
    payload = {"weight": Payload(marker)}
    if writer == "torch.save":
        torch.save(payload, target)
    else:
        target.write_bytes(pickle.dumps(payload))
    refused(folder, target.name)
    assert not marker.exists(), "the checkpoint loader executed a pickle"
    # The payload is live: an unpickling loader would have run it.
    with open(target, "rb") as handle:
        if writer == "torch.save":
            torch.load(handle, weights_only=False)
        else:
            pickle.load(handle)
    assert marker.exists()


def test_a_listed_pickle_file_name_is_refused(saved):
    _, folder = saved
    edit_meta(folder, lambda m: m["files"].update(generator="generator.pt"))
    refused(folder, "generator.pt")


def test_a_path_escaping_the_folder_is_refused(saved):
    _, folder = saved
    edit_meta(
        folder, lambda m: m["files"].update(generator="../generator-0123456789ab.safetensors")
    )
    refused(folder, "unexpected file entry")


# ---------------------------------------------------------------------- damaged tensors
def test_wrong_keys_are_refused(saved):
    _, folder = saved

    def rename(tensors):
        key = next(iter(tensors))
        tensors["renamed." + key] = tensors.pop(key)

    edit_tensors(folder, "generator", rename)
    refused(folder, "generator", "missing", "unexpected")


def test_an_extra_tensor_is_refused(saved):
    _, folder = saved
    edit_tensors(folder, "discriminator", lambda t: t.update(extra=torch.zeros(3)))
    refused(folder, "discriminator", "extra")


def test_wrong_shape_is_refused(saved):
    _, folder = saved

    def grow(tensors):
        key = next(k for k, v in tensors.items() if v.dim() == 2)
        tensors[key] = torch.zeros(tensors[key].shape[0] + 1, tensors[key].shape[1])

    edit_tensors(folder, "generator", grow)
    refused(folder, "generator", "expected")


def test_wrong_dtype_is_refused(saved):
    _, folder = saved
    edit_tensors(folder, "generator_ema", lambda t: t.update({k: v.double() for k, v in t.items()}))
    refused(folder, "generator_ema", "float64")


def test_nan_weights_are_refused(saved):
    _, folder = saved

    def poison(tensors):
        key = next(iter(tensors))
        tensors[key] = torch.full_like(tensors[key], float("nan"))

    edit_tensors(folder, "discriminator", poison)
    refused(folder, "NaN")


def test_wrong_fixed_noise_width_is_refused(saved):
    _, folder = saved
    edit_tensors(folder, "fixed", lambda t: t.update(z=torch.zeros(8, 5)))
    refused(folder, "fixed noise")


def test_wrong_optimizer_shapes_are_refused(saved):
    _, folder = saved

    def shrink(tensors):
        key = next(k for k in tensors if k.startswith("g.0.exp_avg"))
        tensors[key] = torch.zeros(1)

    edit_tensors(folder, "optimizers", shrink)
    refused(folder, "optimiser")


@pytest.mark.parametrize("keep", [0, 7, 100, 0.5])
def test_a_truncated_tensor_file_is_refused(saved, keep):
    _, folder = saved
    path = tensor_file(folder, "generator")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)] if isinstance(keep, float) else data[:keep])
    refused(folder, path.name)


def test_a_missing_tensor_file_is_refused(saved):
    _, folder = saved
    tensor_file(folder, "discriminator").unlink()
    refused(folder, "missing")


# ---------------------------------------------------------------------- damaged JSON
@pytest.mark.parametrize("text", ["{not json", "", "[]", '"checkpoint"', "\xff\xfe"])
def test_malformed_json_is_refused(saved, text):
    _, folder = saved
    (folder / META).write_bytes(text.encode("latin-1"))
    refused(folder)


@pytest.mark.parametrize("field", ["format", "version", "config", "step", "files"])
def test_a_missing_field_is_refused(saved, field):
    _, folder = saved
    edit_meta(folder, lambda m: m.pop(field))
    refused(folder)


@pytest.mark.parametrize("role", ["generator", "discriminator", "fixed"])
def test_a_missing_required_file_entry_is_refused(saved, role):
    _, folder = saved
    edit_meta(folder, lambda m: m["files"].pop(role))
    refused(folder, role)


def test_ema_config_without_an_ema_file_is_refused(saved):
    _, folder = saved
    edit_meta(folder, lambda m: m["files"].pop("generator_ema"))
    refused(folder, "generator_ema")


def test_a_newer_version_is_refused(saved):
    _, folder = saved
    edit_meta(folder, lambda m: m.update(version=checkpoints.VERSION + 1))
    refused(folder, "newer", "upgrade")


@pytest.mark.parametrize(
    "change",
    [
        {"version": "1"},
        {"step": "50"},
        {"step": -3},
        {"format": "something-else"},
        {"files": ["generator"]},
        {"config": {"lr_g": -1}},
        {"config": {"nonsense": 1}},
        {"history": {"data": {"step": [1.0], "d_loss": []}}},
    ],
    ids=lambda c: json.dumps(c)[:30],
)
def test_malformed_fields_are_refused(saved, change):
    _, folder = saved
    edit_meta(folder, lambda m: m.update(change))
    refused(folder)


def test_not_a_checkpoint_folder(tmp_path):
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "file")


# ---------------------------------------------------------------------- atomic saves
def test_a_failing_save_leaves_the_previous_checkpoint_intact(saved, monkeypatch):
    trainer, folder = saved
    meta_before = (folder / META).read_bytes()
    listed_before = {
        name: (folder / name).read_bytes() for name in json.loads(meta_before)["files"].values()
    }
    reference = load_checkpoint(folder)
    for _ in range(3):
        trainer.train_step()
    real_save = checkpoints.save_file
    calls = []

    def failing_save(tensors, filename, *args, **kwargs):
        calls.append(filename)
        if len(calls) == 1:
            return real_save(tensors, filename, *args, **kwargs)
        Path(filename).write_bytes(b"half a file")  # the crash leaves a partial temporary
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints, "save_file", failing_save)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(trainer, folder)
    assert len(calls) == 2
    assert (folder / META).read_bytes() == meta_before
    for name, data in listed_before.items():
        assert (folder / name).read_bytes() == data, name
    after = load_checkpoint(folder)
    assert_same_trainer(reference, after)
    assert after.step == 5
    # The next successful save cleans up what the failed one left behind.
    monkeypatch.setattr(checkpoints, "save_file", real_save)
    save_checkpoint(trainer, folder)
    listed = set(json.loads((folder / META).read_text())["files"].values())
    assert {p.name for p in folder.iterdir()} == listed | {META}
    assert load_checkpoint(folder).step == 8
