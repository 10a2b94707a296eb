"""Checkpoints: a folder holding safetensors files and one JSON file, `checkpoint.json`.

Loading never unpickles: tensors come from safetensors (a JSON header plus raw bytes), everything
else from JSON, and both are checked against what the config's freshly built models expect
before anything is loaded into them.

Writes are atomic. Tensor files get fresh names, then `checkpoint.json`, which names them, is
replaced in one `os.replace`; files it no longer names are removed last. A crash at any moment
leaves either the old or the new checkpoint complete and loadable.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from playground.data.registry import DATASETS
from playground.data.userpoints import points_source
from playground.errors import JSON_ERRORS, ConfigError, json_problem
from playground.paths import atomic_write
from playground.settings.config import GANConfig
from playground.settings.fields import FIELDS as SETTINGS
from playground.training.devices import resolve_device
from playground.training.trainer import Trainer

FORMAT = "gan-playground-checkpoint"
VERSION = 1
META = "checkpoint.json"
MAX_META_BYTES = 8 * 1024 * 1024
MAX_STEP = int(SETTINGS["steps"].high)  # no run trains longer, so no checkpoint is further on
# A safetensors header lists names, dtypes, shapes and offsets: a few KB for our models. The
# library itself accepts up to 100 MB of header JSON; a hostile file stops here instead.
MAX_TENSOR_HEADER = 4 * 1024 * 1024
# Top-level fields of checkpoint.json. Unknown ones are refused, not ignored: a new field means
# a new format, which gets a new VERSION (refused above as "newer"); an unknown field in a
# version-1 file is damage or tampering, and silently dropping it would hide that.
FIELDS = ("format", "version", "config", "step", "files", "data", "metrics", "history", "measures")
# Tensor groups: file role -> what it holds.
ROLES = ("generator", "discriminator", "generator_ema", "optimizers", "fixed", "points")
_FILE_NAME = re.compile(r"^[a-z_]+-[0-9a-f]{8,32}\.safetensors$")


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message says why."""


