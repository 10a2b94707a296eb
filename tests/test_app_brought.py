"""AppTest for the Diagnostics page's "Your own samples" tab: it draws with the page, offers
every image dataset and 2D mixture (not the user's folder, left to the command line), and its
Diagnose button waits for a file. The upload itself is driven in a real browser
(tests/test_browser_report.py): AppTest has no file uploader."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from pages.ui import brought as brought_ui

ROOT = Path(__file__).resolve().parent.parent


def test_the_tab_offers_the_datasets_and_waits_for_a_file(fresh_slot):
    at = AppTest.from_file(str(ROOT / "pages" / "diagnostics.py"), default_timeout=120).run()
    assert not at.exception
    assert [t.label for t in at.tabs][-1] == "Your own samples"
    box = at.selectbox(key=brought_ui.REAL_KEY)
    assert box.value == "digits" and box.help
    assert "ring8" in box.options or any("ring of 8" in o for o in box.options)
    assert not any("your images" in o for o in box.options)
    button = at.button(key="brought.go")
    assert button.disabled and button.help
    assert any("command line" in c.value for c in at.caption)


def test_reference_choices_are_images_and_mixtures():
    choices = brought_ui.reference_choices()
    assert choices[:2] == ["ring8", "grid25"] and "digits" in choices and "cifar10" in choices
    assert not {"spiral", "own-points", "folder"} & set(choices)
