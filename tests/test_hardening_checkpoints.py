"""Hardening, checkpoints and the files around them (extends tests/test_checkpoints.py): hostile
safetensors headers, unknown JSON fields, run names and paths that try to leave checkpoints/,
hostile checkpoint zips, and two saves in the same second."""

from __future__ import annotations

import io
import json
import os
import struct
import threading
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from playground.data import uploads
from playground.storage import checkpoints, store
from playground.storage.checkpoints import META, CheckpointError, load_checkpoint, read_meta
from playground.training.trainer import Trainer


@pytest.fixture(scope="module")
def original(tmp_path_factory, request):
    """A tiny trained ring8 checkpoint, saved once; each test edits its own copy."""
    from conftest import tiny_config

    trainer = Trainer(tiny_config(steps=20))
    for _ in range(3):
        trainer.train_step()
    return checkpoints.save_checkpoint(trainer, tmp_path_factory.mktemp("ckpt") / "ring")


@pytest.fixture
def folder(original, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(original, tmp_path / "ckpt"))


def tensor_file(folder: Path, role: str = "generator") -> Path:
    return folder / json.loads((folder / META).read_text())["files"][role]


def refused(folder: Path, *words: str) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(folder)
    message = str(info.value)
    for word in words:
        assert word in message, message
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------- safetensors headers
def raw_file(header: object, payload: bytes = b"\0" * 16, length: int | None = None) -> bytes:
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(text) if length is None else length) + text + payload


def test_a_header_claiming_exabytes_is_refused_before_parsing(folder):
    path = tensor_file(folder)
    data = path.read_bytes()
    path.write_bytes(struct.pack("<Q", 2**62) + data[8:])
    refused(folder, path.name, "header")


def test_a_header_running_past_the_end_is_refused(folder):
    path = tensor_file(folder)
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    path.write_bytes(struct.pack("<Q", length + 1000) + data[8:])
    refused(folder, path.name, "header")


def test_a_valid_but_huge_header_is_refused(folder):
    """8 MB of metadata: the safetensors library would parse it (its own limit is 100 MB) and
    the tensors would load; the checkpoint loader refuses it first."""
    path = tensor_file(folder)
    tensors = load_file(str(path))
    save_file(tensors, str(path), metadata={"padding": "x" * (8 * 2**20)})
    assert load_file(str(path)).keys() == tensors.keys(), "the library alone accepts it"
    refused(folder, path.name, "header", "MB")


ENTRY = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
MALFORMED_HEADERS = {
    "not JSON": raw_file(b"{nope"),
    "a JSON list": raw_file([1, 2]),
    "null": raw_file(None),
    "unknown dtype": raw_file({"a": {**ENTRY, "dtype": "Q9"}}),
    "offsets past the data": raw_file({"a": {**ENTRY, "data_offsets": [0, 4096]}}),
    "shape larger than its bytes": raw_file({"a": {**ENTRY, "shape": [5]}}),
    "negative shape": raw_file({"a": {**ENTRY, "shape": [-4]}}),
    "shape overflowing": raw_file({"a": {**ENTRY, "shape": [2**40, 2**40]}}),
    "overlapping tensors": raw_file({"a": ENTRY, "b": ENTRY}),
    "metadata not strings": raw_file({"__metadata__": {"x": {"y": 1}}, "a": ENTRY}),
    "deep nesting": raw_file(b"[" * 5000 + b"]" * 5000),
    "empty file": b"",
    "only a length": struct.pack("<Q", 0),
    "length and nothing": struct.pack("<Q", 100),
}


@pytest.mark.parametrize("case", list(MALFORMED_HEADERS))
def test_a_malformed_header_is_refused_with_the_file_named(folder, case):
    path = tensor_file(folder, "discriminator")
    path.write_bytes(MALFORMED_HEADERS[case])
    refused(folder, path.name)


# ---------------------------------------------------------------------- checkpoint.json fields
def edit_meta(folder: Path, change) -> None:
    meta = json.loads((folder / META).read_text())
    change(meta)
    (folder / META).write_text(json.dumps(meta))


