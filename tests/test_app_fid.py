"""AppTest: FID, KID and IS on the Diagnostics page, under their honest names, over training and
in the compare view; the one line on Inception weights when they are absent, and the Inception
gauges beside when they are on disk (random-valued weights the test writes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import cli_train, install_checkpoints
from streamlit.testing.v1 import AppTest

from playground.measures import fid

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fid-made")
    return {
        "digits": cli_train(
            root / "digits", "--preset", "digits-dcgan", "--steps", "6", "--set", "width=8",
            "--set", "batch_size=16", "--set", "eval_every=3",
        ),
    }


@pytest.fixture
def checkpoints(made, tmp_path, monkeypatch) -> dict[str, Path]:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no Inception weights there
    monkeypatch.delenv(fid.INCEPTION_ENV, raising=False)
    return install_checkpoints(made, tmp_path / "checkpoints", {"digits": "runs/d"}, monkeypatch)


def opened(checkpoint: Path) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "diagnostics.py"), default_timeout=180).run()
    at.selectbox(key="diag.source").set_value(str(checkpoint)).run()
    at.select_slider(key="diag.samples").set_value(250).run()
    assert not at.exception
    return at


def test_fid_kid_is_gauges_named_for_their_features(checkpoints, fresh_slot):
    at = opened(checkpoints["digits"])
    labels = [m.label for m in at.metric]
    for wanted in ("FID (digits classifier features)", "KID (digits classifier features)",
                   "IS (digits classifier)"):
        assert wanted in labels, wanted
    captions = " ".join(c.value for c in at.caption)
    assert "not comparable with the Inception FIDs of papers" in captions
    assert "real data scores FID" in captions  # what a good value is
    assert "Inception FID/KID are off" in captions  # and how to get the standard ones
    keys = [c.proto.id for c in at.get("plotly_chart")]
    assert any("diag.over.fid" in k for k in keys)  # FID over training (eval_every=3)


def test_compare_view_offers_fid_over_time(checkpoints, fresh_slot):
    at = opened(checkpoints["digits"])
    at.multiselect(key="diag.compare").set_value([str(checkpoints["digits"])]).run()
    assert not at.exception
    options = at.selectbox(key="diag.cmp.measure").options
    assert "FID (classifier features)" in options and "IS (classifier)" in options
    assert any("FID" in c.value for c in at.caption)  # each model's summary line


def test_train_page_shows_live_fid_and_the_classifier_note(tiny_image_cfg, fresh_slot, tmp_path,
                                                          monkeypatch):
    """A live digits run at 28 px (no stored classifier): the Train page first says the
    classifier trains in the background, and once it is ready shows FID/KID/IS live."""
    import threading

    from helpers import wait_for

    from playground.measures import classifier
    from playground.runs.runner import Run

    monkeypatch.setenv("GAN_PLAYGROUND_CLASSIFIERS", str(tmp_path))
    release = threading.Event()
    real_training = classifier.train_classifier

    def held_training(data, dataset, *args, **kwargs):
        release.wait(120)  # still training while the page is first drawn
        return real_training(data, dataset, steps=20)

    monkeypatch.setattr(classifier, "train_classifier", held_training)
    page = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=120)
    try:
        run = Run(tiny_image_cfg(steps=4, eval_every=2))
        fresh_slot.replace(run)
        run.start()
        assert run.join(60)  # the run ends although its classifier is not ready
        at = page.run()
        assert not at.exception
        assert "in the background" in " ".join(c.value for c in at.caption)
        assert "FID (digits classifier features)" not in [m.label for m in at.metric]
    finally:
        release.set()
    wait_for(lambda: (tmp_path / "digits-28-1.json").is_file(), "the classifier to be stored")
    again = Run(tiny_image_cfg(steps=2, eval_every=2))
    fresh_slot.replace(again)
    again.start()
    assert again.join(60)
    at = page.run()
    assert not at.exception
    assert "FID (digits classifier features)" in [m.label for m in at.metric]
