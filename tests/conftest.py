"""Shared fixtures: tiny configs and trainers that run in milliseconds on one CPU thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from helpers import BROWSER_BUDGET_S, CHROMIUM, CHROMIUM_ARGS, app_server

from playground.data.loading import load_dataset
from playground.settings.config import GANConfig
from playground.training.trainer import Trainer

# Small enough that a step takes about a millisecond on one core.
TINY = dict(
    dataset="ring8",
    hidden=16,
    layers=2,
    batch_size=32,
    steps=10,
    log_every=1,
    sample_every=5,
    device="cpu",
)
# DCGAN on the bundled digits at its smallest: 8 base channels, batch 16.
TINY_IMAGES = dict(
    dataset="digits",
    arch="dcgan",
    image_size=28,
    width=8,
    latent_dim=16,
    batch_size=16,
    steps=4,
    log_every=1,
    sample_every=2,
    device="cpu",
)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The machine has two cores shared with other jobs: one intra-op thread is fastest."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(**changes) -> GANConfig:
    return GANConfig(**{**TINY, **changes}).validate()


def tiny_image_config(**changes) -> GANConfig:
    return GANConfig(**{**TINY_IMAGES, **changes}).validate()


@pytest.fixture
def tiny_cfg():
    """Factory: a validated tiny ring8 MLP config, with any settings changed."""
    return tiny_config


@pytest.fixture
def tiny_image_cfg():
    """Factory: a validated tiny digits DCGAN config, with any settings changed."""
    return tiny_image_config


@pytest.fixture(scope="session")
def digits28():
    """The bundled digits at 28 px, loaded once (scikit-learn's import is the slow part)."""
    return load_dataset(tiny_image_config(), "cpu")


@pytest.fixture
def make_trainer(digits28):
    """Factory: a Trainer for a tiny config; digits configs at 28 px share one loaded dataset."""

    def make(cfg: GANConfig) -> Trainer:
        shared = cfg.dataset == "digits" and cfg.image_size == 28 and not cfg.grayscale
        return Trainer(cfg, data=digits28 if shared else None)

    return make


@pytest.fixture
def runs():
    """Factory: Runs made in a test; all are stopped afterwards and no run thread may survive."""
    from helpers import TIMEOUT, run_threads

    from playground.runs.runner import Run

    made: list[Run] = []

    def make(cfg, **kwargs) -> Run:
        run = Run(cfg, **kwargs)
        made.append(run)
        return run

    yield make
    for run in made:
        run.stop(wait=TIMEOUT)
    assert run_threads() == []


@pytest.fixture
def fresh_slot(monkeypatch):
    """A page test's own run slot (the cached session resource is per real session); its run
    is stopped afterwards."""
    from pages.ui import common as ui

    slot = ui.RunSlot()
    monkeypatch.setattr(ui, "run_slot", lambda: slot)
    yield slot
    slot.stop()


# ---------------------------------------------------------------------- browser tests
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app under `streamlit run`, one per browser test module; yields its URL."""
    env = {"GAN_PLAYGROUND_DATA": str(tmp_path_factory.mktemp("data"))}
    with open(tmp_path_factory.mktemp("log") / "server.log", "w+b") as log:
        with app_server(env, log) as proc:
            yield proc.url


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    """A headless Debian chromium page, waiting up to the browser budget by default."""
    playwright = pytest.importorskip("playwright.sync_api")
    shots = Path(os.environ.get("GAN_PLAYGROUND_SCREENSHOTS", tmp_path_factory.mktemp("shots")))
    shots.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(BROWSER_BUDGET_S * 1000)
        pg.shots = shots
        yield pg
        browser.close()
