"""AppTest: a StyleGAN checkpoint (the digits-stylegan preset, a few steps from the command line)
in the Latent explorer: z's controls as for any generator, and its W space besides them:
truncation in W, sliders along W's principal directions, and the style-mixing grid."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import cli_train, install_checkpoints, wait_for
from streamlit.testing.v1 import AppTest
from test_i18n import _english_left

from playground import latent

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "explore.py")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stylegan-made")
    return {"style": cli_train(root / "style", "--preset", "digits-stylegan", "--steps", "20",
                               "--set", "batch_size=16")}


@pytest.fixture
def checkpoint(made, tmp_path, monkeypatch) -> Path:
    return install_checkpoints(made, tmp_path / "checkpoints", {"style": "runs/style"},
                               monkeypatch)["style"]


def _page(source: Path, lang: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["explore_source"] = str(source)
    if lang:
        at.query_params["lang"] = lang
    return at.run()


def _w_sliders(at: AppTest):
    return [s for s in at.slider if s.label.startswith("W direction")]


def test_a_stylegan_checkpoint_shows_its_w_space_and_the_mixing_grid(checkpoint):
    at = _page(checkpoint)
    assert not at.exception
    assert [h.value for h in at.header][:1] == ["Style space W (StyleGAN)"]
    assert len(_w_sliders(at)) == 4
    # the sample, the W image, the mixing grid, the interpolation strip
    assert len(at.image) == 4
    w_image, grid = at.image[1].value, at.image[2].value
    _w_sliders(at)[0].set_value(2.5).run()
    assert not at.exception and at.image[1].value != w_image, "a W slider moves the image"
    assert at.image[2].value == grid, "the mixing grid does not follow the W sliders"
    at.slider(key="explore.mix.crossover").set_value(1).run()
    assert not at.exception and at.image[2].value != grid, "the crossover changes the mixes"
    at.slider(key="explore.w.psi").set_value(0.0).run()
    assert not at.exception
    caption = at.image[2].proto.imgs[0].caption
    assert "Top row: the fine-style seeds 3–5; left column: the coarse-style seeds 0–2" in caption


def test_a_generator_without_styles_has_no_w_section(tmp_path, monkeypatch):
    made = {"digits": cli_train(tmp_path / "made", "--preset", "digits-dcgan", "--steps", "3",
                                "--set", "width=8", "--set", "batch_size=16")}
    folder = install_checkpoints(made, tmp_path / "checkpoints", {"digits": "runs/d"},
                                 monkeypatch)["digits"]
    at = _page(folder)
    assert not at.exception
    assert "Style space W (StyleGAN)" not in [h.value for h in at.header]
    assert not _w_sliders(at)


def test_truncation_to_zero_in_w_gives_the_average_image_for_any_seed(checkpoint):
    model = latent.load_latent_model(checkpoint)
    assert latent.has_styles(model.generator)
    a = latent.styled(model, 0, 0.0)
    b = latent.styled(model, 7, 0.0)
    assert (a - b).abs().max() < 1e-5
    grid = latent.mixing_grid(model, [0, 1], [2, 3, 4], crossover=1)
    assert grid.shape[0] == 3 * 4 and bool((grid[0] == -1).all())  # the black corner


def test_the_w_space_in_chinese_has_no_english_left(checkpoint):
    at = _page(checkpoint, "zh")
    assert not at.exception
    assert "风格空间 W（StyleGAN）" in [h.value for h in at.header]
    left = {text: words for text, words in _english_left(at).items()
            if not text.startswith("runs/style — ")}  # the folder's name: the user's words
    assert left == {}


def test_a_stylegan_checkpoint_is_diagnosed_like_any_image_run(checkpoint, fresh_slot):
    at = AppTest.from_file(str(Path(PAGE).parent / "diagnostics.py"), default_timeout=120).run()
    assert not at.exception
    at.selectbox(key="diag.source").set_value(str(checkpoint)).run()
    at.select_slider(key="diag.samples").set_value(250).run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    for wanted in ("Classes covered", "Precision", "Recall", "Near-duplicates"):
        assert wanted in labels, wanted
    assert len(at.image) >= 1  # the grid sorted by predicted class


def test_the_digits_stylegan_preset_trains_from_the_train_page(fresh_slot):
    at = AppTest.from_file(str(Path(PAGE).parent / "train.py"), default_timeout=120).run()
    at.sidebar.selectbox(key="preset").set_value("digits-stylegan").run()
    assert at.sidebar.selectbox(key="cfg.arch").value == "stylegan"
    at.sidebar.number_input(key="cfg.batch_size").set_value(16).run()
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception
    run = fresh_slot.run
    wait_for(lambda: run.snapshot().step >= 30 and run.snapshot().latest is not None,
             "the StyleGAN run to step and draw", 300)
    at.run()
    assert not at.exception and at.image  # the sample grid
