"""Real browser: the standalone HTML report of brought samples opened from disk draws its charts
and decodes its pictures with no server and no network. Every wait is for a condition."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ROOT, require_chromium, wait_until

from playground.data.brought import from_array
from playground.data.loading import DataSpec, load_dataset
from playground.measures.brought import diagnose_samples
from playground.storage.diagnosis_report import write_html

pytestmark = pytest.mark.browser

require_chromium()

SCREENSHOTS = ROOT / "docs" / "screenshots"


def _collapsed_digits() -> np.ndarray:
    """300 digits at 8×8, uint8: 270 copies of one image and 30 others, shuffled."""
    digits = load_dataset(DataSpec("digits", image_size=8)).images.numpy()[:, 0]
    samples = np.concatenate([np.repeat(digits[3:4], 270, 0), digits[500:530]])
    return samples[np.random.default_rng(0).permutation(len(samples))]


def _pictures_decoded(page) -> bool:
    return page.evaluate(
        "() => { const all = [...document.images];"
        " return all.length > 0 && all.every(i => i.complete && i.naturalWidth > 0); }"
    )


def test_the_report_file_draws_its_charts_and_pictures(page, tmp_path):
    found = diagnose_samples(from_array(_collapsed_digits()), "digits")
    path = write_html(found, tmp_path / "diagnosis.html", "samples.npz")
    page.goto(path.as_uri())
    page.wait_for_selector(".plotly .main-svg")  # plotly.js (inlined) drew the class chart
    assert page.locator(".plotly .main-svg .bars path").count() >= 10
    wait_until(lambda: _pictures_decoded(page), "the report's pictures to decode")
    assert page.locator("img").count() == 9
    assert "Verdict: collapsed." in page.locator(".verdict").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "diagnosis-report.png"), full_page=True)