# ---------------------------------------------------------------------- saving
def save_checkpoint(
    trainer: Trainer, path: str | Path, with_optimizers: bool = True, metrics: dict | None = None
) -> Path:
    """Write `trainer` to the folder `path` (created if needed) atomically."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    groups = {
        "generator": trainer.G.state_dict(),
        "discriminator": trainer.D.state_dict(),
        "fixed": {"z": trainer.fixed_z}
        | ({"labels": trainer.fixed_labels} if trainer.fixed_labels is not None else {}),
    }
    if trainer.G_ema is not None:
        groups["generator_ema"] = trainer.G_ema.state_dict()
    if with_optimizers:
        groups["optimizers"] = _optimizer_tensors(trainer)
    if getattr(trainer.data, "points", None) is not None:
        # The user's own points travel with the run: its points_file may be a session's
        # temporary upload, gone when the run is explored, diagnosed or resumed.
        groups["points"] = {"xy": trainer.data.points}
    tag = secrets.token_hex(6)
    files = {}
    for role, tensors in groups.items():
        name = f"{role}-{tag}.safetensors"
        _atomic_tensors(folder / name, tensors)
        files[role] = name
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": trainer.cfg.to_dict(),
        "step": trainer.step,
        "files": files,
        "data": {
            "kind": trainer.data.kind,
            "shape": list(trainer.data.shape),
            "num_classes": trainer.data.num_classes,
        },
        "metrics": metrics or {},
        "history": trainer.history.state(),
        "measures": trainer.measures.state(),  # the live mode-collapse measures over time
    }
    atomic_write(folder / META, json.dumps(meta, indent=1).encode())
    _remove_unreferenced(folder, set(files.values()))
    return folder


def _optimizer_tensors(trainer: Trainer) -> dict[str, torch.Tensor]:
    out = {}
    for prefix, opt in (("g", trainer.opt_g), ("d", trainer.opt_d)):
        for index, state in opt.state_dict()["state"].items():
            for key, value in state.items():
                if torch.is_tensor(value):
                    out[f"{prefix}.{index}.{key}"] = value
    return out


def _atomic_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    cpu = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(cpu, str(tmp)))


def _remove_unreferenced(folder: Path, keep: set[str]) -> None:
    for child in folder.iterdir():
        stale_tensor = _FILE_NAME.match(child.name) and child.name not in keep
        if stale_tensor or child.name.endswith(".tmp"):
            child.unlink(missing_ok=True)


# ---------------------------------------------------------------------- loading
def read_meta(path: str | Path) -> dict:
    """The checked JSON of a checkpoint folder (its config validated), without loading tensors."""
    folder = Path(path)
    meta_path = folder / META
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a checkpoint folder")
    if not meta_path.is_file():
        raise CheckpointError(f"{folder} has no {META}: not a checkpoint")
    if meta_path.stat().st_size > MAX_META_BYTES:
        raise CheckpointError(f"{META} is larger than {MAX_META_BYTES // 2**20} MB")
    try:
        meta = json.loads(meta_path.read_bytes())
    except JSON_ERRORS as exc:
        raise CheckpointError(f"{META} is not valid JSON ({json_problem(exc)})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{META} is not a GAN Playground checkpoint")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError("checkpoint version is missing or not an integer")
    if version > VERSION:
        raise CheckpointError(
            f"checkpoint format version {version} is newer than this program reads ({VERSION}); "
            "upgrade gan-playground"
        )
    unknown = sorted(str(key) for key in meta if key not in FIELDS)
    if unknown:
        raise CheckpointError(
            f"{META}: unknown field(s) {', '.join(map(repr, unknown[:5]))} for format version "
            f"{version} (known: {', '.join(FIELDS)})"
        )
    for key, kind in (("config", dict), ("step", int), ("files", dict)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise CheckpointError(f"{META}: field '{key}' is missing or malformed")
    if not 0 <= meta["step"] <= MAX_STEP:
        raise CheckpointError(f"{META}: step {meta['step']} is outside 0 to {MAX_STEP:,}")
    for key in ("data", "metrics", "history", "measures"):
        if key in meta and not isinstance(meta[key], dict):
            raise CheckpointError(f"{META}: field '{key}' must be a JSON object")
    try:
        meta["config_obj"] = GANConfig.from_dict(meta["config"])
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"checkpoint config is invalid: {exc}") from None
    files = meta["files"]
    for role, name in files.items():
        if role not in ROLES or not isinstance(name, str) or not _FILE_NAME.match(name):
            raise CheckpointError(f"{META}: unexpected file entry {role!r}: {name!r}")
    for role in ("generator", "discriminator", "fixed"):
        if role not in files:
            raise CheckpointError(f"{META}: no {role} file listed")
    return meta


def load_tensors(folder: Path, name: str) -> dict[str, torch.Tensor]:
    """The tensors of the safetensors file `name` in `folder`, on the CPU, its header checked
    first; CheckpointError when missing or unreadable."""
    path = folder / name
    if not path.is_file():
        raise CheckpointError(f"tensor file {name} is missing")
    _check_header(path)
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{name} is not a readable safetensors file ({exc})") from None


def _check_header(path: Path) -> None:
    """Refuse a safetensors file whose header is implausible, before the library parses it:
    its first 8 bytes give the header's length (little-endian), then that much JSON."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
        size = path.stat().st_size
    except OSError as exc:
        raise CheckpointError(f"{path.name} cannot be read ({exc.strerror})") from None
    if len(head) < 8:
        raise CheckpointError(f"{path.name} is not a readable safetensors file (too short)")
    length = int.from_bytes(head, "little")
    if length > MAX_TENSOR_HEADER:
        raise CheckpointError(
            f"{path.name} is not a usable safetensors file: its header claims {length:,} bytes, "
            f"more than the {MAX_TENSOR_HEADER // 2**20} MB a checkpoint's header needs"
        )
    if length > size - 8:
        raise CheckpointError(
            f"{path.name} is not a readable safetensors file: its header runs past the end "
            "of the file (truncated?)"
        )


def check_against(
    expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor], what: str
) -> None:
    """Raise CheckpointError unless `got` has exactly `expected`'s names, shapes and dtypes,
    with finite values; `what` names the group in the message."""
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"{what} does not match its config: missing {missing[:5]}, unexpected {extra[:5]}"
        )
    for key, ref in expected.items():
        t = got[key]
        if t.shape != ref.shape or t.dtype != ref.dtype:
            raise CheckpointError(
                f"{what}: tensor {key} is {t.dtype} {tuple(t.shape)}, "
                f"expected {ref.dtype} {tuple(ref.shape)}"
            )
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise CheckpointError(f"{what}: tensor {key} holds NaN or inf")


