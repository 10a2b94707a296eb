"""Hardening, uploads: a zip of a person's own images, built here with every kind of hostile or
broken entry. Unsafe entries are refused and counted, nothing lands outside the session's
folder, bad images are skipped and counted by the loader, sizes are capped, and the rest trains
(engine and Train page)."""

from __future__ import annotations

import io
import re
import stat
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from playground.data import uploads
from playground.data.loading import load_dataset
from playground.data.uploads import UploadError, extract_image_zip
from playground.settings.config import GANConfig
from playground.training.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent


def image_bytes(size=(20, 14), mode="RGB", fmt="PNG", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65535, size[::-1], dtype=np.uint16))
    else:
        channels = {"RGB": 3, "RGBA": 4, "L": 1, "P": 1}[mode]
        pixels = rng.integers(0, 255, (size[1], size[0], channels), dtype=np.uint8)
        image = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels)
        if mode == "P":
            image = image.convert("P")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def zip_of(entries, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def symlink_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def mark_encrypted(data: bytes, name: bytes) -> bytes:
    """Set the "encrypted" flag of entry `name` in its local and central headers (zipfile
    resets flags when writing, so the bit is put in afterwards)."""
    out = bytearray(data)
    for signature, flags, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = out.find(signature)
        while at >= 0:
            if out[at + name_at : at + name_at + len(name)] == name:
                out[at + flags] |= 0x1
            at = out.find(signature, at + 4)
    return bytes(out)


GOOD = {  # mixed sizes and modes: all must load and be resized to one shape
    "photos/a.png": image_bytes((40, 30)),
    "photos/deep/b.jpg": image_bytes((17, 60), fmt="JPEG", seed=1),
    "c.PNG": image_bytes((8, 8), "RGBA", seed=2),
    "d.gif": image_bytes((25, 25), "P", seed=3),
    "e.bmp": image_bytes((30, 12), "L", fmt="BMP", seed=4),
    "f.png": image_bytes((16, 16), "I;16", seed=5),
}
BAD = {
    "broken.png": b"\x89PNG\r\n\x1a\n not really",
    "truncated.jpg": image_bytes((40, 40), fmt="JPEG")[:100],
    "text.webp": b"hello",
}
IGNORED = {
    "notes.txt": b"not an image",
    "script.py": b"import os; os.system('echo pwned')",
    ".DS_Store": b"\0\0\0\1Bud1",
    "__MACOSX/photos/._a.png": b"\0\5\26\7",
}


def test_mixed_zip_unpacks_images_flat_and_counts_the_rest(tmp_path):
    entries = list(GOOD.items()) + list(BAD.items()) + list(IGNORED.items())
    entries += [("emptydir/", b"")]
    report = extract_image_zip(zip_of(entries), tmp_path / "dest")
    written = sorted(p.name for p in (tmp_path / "dest").iterdir())
    assert report.images == len(GOOD) + len(BAD) == len(written)
    assert report.ignored == len(IGNORED)
    assert not report.refused
    assert all(p.count("/") == 0 and p[:5].isdigit() for p in written)
    assert not any(name.endswith((".py", ".txt")) for name in written)
    assert "unpacked 9 image files" in report.message()
    assert "ignored 4 files" in report.message()


def test_unsafe_entries_are_refused_and_nothing_lands_outside(tmp_path):
    png = image_bytes()
    entries = [
        ("../evil.png", png),
        ("a/../../evil2.png", png),
        ("..\\..\\evil3.png", png),
        ("/tmp/abs-evil.png", png),
        ("C:\\Windows\\evil.png", png),
        ("c:evil.png", png),
        (symlink_entry("link.png"), "/etc/passwd"),
        ("secret.png", png),
        ("safe.png", png),
    ]
    dest = tmp_path / "sandbox" / "dest"
    report = extract_image_zip(mark_encrypted(zip_of(entries), b"secret.png"), dest)
    assert report.images == 1
    assert report.refused == {
        "path with '..'": 3,
        "absolute path": 3,
        "symbolic link": 1,
        "encrypted": 1,
    }
    assert [p.name for p in dest.iterdir()] == ["00008-safe.png"]
    assert sorted(p.name for p in (tmp_path / "sandbox").iterdir()) == ["dest"]
    assert not Path("/tmp/abs-evil.png").exists()
    message = report.message()
    assert "refused 3 (path with '..')" in message and "refused 1 (symbolic link)" in message


def test_a_decompression_bomb_is_refused(tmp_path):
    bomb = b"\0" * (8 * 2**20)  # deflates about 1000:1
    data = zip_of([("bomb.bmp", bomb), ("ok.png", image_bytes())])
    assert len(data) < 100_000
    report = extract_image_zip(data, tmp_path)
    assert report.images == 1
    assert report.refused == {f"compressed more than {uploads.MAX_RATIO}:1": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["00001-ok.png"]


def test_a_bomb_lying_about_its_size_is_stopped_while_reading(tmp_path):
    """The headers claim 2 MB, the data is 8 MB of zeros: refused by the ratio rule while
    reading (the claim alone would have passed the header check), nothing left on disk."""
    data = lie_about_size(zip_of([("bomb.bmp", b"\0" * (8 * 2**20))]), 2 * 2**20)
    with pytest.raises(UploadError, match="no image files"):
        extract_image_zip(data, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_entry_lying_about_its_size_leaves_no_partial_file(tmp_path):
    """Headers claim 10 kB, the data is 8 MB: reading stops at the claim, the CRC check fails,
    the entry is refused as corrupt and its partial file removed; the good image stays."""
    lying = lie_about_size(zip_of([("big.bmp", b"\1" * (8 * 2**20))]), 10_000)
    good = zip_of([("ok.png", image_bytes())])
    with pytest.raises(UploadError, match="cannot be unpacked"):
        extract_image_zip(lying, tmp_path / "a")
    assert list((tmp_path / "a").iterdir()) == []
    assert extract_image_zip(good, tmp_path / "b").images == 1


def lie_about_size(data: bytes, claimed: int) -> bytes:
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = out.find(signature)
        while at >= 0:
            out[at + offset : at + offset + 4] = struct.pack("<I", claimed)
            at = out.find(signature, at + 4)
    return bytes(out)


def test_sizes_are_capped_per_file_and_in_total(tmp_path):
    entries = [(f"img{i}.png", image_bytes((64, 64), seed=i)) for i in range(6)]
    one = len(entries[0][1])
    report = extract_image_zip(
        zip_of(entries, zipfile.ZIP_STORED), tmp_path / "a", max_total_bytes=3 * one + one // 2
    )
    assert report.images == 3 and report.not_unpacked == 3
    assert "left out 3 images over the" in report.message()
    small = ("small.png", image_bytes((4, 4)))
    report = extract_image_zip(
        zip_of(entries + [small], zipfile.ZIP_STORED), tmp_path / "b", max_file_bytes=4000
    )
    assert report.images == 1
    assert report.refused == {"larger than 4,000 bytes": 6}
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["00006-small.png"]


def test_too_many_files_refuse_the_zip_before_it_is_parsed(tmp_path, monkeypatch):
    data = zip_of([(f"{i}.png", b"") for i in range(120)], zipfile.ZIP_STORED)
    real = uploads.zipfile.ZipFile
    calls = []
    monkeypatch.setattr(
        uploads.zipfile, "ZipFile", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    with pytest.raises(UploadError, match="120 entries; at most 100"):
        extract_image_zip(data, tmp_path, max_files=100)
    assert calls == [], "refused from the end record, before zipfile read the whole table"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "not a zip"),
        (b"PK\x03\x04garbage", "not a zip"),
        (b"%PDF-1.4", "not a zip"),
        (zip_of([]), "no image files"),
        (zip_of([("readme.txt", b"x")]), "ignored 1"),
        (zip_of([("../x.png", image_bytes())]), "path with '..'"),
    ],
    ids=["empty", "broken", "pdf", "empty zip", "no images", "only unsafe"],
)
def test_unusable_uploads_are_refused_in_one_line(tmp_path, data, words):
    with pytest.raises(UploadError) as info:
        extract_image_zip(data, tmp_path)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_oversized_upload_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(UploadError, match="larger than"):
        extract_image_zip(zip_of([("a.png", image_bytes((64, 64)))], zipfile.ZIP_STORED), tmp_path)


ENTRY_NAMES = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40
).map(lambda s: s + ".png")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.filterwarnings("ignore:Duplicate name")  # duplicates are one more hostile case
@given(names=st.lists(ENTRY_NAMES, min_size=1, max_size=5))
@example(names=["../../../../../../tmp/x.png", "/etc/x.png", "a\\..\\..\\x.png", "a\x00.png"])
def test_no_entry_name_writes_outside_dest(tmp_path_factory, names):
    base = tmp_path_factory.mktemp("names")
    dest = base / "dest"
    png = image_bytes((4, 4))
    try:
        data = zip_of([(name, png) for name in names])
    except (IndexError, ValueError):  # zipfile itself cannot write this name (a NUL first)
        return
    try:
        report = extract_image_zip(data, dest)
    except UploadError:
        report = None
    assert sorted(p.name for p in base.iterdir()) == ["dest"]
    for path in dest.iterdir():
        assert path.is_file() and not path.is_symlink() and path.parent == dest
    if report is not None:
        assert report.images == len(list(dest.iterdir()))


