"""Values that come from outside (a link, a file, a checkpoint) are shown as text, never as
markdown; a checkpoint.json or config that cannot be parsed is a one-line refusal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pages.ui import common as ui
from playground.errors import ConfigError
from playground.settings.config import GANConfig
from playground.storage import store
from playground.storage.checkpoints import META, CheckpointError, read_meta, save_checkpoint

ROOT = Path(__file__).resolve().parent.parent
LINK = "[Session expired](https://x.example/login)"
PICTURE = "x ![i](https://x.example/p.png)"


def test_plain_escapes_links_images_and_formatting():
    for text in (LINK, PICTURE, "**bold** `code` :red[x] $x^2$ <b>hi</b>"):
        shown = ui.plain(text)
        for mark in "[]()!*`$<>":
            assert mark not in shown.replace("\\" + mark, ""), (text, shown)


@pytest.mark.parametrize("setting, value", [("diffaugment", LINK), ("loss", PICTURE)])
def test_a_links_bad_value_is_shown_as_text(setting, value):
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    at.query_params[setting] = value
    at.run()
    assert not at.exception
    warnings = [w.value for w in at.warning if "link's settings" in w.value]
    assert warnings, "the link's bad setting is reported"
    shown = warnings[0]
    assert setting in shown
    assert "](https://" not in shown and "![" not in shown, shown  # no live link, no image


def _deep_checkpoint(folder: Path, depth: int = 200_000) -> Path:
    folder.mkdir(parents=True)
    (folder / META).write_text("[" * depth)
    return folder


def test_a_deeply_nested_checkpoint_json_is_a_checkpoint_error(tmp_path):
    folder = _deep_checkpoint(tmp_path / "deep")
    with pytest.raises(CheckpointError, match="not valid JSON") as info:
        read_meta(folder)
    assert "\n" not in str(info.value)


def test_a_huge_integer_in_checkpoint_json_is_a_checkpoint_error(tmp_path):
    folder = tmp_path / "digits"
    folder.mkdir()
    (folder / META).write_text('{"format": "gan-playground", "step": ' + "9" * 20_000 + "}")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_meta(folder)


def test_the_listing_skips_a_broken_folder_and_names_it(tmp_path, tiny_cfg, make_trainer):
    good = tmp_path / "good"
    save_checkpoint(make_trainer(tiny_cfg()), good)
    bad = _deep_checkpoint(tmp_path / "bad")
    listing = store.list_checkpoints([tmp_path])
    assert [folder for folder, _ in listing.runs] == [good]
    assert [folder for folder, _ in listing.skipped] == [bad]
    assert "not valid JSON" in listing.skipped[0][1]


def test_config_json_nested_too_deeply_is_a_config_error():
    with pytest.raises(ConfigError, match="nested too deeply"):
        GANConfig.from_json("[" * 200_000)
    with pytest.raises(ConfigError):
        GANConfig.from_json(json.dumps({"steps": [[[[1]]]]}))


# ---------------------------------------------------------------------- numbers at the limits
@pytest.mark.parametrize("values, word", [
    ([1.7e308, -1.7e308], "within"),  # beyond any scale: refused, not "diverged"
    ([3e12, 1.0], "within"),
    ([1e-320, 2e-320], "spread over only"),  # a spread that scaling turns into inf
    ([1e9, 1e9 + 1e-3], "spread over only"),  # rounding would erase the shape
])
def test_points_at_the_float_limits_are_refused_naming_the_cause(values, word):
    from playground.data.userpoints import PointsError, finish

    low, high = values
    t = np.random.default_rng(0).uniform(0, 1, 40)
    column = low * (1 - t) + high * t  # between the two, without computing high - low
    points = np.stack([column, column[::-1]], axis=1)
    with pytest.raises(PointsError, match=word):
        finish(points)


def test_ordinary_points_still_normalise():
    from playground.data.userpoints import finish

    rng = np.random.default_rng(1)
    for scale in (1e-6, 1.0, 1e9):
        out = finish(rng.normal(size=(50, 2)) * scale).points
        assert np.isfinite(out).all() and abs(np.abs(out).max() - 2.0) < 1e-9


def test_a_checkpoint_step_beyond_any_run_is_refused(tmp_path, tiny_cfg, make_trainer):
    from playground.storage.checkpoints import MAX_STEP

    folder = tmp_path / "run"
    save_checkpoint(make_trainer(tiny_cfg()), folder)
    meta = json.loads((folder / META).read_text())
    for step in (10**30, MAX_STEP + 1, -1):
        meta["step"] = step
        (folder / META).write_text(json.dumps(meta))
        with pytest.raises(CheckpointError, match="step"):
            read_meta(folder)
    meta["step"] = MAX_STEP
    (folder / META).write_text(json.dumps(meta))
    assert read_meta(folder)["step"] == MAX_STEP