@pytest.mark.parametrize("extra", [{"code": "import os"}, {"__class__": "x"}, {"Files": {}}])
def test_an_unknown_top_level_field_is_refused(folder, extra):
    """Decision: unknown top-level fields are refused, not ignored (a new field means a new
    format version); the message names the field and lists the known ones."""
    edit_meta(folder, lambda m: m.update(extra))
    message = refused(folder, "unknown field", repr(next(iter(extra))))
    assert "config" in message and "files" in message
    with pytest.raises(CheckpointError):
        read_meta(folder)  # the Runs page lists folders through read_meta: refused there too


@pytest.mark.parametrize(
    "change",
    [{"metrics": [1, 2]}, {"history": "long"}, {"data": 3}, {"step": True}],
    ids=lambda c: next(iter(c)),
)
def test_a_known_field_of_the_wrong_type_is_refused(folder, change):
    edit_meta(folder, lambda m: m.update(change))
    refused(folder, next(iter(change)))


def test_every_field_a_save_writes_is_known(folder):
    """The other side of the decision: what save_checkpoint writes always loads."""
    assert set(json.loads((folder / META).read_text())) <= set(checkpoints.FIELDS)
    load_checkpoint(folder)


@pytest.mark.parametrize("version", [2, 10**6, 2**64])
def test_newer_versions_are_refused_with_advice(folder, version):
    edit_meta(folder, lambda m: m.update(version=version))
    refused(folder, "newer", "upgrade")


# ---------------------------------------------------------------------- run names
NAME_CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"])


@settings(max_examples=300, deadline=None)
@given(text=st.text(NAME_CHARS, max_size=120))
@example(text="..")
@example(text="../../etc/passwd")
@example(text="/absolute/path")
@example(text="C:\\Windows\\system32")
@example(text="." * 90)
@example(text="-" * 3 + "." + "a" * 200)
@example(text="\x00")
@example(text="run/../../..")
def test_safe_run_name_never_leaves_its_folder(text):
    name = store.safe_run_name(text)
    assert 1 <= len(name) <= store.MAX_NAME
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name), name
    assert name not in (".", "..") and not name.startswith((".", "-"))
    root = Path("/srv/checkpoints/runs")
    assert (root / name).resolve().parent == root


def test_new_run_folders_are_never_shared(tmp_path, tiny_cfg):
    """Thirty students saving the same preset in the same second get thirty folders."""
    cfg = tiny_cfg()
    made: list[Path] = []
    lock = threading.Lock()

    def save_one():
        folder = store.new_run_folder(tmp_path / "runs", cfg)
        with lock:
            made.append(folder)

    threads = [threading.Thread(target=save_one) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 30
    assert all(folder.is_dir() and folder.parent == tmp_path / "runs" for folder in made)
    assert all(not any(folder.iterdir()) for folder in made), "each is new and empty"


def test_new_run_folder_label_cannot_escape(tmp_path, tiny_cfg):
    for label in ("../../escape", "/etc", "..", "a/b"):
        folder = store.new_run_folder(tmp_path / "runs", tiny_cfg(), label=label)
        assert folder.parent == tmp_path / "runs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


# ---------------------------------------------------------------------- deleting
@pytest.fixture
def tree(tmp_path):
    """checkpoints/{runs/mine, examples/shipped}, a folder outside, and links inside runs/."""
    root = tmp_path / "checkpoints"
    places = {
        "mine": root / "runs" / "mine",
        "shipped": root / "examples" / "shipped",
        "outside": tmp_path / "outside",
    }
    for place in places.values():
        place.mkdir(parents=True)
        (place / META).write_text("{}")
    (root / "runs" / "link").symlink_to(places["outside"])
    (root / "runs" / "mine" / "inner-link").symlink_to(places["shipped"])
    for place in places.values():  # all claimed: only the place decides here
        store.claim_run(place, OWNER)
    return tmp_path, root / "runs"


OWNER = "owner-token"


SEGMENTS = ["..", ".", "mine", "runs", "examples", "shipped", "outside", "link", "inner-link",
            "checkpoints", "", "nowhere"]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(st.sampled_from(SEGMENTS), max_size=6), absolute=st.booleans())