# ---------------------------------------------------------------------- the rest trains
def test_the_unpacked_images_load_skip_bad_ones_and_train(tmp_path):
    entries = list(GOOD.items()) + list(BAD.items()) + list(IGNORED.items())
    report = extract_image_zip(zip_of(entries), tmp_path / "imgs")
    cfg = GANConfig(dataset="folder", data_folder=str(report.folder), arch="dcgan", image_size=28,
                    width=8, latent_dim=8, batch_size=4, steps=2, log_every=1, device="cpu")
    data = load_dataset(cfg.validate(), "cpu")
    assert len(data) == len(GOOD) and data.skipped == len(BAD)
    assert data.shape == (3, 28, 28)
    assert any("skipped 3 files" in note for note in data.notes)
    trainer = Trainer(cfg, data=data)
    for _ in range(2):
        trainer.train_step()
    assert trainer.step == 2 and np.isfinite(trainer.history.copy()["d_loss"]).all()


def test_upload_folders_are_private_and_removed(tmp_path):
    folder = uploads.new_upload_folder(tmp_path)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (folder / "x").write_text("1")
    uploads.remove_upload_folder(folder)
    assert not folder.exists()
    other = tmp_path / "not-an-upload"
    other.mkdir()
    uploads.remove_upload_folder(other)  # only folders it made
    assert other.exists()


