"""Tests for playground.data.loading: toy distributions, the bundled digits, MNIST/Fashion-MNIST
(IDX,
read by torchvision) and CIFAR-10 (binary) written here in their real formats, torchvision's
downloads faked through urllib, and a folder of mixed, partly broken images. CPU only; no
network."""

from __future__ import annotations

import ast
import gzip
import io
import math
import struct
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from playground.data import folders, imagesets
from playground.data import loading as data
from playground.data.loading import load_dataset
from playground.data.registry import mixture_spec, toy_points
from playground.data.source import DatasetUnavailable
from playground.settings.config import GANConfig


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def cfg(dataset: str, **settings) -> GANConfig:
    return GANConfig(dataset=dataset, **settings)


# ---------------------------------------------------------------------------- 2D toys
def test_ring8_has_eight_distinct_centres_on_radius_two():
    centres, sigma = mixture_spec("ring8")
    assert centres.shape == (8, 2) and centres.dtype == torch.float32
    assert sigma == pytest.approx(0.02)
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0), atol=1e-6)
    angles = sorted(math.atan2(y, x) % (2 * math.pi) for x, y in centres.tolist())
    assert angles == pytest.approx([2 * math.pi * k / 8 for k in range(8)], abs=1e-6)
    assert torch.cdist(centres, centres).add(torch.eye(8) * 10).min() > 1.5  # all distinct


def test_grid25_centres_are_the_5x5_grid():
    centres, sigma = mixture_spec("grid25")
    assert sigma == pytest.approx(0.05)
    expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {(round(x), round(y)) for x, y in centres.tolist()} == expected
    assert centres.shape == (25, 2)


@pytest.mark.parametrize("name", ["spiral", "moons", "circles", "unknown"])
def test_only_mixtures_have_a_spec(name):
    assert mixture_spec(name) is None


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixture_samples_lie_near_a_centre_and_cover_every_mode(name):
    source = load_dataset(cfg(name))
    x, labels = source.sample(4000, gen(1))
    assert labels is None and x.shape == (4000, 2) and x.dtype == torch.float32
    nearest_dist, nearest = torch.cdist(x, source.centres).min(dim=1)
    assert nearest_dist.max() < 6 * source.sigma
    counts = torch.bincount(nearest, minlength=len(source.centres))
    fair = 4000 / len(source.centres)
    assert counts.min() > 0.6 * fair and counts.max() < 1.4 * fair


@pytest.mark.parametrize("name", ["ring8", "grid25", "spiral", "moons", "circles"])
def test_every_toy_gives_finite_points_in_range(name):
    source = load_dataset(cfg(name))
    assert source.kind == "points" and source.shape == (2,) and source.num_classes == 0
    x, labels = source.sample(2000, gen())
    assert labels is None and x.shape == (2000, 2) and x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert x.abs().max() < 4.5 and x.std(dim=0).min() > 0.5  # spread out, not a blob
    assert len(source) == 0 and bool(source)  # fresh each batch, yet a usable source


def test_spiral_fills_two_to_radius_two():
    x = toy_points("spiral", 4000, gen(), "cpu")
    r = x.norm(dim=1)
    assert r.max() < 2.2 and (r > 1.8).any() and (r < 0.3).any()


def test_circles_lie_on_radius_one_or_two():
    r = toy_points("circles", 4000, gen(), "cpu").norm(dim=1)
    on_inner, on_outer = (r - 1).abs() < 0.15, (r - 2).abs() < 0.15
    assert (on_inner | on_outer).all()
    assert 0.4 < on_inner.float().mean() < 0.6


def test_moons_are_two_interleaved_half_circles_spanning_minus_two_to_two():
    x = toy_points("moons", 4000, gen(), "cpu")
    assert x[:, 0].min() < -1.8 and x[:, 0].max() > 1.8 and x[:, 1].abs().max() < 1.5
    # After scaling by 4/3 both arcs have radius 4/3: the upper one is centred at (-2/3, -1/3)
    # and bulges up, the lower one at (2/3, 1/3) and bulges down.
    upper = ((x - torch.tensor([-2 / 3, -1 / 3])).norm(dim=1) - 4 / 3).abs() < 0.25
    lower = ((x - torch.tensor([2 / 3, 1 / 3])).norm(dim=1) - 4 / 3).abs() < 0.25
    assert (upper | lower).all()
    assert (upper & (x[:, 1] > 0.8)).any() and (lower & (x[:, 1] < -0.2)).any()


