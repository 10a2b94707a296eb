"""InfoGAN (playground/infogan.py): the codes' sampling and layout in z, the mutual-information
loss against hand-computed values, training moving Q, checkpoints holding Q, the settings'
refusals, and the Latent explorer's code controls for a checkpoint made by the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from helpers import cli_train, install_checkpoints
from safetensors.torch import load_file
from streamlit.testing.v1 import AppTest

from playground import latent
from playground.errors import ConfigError
from playground.models import infogan
from playground.models.infogan import Codes
from playground.settings.config import GANConfig
from playground.settings.presets import preset
from playground.storage.checkpoints import META, load_checkpoint, save_checkpoint
from playground.training.multirun import check_members
from playground.training.trainer import Trainer

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "explore.py")
TINY = dict(width=8, batch_size=16, eval_every=0, device="cpu", log_every=2)


def tiny(**changes) -> GANConfig:
    return preset("digits-infogan").replace(**{**TINY, **changes})


# ---------------------------------------------------------------------- codes in z
def test_drawn_codes_are_one_hot_then_uniform():
    codes = Codes(10, 2)
    c = codes.draw(500, generator=torch.Generator().manual_seed(0))
    assert c.shape == (500, 12)
    assert torch.equal(c[:, :10].sum(1), torch.ones(500))
    assert set(c[:, :10].unique().tolist()) == {0.0, 1.0}
    assert len(c[:, :10].argmax(1).unique()) == 10  # every category drawn
    assert c[:, 10:].min() >= -1 and c[:, 10:].max() <= 1
    assert c[:, 10:].min() < -0.9 and c[:, 10:].max() > 0.9  # spans [-1, 1]


def test_fill_keeps_the_noise_and_split_reads_the_codes_back():
    codes = Codes(3, 2)
    z = torch.randn(7, 10)
    filled = codes.fill(z, torch.Generator().manual_seed(1))
    assert filled.shape == (7, 10)
    assert torch.equal(filled[:, :5], z[:, :5])
    cat, cont = codes.split(filled)
    assert torch.equal(filled[:, 5:8], torch.nn.functional.one_hot(cat, 3).float())
    assert torch.equal(cont, filled[:, 8:])
    assert Codes().fill(z) is z  # no codes: z unchanged
    assert Codes(0, 1).split(filled[:, :6])[0] is None


def test_set_puts_the_chosen_codes_in_every_row():
    codes = Codes(4, 2)
    z = codes.set(torch.zeros(3, 9), 2, [0.5, -0.25])
    assert z[:, 3:].tolist() == [[0, 0, 1, 0, 0.5, -0.25]] * 3


def test_fixed_batch_sweeps_one_category_per_grid_row():
    codes = Codes(10, 2)
    z = codes.sweep(torch.randn(64, 74))
    assert z.shape == (100, 74)  # 10 x 10: images.make_grid lays it out 10 to a row
    cat, cont = codes.split(z)
    assert torch.equal(cat, torch.arange(10).repeat_interleave(10))
    assert torch.equal(cont, torch.zeros(100, 2))
    assert torch.equal(z[:10, :62], z[90:, :62])  # a column holds one noise vector


def test_without_categories_the_first_continuous_code_sweeps_across_each_row():
    z = Codes(0, 2).sweep(torch.randn(64, 10))
    assert z.shape == (64, 10)
    assert torch.allclose(z[:8, 8], torch.linspace(-1, 1, 8))
    assert torch.allclose(z[8:16, 8], torch.linspace(-1, 1, 8))
    assert torch.equal(z[:, 9], torch.zeros(64))


# ---------------------------------------------------------------------- the loss
def test_mi_loss_against_hand_computed_values():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    category = torch.tensor([0, 0])
    means = torch.tensor([[0.5, 0.0], [0.0, 0.0]])
    cont = torch.tensor([[1.0, 0.0], [-1.0, 0.5]])
    # CE: -log softmax: sample 0 log(1 + e^-2), sample 1 log(1 + e^1); mean of the two.
    ce = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(1))) / 2
    # Gaussian NLL, sigma 1: ½(c − μ)² summed over codes, mean over samples.
    nll = 0.5 * (0.25 + 0 + 1 + 0.25) / 2
    assert infogan.mi_loss(logits, means, category, cont).item() == pytest.approx(ce + nll)
    assert infogan.mi_loss(logits, None, category, None).item() == pytest.approx(ce)
    assert infogan.mi_loss(None, means, None, cont).item() == pytest.approx(nll)


def test_info_term_reads_the_codes_from_z_and_weighs_them():
    cfg = tiny()
    trainer = Trainer(cfg)
    z = trainer._latent(8)[0]
    x = trainer.G(z)
    q = trainer.D.info_q
    logits, means = q(trainer.D.features(x))
    cat, cont = trainer.codes.split(z)
    expected = 0.5 * infogan.mi_loss(logits, means, cat, cont)
    assert infogan.info_term(trainer.D, x, z, 0.5).item() == pytest.approx(expected.item())


# ---------------------------------------------------------------------- training and files
def test_q_lives_in_d_and_a_few_steps_change_it():
    trainer = Trainer(tiny())
    q = trainer.D.info_q
    assert q.net[-1].out_features == 12
    assert any(p is q.net[0].weight for g in trainer.opt_d.param_groups for p in g["params"])
    before = {k: v.clone() for k, v in q.state_dict().items()}
    for _ in range(3):
        trainer.train_step()
    assert all(not torch.equal(before[k], v) for k, v in q.state_dict().items())


def test_g_update_carries_the_information_term():
    """With λ = 0 and λ = 1 from the same seed, G's first update differs: G's loss holds λ·L_I."""
    grads = []
    for weight in (0.0, 1.0):
        trainer = Trainer(tiny(info_weight=weight))
        trainer.g_update()
        grads.append([p.detach().clone() for p in trainer.G.parameters()])
    assert any(not torch.equal(a, b) for a, b in zip(*grads, strict=True))


def test_plain_configs_have_no_q_head():
    trainer = Trainer(preset("digits-dcgan").replace(**TINY))
    assert infogan.head_of(trainer.D) is None and not trainer.codes


def test_checkpoint_round_trip_keeps_q(tmp_path):
    cfg = tiny()
    trainer = Trainer(cfg)
    for _ in range(2):
        trainer.train_step()
    save_checkpoint(trainer, tmp_path / "ck")
    meta = json.loads((tmp_path / "ck" / META).read_text())
    d_file = tmp_path / "ck" / meta["files"]["discriminator"]
    assert any(k.startswith("info_q.") for k in load_file(d_file))
    fresh = load_checkpoint(tmp_path / "ck")
    assert infogan.head_of(fresh.D) is not fresh.D  # a new Q, filled from the file
    for (name, a), b in zip(
        trainer.D.info_q.state_dict().items(), fresh.D.info_q.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert torch.equal(fresh.fixed_z.cpu(), trainer.fixed_z.cpu())
    model = latent.load_latent_model(tmp_path / "ck")
    assert model.codes == Codes(10, 2)


# ---------------------------------------------------------------------- settings
@pytest.mark.parametrize(
    "changes, setting",
    [
        (dict(info_cat=1), "info_cat"),
        (dict(info_cat=21), "info_cat"),
        (dict(info_cont=9), "info_cont"),
        (dict(info_weight=-1.0), "info_weight"),
        (dict(latent_dim=12), "latent_dim"),
        (dict(conditional=True), "conditional"),
        (dict(pack=2), "pack"),
    ],
)
def test_bad_or_unsupported_settings_are_refused_by_name(changes, setting):
    with pytest.raises(ConfigError) as caught:
        preset("digits-infogan").replace(**changes)
    assert caught.value.setting == setting
    assert "\n" not in str(caught.value)


def test_the_batched_multi_run_refuses_infogan():
    cfg = GANConfig(info_cat=2, latent_dim=4)
    with pytest.raises(ConfigError, match="does not train InfoGAN") as caught:
        check_members([cfg, cfg.replace(loss="hinge")])
    assert caught.value.setting == "info_cat"


# ---------------------------------------------------------------------- the explorer
@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("infogan-made")
    return {
        "info": cli_train(
            root / "info", "--preset", "digits-infogan", "--steps", "3",
            "--set", "width=8", "--set", "batch_size=16",
        )
    }


def test_explorer_shows_a_category_picker_and_code_sliders(made, tmp_path, monkeypatch):
    paths = install_checkpoints(made, tmp_path / "checkpoints", {"info": "runs/info"}, monkeypatch)
    seen: list[torch.Tensor] = []  # every z the page generates from, in order
    original = latent.LatentModel.generate

    def spy(self, z, labels=None):
        seen.append(z.clone())
        return original(self, z, labels)

    monkeypatch.setattr(latent.LatentModel, "generate", spy)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["explore_source"] = str(paths["info"])
    at.run()
    assert not at.exception
    key = next(s.key for s in at.selectbox if s.key and s.key.endswith(".info_cat"))
    picker = at.selectbox(key=key)
    assert picker.label == "Category" and len(picker.options) == 10
    codes = [s for s in at.slider if s.label.startswith("code ")]
    assert [s.label for s in codes] == ["code 1", "code 2"]
    noise = [s.label for s in at.slider if s.label.startswith("z[")]
    assert noise == ["z[0]", "z[1]", "z[2]", "z[3]"]
    dims = at.multiselect(key=next(m.key for m in at.multiselect if m.key.endswith(".dims")))
    assert len(dims.options) == 62  # the noise coordinates only: the codes have their own

    seen.clear()
    picker.set_value(3).run()
    codes[0].set_value(0.9).run()
    assert not at.exception
    sample, strip = seen[-2], seen[-1]  # the explored sample, then the interpolation's frames
    expected = torch.tensor([0.0] * 3 + [1.0] + [0.0] * 6 + [0.9, 0.0])
    assert sample.shape == (1, 74) and torch.allclose(sample[0, 62:], expected)
    assert torch.allclose(strip[:, 62:], expected.expand(len(strip), 12))
    noise_z = latent.z_from_seed(0, 74)[:62]
    # ψ = 1 and no noise slider moved: the seed's noise (the sliders round it to 0.01)
    assert torch.allclose(sample[0, :62], noise_z, atol=0.01)


def test_train_page_takes_the_preset_codes(monkeypatch):
    """The InfoGAN settings are Train-page controls: the preset's codes reach the widgets and
    the page's config is valid (no error under any control)."""
    from pages.ui import common as ui

    slot = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    at = AppTest.from_file(str(Path(PAGE).parent / "train.py"), default_timeout=60).run()
    at.sidebar.selectbox(key="preset").set_value("digits-infogan").run()
    assert not at.exception and not at.error
    for name in ("info_cat", "info_cont", "info_weight", "latent_dim"):
        widget = at.sidebar.number_input(key=f"cfg.{name}")
        assert widget.value == getattr(preset("digits-infogan"), name), name
    slot.stop()
