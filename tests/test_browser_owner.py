"""Ownership survives a reload: the owner token lives in a cookie of the browser (never in a
URL), the next session of the same browser takes it up and so still owns the runs it saved,
and another browser gets its own token and sees those runs as someone else's."""

from __future__ import annotations

from helpers import BROWSER_BUDGET_S, CHROMIUM, CHROMIUM_ARGS, app_server, sync_playwright_api

from pages.ui.common import OWNER_COOKIE
from playground.settings.config import GANConfig
from playground.storage import store
from playground.storage.checkpoints import save_checkpoint
from playground.training.trainer import Trainer


def _token(context, page) -> str:
    """The owner cookie once the page has written it (waiting for the condition, not a clock)."""
    page.wait_for_function(f"document.cookie.includes('{OWNER_COOKIE}=')")
    found = [c for c in context.cookies() if c["name"] == OWNER_COOKIE]
    assert len(found) == 1 and found[0]["sameSite"] == "Strict"
    return found[0]["value"]


def test_a_reload_keeps_the_runs_this_browser_saved(tmp_path):
    playwright = sync_playwright_api()
    runs = tmp_path / "runs"
    env = {"GAN_PLAYGROUND_RUNS_DIR": str(runs), "GAN_PLAYGROUND_DATA": str(tmp_path / "data")}
    with open(tmp_path / "server.log", "w+b") as log, app_server(env, log) as server:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=CHROMIUM_ARGS)
            try:
                context = browser.new_context()
                page = context.new_page()
                page.set_default_timeout(BROWSER_BUDGET_S * 1000)
                page.goto(server.url + "/runs")
                page.get_by_role("heading", name="Runs").wait_for()
                token = _token(context, page)
                assert token not in page.url
                # A run this browser saved (saved here and claimed with its token, as Save does).
                folder = runs / "mine-ring8"
                save_checkpoint(Trainer(GANConfig(dataset="ring8", hidden=16, layers=2,
                                                  batch_size=32, device="cpu")), folder)
                store.claim_run(folder, token)
                page.reload()  # a new session of the same browser
                page.get_by_role("heading", name="Your runs (1)").wait_for()
                # The heading is drawn before its cards: wait for the card, not a count.
                page.get_by_text("mine-ring8").first.wait_for()
                other = browser.new_context().new_page()
                other.set_default_timeout(BROWSER_BUDGET_S * 1000)
                other.goto(server.url + "/runs")
                other.get_by_role("heading", name="Saved by others (1)").wait_for()
                assert _token(other.context, other) != token
            finally:
                browser.close()
