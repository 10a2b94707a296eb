"""A diagnosis of brought samples (`measures.brought.Diagnosis`) as one standalone HTML file: it
opens anywhere with no network, to keep or to send. plotly.js is inlined once, in the first
chart; every picture is a PNG in a data URI. Every string that comes from outside (the file's
name, the notes, which mention paths) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from playground.data import registry as datasets
from playground.measures.brought import Diagnosis, measure_rows
from playground.paths import atomic_write
from playground.views import diagnosis as pictures
from playground.views import images
from playground.views.figures import points_figure

STYLE = """
body { font-family: system-ui, sans-serif; color: #111; margin: 0; background: #fff; }
main { max-width: 960px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.verdict { padding: 0.8rem 1rem; border-radius: 6px; font-size: 1.1rem; }
.healthy { background: #e6f4ea; } .partly-collapsed { background: #fff4d6; }
.collapsed, .off-the-data { background: #fde7e7; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #eee;
         vertical-align: top; }
td.value { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.why { color: #444; font-size: 0.9rem; }
.pairs { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; } figcaption { font-size: 0.85rem; color: #333; }
img { image-rendering: pixelated; }
"""


def html_report(diagnosis: Diagnosis, samples_name: str = "your samples") -> str:
    """The whole report as one HTML document (a str), `samples_name` (e.g. the file's name)
    in its title."""
    figures = _Figures()
    m = diagnosis.measures
    name = html.escape(samples_name)
    reference = html.escape(_reference_title(diagnosis.reference))
    verdict = html.escape(diagnosis.verdict)
    parts = [
        f"<h1>Diagnosis of {name} against {reference}</h1>",
        f'<p class="verdict {verdict.replace(" ", "-")}"><strong>Verdict: {verdict}.</strong> '
        f"{_sentence(diagnosis.reason)}</p>",
        f"<p>{m.get('samples', 0):,} samples measured.</p>",
        "<h2>Measures</h2>",
        _table(m),
    ]
    if diagnosis.kind == "points":
        parts += _points_sections(diagnosis, figures)
    else:
        parts += _image_sections(diagnosis, figures)
    if diagnosis.notes:
        parts += ["<h2>How the samples were read</h2>", "<ul>",
                  *(f"<li>{html.escape(note)}</li>" for note in diagnosis.notes), "</ul>"]
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Diagnosis of {name}: {verdict}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def write_html(diagnosis: Diagnosis, path: str | Path, samples_name: str = "your samples") -> Path:
    """Write `html_report` to `path` (atomically: a crash leaves no half a file)."""
    return atomic_write(path, html_report(diagnosis, samples_name).encode("utf-8"))


# ---------------------------------------------------------------------- sections
def _image_sections(d: Diagnosis, figures: _Figures) -> list[str]:
    parts = []
    for heading, fig in diagnosis_charts(d):
        parts += [f"<h2>{html.escape(heading)}</h2>",
                  "<p>Each sample's class as the dataset's classifier recognises it (only "
                  "samples it is at least 90% sure of are counted).</p>",
                  figures.html(fig, heading)]
    parts += _neighbour_section(d)
    parts += _cluster_section(d)
    return parts


def diagnosis_charts(d: Diagnosis) -> list[tuple[str, go.Figure]]:
    """(heading, figure) of each chart of a diagnosis: for images the samples' class shares
    against the real data's (labelled references); for points the samples over the real points
    and the share of each mode. The report and the Diagnostics page draw these."""
    m = d.measures
    if d.kind == "points":
        charts = []
        if d.real_points is not None and d.extent is not None:
            charts.append(("Your samples over the real points",
                           points_figure(d.report.samples, d.real_points, d.extent,
                                         title="Your samples (orange) over the real points "
                                         "(blue)")))
        counts = m.get("mode_counts")
        if counts:
            k = len(counts)
            charts.append((f"Modes held: {m.get('modes_held', 0)} of {k}",
                           pictures.share_figure(counts, [1 / k] * k,
                                                 [f"mode {i}" for i in range(k)], "modes")))
        return charts
    counts, reference = m.get("class_histogram"), d.report.reference
    if not (counts and reference and len(counts) == len(reference)):
        return []
    labels = _class_labels(d.reference, len(counts))
    return [("Classes: your samples against the real data",
             pictures.share_figure(counts, reference, labels))]


def _neighbour_section(d: Diagnosis) -> list[str]:
    pairs = d.neighbours
    if pairs is None or not len(pairs.sample_index):
        return []
    parts = [
        "<h2>The samples nearest to a real image</h2>",
        f"<p>The {len(pairs.sample_index)} samples closest to some real image (of "
        f"{pairs.searched:,} searched), each beside that image. A sample's median distance to "
        f"its nearest real image is {pairs.median:.2f}; a real image's to the nearest other "
        f"real one is {pairs.real_median:.2f}. A pair much closer than that is a copy of the "
        f"data: {pairs.copies:,} samples are that close.</p>",
        '<div class="pairs">',
    ]
    for k, (i, j, dist) in enumerate(zip(pairs.sample_index, pairs.real_index, pairs.distance,
                                         strict=True)):
        picture = pictures.pair_picture(pairs.samples[k], pairs.real[k])
        parts.append(_figure(picture, f"Sample {i} (left) beside real image {j} (right), "
                                      f"distance {dist:.2f}",
                             f"sample {i} · real {j} · distance {dist:.2f}"))
    parts.append("</div>")
    return parts


def _cluster_section(d: Diagnosis) -> list[str]:
    n = max(1, len(d.report.samples))
    parts = ["<h2>Near-copies among the samples</h2>"]
    if not d.cluster_images:
        return [*parts, "<p>No two samples are near-copies of each other.</p>"]
    for k, (members, shown) in enumerate(zip(d.clusters, d.cluster_images, strict=False), 1):
        share = len(members) / n
        parts += [f"<h3>Group {k}: {share:.0%} of your samples ({len(members):,}) are one "
                  "image</h3>",
                  _figure(pictures.enlarged_grid(shown, ncols=8),
                          f"{len(shown)} of the {len(members):,} samples of group {k}",
                          "samples " + ", ".join(str(i) for i in members[: len(shown)]))]
    return parts


def _points_sections(d: Diagnosis, figures: _Figures) -> list[str]:
    parts = []
    for heading, fig in diagnosis_charts(d):
        parts += [f"<h2>{html.escape(heading)}</h2>", figures.html(fig, heading)]
    return parts


# ---------------------------------------------------------------------- pieces
class _Figures:
    """Plotly figures as HTML divs: the first carries plotly.js inline, the others reuse it."""

    def __init__(self) -> None:
        self.count = 0

    def html(self, fig: go.Figure, label: str) -> str:
        self.count += 1
        div = pio.to_html(fig, include_plotlyjs=self.count == 1, full_html=False,
                          div_id=f"figure-{self.count}", config={"displaylogo": False})
        return f'<div role="figure" aria-label="{html.escape(label)}">{div}</div>'


def _figure(picture: np.ndarray, alt: str, caption: str) -> str:
    data = base64.b64encode(images.png_bytes(picture)).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
            f'width="{picture.shape[1]}" height="{picture.shape[0]}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table(m: dict) -> str:
    rows = "\n".join(
        f'<tr><th scope="row">{html.escape(label)}</th><td class="value">{html.escape(value)}'
        f'</td><td class="why">{html.escape(why)}</td></tr>'
        for label, value, why in measure_rows(m)
    )
    return ('<table>\n<thead><tr><th scope="col">measure</th><th scope="col">value</th>'
            f'<th scope="col">what it says</th></tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>')


def _sentence(reason: str) -> str:
    text = html.escape(reason)
    return text[:1].upper() + text[1:]


def _reference_title(reference: str) -> str:
    entry = datasets.DATASETS.get(reference)
    return entry.title if entry is not None and not entry.user_folder else "your real images"


def _class_labels(reference: str, k: int) -> list[str]:
    names = datasets.class_names(reference)
    return list(names) if len(names) == k else [str(c) for c in range(k)]
