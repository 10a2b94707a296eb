"""AppTest for the Diagnostics page's every-loss view: each loss runs with its paper's settings,
and the page says, per loss, what differs from the common settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import wait_for
from streamlit.testing.v1 import AppTest

from pages.ui import common as ui
from pages.ui import every_loss as every_loss_ui
from playground.objectives.losses import LOSSES
from playground.runs.everyloss import common_config, differences, every_loss_configs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def diagnostics(monkeypatch, tmp_path):
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "nothing")
    slot = ui.RunSlot()
    monkeypatch.setattr(every_loss_ui, "multi_slot", lambda: slot)
    at = AppTest.from_file(str(ROOT / "pages" / "diagnostics.py"), default_timeout=120).run()
    yield at, slot
    slot.replace(None)


def test_each_loss_takes_its_papers_settings_and_shares_the_rest():
    common = common_config("ring8")
    configs = {cfg.loss: cfg for cfg in every_loss_configs("ring8")}
    assert list(configs) == list(LOSSES)
    gp = configs["wgan-gp"]
    assert (gp.lr_g, gp.beta1, gp.beta2, gp.d_steps, gp.gp_weight) == (1e-4, 0.5, 0.9, 5, 0.1)
    clipped = configs["wgan"]
    assert (clipped.optimizer, clipped.lr_d, clipped.d_steps) == ("rmsprop", 5e-5, 5)
    assert configs["hinge"].spectral_norm and configs["hinge"].d_steps == 5
    for cfg in configs.values():
        assert (cfg.dataset, cfg.batch_size, cfg.hidden, cfg.layers, cfg.ema, cfg.steps) == (
            common.dataset, common.batch_size, common.hidden, common.layers, common.ema,
            common.steps,
        )
    assert differences(gp, common) == [
        "learning rate 0.0001 for both",
        "Adam betas (0.5, 0.9)",
        "5 D updates per G update",
        "gradient penalty weight λ = 0.1",
    ]
    assert "Adam betas" not in "; ".join(differences(clipped, common)), "RMSprop has no betas"


def test_the_page_shows_what_differs_per_loss(diagnostics):
    at, _ = diagnostics
    assert not at.exception
    table = at.table[0].value
    assert list(table["Loss"]) == list(LOSSES)
    rows = table.set_index("Loss")
    assert "5 D updates per G update" in rows.loc["wgan-gp", "Differs from the common settings"]
    assert "RMSprop instead of Adam" in rows.loc["wgan", "Differs from the common settings"]
    assert "spectral norm" in rows.loc["hinge", "Differs from the common settings"]
    assert rows.loc["hinge", "Trained"].startswith("on its own")
    assert rows.loc["nonsaturating", "Trained"] == "batched with others"
    assert "gan_toy.py" in rows.loc["wgan-gp", "Settings from"]
    words = " ".join(c.value for c in at.caption)
    assert "settings its paper recommends" in words and "Common settings: Adam" in words


def test_the_run_it_starts_has_each_losss_settings_and_is_drawn(diagnostics):
    at, slot = diagnostics
    at.button(key="diag.multi.start").click().run()
    assert not at.exception and slot.run is not None
    assert slot.run.configs == every_loss_configs("ring8")
    # The first picture is drawn as the run starts: every loss gets its scatter and caption.
    wait_for(lambda: slot.run.snapshot().members[0].latest is not None, "the first picture",
             timeout=120)
    at.run()
    assert not at.exception
    words = " ".join(c.value for c in at.caption)
    assert all(f"**{name}**" in words for name in LOSSES) and "Blue: the real data" in words
    assert words.count("modes held,") == len(LOSSES) and "covered" in words
    # Its progress says how fast it goes and how long is left (a 3,000-step view takes minutes).
    wait_for(lambda: slot.run.snapshot().steps_per_sec > 0, "a measured speed", timeout=120)
    at.run()
    (bar,) = at.get("progress")
    assert re.search(r"running · step [\d,]+ / 3,000 · [\d.,]+ steps/s · about .+ left",
                     bar.proto.text), bar.proto.text


def test_measuring_the_view_gives_modes_held_and_covered(monkeypatch):
    """`python -m playground.runs.everyloss` reports both counts per loss (a few steps here)."""
    from playground.runs import everyloss

    monkeypatch.setattr(everyloss, "VIEW_STEPS", 3)
    found = everyloss.measure("ring8", 0, ["wgan"])
    assert set(found) == {"held", "covered"}
    assert set(found["held"]) == set(found["covered"]) == {"wgan"}
    held, covered = found["held"]["wgan"], found["covered"]["wgan"]
    assert 0 <= held <= covered <= 8


def test_on_the_grid_the_page_says_the_view_is_too_short_to_hold_modes(diagnostics):
    at, _ = diagnostics
    assert not any("too few" in i.value for i in at.info), "the ring needs no such note"
    at.selectbox(key="diag.multi.dataset").set_value("grid25").run()
    assert not at.exception
    (note,) = [i.value for i in at.info if "too few" in i.value]
    assert "grid25-stable" in note and "covered" in note
    words = " ".join(c.value for c in at.caption)
    assert "packs of 2 samples" in words, "the grid's recipe packs: a common setting"