def test_unknown_toy_is_refused():
    with pytest.raises(ValueError, match="unknown 2D dataset"):
        toy_points("triangle", 10, gen(), "cpu")


@pytest.mark.parametrize("name", ["ring8", "moons", "digits"])
def test_sampling_is_reproducible_with_the_same_seed(name):
    source = load_dataset(cfg(name))
    a, la = source.sample(64, gen(7))
    b, lb = source.sample(64, gen(7))
    c, _ = source.sample(64, gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (la is None and lb is None) or torch.equal(la, lb)


# ---------------------------------------------------------------------------- digits
@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
def test_digits_are_upscaled_labelled_images(size):
    source = load_dataset(cfg("digits", image_size=size), download=False)
    assert source.kind == "images" and source.shape == (1, size, size)
    assert source.num_classes == 10 and len(source) == 1797 and source.centres is None
    assert source.images.dtype == torch.uint8 and source.images.shape == (1797, 1, size, size)
    x, labels = source.sample(256, gen())
    assert x.shape == (256, 1, size, size) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() == -1 and x.max() > 0.9
    assert labels.dtype == torch.int64 and labels.shape == (256,)
    assert 0 <= labels.min() and labels.max() <= 9 and len(labels.unique()) == 10


def test_digits_at_8_px_are_the_bundled_pixels_unchanged():
    from sklearn.datasets import load_digits

    bundled = torch.from_numpy(load_digits().images * (255.0 / 16.0)).round()
    assert torch.equal(load_dataset(cfg("digits", image_size=8)).images[:, 0].double(), bundled)


def test_digits_upscaling_keeps_the_picture():
    from sklearn.datasets import load_digits

    first = torch.from_numpy(load_digits().images[0]).float() / 16
    up = load_dataset(cfg("digits", image_size=32)).images[0, 0].float() / 255
    down = torch.nn.functional.avg_pool2d(up[None, None], 4)[0, 0]  # back to 8x8
    assert torch.corrcoef(torch.stack([first.flatten(), down.flatten()]))[0, 1] > 0.9


# ---------------------------------------------------------------------------- MNIST-like IDX files
def idx_bytes(array: np.ndarray) -> bytes:
    magic = 0x0800 | array.ndim
    return (
        struct.pack(">I", magic)
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.astype(np.uint8).tobytes()
    )


def tiny_mnist(count: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Image k is a 28x28 square of value 20*k with a bright pixel in the top-left corner."""
    labels = np.arange(count, dtype=np.uint8) % 10
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for k in range(count):
        images[k] = 20 * labels[k]
        images[k, 0, 0] = 255
    return images, labels


IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")  # torchvision wants them too


def write_idx(raw: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """The unpacked IDX files of torchvision's layout (<root>/MNIST/raw/...), training and test
    split alike."""
    raw.mkdir(parents=True, exist_ok=True)
    for names in (IDX_FILES, TEST_FILES):
        for name, array in zip(names, (images, labels), strict=True):
            (raw / name).write_bytes(idx_bytes(array))


@pytest.mark.parametrize(("dataset", "folder"), [("mnist", "MNIST"), ("fashion", "FashionMNIST")])
def test_idx_datasets_load_from_the_torchvision_layout(tmp_path, dataset, folder):
    write_idx(tmp_path / folder / "raw", *tiny_mnist())
    source = load_dataset(cfg(dataset, image_size=28), cache_dir=tmp_path, download=False)
    assert source.shape == (1, 28, 28) and len(source) == 10 and source.num_classes == 10
    x, labels = source.sample(200, gen())
    assert labels.dtype == torch.int64 and labels.min() >= 0 and labels.max() <= 9
    # Each image's body value is 20 * its label: pixels and labels stayed paired.
    body = x[:, 0, 14, 14]
    assert torch.allclose(body, (20 * labels).float() / 127.5 - 1, atol=1e-6)
    assert (x[:, 0, 0, 0] == 1).all()


def test_mnist_at_32_is_padded_with_background_and_at_64_resized(tmp_path):
    write_idx(tmp_path / "MNIST" / "raw", *tiny_mnist())
    padded = load_dataset(cfg("mnist", image_size=32), cache_dir=tmp_path, download=False)
    assert padded.shape == (1, 32, 32)
    x, _ = padded.sample(50, gen())
    assert (x[:, 0, :2] == -1).all() and (x[:, 0, :, -2:] == -1).all()  # 2-pixel border
    assert (x[:, 0, 2, 2] == 1).all()  # the old top-left pixel moved by 2
    big = load_dataset(cfg("mnist", image_size=64), cache_dir=tmp_path, download=False)
    x, labels = big.sample(50, gen())
    assert x.shape == (50, 1, 64, 64) and x.min() >= -1 and x.max() <= 1
    assert torch.allclose(x[:, 0, 32, 32], (20 * labels).float() / 127.5 - 1, atol=1e-2)


@pytest.mark.parametrize("damage", ["magic", "truncated", "trailing", "count", "label", "shape"])
def test_malformed_idx_files_are_refused(tmp_path, damage):
    raw = tmp_path / "MNIST" / "raw"
    images, labels = tiny_mnist()
    write_idx(raw, images, labels)
    image_file, label_file = raw / IDX_FILES[0], raw / IDX_FILES[1]
    good = image_file.read_bytes()
    if damage == "magic":
        image_file.write_bytes(struct.pack(">I", 0x0801) + good[4:])
    elif damage == "truncated":
        image_file.write_bytes(good[:-5])
    elif damage == "trailing":
        image_file.write_bytes(good + b"\0")
    elif damage == "count":
        label_file.write_bytes(idx_bytes(labels[:4]))
    elif damage == "shape":
        image_file.write_bytes(idx_bytes(np.zeros((10, 14, 56), dtype=np.uint8)))
    else:
        label_file.write_bytes(idx_bytes(np.array([1, 2, 200] + [0] * 7)))
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset(cfg("mnist", image_size=28), cache_dir=tmp_path, download=False)
    message = str(caught.value)
    assert "\n" not in message and str(raw) in message


def test_missing_files_without_download_say_where_to_put_them(tmp_path):
    with pytest.raises(DatasetUnavailable, match="downloading is off") as caught:
        load_dataset(cfg("fashion"), cache_dir=tmp_path, download=False)
    assert str(tmp_path / "FashionMNIST" / "raw") in str(caught.value)
    assert "digits" in str(caught.value)


def no_network(url, timeout=None):
    raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))


def url_of(request) -> str:
    """torchvision asks urlopen with a Request; the old code with a string."""
    return getattr(request, "full_url", request)


class Response(io.BytesIO):
    """What urlopen returns, as much as torchvision's downloader reads of it."""

    def __init__(self, payload: bytes, url: str):
        super().__init__(payload)
        self.url, self.length = url, len(payload)


@pytest.mark.parametrize("dataset", ["mnist", "fashion", "cifar10"])
def test_offline_download_gives_one_clear_line(tmp_path, monkeypatch, dataset):
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset(cfg(dataset), cache_dir=tmp_path, download=True)
    error = caught.value
    message = str(error)
    assert "\n" not in message
    assert "no network" in message and "'digits'" in message and "ring8" in message
    assert "http" in message  # names the URL it tried
    assert error.__cause__ is None and error.__suppress_context__  # no chained traceback
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no partial file left behind


def test_http_error_is_reported_as_such(tmp_path, monkeypatch):
    def forbidden(url, timeout=None):
        raise urllib.error.HTTPError(url_of(url), 403, "Forbidden", {}, None)

    monkeypatch.setattr(urllib.request, "urlopen", forbidden)
    with pytest.raises(DatasetUnavailable, match="HTTP 403"):
        load_dataset(cfg("mnist"), cache_dir=tmp_path)


def serve_mnist(monkeypatch, payloads: dict[str, bytes]) -> list[str]:
    """Fake the network with `payloads` by file name, and make torchvision's MNIST expect their
    MD5s (its real ones are those of the real files). Returns the URLs asked for."""
    import hashlib

    from torchvision import datasets

    asked: list[str] = []

    def fake_urlopen(request, timeout=None):
        url = url_of(request)
        asked.append(url)
        return Response(payloads[url.rsplit("/", 1)[1]], url)

    resources = [(name, hashlib.md5(data).hexdigest()) for name, data in payloads.items()]
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return asked


def test_download_fetches_validates_and_keeps_the_files(tmp_path, monkeypatch):
    images, labels = tiny_mnist()
    served = {
        f"{name}.gz": gzip.compress(idx_bytes(array))
        for names in (IDX_FILES, TEST_FILES)
        for name, array in zip(names, (images, labels), strict=True)
    }
    asked = serve_mnist(monkeypatch, served)
    source = load_dataset(cfg("mnist", image_size=28), cache_dir=tmp_path)
    assert len(source) == 10
    assert all(url.startswith("https://ossci-datasets.s3.amazonaws.com/mnist/") for url in asked)
    raw = tmp_path / "MNIST" / "raw"
    unpacked = [name.removesuffix(".gz") for name in served]
    assert sorted(p.name for p in raw.iterdir()) == sorted([*served, *unpacked])
    assert data.dataset_status(tmp_path)["mnist"] == "downloaded"


def test_a_download_that_is_not_the_data_is_not_kept(tmp_path, monkeypatch):
    expected = {f"{name}.gz": b"the real file" for name in (*IDX_FILES, *TEST_FILES)}
    serve_mnist(monkeypatch, expected)
    monkeypatch.setattr(
        urllib.request,
        "urlopen",
        lambda request, timeout=None: Response(b"<html>captive portal</html>", url_of(request)),
    )
    with pytest.raises(DatasetUnavailable, match="not kept") as caught:
        load_dataset(cfg("mnist"), cache_dir=tmp_path)
    assert "\n" not in str(caught.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


# ---------------------------------------------------------------------------- CIFAR-10 binary
def cifar_record(label: int, rgb: tuple[int, int, int]) -> bytes:
    planes = [bytes([value]) * 1024 for value in rgb]  # R plane, then G, then B
    return bytes([label]) + b"".join(planes)


def cifar_batches() -> dict[str, bytes]:
    """Five batches of two records; label k's record has a distinct colour, label 3 pure red."""
    colours = {
        0: (0, 0, 0),
        1: (255, 255, 255),
        2: (0, 255, 0),
        3: (255, 0, 0),
        4: (0, 0, 255),
        5: (10, 20, 30),
        6: (60, 50, 40),
        7: (70, 80, 90),
        8: (100, 0, 100),
        9: (200, 100, 0),
    }
    return {
        f"data_batch_{b + 1}.bin": cifar_record(2 * b, colours[2 * b])
        + cifar_record(2 * b + 1, colours[2 * b + 1])
        for b in range(5)
    }


def write_cifar(cache: Path) -> None:
    folder = cache / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name, payload in cifar_batches().items():
        (folder / name).write_bytes(payload)


def red_images(source, n: int = 300) -> torch.Tensor:
    x, labels = source.sample(n, gen())
    return x[labels == 3]


def test_cifar10_reads_binary_records_in_rgb_plane_order(tmp_path):
    write_cifar(tmp_path)
    source = load_dataset(cfg("cifar10", image_size=32), cache_dir=tmp_path, download=False)
    assert source.shape == (3, 32, 32) and len(source) == 10 and source.num_classes == 10
    red = red_images(source)
    assert len(red) > 0
    assert (red[:, 0] == 1).all() and (red[:, 1:] == -1).all()


def test_cifar10_grayscale_and_resizing(tmp_path):
    write_cifar(tmp_path)
    grey = load_dataset(
        cfg("cifar10", image_size=32, grayscale=True), cache_dir=tmp_path, download=False
    )
    assert grey.shape == (1, 32, 32)
    red = red_images(grey)
    assert torch.allclose(red, torch.tensor(round(0.299 * 255) / 127.5 - 1), atol=1e-6)
    for size in (28, 64):
        resized = load_dataset(cfg("cifar10", image_size=size), cache_dir=tmp_path, download=False)
        assert resized.shape == (3, size, size)
        red = red_images(resized)
        assert torch.allclose(red[:, 0], torch.tensor(1.0)) and torch.allclose(
            red[:, 1:], torch.tensor(-1.0)
        )


def test_cifar10_refuses_a_batch_of_the_wrong_length(tmp_path):
    write_cifar(tmp_path)
    batch = tmp_path / "cifar-10-batches-bin" / "data_batch_2.bin"
    batch.write_bytes(batch.read_bytes()[:-1])
    with pytest.raises(DatasetUnavailable, match="data_batch_2.bin"):
        load_dataset(cfg("cifar10"), cache_dir=tmp_path, download=False)


def cifar_archive(extra_members: bool) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:

        def add(name: str, payload: bytes, kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            info.size = len(payload) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(payload) if kind == tarfile.REGTYPE else None)

        if extra_members:  # hostile entries that must never be written
            add("../escaped.bin", cifar_record(0, (1, 2, 3)))
            add("/tmp/absolute.bin", cifar_record(0, (1, 2, 3)))
            add("cifar-10-batches-bin/data_batch_1.bin", b"", tarfile.SYMTYPE, "/etc/passwd")
        for name, payload in cifar_batches().items():
            add(f"cifar-10-batches-bin/{name}", payload)
        add("cifar-10-batches-bin/readme.html", b"<html></html>")
    return buffer.getvalue()


def expect_archive(monkeypatch, archive: bytes) -> None:
    """Make the downloader's MD5 check expect this archive (the real one's is published)."""
    import hashlib

    monkeypatch.setattr(imagesets, "CIFAR_MD5", hashlib.md5(archive).hexdigest())


def test_cifar10_download_extracts_only_the_expected_members(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    archive = cifar_archive(extra_members=True)
    expect_archive(monkeypatch, archive)
    asked = []

    def fake_urlopen(request, timeout=None):
        asked.append(url_of(request))
        return Response(archive, url_of(request))

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    source = load_dataset(cfg("cifar10"), cache_dir=cache)
    assert set(asked) == {"https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"}
    assert len(source) == 10 and (red_images(source)[:, 0] == 1).all()
    extracted = sorted(p.name for p in (cache / "cifar-10-batches-bin").iterdir())
    assert extracted == [f"data_batch_{i}.bin" for i in range(1, 6)]
    assert not any(p.is_symlink() for p in cache.rglob("*"))
    assert not (tmp_path / "escaped.bin").exists() and not Path("/tmp/absolute.bin").exists()
    assert (cache / "cifar-10-binary.tar.gz").is_file()


def test_cifar10_download_with_the_wrong_checksum_is_not_kept(tmp_path, monkeypatch):
    archive = cifar_archive(extra_members=False)  # not the published archive: its MD5 differs
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda request, timeout=None: Response(archive, url_of(request))
    )
    with pytest.raises(DatasetUnavailable, match="not kept") as caught:
        load_dataset(cfg("cifar10"), cache_dir=tmp_path)
    assert "\n" not in str(caught.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_cifar10_uses_an_archive_put_in_the_cache_by_hand(tmp_path, monkeypatch):
    archive = cifar_archive(extra_members=False)
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(archive)
    with pytest.raises(DatasetUnavailable, match="MD5"):  # checked like a download
        load_dataset(cfg("cifar10"), cache_dir=tmp_path, download=False)
    expect_archive(monkeypatch, archive)
    assert len(load_dataset(cfg("cifar10"), cache_dir=tmp_path, download=False)) == 10


# ---------------------------------------------------------------------------- a folder of images
def make_folder(root: Path) -> Path:
    root.mkdir()
    Image.new("RGBA", (40, 20), (255, 0, 0, 128)).save(root / "a_rgba.png")
    Image.new("L", (16, 16), 200).save(root / "b_grey.png")  # smaller than 32: upscaled
    palette = Image.new("P", (50, 30), 3)
    palette.putpalette([0, 0, 0, 10, 10, 10, 20, 20, 20, 0, 0, 255] + [0] * 756)
    palette.save(root / "c_palette.png")
    stripes = np.zeros((32, 96, 3), dtype=np.uint8)
    stripes[:, :32, 0] = 255  # red | green | blue; the centre crop must be green
    stripes[:, 32:64, 1] = 255
    stripes[:, 64:, 2] = 255
    Image.fromarray(stripes).save(root / "d_stripes.png")
    (root / "nested" / "deeper").mkdir(parents=True)
    Image.new("RGB", (100, 60), (0, 128, 255)).save(
        root / "nested" / "deeper" / "e.JPG", quality=95
    )
    (root / "f_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    (root / "g_text.jpg").write_text("this is not a picture")
    (root / "notes.txt").write_text("not an image either, and not named like one")
    return root


def test_folder_loads_mixed_images_and_counts_the_broken(tmp_path):
    folder = make_folder(tmp_path / "pics")
    source = load_dataset(cfg("folder", data_folder=str(folder), image_size=32))
    assert source.kind == "images" and source.shape == (3, 32, 32) and source.num_classes == 0
    assert len(source) == 5 and source.skipped == 2
    assert any("skipped 2 files" in note for note in source.notes)
    assert any("ignored 1 file" in note for note in source.notes)
    x, labels = source.sample(64, gen())
    assert labels is None and x.shape == (64, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    stripes = source.images[3].float() / 255  # files load in sorted order
    centre = stripes[:, :, 4:28].mean(dim=(1, 2))
    assert centre[1] > 0.95 and centre[0] < 0.05 and centre[2] < 0.05
    blended = source.images[0, :, 16, 16].tolist()  # half-transparent red over white
    assert blended[0] == 255 and 120 < blended[1] < 135 and 120 < blended[2] < 135


def test_folder_grayscale_and_cap(tmp_path):
    folder = make_folder(tmp_path / "pics")
    grey = load_dataset(cfg("folder", data_folder=str(folder), image_size=64, grayscale=True))
    assert grey.shape == (1, 64, 64) and len(grey) == 5
    capped = load_dataset(cfg("folder", data_folder=str(folder), image_size=28), max_images=2)
    assert len(capped) == 2 and any("cap of 2" in note for note in capped.notes)


def test_sixteen_bit_images_are_rescaled_not_clipped(tmp_path):
    folder = tmp_path / "deep"
    folder.mkdir()
    Image.fromarray(np.full((8, 8), 30000, dtype=np.uint16)).save(folder / "deep.png")
    source = load_dataset(cfg("folder", data_folder=str(folder), image_size=28, grayscale=True))
    assert (source.images == round(30000 / 257)).all()


def test_folder_without_images_is_unavailable(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("nothing here")
    with pytest.raises(DatasetUnavailable, match="no readable images in"):
        load_dataset(cfg("folder", data_folder=str(tmp_path / "empty")))
    with pytest.raises(DatasetUnavailable, match="does not exist"):
        load_dataset(cfg("folder", data_folder=str(tmp_path / "missing")))


def test_oversized_images_are_skipped_from_their_header(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "pics")
    monkeypatch.setattr(folders, "MAX_IMAGE_PIXELS", 500)  # all but the 16x16 image are "huge"
    source = load_dataset(cfg("folder", data_folder=str(folder), image_size=32))
    assert len(source) == 1 and source.skipped == 2 + 4
    assert any("larger than" in note for note in source.notes)


# ---------------------------------------------------------------------------- odds and ends
def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_PLAYGROUND_DATA", str(tmp_path))
    assert data.data_cache_dir() == tmp_path
    monkeypatch.delenv("GAN_PLAYGROUND_DATA")
    assert data.data_cache_dir() == Path.home() / ".cache" / "gan-playground" / "datasets"


def test_the_module_does_not_import_streamlit():
    tree = ast.parse(Path(data.__file__).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] == "streamlit"}