def load_checkpoint(
    path: str | Path, device: str | None = None, with_optimizers: bool = True
) -> Trainer:
    """Rebuild a Trainer from a checkpoint folder (models, EMA, optimisers, fixed noise, history).

    `device` overrides the saved device setting (e.g. "cpu" to inspect a GPU run on a laptop).
    Any problem raises CheckpointError; nothing from the files is executed.
    """
    folder = Path(path)
    meta = read_meta(folder)
    cfg: GANConfig = meta["config_obj"]
    if device is not None:
        cfg = cfg.replace(device=device)
    files = meta["files"]
    trainer = Trainer(cfg, data=saved_points_source(folder, meta, cfg))
    modules = [("generator", trainer.G), ("discriminator", trainer.D)]
    if trainer.G_ema is not None:
        modules.append(("generator_ema", trainer.G_ema))
    for role, module in modules:
        if role not in files:
            raise CheckpointError(f"{META}: no {role} file listed")
        tensors = load_tensors(folder, files[role])
        check_against(module.state_dict(), tensors, role)
        module.load_state_dict(tensors)
    fixed = load_tensors(folder, files["fixed"])
    expected_fixed = {"z": trainer.fixed_z.cpu()}
    if trainer.fixed_labels is not None:
        expected_fixed["labels"] = trainer.fixed_labels.cpu()
    if fixed.get("z") is not None and fixed["z"].shape[1:] == trainer.fixed_z.shape[1:]:
        expected_fixed["z"] = torch.empty_like(fixed["z"])  # any batch size of the right width
        if "labels" in expected_fixed:
            expected_fixed["labels"] = torch.empty(fixed["z"].shape[0], dtype=torch.long)
    check_against(expected_fixed, fixed, "fixed noise")
    if "labels" in fixed and (
        fixed["labels"].min() < 0 or fixed["labels"].max() >= trainer.num_classes
    ):
        raise CheckpointError("fixed noise labels are out of range")
    trainer.fixed_z = fixed["z"].to(trainer.device)
    trainer.fixed_labels = fixed["labels"].to(trainer.device) if "labels" in fixed else None
    if with_optimizers and "optimizers" in files:
        _load_optimizers(trainer, load_tensors(folder, files["optimizers"]))
    trainer.step = meta["step"]
    history = meta.get("history")
    if isinstance(history, dict):
        try:
            trainer.history.load(history)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise CheckpointError("checkpoint history is malformed") from None
    if isinstance(meta.get("measures"), dict):  # absent from checkpoints saved before them
        try:
            trainer.measures.load(meta["measures"])
        except (ValueError, TypeError, AttributeError):
            raise CheckpointError("checkpoint measures are malformed") from None
    trainer._log_step0 = trainer.step
    return trainer


def saved_points(folder: Path, meta: dict) -> torch.Tensor | None:
    """The user's own points a checkpoint holds (float32 (N, 2), finite), or None."""
    name = meta["files"].get("points")
    if name is None:
        return None
    points = load_tensors(folder, name).get("xy")
    if (
        points is None
        or points.dtype != torch.float32
        or points.ndim != 2
        or points.shape[1] != 2
        or not 2 <= points.shape[0] <= 1_000_000
        or not torch.isfinite(points).all()
    ):
        raise CheckpointError("the checkpoint's points are malformed")
    return points


def saved_points_source(folder: Path, meta: dict, cfg: GANConfig):
    """The DataSource of a checkpoint's own points (None when it holds none: the config's
    dataset is loaded as usual)."""
    points = saved_points(folder, meta)
    if points is None:
        if DATASETS[cfg.dataset].user_points:  # saved with them: never read a path it names
            raise CheckpointError("the run's own points are not in the checkpoint")
        return None

    device = resolve_device(cfg.device)
    note = f"{len(points):,} points saved with the run."
    return points_source(cfg.dataset, points, device, [note])


def _load_optimizers(trainer: Trainer, tensors: dict[str, torch.Tensor]) -> None:
    for prefix, opt in (("g", trainer.opt_g), ("d", trainer.opt_d)):
        params = [p for group in opt.param_groups for p in group["params"]]
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            head, _, rest = key.partition(".")
            index_text, _, name = rest.partition(".")
            if head != prefix:
                continue
            if not index_text.isdigit() or int(index_text) >= len(params) or not name:
                raise CheckpointError(f"optimiser tensor {key!r} does not fit the model")
            index = int(index_text)
            if name != "step" and value.shape != params[index].shape:
                raise CheckpointError(f"optimiser tensor {key!r} has the wrong shape")
            if name != "step":  # in the parameter's memory layout (channels_last on a GPU)
                value = torch.empty_like(params[index], dtype=value.dtype).copy_(value)
            # load_state_dict moves each state tensor to its parameter's device (and keeps Adam's
            # step counter where the optimiser variant wants it).
            state.setdefault(index, {})[name] = value
        if state:
            sd = opt.state_dict()
            sd["state"] = state
            try:
                opt.load_state_dict(sd)
            except (ValueError, KeyError, RuntimeError) as exc:
                raise CheckpointError(f"optimiser state does not fit: {exc}") from None


def load_for_training(folder: str | os.PathLike):
    """A checkpoint as a Trainer ready to train on: on its saved device, or on the best one here
    when that device is missing (a GPU run opened on a laptop). A finished run gets as many
    steps again, so "resume" means train on."""
    try:
        trainer = load_checkpoint(folder, device=None)
    except ConfigError as exc:
        if exc.setting != "device":
            raise
        trainer = load_checkpoint(folder, device="auto")
    if trainer.step >= trainer.cfg.steps:
        trainer.cfg = trainer.cfg.replace(steps=trainer.step + trainer.cfg.steps)
    return trainer