# ---------------------------------------------------------------------- the Train page
def button(at: AppTest, label: str):
    """A Train page button by its label (with or without an icon character before it)."""
    return next(b for b in at.button if re.sub(r"^\W+", "", b.label) == label)


@pytest.fixture
def train_page(monkeypatch):
    import tempfile

    from pages.ui import common as ui

    def upload_folders() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob(uploads.UPLOAD_PREFIX + "*"))

    before = upload_folders()
    slot = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60)
    yield at, slot
    slot.stop()
    for folder in upload_folders() - before:  # the session's folder (AppTest never ends it)
        uploads.remove_upload_folder(folder)


def test_train_page_trains_on_an_uploaded_zip(train_page):
    at, slot = train_page
    at.run()
    assert not at.get("file_uploader"), "no uploader until the dataset is 'folder'"
    at.sidebar.selectbox(key="cfg.dataset").set_value("folder").run()
    at.sidebar.selectbox(key="cfg.arch").set_value("dcgan").run()
    for key, value in (("width", 8), ("latent_dim", 8), ("batch_size", 4), ("steps", 3),
                       ("log_every", 1), ("sample_every", 1)):
        at.sidebar.number_input(key=f"cfg.{key}").set_value(value).run()
    assert any("data_folder" in e.value for e in at.error), "no folder yet: the page says so"
    entries = list(GOOD.items()) + list(BAD.items()) + [("../escape.png", image_bytes())]
    at.sidebar.file_uploader(key="train.images_zip").set_value(
        ("mine.zip", zip_of(entries), "application/zip")
    )
    at.run()
    assert not at.exception
    note = " ".join(s.value for s in at.sidebar.success)
    assert "Unpacked 9 image files" in note and "refused 1 (path with '..')" in note
    folder = Path(at.session_state["cfg.data_folder"])
    try:
        assert folder.is_dir() and folder.name.startswith("images-")
        assert folder.parent.name.startswith(uploads.UPLOAD_PREFIX)
        button(at, "Start").click().run()
        assert slot.run is not None and slot.run.join(60)
        at.run()
        assert not at.exception
        assert slot.run.status == "finished", slot.run.snapshot().error
        captions = " ".join(c.value for c in at.caption)
        assert "loaded 6 images" in captions and "skipped 3 files" in captions
    finally:
        uploads.remove_upload_folder(folder.parent)


def test_train_page_explains_a_bad_upload(train_page):
    at, _ = train_page
    at.run()
    at.sidebar.selectbox(key="cfg.dataset").set_value("folder").run()
    at.sidebar.file_uploader(key="train.images_zip").set_value(
        ("x.zip", b"definitely not a zip", "application/zip")
    )
    at.run()
    assert not at.exception
    assert any("cannot be used" in e.value and "not a zip" in e.value for e in at.sidebar.error)
    assert at.session_state["cfg.data_folder"] == ""


def test_a_long_strip_is_judged_by_what_resizing_makes_of_it(tmp_path, monkeypatch):
    """A 400,000 x 1 PNG passes a pixel count, but scaled to a 32-px short side it would be 32 x
    12.8 million pixels: it is skipped from its header, counted, and never decoded."""
    from playground.data import folders

    entries = list(GOOD.items())
    strip = io.BytesIO()
    Image.new("L", (400_000, 1), 128).save(strip, format="PNG")
    assert len(strip.getvalue()) < 4096  # a tiny upload
    entries.append(("strip.png", strip.getvalue()))
    report = extract_image_zip(zip_of(entries), tmp_path / "imgs")
    decoded = []
    real_square = folders._square
    monkeypatch.setattr(folders, "_square", lambda *a: decoded.append(a) or real_square(*a))
    cfg = GANConfig(dataset="folder", data_folder=str(report.folder), arch="dcgan", image_size=32,
                    width=8, latent_dim=8, batch_size=4, device="cpu")
    data = load_dataset(cfg.validate(), "cpu")
    assert len(data) == len(GOOD) and len(decoded) == len(GOOD), "the strip was not resized"
    assert any(f"{folders.MAX_ASPECT} times longer than wide" in note for note in data.notes)
    assert data.skipped == 1
