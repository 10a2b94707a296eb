"""The command line through `playground.cli.main`: presets, train, sample, diagnose, and bad
arguments answered with exit status 2 and one line on stderr, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from playground import cli
from playground.cli import main
from playground.settings.presets import PRESETS
from playground.storage import checkpoints

ROOT = Path(__file__).resolve().parents[1]
COVERAGE_KEYS = {"modes_total", "modes_covered", "modes_held", "high_quality_fraction"}


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("gan-playground:")
    return lines[0]


@pytest.fixture(scope="module")
def ring_checkpoint(tmp_path_factory) -> Path:
    """`train --preset ring8-collapse --steps 20` run once for this module's tests."""
    out = tmp_path_factory.mktemp("cli") / "ring"
    argv = ["train", "--preset", "ring8-collapse", "--steps", "20"]
    argv += ["--set", "batch_size=32", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    return out


def test_presets_lists_every_preset(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name, item in PRESETS.items():
        assert name in out
        assert item.description[:30] in out


def test_train_writes_a_checkpoint(ring_checkpoint, capsys):
    meta = json.loads((ring_checkpoint / "checkpoint.json").read_text())
    assert meta["step"] == 20
    assert meta["config"]["batch_size"] == 32 and meta["config"]["steps"] == 20
    assert meta["config"]["dataset"] == "ring8"
    assert COVERAGE_KEYS <= set(meta["metrics"])
    assert len(meta["history"]["data"]["step"]) == 20 // meta["config"]["log_every"]


def test_train_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--steps", "3", "--set", "hidden=16", "--set", "batch_size=16"]
    assert main(argv + ["--seed", "5", "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert f"saved {out} at step 3" in captured.out
    assert "modes held" in captured.out
    meta = json.loads((out / "checkpoint.json").read_text())
    assert meta["config"]["seed"] == 5 and meta["config"]["hidden"] == 16


def test_train_from_a_config_file_then_resume(tmp_path, capsys, monkeypatch):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"hidden": 16, "layers": 1, "batch_size": 16, "loss": "hinge"}))
    first = tmp_path / "first"
    argv = ["train", "--config", str(settings), "--steps", "4", "--out", str(first), "--quiet"]
    assert main(argv) == 0
    assert json.loads((first / "checkpoint.json").read_text())["config"]["loss"] == "hinge"
    # Resume with more steps and a new learning rate; look at the trainer as it is saved.
    real_save = checkpoints.save_checkpoint
    seen = {}

    def spy(trainer, path, **kwargs):
        seen["lr_g"] = [group["lr"] for group in trainer.opt_g.param_groups]
        return real_save(trainer, path, **kwargs)

    monkeypatch.setattr(checkpoints, "save_checkpoint", spy)
    second = tmp_path / "second"
    argv = ["train", "--resume", str(first), "--steps", "7", "--out", str(second), "--quiet"]
    assert main(argv + ["--set", "lr_g=5e-4"]) == 0
    meta = json.loads((second / "checkpoint.json").read_text())
    assert meta["step"] == 7, "--steps wins over the resumed config"
    assert meta["config"]["loss"] == "hinge" and meta["config"]["lr_g"] == 5e-4
    assert seen["lr_g"] == [5e-4], "the optimiser trained with the new rate"


def test_sample_writes_a_png(ring_checkpoint, tmp_path, capsys):
    png = tmp_path / "g.png"
    assert main(["sample", str(ring_checkpoint), "--n", "16", "--out", str(png)]) == 0
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.size == (512, 512)
    assert "16 samples at step 20" in capsys.readouterr().out


def test_diagnose_json(ring_checkpoint, capsys):
    assert main(["diagnose", str(ring_checkpoint), "--json", "--samples", "500"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert COVERAGE_KEYS <= set(result)
    assert result["modes_total"] == 8 and result["step"] == 20
    assert 0 <= result["modes_held"] <= result["modes_covered"] <= 8
    assert 0.0 <= result["high_quality_fraction"] <= 1.0
    # The same seed gives the same measures.
    assert main(["diagnose", str(ring_checkpoint), "--json", "--samples", "500"]) == 0
    assert json.loads(capsys.readouterr().out) == result


def test_diagnose_text(ring_checkpoint, capsys):
    assert main(["diagnose", str(ring_checkpoint), "--samples", "100"]) == 0
    out = capsys.readouterr().out
    assert "modes held" in out and "modes covered" in out and "/8" in out


def test_diagnose_needs_a_mixture_dataset(tmp_path, capsys):
    out = tmp_path / "spiral"
    argv = ["train", "--steps", "2", "--set", "dataset=spiral", "--set", "hidden=16"]
    assert main(argv + ["--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(out)]) == 2
    assert "spiral" in one_line_error(capsys.readouterr().err)


BAD_ARGUMENTS = {
    "unknown preset": (["train", "--preset", "nope", "--out", "{tmp}/x"], "nope"),
    "unknown setting": (["train", "--set", "badkey=1", "--out", "{tmp}/x"], "badkey"),
    "not a number": (["train", "--set", "lr_g=abc", "--out", "{tmp}/x"], "lr_g"),
    "negative lr": (["train", "--set", "lr_g=-1", "--out", "{tmp}/x"], "lr_g"),
    "no equals sign": (["train", "--set", "lr_g", "--out", "{tmp}/x"], "KEY=VALUE"),
    "bad --steps": (["train", "--steps", "abc", "--out", "{tmp}/x"], "steps"),
    "zero --steps": (["train", "--steps", "0", "--out", "{tmp}/x"], "steps"),
    "missing --out": (["train", "--steps", "5"], "--out"),
    "no command": ([], "command"),
    "unknown command": (["fly"], "fly"),
    "missing checkpoint": (["sample", "{tmp}/none", "--out", "{tmp}/g.png"], "none"),
    "missing checkpoint (diagnose)": (["diagnose", "{tmp}/none"], "none"),
    "--n 0": (["sample", "{ckpt}", "--n", "0", "--out", "{tmp}/g.png"], "--n"),
    "--samples 1": (["diagnose", "{ckpt}", "--samples", "1"], "--samples"),
    "missing --config": (["train", "--config", "{tmp}/none.json", "--out", "{tmp}/x"], "config"),
    "--config not JSON": (["train", "--config", "{tmp}/broken.json", "--out", "{tmp}/x"], ""),
    "--config a list": (["train", "--config", "{tmp}/list.json", "--out", "{tmp}/x"], "object"),
    "--config not UTF-8": (["train", "--config", "{tmp}/latin.json", "--out", "{tmp}/x"], "config"),
    "--config bad value": (["train", "--config", "{tmp}/bad.json", "--out", "{tmp}/x"], "lr_d"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_arguments_exit_2_with_one_line(case, ring_checkpoint, tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{lr_g: 1")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "latin.json").write_bytes('{"dataset": "caf\xe9"}'.encode("latin-1"))
    (tmp_path / "bad.json").write_text('{"lr_d": 7}')
    template, word = BAD_ARGUMENTS[case]
    argv = [a.format(tmp=tmp_path, ckpt=ring_checkpoint) for a in template]
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    line = one_line_error(captured.err)
    assert word in line
    assert captured.out == ""
    assert not (tmp_path / "x").exists() and not (tmp_path / "g.png").exists()


def test_unwritable_outputs_fail_in_one_line(ring_checkpoint, tmp_path, capsys, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    made = []
    monkeypatch.setattr(cli.backends, "make_run", lambda *a, **k: made.append(a) or 1 / 0)
    argv = ["train", "--steps", "2", "--set", "hidden=16", "--quiet"]
    for out in (tmp_path / "a-file", tmp_path / "a-file" / "run"):
        assert main(argv + ["--out", str(out)]) == 2  # refused before any training
        line = one_line_error(capsys.readouterr().err)
        assert "a-file" in line and "not a folder" in line
    assert made == [], "no run was made"
    monkeypatch.undo()
    png = tmp_path / "no" / "such" / "folder" / "g.png"
    assert main(["sample", str(ring_checkpoint), "--n", "4", "--out", str(png)]) == 1
    assert "g.png" in one_line_error(capsys.readouterr().err)


# ---------------------------------------------------------------------- as a program
def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "playground", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_python_m_playground_presets(tmp_path):
    done = run_module("presets", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in PRESETS:
        assert name in done.stdout


def test_python_m_playground_bad_setting_exits_2(tmp_path):
    done = run_module("train", "--set", "nonsense=1", "--out", "x", cwd=tmp_path)
    assert done.returncode == 2
    assert "nonsense" in one_line_error(done.stderr)
    assert not (tmp_path / "x").exists()
