"""AppTest for the Latent explorer page (pages/explore.py) on checkpoints made here with the
command line: a 2D ring and a narrow digits DCGAN, plus a broken one and uploaded zips."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest
import torch
from helpers import install_checkpoints, small_checkpoints
from streamlit.testing.v1 import AppTest

from pages.ui import common as ui
from pages.ui import explore as explore_ui
from playground import latent
from playground.storage import store

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "explore.py")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Two real checkpoints, trained for a few steps by the command line."""
    return small_checkpoints(tmp_path_factory.mktemp("explore-made"))


@pytest.fixture
def checkpoints(made, tmp_path, monkeypatch) -> dict[str, Path]:
    """checkpoints/examples/ring and checkpoints/runs/digits, with the pages pointed at them."""
    layout = {"ring": "examples/ring", "digits": "runs/digits"}
    return install_checkpoints(made, tmp_path / "checkpoints", layout, monkeypatch)


def open_page(source: Path | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if source is not None:
        at.session_state["explore_source"] = str(source)
    return at.run()


def latent_sliders(at: AppTest):
    return [s for s in at.slider if s.label.startswith(("z[", "Direction"))]


def test_digits_checkpoint_shows_an_image_that_follows_the_sliders(checkpoints):
    at = open_page(checkpoints["digits"])
    assert not at.exception
    assert at.selectbox(key="explore.source").value == str(checkpoints["digits"])
    assert len(at.image) == 2  # the sample and the interpolation strip
    sliders = latent_sliders(at)
    assert [s.label for s in sliders] == ["z[0]", "z[1]", "z[2]", "z[3]"]  # 64 dims: first 4
    assert sliders[0].value == pytest.approx(latent.z_from_seed(0, 64)[0].item(), abs=0.01)
    before = at.image[0].value
    sliders[0].set_value(2.5).run()
    assert not at.exception
    assert at.image[0].value != before


def test_principal_directions_mode_moves_the_image(checkpoints):
    at = open_page(checkpoints["digits"])
    at.radio(key="explore.mode").set_value("Principal directions").run()
    assert not at.exception
    sliders = latent_sliders(at)
    assert len(sliders) == 4 and all(s.label.startswith("Direction") for s in sliders)
    before = at.image[0].value
    sliders[0].set_value(3.0).run()
    assert at.image[0].value != before


def test_seed_truncation_and_interpolation_controls(checkpoints):
    at = open_page(checkpoints["digits"])
    before = at.image[0].value
    at.number_input(key="explore.seed").set_value(5).run()
    assert at.image[0].value != before
    strip = at.image[1].value
    at.slider(key="explore.frames").set_value(12).run()
    assert at.image[1].value != strip
    at.slider(key="explore.psi").set_value(0.5).run()
    at.radio(key="explore.method").set_value("linear").run()
    assert not at.exception
    assert len(at.get("download_button")) == 1
    at.button(key="explore.seed.random").click().run()
    assert not at.exception


def test_2d_checkpoint_draws_charts(checkpoints):
    at = open_page(checkpoints["ring"])
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2  # the point over the clouds, the interpolation path
    assert len(at.image) == 0
    next(s for s in at.slider if s.label == "z[1]").set_value(-2.0).run()
    assert not at.exception


def test_corrupt_checkpoint_shows_an_error_not_an_exception(checkpoints):
    broken = checkpoints["digits"]
    (generator,) = broken.glob("generator-*.safetensors")
    generator.write_bytes(b"\x00" * 64)
    at = open_page(broken)
    assert not at.exception
    assert at.error and "cannot be loaded" in at.error[0].value


def test_a_requested_folder_that_is_not_a_checkpoint_is_reported(checkpoints, tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "checkpoint.json").write_text("{not json")
    at = open_page(tmp_path / "junk")
    assert not at.exception
    assert at.error and "cannot be explored" in at.error[0].value


def test_empty_checkpoints_folder_offers_upload(tmp_path, monkeypatch):
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path)
    at = open_page()
    assert not at.exception
    assert at.selectbox(key="explore.source").value == explore_ui.UPLOAD
    assert at.info


