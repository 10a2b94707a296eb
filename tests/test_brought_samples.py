"""Samples brought from elsewhere: every kind of input and layout read as it is, hostile files
refused in one line, a collapsed set and a healthy one told apart, and images written out of a
checkpoint reading as the checkpoint itself."""

from __future__ import annotations

import html
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from playground.cli import main
from playground.data.brought import BroughtError, from_array, load_samples
from playground.data.loading import DataSpec, load_dataset
from playground.measures import metrics
from playground.measures.brought import diagnose_samples
from playground.storage.checkpoints import load_checkpoint
from playground.views import images

ROOT = Path(__file__).resolve().parent.parent
DIGITS_CHECKPOINT = ROOT / "checkpoints" / "examples" / "digits-dcgan"


@pytest.fixture(scope="module")
def digits8() -> np.ndarray:
    """The bundled digits at their own 8×8, uint8 (N, 8, 8)."""
    return load_dataset(DataSpec("digits", image_size=8)).images.numpy()[:, 0]


def _npy(tmp_path: Path, array: np.ndarray, name: str = "s.npy") -> Path:
    path = tmp_path / name
    np.save(path, array)
    return path


# ---------------------------------------------------------------------- what is detected
@pytest.mark.parametrize(
    ("shape", "dtype", "low", "high", "layout", "words"),
    [
        ((12, 28, 28), np.uint8, 0, 255, "NHW", "28×28 grey, uint8 0-255"),
        ((12, 16, 16, 1), np.float32, 0.0, 1.0, "NHWC", "16×16 grey, float32 in [0, 1]"),
        ((12, 3, 32, 32), np.float32, -1.0, 1.0, "NCHW", "32×32 colour, float32 in [-1, 1]"),
        ((12, 32, 32, 3), np.uint8, 0, 255, "NHWC", "32×32 colour, uint8 0-255"),
        ((12, 10, 10), np.float64, 0.0, 255.0, "NHW", "10×10 grey, float64 0-255"),
    ],
)
def test_image_arrays_are_read_in_their_layout_and_range(
    tmp_path, shape, dtype, low, high, layout, words
):
    rng = np.random.default_rng(0)
    array = rng.uniform(low, high, shape).astype(dtype)
    flat = array.reshape(-1)
    flat[0], flat[1] = low, high  # the range's ends, whose images are known: -1 and +1
    brought = load_samples(_npy(tmp_path, array))
    assert brought.kind == "images" and len(brought) == 12
    assert words in brought.notes[0] and f"({layout} layout)" in brought.notes[0]
    assert brought.images.shape[1] in (1, 3) and brought.images.dtype == torch.float32
    # The pixels themselves, mapped onto [-1, 1] in the layout (N, C, H, W).
    if layout == "NHW":
        nchw = array[:, None]
    else:
        nchw = array.transpose(0, 3, 1, 2) if layout == "NHWC" else array
    expected = (nchw.astype(np.float64) - low) / (high - low) * 2 - 1
    np.testing.assert_allclose(brought.images.numpy(), expected, atol=1e-5)


def test_npz_picks_its_samples_array(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, labels=np.arange(12), samples=np.zeros((12, 8, 8), np.uint8))
    brought = load_samples(path)
    assert brought.images.shape == (12, 1, 8, 8) and float(brought.images.max()) == -1.0
    np.savez(path, a=np.zeros((12, 8, 8)), b=np.zeros((12, 8, 8)))
    with pytest.raises(BroughtError, match="several arrays"):
        load_samples(path)


def test_a_folder_and_a_zip_of_images_read_at_their_side(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(11):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("not an image")
    brought = load_samples(folder)
    assert brought.images.shape == (11, 3, 20, 20)
    assert "11 images read as 20×20 colour" in brought.notes[0]
    grey = load_samples(folder, grey=True)
    assert grey.images.shape == (11, 1, 20, 20)
    archive = tmp_path / "pics.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(folder.iterdir()):
            zf.write(file, f"inner/{file.name}")
    zipped = load_samples(archive)
    assert zipped.images.shape == (11, 3, 20, 20)
    assert "unpacked 11 image files" in zipped.notes[-1]


def test_points_from_a_csv_and_an_npy_keep_their_units(tmp_path):
    points = np.random.default_rng(2).normal(0, 3, (50, 2))
    csv = tmp_path / "p.csv"
    csv.write_text("x,y\n" + "\n".join(f"{float(x)!r},{float(y)!r}" for x, y in points))
    for path in (csv, _npy(tmp_path, points)):
        brought = load_samples(path)
        assert brought.kind == "points" and brought.notes == ["50 2D points"]
        np.testing.assert_allclose(brought.points, points)  # not normalised


# ---------------------------------------------------------------------- what is refused
def _huge_header(tmp_path: Path) -> Path:
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 1000, 1000)}
        )
    return path


