"""The Diagnostics page's "Your own samples" tab: samples made by a GAN trained elsewhere,
uploaded as a file, diagnosed against a dataset (`playground.measures.brought`), drawn, and
offered as a standalone HTML report (`playground.storage.diagnosis_report`).
"""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from pages.ui import common as ui
from playground.data import registry as datasets
from playground.data.brought import BroughtError
from playground.data.source import DatasetUnavailable
from playground.data.uploads import MAX_UPLOAD_BYTES, new_upload_folder, remove_upload_folder
from playground.measures.brought import diagnose_path, measure_rows
from playground.storage.diagnosis_report import diagnosis_charts, html_report
from playground.views.diagnosis import enlarged_grid, pair_picture

FILE_KEY, REAL_KEY, RESULT_KEY = "brought.file", "brought.real", "brought.result"
FILE_TYPES = ["npz", "npy", "zip", "csv"]
SHOWN_TYPES = {  # the box the verdict is drawn in
    "healthy": st.success,
    "partly collapsed": st.warning,
    "collapsed": st.error,
    "off the data": st.error,
}
PAIRS_PER_ROW = 4


def reference_choices() -> list[str]:
    """The datasets samples can be compared with: every image dataset and every 2D mixture
    (the user's own folder is left to the command line)."""
    return [n for n, d in datasets.DATASETS.items()
            if (d.kind == "images" and not d.user_folder) or d.is_mixture]


def _choice_label(name: str) -> str:
    entry = datasets.DATASETS[name]
    how = "works offline" if entry.offline else "downloaded on first use"
    kind = "2D points" if entry.kind == "points" else "images"
    return f"{entry.title} ({kind}, {how})"


def brought_tab() -> None:
    """The tab: the file, the reference, the button; then the diagnosis kept in the session."""
    st.caption(
        "Trained a GAN somewhere else? Bring its samples here and see whether it collapsed: "
        "the same measures as for the playground's own models, which of your samples are one "
        "image, and which samples copy a real image."
    )
    left, right = st.columns(2)
    upload = left.file_uploader(
        "Your samples", type=FILE_TYPES, key=FILE_KEY,
        help="Images as a NumPy array (.npy or .npz: N×H×W, N×H×W×C or N×C×H×W; uint8 0-255 or "
        "floats in [0, 1] or [-1, 1]), a .zip of image files, or 2D points (a .csv of x,y or "
        f"an .npy of shape N×2). At most {MAX_UPLOAD_BYTES // 2**20} MB. The file is read, "
        "never run: pickled arrays are refused.",
    )
    choices = reference_choices()
    offline = [n for n in choices if datasets.DATASETS[n].kind == "images"
               and datasets.DATASETS[n].offline]  # the bundled images: no download to wait for
    real = right.selectbox(
        "Real data to compare with", choices, index=choices.index(offline[0]), key=REAL_KEY,
        format_func=_choice_label,
        help="The dataset your GAN was trained on. Your samples are resized and converted to "
        "its size and colours before they are measured, and a note says so.",
    )
    right.caption(
        "To compare with a folder of your own real images, use the command line: "
        "`gan-playground diagnose --samples FILE --real FOLDER`."
    )
    if st.button("Diagnose", key="brought.go", type="primary", disabled=upload is None,
                 help="Measure your samples against the real data. A few seconds for a few "
                 "thousand small images on a laptop; the first time a dataset is used its "
                 "classifier is trained (about a minute)."):
        st.session_state[RESULT_KEY] = _diagnose(upload, real)
    result = st.session_state.get(RESULT_KEY)
    if result is not None:
        _show(result)