def zipped(folder: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.iterdir():
            archive.write(path, prefix + path.name)
        archive.writestr("README.txt", "ignored")
    return buffer.getvalue()


def test_uploaded_zip_is_explored(checkpoints):
    at = open_page()
    at.selectbox(key="explore.source").set_value(explore_ui.UPLOAD).run()
    data = zipped(checkpoints["digits"], prefix="digits/")
    at.file_uploader(key="explore.upload").set_value(("digits.zip", data, "application/zip"))
    at.run()
    assert not at.exception
    assert not at.error
    assert len(at.image) == 2


def test_uploaded_garbage_shows_an_error(checkpoints):
    at = open_page()
    at.selectbox(key="explore.source").set_value(explore_ui.UPLOAD).run()
    at.file_uploader(key="explore.upload").set_value(("x.zip", b"not a zip", "application/zip"))
    at.run()
    assert not at.exception
    assert at.error and "not a zip" in at.error[0].value


# ---------------------------------------------------------------------- zip safety
def test_extract_writes_only_whitelisted_names_flat(checkpoints, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in checkpoints["ring"].iterdir():
            archive.write(path, path.name)
        archive.writestr("../../escape-abc.safetensors", b"x")
        archive.writestr("evil.py", b"import os")
        archive.writestr("nested/dir/", b"")
    dest = tmp_path / "dest"
    dest.mkdir()
    written = store.extract_checkpoint_zip(buffer.getvalue(), dest)
    assert "checkpoint.json" in written and "escape-abc.safetensors" in written
    assert sorted(p.name for p in dest.iterdir()) == sorted(written)
    assert not (tmp_path / "escape-abc.safetensors").exists()
    assert not list(tmp_path.glob("*.py"))


def test_extract_refuses_symlinks_oversize_and_missing_meta(tmp_path, monkeypatch):
    def archive(entries) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            for info, data in entries:
                zf.writestr(info, data)
        return buffer.getvalue()

    link = zipfile.ZipInfo("generator-abc.safetensors")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    cases = {
        "symbolic link": archive([("checkpoint.json", "{}"), (link, "/etc/passwd")]),
        "no checkpoint.json": archive([("generator-abc.safetensors", b"x")]),
        "two files named": archive([("a/checkpoint.json", "{}"), ("b/checkpoint.json", "{}")]),
        "MB": archive([("checkpoint.json", "{}"), ("big.safetensors", b"0" * 4096)]),
    }
    monkeypatch.setattr(store, "MAX_ZIP_MEMBER", 1024)
    for message, data in cases.items():
        dest = tmp_path / message.replace(" ", "-")
        dest.mkdir()
        with pytest.raises(store.UploadError, match=message):
            store.extract_checkpoint_zip(data, dest)


def test_gif_of_an_interpolation(checkpoints):
    model = latent.load_latent_model(checkpoints["digits"])
    path = latent.interpolate(latent.z_from_seed(0, 64), latent.z_from_seed(1, 64), 4)
    gif = explore_ui.gif_maker(model, model.generate(path))()
    assert gif.startswith(b"GIF8")
    ring = latent.load_latent_model(checkpoints["ring"])
    points = ring.generate(latent.interpolate(torch.zeros(2), torch.ones(2), 4))
    assert explore_ui.gif_maker(ring, points)().startswith(b"GIF8")


def _page_with_a_failing_generator():
    from pages.ui import explore as xui
    from playground.onnxmodel import OnnxError

    class Failing:
        def generate(self, z, label=None):
            raise OnnxError("the ONNX generator's output holds NaN or inf")

    assert xui.generated(Failing(), None, None) is None


def test_a_generator_that_fails_on_a_z_says_so_in_the_page():
    """An ONNX generator whose output is NaN for some z (its probe batch was fine) is refused in
    one line on the page, not with a traceback."""
    at = AppTest.from_function(_page_with_a_failing_generator).run()
    assert not at.exception
    assert at.error and "NaN or inf" in at.error[0].value
