"""The engine's messages in Chinese (playground.texts.catalogue.translate_message): an error that
names a setting and its values is matched against the catalogue's texts with placeholders and
shown in the page's language with the same values; every message the catalogue holds is one the
engine really builds; a message it does not know stays in English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from playground.errors import ConfigError
from playground.settings.config import GANConfig
from playground.settings.fields import FIELDS
from playground.settings.live import check_live_changes
from playground.settings.presets import preset
from playground.texts import catalogue as texts
from playground.training import multirun

ROOT = Path(__file__).resolve().parent.parent
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def refusal(make) -> str:
    with pytest.raises((ConfigError, ValueError)) as found:
        make()
    return str(found.value)


def _numeric_rows():
    return [row for row in FIELDS.values() if row.low is not None and not row.choices]


@pytest.mark.parametrize("row", _numeric_rows(), ids=lambda r: r.name)
def test_a_setting_out_of_its_range_is_refused_in_chinese_with_its_values(row):
    high = row.high + (1 if isinstance(row.high, int) else 1.5)
    english = refusal(lambda: GANConfig(**{row.name: high}).validate())
    shown = texts.translate_message(english, "zh")
    assert CHINESE.search(shown), english
    assert shown.startswith(row.name + "：") and str(high).rstrip("0").rstrip(".") in shown


MESSAGES = {
    "a choice": lambda: GANConfig(loss="nope").validate(),
    "a 2D set's architecture": lambda: GANConfig(dataset="ring8", arch="dcgan").validate(),
    "an architecture's image sizes": lambda: GANConfig(dataset="digits", arch="sngan",
                                                       image_size=8).validate(),
    "packing and the batch": lambda: GANConfig(pack=3, batch_size=64).validate(),
    "packing and labels": lambda: GANConfig(dataset="digits", arch="dcgan", conditional=True,
                                            pack=2).validate(),
    "labels on points": lambda: GANConfig(dataset="ring8", conditional=True).validate(),
    "label smoothing": lambda: GANConfig(loss="wgan", label_smoothing=0.1).validate(),
    "held-out points": lambda: GANConfig(dataset="ring8", train_images=100).validate(),
    "an unknown preset": lambda: preset("no-such-preset"),
    "an unknown setting": lambda: GANConfig.from_json('{"colour": 3}'),
    "a setting fixed on a live run": lambda: check_live_changes(GANConfig(), {"hidden": 64}),
    "a multi-run's optimiser": lambda: multirun.check_members([GANConfig(optimizer="sgd")]),
}


@pytest.mark.parametrize("what", MESSAGES)
def test_the_refusals_a_page_can_show_are_in_chinese(what):
    english = refusal(MESSAGES[what])
    shown = texts.translate_message(english, "zh")
    assert CHINESE.search(shown), english
    # The values stay: every quoted value and number of the English is in the Chinese ("2D"
    # is a word, 二维).
    for value in re.findall(r"'[^']*'|\b\d+(?:\.\d+)?(?![\dD])", english):
        assert value in shown, (value, shown)


def test_every_message_in_the_catalogue_is_one_the_engine_builds():
    """No dead entries: each message text of zh/messages.po matches a message the tests above
    (or the divergence one below) make the engine build."""
    built = [refusal(make) for make in MESSAGES.values()]
    built += [refusal(lambda r=row: GANConfig(**{r.name: r.high + 1}).validate())
              for row in _numeric_rows()]
    built.append(_diverged())
    with (texts.FOLDER / "zh" / "messages.po").open("rb") as f:
        entries = {str(m.id) for m in read_po(f) if m.id}
    matched = {found[0] for m in built if (found := texts.template_of(m, "zh")) is not None}
    unused = entries - matched - set(built)
    allowed = {  # refusals no test here can build without a second machine or user data
        "device: {name} is not available on this machine; use auto or cpu",
        "data_folder: dataset {name} needs a folder of images",
        "points_file: dataset {name} needs points: draw them or upload a CSV",
        "every member diverged; member 0: {message}",
        "{setting}: must be a whole number, got {value}",
        "{setting}: must be true or false, got {value}",
        "{setting}: cannot change while a batched run trains (live there: {names})",
        "spectral_norm: a multi-run does not support spectral norm",
        "grad_clip: a multi-run does not clip gradients; train it alone",
        "info_cat: a multi-run does not train InfoGAN codes; train it alone",
        "{setting}: a multi-run does not apply {name}; train it alone",
        "points_file: this server reads only points drawn or uploaded in this session (or CSV "
        "files under folders its operator allows with {env}); draw them or upload a CSV",
        "{setting}: must be one of {allowed}; got {value}",
    }
    assert set(unused) <= allowed, sorted(set(unused) - allowed)


def _diverged() -> str:
    """The message of a run whose D went NaN (its weights poisoned after step 2)."""
    import torch

    from playground.training.stepcore import Divergence
    from playground.training.trainer import Trainer

    trainer = Trainer(GANConfig(dataset="ring8", hidden=8, layers=1, batch_size=16,
                                log_every=1, device="cpu"))
    trainer.train_step()
    trainer.train_step()
    with torch.no_grad():
        next(trainer.D.parameters()).fill_(float("nan"))
    with pytest.raises(Divergence) as found:
        trainer.train_step()
    return str(found.value)


def test_a_diverged_run_says_why_in_chinese_with_its_figures():
    english = _diverged()
    assert english.startswith("training diverged at step")
    shown = texts.translate_message(english, "zh")
    assert shown.startswith("训练在第") and "lr_g=0.001" in shown and "谱归一化" in shown
    nested = texts.translate_message(f"every member diverged; member 0: {english}", "zh")
    assert nested.startswith("所有成员都发散了；成员 0：训练在第")


def test_a_message_the_catalogue_does_not_know_stays_english():
    assert texts.translate_message("hidden: something new; got 3", "zh") == (
        "hidden: something new; got 3")
    english = refusal(lambda: GANConfig(hidden=99999).validate())
    assert texts.translate_message(english, "en") == english


def test_the_train_page_refuses_a_links_setting_in_chinese():
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    at.query_params["lang"] = "zh"
    at.query_params["hidden"] = "99999"
    at.run()
    assert not at.exception
    shown = [w.proto.body for w in at.warning]
    assert any("hidden：必须是 4 到 4096 之间的整数；现在是 99999" in s for s in shown), shown


def test_a_short_template_is_no_pattern_for_any_message_with_its_words():
    """'{covered} of {total}' has too few letters to tell a message by: a text with ' of ' in it
    that the catalogue does not know stays as it is, and one it knows is its own entry, rather
    than being cut at its ' of '."""
    assert "{covered} of {total}" in texts.catalogue("zh")
    assert texts.translate_message("3 of the spare parts", "zh") == "3 of the spare parts"
    assert texts.translate_message("RMSprop instead of Adam", "zh") == "用 RMSprop 代替 Adam"
