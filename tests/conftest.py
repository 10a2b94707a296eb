"""Shared fixtures: tiny configs and trainers that run in milliseconds on one CPU thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from helpers import (
    BROWSER_BUDGET_S,
    CHROMIUM,
    CHROMIUM_ARGS,
    app_server,
    in_ci,
    sync_playwright_api,
)

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
    playwright = sync_playwright_api()
    shots = Path(os.environ.get("GAN_PLAYGROUND_SCREENSHOTS", tmp_path_factory.mktemp("shots")))
    shots.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(BROWSER_BUDGET_S * 1000)
        pg.shots = shots
        yield pg
        browser.close()


# ---------------------------------------------------------------------- skips in CI
# What may be skipped in CI: each names something the CI machine lacks by design (a GPU, a
# kernel feature), never something the project should have installed. Any other skip there
# fails the run, so a browser test cannot go quiet by skipping.
ALLOWED_CI_SKIPS = (
    "needs a CUDA GPU",
    "this torch cannot capture a generator's state in a CUDA graph",
    "this kernel does not let a process reset its peak memory",
)
_skipped: list[tuple[str, str]] = []


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append((report.nodeid, _skip_reason(report)))


def pytest_collectreport(report):
    if report.skipped:
        _skipped.append((report.nodeid, _skip_reason(report)))


def unexpected_skips(skipped: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The skips not on ALLOWED_CI_SKIPS (a reason must contain an allowed one)."""
    return [(node, why) for node, why in skipped if not any(a in why for a in ALLOWED_CI_SKIPS)]


def pytest_sessionfinish(session, exitstatus):
    bad = unexpected_skips(_skipped)
    if in_ci() and bad:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"{len(bad)} test(s) skipped in CI for a reason not on ALLOWED_CI_SKIPS:"]
        lines += [f"  {node}: {why}" for node, why in bad]
        if reporter is not None:
            reporter.write_sep("=", "unexpected skips", red=True)
            for line in lines:
                reporter.write_line(line)
        else:
            print("\n".join(lines))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