def _diagnose(upload, real: str) -> dict:
    """Diagnose the uploaded file against `real`, with a progress bar: the diagnosis and its
    report, or the one-line reason it could not be done."""
    name = upload.name
    if upload.size > MAX_UPLOAD_BYTES:
        return {"name": name, "error": f"{name} is larger than {MAX_UPLOAD_BYTES // 2**20} MB"}
    bar = st.progress(0.0, text="Reading your samples…")
    folder = new_upload_folder()
    try:
        path = folder / _safe_name(name)
        path.write_bytes(upload.getvalue())
        found = diagnose_path(path, real, progress=lambda done, words: bar.progress(
            min(max(done, 0.0), 1.0), text=words[:1].upper() + words[1:] + "…"))
    except (BroughtError, DatasetUnavailable) as exc:
        return {"name": name, "error": _one_line(str(exc))}
    finally:
        remove_upload_folder(folder)
        bar.empty()
    return {"name": name, "diagnosis": found, "html": html_report(found, name).encode("utf-8")}


def _safe_name(name: str) -> str:
    """The upload's name as a plain file name (its extension kept), so messages name it."""
    path = Path(name)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem)[:60].strip("-") or "samples"
    return stem + path.suffix.lower()[:8]


def _one_line(message: str) -> str:
    """A refusal without the command line's option name ("--samples: …")."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.startswith("--") else message


def _show(result: dict) -> None:
    if "error" in result:
        st.error(f"This file cannot be diagnosed: {ui.plain(result['error'])}")
        return
    d = result["diagnosis"]
    SHOWN_TYPES.get(d.verdict, st.info)(
        f"**Verdict: {d.verdict}.** {ui.plain(d.reason)}"
    )
    st.subheader("Measures")
    st.table(  # a table, not a dataframe: the explanations wrap instead of being cut
        [{"measure": label, "value": value, "what it says": why}
         for label, value, why in measure_rows(d.measures)],
        hide_index=True,
    )
    for k, (heading, fig) in enumerate(diagnosis_charts(d)):
        st.subheader(heading)
        st.plotly_chart(fig, key=f"brought.chart.{k}")
    if d.neighbours is not None:
        _pairs(d.neighbours)
        _clusters(d)
    with st.expander("How your samples were read"):
        st.markdown("\n".join(f"- {ui.plain(note)}" for note in d.notes))
    stem = Path(_safe_name(result["name"])).stem
    st.download_button(
        "Download the report (HTML)", data=result["html"], file_name=f"diagnosis-{stem}.html",
        mime="text/html", key="brought.download", icon=":material/download:",
        help="One HTML file with everything above; it opens in any browser, offline.",
    )


def _pairs(pairs) -> None:
    st.subheader("The samples nearest to a real image")
    st.caption(
        f"Each of the {len(pairs.sample_index)} samples closest to a real image (of "
        f"{pairs.searched:,} searched), beside that image. A sample's median distance to its "
        f"nearest real image is {pairs.median:.2f}; a real image's to the nearest other real "
        f"one is {pairs.real_median:.2f}. Pairs much closer than that are copies of the data: "
        f"{pairs.copies:,} of your samples are that close."
    )
    columns = st.columns(PAIRS_PER_ROW)
    for k, (i, j, dist) in enumerate(zip(pairs.sample_index, pairs.real_index, pairs.distance,
                                         strict=True)):
        columns[k % PAIRS_PER_ROW].image(
            pair_picture(pairs.samples[k], pairs.real[k]),
            caption=f"sample {i} (left), real image {j} (right): distance {dist:.2f}",
        )


def _clusters(d) -> None:
    st.subheader("Near-copies among your samples")
    if not d.cluster_images:
        st.write("No two samples are near-copies of each other.")
        return
    n = max(1, len(d.report.samples))
    for k, (members, shown) in enumerate(zip(d.clusters, d.cluster_images, strict=False), 1):
        st.markdown(f"**Group {k}: {len(members) / n:.0%} of your samples ({len(members):,}) "
                    "are one image**")
        st.image(enlarged_grid(shown, ncols=8),
                 caption=f"{len(shown)} of the {len(members):,} samples in group {k}")