@example(parts=["..", "examples", "shipped"], absolute=False)
@example(parts=["link"], absolute=False)
@example(parts=["mine", "inner-link"], absolute=False)
@example(parts=["mine", "..", "..", "..", "outside"], absolute=False)
@example(parts=[], absolute=False)
def test_delete_only_ever_removes_a_run_inside_runs(tree, monkeypatch, parts, absolute):
    base, runs = tree
    removed: list[Path] = []
    monkeypatch.setattr(store.shutil, "rmtree", lambda path: removed.append(Path(path)))
    start = Path("/") if absolute else runs
    target = start.joinpath(*parts) if parts else start
    try:
        store.delete_user_run(target, runs, owner=OWNER)
    except (ValueError, OSError):
        assert removed == []
        return
    assert removed == [(runs / "mine").resolve()], (target, removed)


def test_zip_checkpoint_refuses_a_linked_tensor_file(folder, tmp_path):
    path = tensor_file(folder)
    secret = tmp_path / "secret"
    secret.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(secret)
    with pytest.raises(ValueError, match="symbolic link"):
        store.zip_checkpoint(folder)


# ---------------------------------------------------------------------- checkpoint zips
def zip_of(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def test_hostile_entry_paths_land_flat_inside_dest(original, tmp_path):
    meta = (original / META).read_bytes()
    tensors = {p.name: p.read_bytes() for p in original.glob("*.safetensors")}
    gen = next(n for n in tensors if n.startswith("generator-"))
    entries = [("/tmp/abs/" + META, meta), ("..\\..\\" + gen, tensors[gen])]
    entries += [(f"C:\\evil\\{name}", data) for name, data in tensors.items() if name != gen]
    dest = tmp_path / "dest"
    dest.mkdir()
    written = store.extract_checkpoint_zip(zip_of(entries), dest)
    assert sorted(written) == sorted([META, *tensors])
    assert sorted(p.name for p in dest.iterdir()) == sorted(written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]
    load_checkpoint(dest)  # and what was unpacked is the checkpoint


def test_a_checkpoint_zip_with_a_huge_table_is_refused_before_parsing(tmp_path, monkeypatch):
    data = zip_of([(f"f{i}.txt", b"") for i in range(1500)])

    def never(*args, **kwargs):
        raise AssertionError("zipfile parsed a table of contents that should have been refused")

    monkeypatch.setattr(uploads.zipfile, "ZipFile", never)
    with pytest.raises(store.UploadError, match="entries"):
        store.extract_checkpoint_zip(data, tmp_path)


def lie_about_size(data: bytes, claimed: int) -> bytes:
    """Rewrite every entry's declared unpacked size (local and central headers) to `claimed`."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = out.find(signature)
        while at >= 0:
            out[at + offset : at + offset + 4] = struct.pack("<I", claimed)
            at = out.find(signature, at + 4)
    return bytes(out)


def test_an_oversized_checkpoint_member_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "MAX_ZIP_MEMBER", 1 * 2**20)
    big = zip_of([(META, b"{}"), ("generator-abc.safetensors", b"\0" * (5 * 2**20))])
    with pytest.raises(store.UploadError, match="generator-abc.safetensors"):
        store.extract_checkpoint_zip(big, tmp_path)
    assert not (tmp_path / "generator-abc.safetensors").exists()


def test_a_member_lying_about_its_size_leaves_nothing_behind(tmp_path):
    """Headers claim 10 bytes, the data holds 5 MB: reading stops at the claim and the CRC
    check fails; the entry is refused and its partial file removed."""
    lying = lie_about_size(zip_of([("generator-abc.safetensors", b"\1" * (5 * 2**20))]), 10)
    with pytest.raises(store.UploadError, match="cannot be unpacked"):
        store.extract_checkpoint_zip(lying, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_on_disk_is_never_unpickled(folder, tmp_path, monkeypatch):
    """Belt and braces for the whole load path: no unpickling function is even called."""
    import pickle

    def forbidden(*args, **kwargs):
        raise AssertionError("the loader unpickled something")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    trainer = load_checkpoint(folder)
    assert trainer.step == 3
    assert os.path.exists(folder / META)
