"""The Diagnostics page's "Your own samples" tab: samples made by a GAN trained elsewhere,
uploaded as a file (or drawn by an uploaded ONNX generator), diagnosed against a dataset
(`playground.measures.brought`), drawn, and offered as a standalone HTML report
(`playground.storage.diagnosis_report`).
"""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from pages.ui import common as ui
from pages.ui import i18n
from pages.ui.i18n import _, message, translated
from playground.data import registry as datasets
from playground.data.brought import BroughtError
from playground.data.source import DatasetUnavailable
from playground.data.uploads import MAX_UPLOAD_BYTES, new_upload_folder, remove_upload_folder
from playground.measures.brought import diagnose_path, measure_rows
from playground.measures.evaluation import DIAGNOSE_SAMPLES
from playground.onnxmodel import OnnxError, diagnose_generator
from playground.storage.diagnosis_report import diagnosis_charts, html_report
from playground.texts.catalogue import DEFAULT, N_
from playground.views.diagnosis import enlarged_grid, pair_picture

FILE_KEY, REAL_KEY, RESULT_KEY = "brought.file", "brought.real", "brought.result"
FILE_TYPES = ["npz", "npy", "zip", "csv", "onnx"]
SHOWN_TYPES = {  # the box the verdict is drawn in
    "healthy": st.success,
    "partly collapsed": st.warning,
    "collapsed": st.error,
    "off the data": st.error,
}
VERDICTS = (N_("healthy"), N_("partly collapsed"), N_("collapsed"), N_("off the data"))
PAIRS_PER_ROW = 4


def reference_choices() -> list[str]:
    """The datasets samples can be compared with: every image dataset and every 2D mixture
    (the user's own folder is left to the command line)."""
    return [n for n, d in datasets.DATASETS.items()
            if (d.kind == "images" and not d.user_folder) or d.is_mixture]


def _choice_label(name: str) -> str:
    entry = datasets.DATASETS[name]
    how = _("works offline") if entry.offline else _("downloaded on first use")
    kind = _("2D points") if entry.kind == "points" else _("images")
    return _("{title} ({kind}, {how})").format(title=_(entry.title), kind=kind, how=how)