def _pickled(tmp_path: Path) -> Path:
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}] * 12, dtype=object), allow_pickle=True)
    return path


def _written(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


NAN_POINTS = "x,y\n" + "\n".join(f"{i},{i}" for i in range(30)) + "\nnan,1\n"


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_pickled, "pickled"),
        (_huge_header, "at most 512 MB"),
        (lambda p: _written(p, "bad.zip", b"PK\x03\x04 this is not a zip"), "not a zip"),
        (lambda p: _written(p, "bad.npz", b"PK\x03\x04 nor is this"), "not a zip"),
        (lambda p: _written(p, "bad.npy", b"\x93NUMPY garbage"), "not a NumPy array"),
        (lambda p: _written(p, "nan.csv", NAN_POINTS), "not a finite number"),
        (lambda p: _npy(p, np.full((30, 2), np.nan)), "NaN"),
        (lambda p: _npy(p, np.full((12, 8, 8), np.nan, np.float32)), "NaN"),
        (lambda p: _npy(p, np.zeros((12, 5))), "(N, 2)"),
        (lambda p: _npy(p, np.zeros((2, 12, 3, 8, 8))), "5 dimensions"),
        (lambda p: _npy(p, np.zeros((12, 3, 3, 3))), "ambiguous layout"),
        (lambda p: _npy(p, np.zeros((12, 8, 8, 5))), "1 or 3 channels"),
        (lambda p: _npy(p, np.full((12, 8, 8), 300.0)), "values from"),
        (lambda p: _npy(p, np.zeros((3, 8, 8), np.uint8)), "from 10 to"),
        (lambda p: _npy(p, np.array(["a"] * 12)), "expected numbers"),
        (lambda p: _written(p, "s.txt", "hello"), "not a folder, .zip, .npy, .npz or .csv"),
    ],
)
def test_hostile_and_broken_files_are_refused_in_one_line(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(BroughtError) as caught:
        load_samples(path)
    message = str(caught.value)
    assert words in message and "\n" not in message and message.startswith("--samples")


def test_a_pickled_array_is_never_unpickled(tmp_path, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    with pytest.raises(BroughtError, match="pickled"):
        load_samples(_pickled(tmp_path))


# ---------------------------------------------------------------------- clusters and verdicts
def test_duplicate_clusters_find_the_repeated_rows():
    x = torch.randn(40, 16)
    x[[3, 9, 20]] = x[5].clone()
    x[30] = x[31] + 1e-4
    groups = metrics.duplicate_clusters(x, threshold=0.01)
    assert [g.tolist() for g in groups] == [[3, 5, 9, 20], [30, 31]]
    assert metrics.duplicate_clusters(torch.randn(40, 16), threshold=0.01) == []


def test_digits_that_are_90_percent_one_image_read_as_collapsed(digits8):
    rng = np.random.default_rng(0)
    order = rng.permutation(len(digits8))
    samples = np.concatenate([np.repeat(digits8[order[:1]], 270, 0), digits8[order[1:31]]])
    shuffle = rng.permutation(len(samples))
    found = diagnose_samples(from_array(samples[shuffle]), "digits")
    assert found.verdict == "collapsed"
    assert "90% of your samples (270 of 300) are one image" in found.reason
    repeated = np.flatnonzero(shuffle < 270)
    np.testing.assert_array_equal(found.clusters[0], repeated)
    measures = found.measures
    assert measures["biggest_cluster_share"] == pytest.approx(0.9)
    assert measures["duplicate_clusters"][0]["indices"] == repeated[:50].tolist()


def test_the_cluster_pictures_are_the_clusters_members(digits8):
    rng = np.random.default_rng(5)
    samples = np.concatenate([np.repeat(digits8[7:8], 40, 0), np.repeat(digits8[9:10], 20, 0),
                              digits8[200:240]])[rng.permutation(100)]
    found = diagnose_samples(from_array(samples), "digits")
    assert [len(c) for c in found.clusters[:2]] == [40, 20]
    assert len(found.cluster_images) == 2
    for members, shown in zip(found.clusters, found.cluster_images, strict=True):
        assert shown.shape == (16, 8, 8, 1) and shown.dtype == np.uint8
        np.testing.assert_array_equal(shown[..., 0], samples[members[:16]])
    np.testing.assert_array_equal(found.cluster_images[0][..., 0], np.repeat(digits8[7:8], 16, 0))


def test_a_sample_copied_from_a_real_image_is_its_own_nearest_neighbour(digits8):
    rng = np.random.default_rng(6)
    # Real digits with heavy noise (no copy of anything), and one untouched real digit.
    noisy = digits8[rng.integers(0, len(digits8), 120)].astype(np.float64)
    noisy = np.clip(noisy + rng.normal(0, 60, noisy.shape), 0, 255).astype(np.uint8)
    copied, at = 1234, 57
    noisy[at] = digits8[copied]
    progress: list[tuple[float, str]] = []
    found = diagnose_samples(from_array(noisy), "digits",
                             progress=lambda done, words: progress.append((done, words)))
    pairs = found.neighbours
    assert pairs.sample_index[0] == at and pairs.real_index[0] == copied
    # Near 0: the 8 px digits are measured enlarged to 32 px, the real ones rounded to 8 bits.
    assert pairs.distance[0] < 0.02 * pairs.real_median
    assert pairs.distance[1] > 0.3 * pairs.real_median  # the noisy ones are no copies
    assert list(pairs.distance) == sorted(pairs.distance) and len(pairs.distance) == 8
    np.testing.assert_array_equal(pairs.samples[0], pairs.real[0])
    np.testing.assert_array_equal(pairs.real[0][..., 0], digits8[copied])
    assert pairs.searched == len(digits8) and pairs.median > pairs.distance[0]
    measures = json.loads(json.dumps(found.measures))  # JSON-able: indices and distances
    assert measures["nearest_pairs"][0] == {"sample": at, "real": copied,
                                            "distance": pytest.approx(pairs.distance[0])}
    assert measures["nearest_median_real"] == pytest.approx(pairs.real_median)
    fractions = [done for done, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 4
    assert all(isinstance(words, str) and words for _, words in progress)


def test_a_held_out_real_split_of_the_digits_reads_as_healthy(digits8):
    order = np.random.default_rng(1).permutation(len(digits8))
    found = diagnose_samples(from_array(digits8[order[:300]]), "digits")
    assert found.verdict == "healthy", found.reason
    assert found.measures["biggest_cluster_share"] < 0.05
    assert found.measures["classes_held"] == 10


def test_points_on_a_ring_held_and_collapsed(tmp_path):
    angles = np.arange(800) % 8 * (2 * np.pi / 8)
    ring = 2 * np.stack([np.cos(angles), np.sin(angles)], 1)
    ring += np.random.default_rng(3).normal(0, 0.02, ring.shape)
    healthy = diagnose_samples(from_array(ring), "ring8")
    assert healthy.verdict == "healthy" and healthy.measures["modes_held"] == 8
    one = diagnose_samples(from_array(ring[angles == 0]), "ring8")
    assert one.verdict == "collapsed" and "only 1 of 8 modes" in one.reason
    # What a picture of them needs: real points under them, a window holding both.
    assert one.kind == "points" and one.real_points.shape == (1000, 2)
    x0, x1, y0, y1 = one.extent
    assert x0 < -2 < 2 < x1 and y0 < -2 < 2 < y1 and one.neighbours is None


# ---------------------------------------------------------------------- the command line
def _checkpoint_samples(n: int, seed: int) -> torch.Tensor:
    return load_checkpoint(DIGITS_CHECKPOINT, with_optimizers=False).sample(n, seed=seed)


COMPARED = ("class_histogram", "classes_held", "precision", "recall", "density", "coverage",
            "fid", "kid", "inception_score", "diversity_ratio", "duplicate_rate")


def test_samples_written_out_of_a_checkpoint_read_as_the_checkpoint(tmp_path, capsys):
    capsys.readouterr()
    argv = ["diagnose", str(DIGITS_CHECKPOINT), "--samples", "300", "--seed", "4", "--json"]
    assert main(argv + ["--no-inception"]) == 0
    direct = json.loads(capsys.readouterr().out)
    samples = _checkpoint_samples(300, seed=4)  # (300, 1, 8, 8) in [-1, 1]
    array = _npy(tmp_path, samples.numpy().astype(np.float32))
    assert main(["diagnose", "--samples", str(array), "--real", "digits", "--seed", "0",
                 "--json"]) == 0
    brought = json.loads(capsys.readouterr().out)
    for key in COMPARED:
        assert brought[key] == pytest.approx(direct[key], rel=1e-4, abs=1e-6), key
    # As PNG files the pixels are rounded to 8 bits: the same picture, near the same figures.
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, picture in enumerate(images.to_uint8(samples)):
        images.save_png(picture, str(folder / f"{i:04d}.png"))
    assert main(["diagnose", "--samples", str(folder), "--real", "digits", "--json"]) == 0
    pngs = json.loads(capsys.readouterr().out)
    assert pngs["samples"] == 300
    assert np.abs(np.subtract(pngs["class_histogram"], direct["class_histogram"])).sum() <= 6
    assert pngs["fid"] == pytest.approx(direct["fid"], rel=0.05)
    assert pngs["coverage"] == pytest.approx(direct["coverage"], abs=0.03)


def test_the_text_report_states_the_verdict_and_the_cluster(tmp_path, digits8, capsys):
    samples = np.concatenate([np.repeat(digits8[:1], 90, 0), digits8[100:110]])
    path = _npy(tmp_path, samples)
    capsys.readouterr()
    assert main(["diagnose", "--samples", str(path), "--real", "digits"]) == 0
    out = capsys.readouterr().out
    assert "verdict: collapsed: 90% of your samples (90 of 100) are one image" in out
    assert "near-copies of one image: 90 samples (90.0%): 0, 1, 2" in out
    assert "100 images, 8×8 grey, uint8 0-255" in out and "classes held" in out


def test_html_writes_the_report_beside_the_text_one(tmp_path, digits8, capsys):
    samples = np.concatenate([np.repeat(digits8[:1], 90, 0), digits8[100:110]])
    path = _npy(tmp_path, samples)
    report = tmp_path / "out" / "report.html"
    report.parent.mkdir()
    capsys.readouterr()
    argv = ["diagnose", "--samples", str(path), "--real", "digits", "--html", str(report)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"report written to {report}" in out and "verdict: collapsed" in out
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Verdict: collapsed." in page
    assert "data:image/png;base64," in page and html.escape(path.name) in page
    assert main([*argv[:-1], str(tmp_path / "no-such-folder" / "r.html")]) == 2
    assert "--html: cannot write" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["diagnose"], "needs a CHECKPOINT"),
        (["diagnose", str(DIGITS_CHECKPOINT), "--html", "r.html"], "--html goes with --samples"),
        (["diagnose", "--samples", "200"], "--samples N (a count) needs a CHECKPOINT"),
        (["diagnose", "--samples", "{folder}"], "needs --real"),
        (["diagnose", str(DIGITS_CHECKPOINT), "--real", "digits"], "--real goes with"),
        (["diagnose", str(DIGITS_CHECKPOINT), "--samples", "{folder}"], "sample count"),
        (["diagnose", "--samples", "{folder}", "--real", "nowhere"], "--real: 'nowhere'"),
        (["diagnose", "--samples", "{npy}", "--real", "ring8"], "--real: ring8 is a 2D set"),
        (["diagnose", "--samples", "{bad}", "--real", "digits"], "--samples: bad.npy"),
    ],
)
def test_mixtures_that_make_no_sense_exit_2_naming_the_option(tmp_path, capsys, argv, words):
    np.save(tmp_path / "s.npy", np.zeros((12, 8, 8), np.uint8))
    (tmp_path / "bad.npy").write_bytes(b"not an array")
    names = {"{folder}": str(tmp_path), "{npy}": str(tmp_path / "s.npy"),
             "{bad}": str(tmp_path / "bad.npy")}
    capsys.readouterr()
    assert main([names.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err
