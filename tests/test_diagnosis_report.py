"""The standalone HTML report of a diagnosis of brought samples: the verdict and its figure, the
measures, the charts (plotly.js inlined once, nothing fetched), the pictures as decodable PNGs
with alt text, headings in order, and every outside string escaped (a file named `<script>`)."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from playground.data.brought import from_array
from playground.data.loading import DataSpec, load_dataset
from playground.measures.brought import diagnose_samples
from playground.storage.diagnosis_report import html_report, write_html

HOSTILE = '<script>alert("name")</script>.npz'


@pytest.fixture(scope="module")
def collapsed():
    """300 digits, 90% one image, with a note naming a hostile file."""
    digits = load_dataset(DataSpec("digits", image_size=8)).images.numpy()[:, 0]
    samples = np.concatenate([np.repeat(digits[3:4], 270, 0), digits[500:530]])
    found = diagnose_samples(from_array(samples, HOSTILE), "digits")
    found.notes.append('unpacked from <img src=x onerror="alert(1)">.zip')
    return found


@pytest.fixture(scope="module")
def ring():
    angles = np.arange(400) % 8 * (2 * np.pi / 8)
    points = 2 * np.stack([np.cos(angles), np.sin(angles)], 1)
    points += np.random.default_rng(0).normal(0, 0.02, points.shape)
    return diagnose_samples(from_array(points[angles < 2]), "ring8")


class _Page(HTMLParser):
    """What the report is made of: its tags in order, image attributes, text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parsed(document: str) -> _Page:
    page = _Page()
    page.feed(document)
    return page


def test_the_report_states_the_verdict_measures_and_draws_the_class_chart(collapsed):
    document = html_report(collapsed, HOSTILE)
    assert document.startswith("<!DOCTYPE html>") and '<html lang="en">' in document
    assert "Verdict: collapsed." in document
    assert "90% of your samples (270 of 300) are one image" in document
    page = _parsed(document)
    words = " ".join(page.text)
    for label in ("classes held", "coverage", "biggest group of near-copies",
                  "median distance to the nearest real image"):
        assert label in words
    assert 'id="figure-1"' in document and document.count("Plotly.newPlot") == 1
    assert "Share of classes: your samples vs the real data" in document
    assert "<h3>Group 1: 90% of your samples (270) are one image</h3>" in document


def test_nothing_is_fetched_and_plotly_js_is_inlined_once(ring):
    document = html_report(ring, "points.csv")
    assert re.search(r"<script[^>]+src=", document) is None  # no script from the network
    assert re.search(r"<link[^>]+href=", document) is None
    assert document.count("Plotly.newPlot") == 2  # the scatter and the modes
    assert len(re.findall(r"plotly\.js v\d", document)) == 1  # the library, inlined once
    assert "Modes held: 3 of 8" in document and "Verdict: collapsed." in document


def test_every_picture_is_an_embedded_png_with_alt_text(collapsed):
    page = _parsed(html_report(collapsed))
    shown = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(shown) == 8 + 1  # the nearest pairs and the one cluster
    for attrs in shown:
        assert attrs["alt"].strip()
        prefix, _, data = attrs["src"].partition(",")
        assert prefix == "data:image/png;base64"
        picture = Image.open(io.BytesIO(base64.b64decode(data)))
        assert picture.size == (int(attrs["width"]), int(attrs["height"]))


def test_headings_go_down_one_level_at_a_time(collapsed, ring):
    for found in (collapsed, ring):
        levels = [int(tag[1]) for tag, _ in _parsed(html_report(found)).tags
                  if re.fullmatch(r"h[1-6]", tag)]
        assert levels[0] == 1 and levels.count(1) == 1
        assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels


def test_outside_strings_are_escaped(collapsed):
    document = html_report(collapsed, HOSTILE)
    assert "<script>alert" not in document and "<img src=x" not in document
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;.npz" in document
    assert "onerror=&quot;alert(1)&quot;" in document
    page = _parsed(document)
    assert [tag for tag, _ in page.tags].count("script") == document.count("<script")
    title = "".join(page.text)
    assert HOSTILE in title  # shown as text, read back unescaped


def test_write_html_writes_the_same_document(collapsed, tmp_path):
    path = write_html(collapsed, tmp_path / "report.html", "s.npz")
    assert path.read_text(encoding="utf-8") == html_report(collapsed, "s.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left