def brought_tab() -> None:
    """The tab: the file, the reference, the button; then the diagnosis kept in the session."""
    st.caption(_(
        "Trained a GAN somewhere else? Bring its samples (or the generator itself, as ONNX) "
        "here and see whether it collapsed: the same measures as for the playground's own "
        "models, which of your samples are one image, and which samples copy a real image."
    ))
    left, right = st.columns(2)
    upload = left.file_uploader(
        _("Your samples"), type=FILE_TYPES, key=FILE_KEY,
        help=_("Images as a NumPy array (.npy or .npz: N×H×W, N×H×W×C or N×C×H×W; uint8 0-255 "
               "or floats in [0, 1] or [-1, 1]), a .zip of image files, 2D points (a .csv of "
               "x,y or an .npy of shape N×2), or a generator exported with torch.onnx.export "
               "(.onnx): it draws {n} samples. At most {mb} MB. The file is read, never run: "
               "pickled arrays are refused, and an ONNX graph runs only its standard "
               "operators.").format(n=f"{DIAGNOSE_SAMPLES:,}", mb=MAX_UPLOAD_BYTES // 2**20),
    )
    choices = reference_choices()
    offline = [n for n in choices if datasets.DATASETS[n].kind == "images"
               and datasets.DATASETS[n].offline]  # the bundled images: no download to wait for
    real = right.selectbox(
        _("Real data to compare with"), choices, index=choices.index(offline[0]), key=REAL_KEY,
        format_func=_choice_label,
        help=_("The dataset your GAN was trained on. Your samples are resized and converted to "
               "its size and colours before they are measured, and a note says so."),
    )
    right.caption(_(
        "To compare with a folder of your own real images, use the command line: "
        "`gan-playground diagnose --samples FILE --real FOLDER`."
    ))
    if st.button(_("Diagnose"), key="brought.go", type="primary", disabled=upload is None,
                 help=_("Measure your samples against the real data. A few seconds for a few "
                        "thousand small images on a laptop; the first time a dataset is used "
                        "its classifier is trained (about a minute).")):
        st.session_state[RESULT_KEY] = _diagnose(upload, real)
    result = st.session_state.get(RESULT_KEY)
    if result is not None:
        _show(result)


def _diagnose(upload, real: str) -> dict:
    """Diagnose the uploaded file against `real`, with a progress bar: the diagnosis and its
    report, or the one-line reason it could not be done."""
    name = upload.name
    if upload.size > MAX_UPLOAD_BYTES:
        return {"name": name, "error": _("{name} is larger than {mb} MB").format(
            name=name, mb=MAX_UPLOAD_BYTES // 2**20)}
    bar = st.progress(0.0, text=_("Reading your samples…"))

    def told(done: float, words: str) -> None:
        shown = message(words)
        bar.progress(min(max(done, 0.0), 1.0), text=shown[:1].upper() + shown[1:] + "…")

    folder = new_upload_folder()
    try:
        if name.lower().endswith(".onnx"):  # a generator: it draws the samples
            found = diagnose_generator(upload.getvalue(), real, progress=told)
        else:
            path = folder / _safe_name(name)
            path.write_bytes(upload.getvalue())
            found = diagnose_path(path, real, progress=told)
    except (BroughtError, DatasetUnavailable, OnnxError) as exc:
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
        st.error(_("This file cannot be diagnosed: {reason}").format(
            reason=ui.reason(result["error"])))
        return
    d = result["diagnosis"]
    SHOWN_TYPES.get(d.verdict, st.info)(
        _("**Verdict: {verdict}.** {reason}").format(verdict=_(d.verdict),
                                                      reason=ui.reason(d.reason))
    )
    st.subheader(_("Measures"))
    st.table(  # a table, not a dataframe: the explanations wrap instead of being cut
        [{_("measure"): message(label), _("value"): _value(value), _("what it says"): _(why)}
         for label, value, why in measure_rows(d.measures)],
        hide_index=True,
    )
    for k, (heading, fig) in enumerate(diagnosis_charts(d)):
        st.subheader(message(heading))
        st.plotly_chart(translated(fig), key=f"brought.chart.{k}")
    if d.neighbours is not None:
        _pairs(d.neighbours)
        _clusters(d)
    with st.expander(_("How your samples were read")):
        st.markdown("\n".join(f"- {ui.reason(note)}" for note in d.notes))
    stem = Path(_safe_name(result["name"])).stem
    st.download_button(
        _("Download the report (HTML)"), data=result["html"],
        file_name=f"diagnosis-{stem}.html", mime="text/html", key="brought.download",
        icon=":material/download:",
        help=_("One HTML file with everything above (in English); it opens in any browser, "
               "offline."),
    )


def _value(text: str) -> str:
    """A measure's value in the page's language: "7 of 10" reads "7/10" outside English."""
    if i18n.current() == DEFAULT:
        return text
    return re.sub(r"^([\d,]+) of ([\d,]+)$", r"\1/\2", text)


def _pairs(pairs) -> None:
    st.subheader(_("The samples nearest to a real image"))
    st.caption(_(
        "Each of the {shown} samples closest to a real image (of {searched} searched), beside "
        "that image. A sample's median distance to its nearest real image is {median}; a real "
        "image's to the nearest other real one is {real_median}. Pairs much closer than that "
        "are copies of the data: {copies} of your samples are that close."
    ).format(shown=len(pairs.sample_index), searched=f"{pairs.searched:,}",
             median=f"{pairs.median:.2f}", real_median=f"{pairs.real_median:.2f}",
             copies=f"{pairs.copies:,}"))
    columns = st.columns(PAIRS_PER_ROW)
    for k, (i, j, dist) in enumerate(zip(pairs.sample_index, pairs.real_index, pairs.distance,
                                         strict=True)):
        columns[k % PAIRS_PER_ROW].image(
            pair_picture(pairs.samples[k], pairs.real[k]),
            caption=_("sample {i} (left), real image {j} (right): distance {distance}").format(
                i=i, j=j, distance=f"{dist:.2f}"),
        )


def _clusters(d) -> None:
    st.subheader(_("Near-copies among your samples"))
    if not d.cluster_images:
        st.write(_("No two samples are near-copies of each other."))
        return
    n = max(1, len(d.report.samples))
    for k, (members, shown) in enumerate(zip(d.clusters, d.cluster_images, strict=False), 1):
        st.markdown(_("**Group {k}: {share} of your samples ({count}) are one image**").format(
            k=k, share=f"{len(members) / n:.0%}", count=f"{len(members):,}"))
        st.image(enlarged_grid(shown, ncols=8),
                 caption=_("{shown} of the {count} samples in group {k}").format(
                     shown=len(shown), count=f"{len(members):,}", k=k))
