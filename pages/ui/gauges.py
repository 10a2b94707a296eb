"""The measures as numbers: gauges with their explanations and verdict, the measures over
training, FID/KID/IS under their honest names, and the Train page's live gauges (train_ui
calls live_gauges). Computation is `playground.measures.evaluation` and
`playground.measures.metrics`.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from pages.ui.i18n import _
from playground.data import registry as datasets
from playground.measures.fid import EXPLANATION, INCEPTION_HINT, describe
from playground.measures.metrics import EXPLANATIONS
from playground.texts.catalogue import N_
from playground.views import figures

# (key, label) of the gauges, by what was measured.
MODE_GAUGES = (
    ("modes_held", N_("Modes held")),
    ("modes_covered", N_("Modes covered")),
    ("high_quality_fraction", N_("High quality")),
    ("reverse_kl", N_("Reverse KL")),
)
CLASS_GAUGES = (
    ("classes_covered", N_("Classes covered")),
    ("classes_held", N_("Classes held")),
    ("confident_fraction", N_("Recognisable")),
    ("reverse_kl", N_("Reverse KL")),
)
MANIFOLD_GAUGES = (
    ("precision", N_("Precision")),
    ("recall", N_("Recall")),
    ("density", N_("Density")),
    ("coverage", N_("Coverage")),
)
# The user's own 2D points (no known modes): precision/recall on the points, GAN Lab's grid
# divergences (playground.measures.metrics.point_measures).
POINT_GAUGES = (
    ("precision", N_("Precision")),
    ("recall", N_("Recall")),
    ("kl_grid", N_("KL (grid)")),
    ("js_grid", N_("JS (grid)")),
)
IMAGE_GAUGES = (
    ("diversity_ratio", N_("Diversity")),
    ("duplicate_rate", N_("Near-duplicates")),
    ("nearest_train_distance", N_("Nearest training image")),
    ("nearest_train_ratio", N_("… relative to real")),
)
PERCENT = ("high_quality_fraction", "confident_fraction", "duplicate_rate")
# Measures offered in the over-time charts, in this order when present.
SERIES_ORDER = (
    "modes_held",
    "modes_covered",
    "classes_covered",
    "classes_held",
    "high_quality_fraction",
    "confident_fraction",
    "reverse_kl",
    "precision",
    "recall",
    "density",
    "coverage",
    "kl_grid",
    "js_grid",
    "diversity_ratio",
    "duplicate_rate",
    "nearest_train_ratio",
    "fid",
    "kid",
    "inception_score",
)
LABELS = dict(MODE_GAUGES + CLASS_GAUGES + MANIFOLD_GAUGES + POINT_GAUGES + IMAGE_GAUGES)
# Where the dataset is not known (comparing runs); elsewhere fid.describe(dataset) names them.
LABELS |= {
    "fid": N_("FID (classifier features)"),
    "kid": N_("KID (classifier features)"),
    "inception_score": N_("IS (classifier)"),
    "fid_floor": N_("FID of real data"),
}
# fid.describe's names as templates of the dataset, so that they can be translated.
NAME_TEMPLATES = {
    "fid": N_("FID ({dataset} classifier features)"),
    "kid": N_("KID ({dataset} classifier features)"),
    "inception_score": N_("IS ({dataset} classifier)"),
}


def format_value(key: str, value, measures: dict) -> str:
    if key.startswith("modes_") and "modes_total" in measures:
        return f"{value}/{measures['modes_total']}"
    if key.startswith("classes_") and "classes_total" in measures:
        return f"{value}/{measures['classes_total']}"
    if key in PERCENT:
        return f"{value:.0%}"
    return f"{value:.2f}"


def gauges(measures: dict, keys, previous: dict | None = None) -> None:
    """One st.metric per measure present, with its explanation as the help text and the change
    since `previous` as the delta (inverted where lower is better)."""
    shown = [(k, label) for k, label in keys if k in measures]
    if not shown:
        return
    for col, (key, label) in zip(st.columns(len(shown)), shown, strict=True):
        delta = None
        if previous is not None and isinstance(previous.get(key), (int, float)):
            change = measures[key] - previous[key]
            delta = f"{change:+.0%}" if key in PERCENT else f"{change:+.3g}"
        lower_better = key in ("reverse_kl", "duplicate_rate", "kl_grid", "js_grid")
        col.metric(
            _(label),
            format_value(key, measures[key], measures),
            delta=delta if delta not in ("+0", "+0%") else None,
            delta_color="inverse" if lower_better else "normal",
            help=_(EXPLANATIONS[key]),
        )


def verdict(measures: dict) -> None:
    """One coloured sentence: collapsed, off the data, partial or healthy."""
    for unit, total_key, held_key, covered_key, good_key in (
        (N_("modes"), "modes_total", "modes_held", "modes_covered", "high_quality_fraction"),
        (N_("classes"), "classes_total", "classes_held", "classes_covered", "confident_fraction"),
    ):
        if total_key in measures:
            kind, text = verdict_text(
                unit,
                measures[total_key],
                measures[held_key],
                measures[covered_key],
                measures.get(good_key, 1.0),
            )
            getattr(st, kind)(text)
            return


def verdict_text(unit: str, total: int, held: int, covered: int, good: float) -> tuple[str, str]:
    """(st function, sentence). Few held with most samples on the data is mode collapse; with
    most samples off every mode it is not a collapse onto modes: G has not settled on the
    data (early, stuck between modes, or circling without converging, as lesson 4 shows)."""
    near = _("near a mode") if unit == "modes" else _("recognisable as a class")
    counts = dict(held=held, total=total, covered=covered, unit=_(unit))
    if held <= total // 2 and good < 0.5:
        return "error", _(
            "**Off the data:** only {good} of the samples are {near} ({held} of {total} "
            "{unit} held, {covered} visited). G has not settled on the data: it may be early, "
            "stuck in one spot between them, or circling without converging; watch whether "
            "the samples stay put or keep moving."
        ).format(good=f"{good:.0%}", near=near, **counts)
    if held <= total // 2:
        return "error", _(
            "**Mode collapse:** only {held} of {total} {unit} held ({covered} visited at all)."
        ).format(**counts)
    if held < total:
        return "warning", _(
            "**Partial coverage:** {held} of {total} {unit} held, {covered} covered."
        ).format(**counts)
    return "success", _("**All {total} {unit} held.**").format(**counts)


def explain(keys) -> None:
    with st.expander(_("What do these numbers mean?")):
        st.markdown(
            "\n".join(f"- **{_(LABELS.get(k, k))}**: {_(EXPLANATIONS[k])}" for k, _label in keys)
        )


def all_gauges(measures: dict, previous: dict | None = None) -> None:
    points = "js_grid" in measures  # the user's own points: their four gauges, once each
    groups = [MODE_GAUGES, CLASS_GAUGES, POINT_GAUGES if points else MANIFOLD_GAUGES, IMAGE_GAUGES]
    present = [g for g in groups if g[0][0] in measures]  # a group shows when its lead does
    for group in present:
        gauges(measures, group, previous)
    if points:
        st.caption(point_reading(measures))
    explain([item for g in present for item in g if item[0] in measures])


def series_figure(records: list[dict], keys: list[str], title: str) -> go.Figure:
    fig = go.Figure()
    steps = [r["step"] for r in records]
    for key in keys:
        values = [r.get(key) for r in records]
        if any(v is not None for v in values):
            fig.add_trace(
                go.Scatter(x=steps, y=values, name=_(LABELS.get(key, key)), mode="lines+markers")
            )
    fig.update_layout(
        title=dict(text=_(title), x=0.0, xanchor="left", y=0.97, yanchor="top"),
        height=280,
        margin=dict(l=10, r=10, t=64, b=10),
        xaxis_title=_("step"),
        legend=figures.LEGEND_ABOVE,
    )
    return fig


def over_time_keys(records: list[dict]) -> tuple[list[str], list[str]]:
    """(counts to chart, fractions to chart) among the measures the records hold."""
    present = {k for r in records for k in r}
    counts = [
        k
        for k in ("modes_held", "modes_covered", "classes_held", "classes_covered")
        if k in present
    ]
    rest = [
        k
        for k in (
            "high_quality_fraction",
            "confident_fraction",
            "reverse_kl",
            "precision",
            "recall",
            "coverage",
            "js_grid",
            "diversity_ratio",
        )
        if k in present
    ]
    return counts, rest


def live_gauges(snap) -> None:
    """The Train page's live mode-collapse gauges: the latest measures and the counts over
    time. Called from train_ui.draw()."""
    records = list(getattr(snap, "measures", ()) or ())
    cfg = snap.config
    if not records:
        if (
            cfg is not None
            and cfg.eval_every
            and (datasets.DATASETS[cfg.dataset].is_mixture or not cfg.is_points or own_points(cfg))
        ):
            st.caption(
                _(
                    "Mode-collapse measures appear every {every} steps "
                    "(setting eval_every); the Diagnostics page explains them."
                ).format(every=f"{cfg.eval_every:,}")
            )
        return
    last = records[-1]
    previous = records[-2] if len(records) > 1 else None
    if "js_grid" in last:
        point_gauges(records, last, previous)
        measures_note(snap)
        return
    keys = MODE_GAUGES if "modes_total" in last else CLASS_GAUGES
    if not any(k in last for k, _label in keys):
        keys = IMAGE_GAUGES
    left, right = st.columns([3, 2])
    with left:
        st.markdown(
            _(
                "**Mode collapse** (measured at step {step} on {samples} samples; details on "
                "the Diagnostics page)"
            ).format(step=f"{last['step']:,}", samples=f"{last.get('samples', 0):,}")
        )
        gauges(last, keys, previous)
        verdict(last)
        distribution_gauges(last, cfg.dataset if cfg is not None else "", previous)
    measures_note(snap)
    counts, rest = over_time_keys(records)
    with right:
        st.plotly_chart(
            series_figure(records, counts or rest, N_("Over training")), key="diag.live_chart"
        )


def own_points(cfg) -> bool:
    return cfg is not None and datasets.DATASETS[cfg.dataset].user_points


def point_gauges(records: list[dict], last: dict, previous: dict | None) -> None:
    """The live gauges of a run on the user's own points: no modes to count, so precision and
    recall on the points and the grid KL/JS, with one sentence reading them."""
    left, right = st.columns([3, 2])
    with left:
        st.markdown(
            _(
                "**How well it matches your points** (measured at step {step} on {samples} "
                "samples; there are no modes to count)"
            ).format(step=f"{last['step']:,}", samples=f"{last.get('samples', 0):,}")
        )
        gauges(last, POINT_GAUGES, previous)
        st.caption(point_reading(last))
        explain(POINT_GAUGES)
    with right:
        keys = [k for k in ("precision", "recall", "js_grid") if any(k in r for r in records)]
        st.plotly_chart(series_figure(records, keys, N_("Over training")), key="diag.live_chart")


def point_reading(measures: dict) -> str:
    """One sentence on what precision, recall and JS say together."""
    precision, recall = measures.get("precision", 0.0), measures.get("recall", 0.0)
    if precision >= 0.7 and recall >= 0.7:
        return _("Samples lie on your points and reach most of them: a good match.")
    if precision >= 0.7:
        return _("Samples lie on your points but miss parts of them (low recall): the generator "
                 "covers only some of the shape, the 2D picture of mode collapse.")
    if recall >= 0.7:
        return _("Samples reach most of your points but many fall off them (low precision): a "
                 "blurry, too-wide cloud.")
    return _("Samples neither lie on your points nor reach them yet: early training or a "
             "failure.")


DISTRIBUTION_KEYS = ("fid", "kid", "inception_score", "fid_inception", "kid_inception")
LOWER_BETTER = ("fid", "kid", "fid_inception", "kid_inception")


def distribution_gauges(measures: dict, dataset: str, previous: dict | None = None) -> None:
    """FID, KID and IS gauges under their honest names (which features), with what a good value
    is, and the one line on the Inception-v3 ones (shown beside, or how to get them)."""
    shown = [k for k in DISTRIBUTION_KEYS if k in measures]
    if not shown:
        return
    names = measure_names(dataset or "dataset")
    for col, key in zip(st.columns(len(shown)), shown, strict=True):
        delta = None
        if previous is not None and isinstance(previous.get(key), (int, float)):
            delta = f"{measures[key] - previous[key]:+.3g}"
        col.metric(
            names[key],
            f"{measures[key]:.3g}",
            delta=delta,
            delta_color="inverse" if key in LOWER_BETTER else "normal",
            help=_(EXPLANATIONS[key]),
        )
    if "fid" in measures:
        good = good_values(measures, dataset)
        st.caption(
            _("FID, KID and IS here are {explanation}.").format(explanation=names["explanation"])
            + " "
            + good
        )
    if "fid_inception" not in measures:
        st.caption(_(INCEPTION_HINT) + ".")


def measure_names(dataset: str) -> dict[str, str]:
    """fid.describe's names and explanation in the page's language (the same words in
    English)."""
    names = describe(dataset)
    shown = {key: _(name) for key, name in names.items()}
    for key, template in NAME_TEMPLATES.items():
        if template.format(dataset=dataset) == names[key]:
            shown[key] = _(template).format(dataset=dataset)
    if EXPLANATION.format(dataset=dataset) == names["explanation"]:
        shown["explanation"] = _(EXPLANATION).format(dataset=dataset)
    return shown


def good_values(measures: dict, dataset: str = "") -> str:
    """What a good FID/KID/IS is, in the terms of these samples (and the dataset's classes)."""
    floor = measures.get("fid_floor")
    text = _("Lower FID and KID are better; ")
    if floor is not None:
        text += _(
            "real data scores FID {floor} with as many samples (the noise floor), a "
            "generator stuck on one class scores hundreds. "
        ).format(floor=f"{floor:.3g}")
    else:
        text += _(
            "real data against other real data scores low (about 6 for 800 digits a side; more "
            "with fewer samples), a generator stuck on one class scores hundreds. "
        )
    classes = len(datasets.class_names(dataset)) or _("the number of classes")
    return text + _(
        "IS runs from 1 (one class) to {classes} (every class, each sample clear)."
    ).format(classes=classes)


def measures_note(snap) -> None:
    """Why some measures are missing for now (e.g. the classifier still training)."""
    note = getattr(snap, "measures_note", None)
    if note:
        st.caption(note)
