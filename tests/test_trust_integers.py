"""Integers are integers: `batch_size` 2.5 is refused with the engine's message wherever it is
typed (the Train page, a link, the command line, a JSON config), never truncated to 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.cli import main
from playground.errors import ConfigError
from playground.settings.config import GANConfig

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("text", ["2.5", "2.0", "1e3", "64.", "0x40"])
def test_text_that_is_not_a_whole_number_is_refused(text):
    with pytest.raises(ConfigError) as info:
        GANConfig().with_strings({"batch_size": text})
    assert info.value.setting == "batch_size" and "whole number" in str(info.value)


@pytest.mark.parametrize("value", [2.5, 64.0, True])
def test_a_json_value_that_is_not_an_int_is_refused(value):
    with pytest.raises(ConfigError, match="batch_size: must be a whole number"):
        GANConfig.from_dict({"batch_size": value})


def test_the_command_line_refuses_it(tmp_path, capsys):
    argv = ["train", "--set", "batch_size=2.5", "--out", str(tmp_path / "x"), "--quiet"]
    assert main(argv) == 2
    assert "batch_size: must be a whole number" in capsys.readouterr().err


@pytest.fixture
def page(monkeypatch):
    from pages.ui import common as ui

    slot = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60).run()
    yield at, slot
    slot.stop()


def test_the_train_page_refuses_a_fraction_and_takes_a_whole_number(page):
    at, slot = page
    at.sidebar.number_input(key="cfg.batch_size").set_value(2.5).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "batch_size: must be a whole number" in errors and "2.5" in errors
    start = next(b for b in at.button if "Start" in b.label)
    assert start.disabled, "no run with a truncated batch size"
    at.sidebar.number_input(key="cfg.batch_size").set_value(64).run()
    assert not any("batch_size" in e.value for e in at.error)
    # (AppTest shows a query value as a string or a one-item list, by Streamlit version)
    assert at.query_params.get("batch_size") in ("64", ["64"]), "a whole number, as one"
