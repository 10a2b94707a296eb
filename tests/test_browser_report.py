"""Real browser: the standalone HTML report of brought samples opened from disk draws its charts
and decodes its pictures with no server and no network, and the Diagnostics page's "Your own
samples" tab takes an uploaded file to a verdict, its pictures and the report's download. Every
wait is for a condition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import IDLE, require_chromium, wait_until

from playground.data.brought import from_array
from playground.data.loading import DataSpec, load_dataset
from playground.measures.brought import diagnose_samples
from playground.storage.diagnosis_report import write_html

pytestmark = pytest.mark.browser

require_chromium()

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
    page.screenshot(path=str(page.shots / "diagnosis-report.png"), full_page=True)


def test_diagnosing_an_uploaded_file_on_the_diagnostics_page(server, page, tmp_path):
    upload = Path(tmp_path) / "collapsed-digits.npz"
    np.savez(upload, samples=_collapsed_digits())
    try:
        _upload_and_diagnose(server, page, upload)
    except Exception:
        page.screenshot(path=str(page.shots / "brought-failed.png"), full_page=True)
        raise


def _upload_and_diagnose(server, page, upload: Path) -> None:
    page.goto(server + "/diagnostics")
    page.wait_for_selector(IDLE)
    page.get_by_role("tab", name="Your own samples").click()
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(upload))
    page.get_by_text("collapsed-digits.npz").first.wait_for()
    page.wait_for_selector(IDLE)
    box = page.locator("[data-testid='stSelectbox']").filter(has_text="Real data to compare with")
    box.click()
    page.get_by_role("option", name="digits", exact=False).first.click()
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Diagnose").click()
    page.get_by_text("Verdict: collapsed", exact=False).first.wait_for()
    page.wait_for_selector(IDLE)
    page.get_by_text("90% of your samples (270 of 300) are one image").first.wait_for()
    shown = page.locator("[data-testid='stImage'] img")
    wait_until(lambda: shown.count() >= 9, "the pairs and the cluster's picture")
    page.get_by_text("Group 1: 90% of your samples", exact=False).first.wait_for()
    wait_until(lambda: page.evaluate(
        "() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
        ".every(i => i.complete && i.naturalWidth > 0)"), "the pictures to decode")
    assert page.get_by_role("button", name="Download the report (HTML)").count() == 1
    page.screenshot(path=str(page.shots / "brought-samples.png"), full_page=True)
    page.get_by_text("The samples nearest to a real image").first.scroll_into_view_if_needed()
    page.screenshot(path=str(page.shots / "brought-pictures.png"))

    # A pickled array is refused in one line, with no traceback.
    pickled = upload.with_name("objects.npy")
    np.save(pickled, np.array([{"a": 1}] * 12, dtype=object), allow_pickle=True)
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(pickled))
    page.get_by_text("objects.npy").first.wait_for()
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Diagnose").click()
    error = page.locator("[data-testid='stAlert']").filter(has_text="cannot be diagnosed")
    error.first.wait_for()
    assert "pickled" in error.first.inner_text()
    assert page.locator("[data-testid='stException']").count() == 0
