"""Hardening, offline: with no network, a dataset that must be downloaded ends the run with a
clear message on the Train page that points to the offline datasets, never a traceback."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.runs import capacity

ROOT = Path(__file__).resolve().parent.parent


def button(at: AppTest, label: str):
    return next(b for b in at.button if re.sub(r"^\W+", "", b.label) == label)


NO_NETWORK = {
    "dns": urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution")),
    "refused": urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
    "timeout": TimeoutError("timed out"),
    "http": urllib.error.HTTPError("https://x", 503, "Service Unavailable", {}, None),
}


CASES = [("mnist", "dns"), ("fashion", "dns"), ("cifar10", "dns"), ("mnist", "refused"),
         ("mnist", "timeout"), ("mnist", "http")]


@pytest.mark.parametrize(("dataset", "failure"), CASES, ids=["-".join(c) for c in CASES])
def test_no_network_gives_a_clear_message_on_the_train_page(
    dataset, failure, monkeypatch, tmp_path
):
    from pages.ui import common as ui

    tried: list[str] = []

    def offline(url, *args, **kwargs):
        tried.append(url if isinstance(url, str) else url.full_url)
        raise NO_NETWORK[failure]

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("GAN_PLAYGROUND_DATA", str(tmp_path / "empty-cache"))
    slot = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    monkeypatch.setattr(capacity, "SLOTS", capacity.RunSlots(limit=1))

    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=60).run()
    at.sidebar.selectbox(key="cfg.dataset").set_value(dataset).run()
    button(at, "Start").click().run()
    assert slot.run is not None and slot.run.join(30)
    at.run()
    assert not at.exception
    assert tried, "the download was attempted (and failed)"
    assert slot.run.status == "error"
    message = " ".join(e.value for e in at.error)
    assert "could not be fetched" in message
    assert "digits" in message and "ring8" in message, "it points to the offline datasets"
    assert "Traceback" not in message and "File \"" not in message
    assert capacity.SLOTS.status().active == 0, "the failed run freed its slot"
    # The offline dataset the message points to works right away.
    at.sidebar.selectbox(key="cfg.dataset").set_value("ring8").run()
    at.sidebar.number_input(key="cfg.steps").set_value(5).run()
    button(at, "Start").click().run()
    assert slot.run.join(30) and slot.run.status == "finished"
    at.run()
    assert not at.exception and not at.error


@pytest.fixture
def silent_mirror():
    """A local server that accepts connections and never answers: a stalled mirror."""
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held, done = [], threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not done.is_set():
            try:
                held.append(server.accept()[0])  # kept open, never written to
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    done.set()
    thread.join(5)
    for connection in held:
        connection.close()
    server.close()


def test_a_mirror_that_stops_answering_fails_the_download_instead_of_hanging(
    silent_mirror, monkeypatch, tmp_path
):
    """torchvision's downloader has no timeout: a stalled mirror hung the run for ever."""
    from torchvision import datasets as tv

    from playground.data import imagesets
    from playground.data.registry import DATASETS
    from playground.data.source import DatasetUnavailable

    monkeypatch.setattr(imagesets, "DOWNLOAD_TIMEOUT_S", 0.5, raising=False)
    monkeypatch.setattr(tv.MNIST, "mirrors", [silent_mirror, silent_mirror])
    with pytest.raises(DatasetUnavailable, match="could not be fetched.*timed out"):
        imagesets.load_torchvision_dataset(DATASETS["mnist"], tmp_path / "cache", download=True)
    raw = tmp_path / "cache" / "MNIST" / "raw"
    assert not [p for p in raw.glob("*") if p.is_file()], "nothing half-made is kept"
