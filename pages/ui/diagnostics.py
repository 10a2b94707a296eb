"""Helpers for the Diagnostics page: where a run's measures come from (the session's run or a
checkpoint), one model's measures and pictures, and the side-by-side comparison. The gauges
(shared with the Train page) are in gauges_ui, the figures in charts_ui, the every-loss launcher
in every_loss_ui.

Computation is `playground.measures.evaluation` and `playground.measures.metrics`; this module only
draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from pages.ui import common as ui
from pages.ui import explore as explore_ui
from pages.ui import imagefolder as imagefolder_ui
from pages.ui.charts import bin_labels, density_figure, share_figure, sorted_grid, timeline_figure
from pages.ui.gauges import (
    LABELS,
    SERIES_ORDER,
    all_gauges,
    distribution_gauges,
    measure_names,
    over_time_keys,
    series_figure,
    verdict,
)
from pages.ui.i18n import _
from playground.data import registry as datasets
from playground.data import roots
from playground.lessons import pacgan
from playground.measures.fid import inception_weights
from playground.measures.metrics import EXPLANATIONS
from playground.settings.config import GANConfig
from playground.storage import reports
from playground.views import images

CURRENT = "run"  # the source key of the session's own run
SAMPLE_CHOICES = (250, 500, 1000, 2500, 5000)
MAX_COMPARE = 6


@dataclass
class Source:
    key: str  # CURRENT or a checkpoint folder
    label: str
    cfg: GANConfig
    step: int
    history: dict = field(default_factory=dict)
    measures: list[dict] = field(default_factory=list)
    picture: np.ndarray | None = None


def checkpoint_source(folder: Path, meta: dict) -> Source:
    history = meta.get("history", {})
    data = history.get("data") if isinstance(history, dict) else None
    saved = meta.get("measures", {})
    records = saved.get("records") if isinstance(saved, dict) else None
    return Source(
        key=str(folder),
        label=explore_ui.checkpoint_name(folder),
        cfg=meta["config_obj"],
        step=meta["step"],
        history=data if isinstance(data, dict) else {},
        measures=[r for r in records or [] if isinstance(r, dict) and "step" in r],
    )


def run_source(run) -> Source | None:
    if run is None or not run.has_models:
        return None
    snap = run.snapshot()
    picture = None
    if snap.latest is not None:
        if snap.kind == "points":
            picture = images.scatter_image(snap.latest.samples, None, snap.extent, size=160)
        else:
            grid = images.make_grid(snap.latest.samples[:16], ncols=4, pad=1)
            picture = explore_ui.upscale(grid, 160)
    return Source(
        CURRENT,
        _("this session's run (step {step}, {status})").format(step=f"{snap.step:,}",
                                                                 status=_(snap.status)),
        snap.config,
        snap.step,
        snap.history,
        list(snap.measures),
        picture,
    )


def all_sources(run) -> dict[str, Source]:
    found = {}
    current = run_source(run)
    if current is not None:
        found[CURRENT] = current
    for folder, meta in ui.list_checkpoints():
        found[str(folder)] = checkpoint_source(folder, meta)
    return found


def source_picker(sources: dict[str, Source]) -> Source | None:
    if not sources:
        st.info(_(
            "Nothing to diagnose yet: train a model on the **Train** page (and save it, "
            "or keep it running), or add checkpoints to `checkpoints/`."
        ))
        return None
    keys = list(sources)
    wanted = st.session_state.pop("diagnose_source", None)  # another page's "diagnose this"
    if wanted in sources:
        st.session_state["diag.source"] = wanted
    if st.session_state.get("diag.source") not in sources:
        st.session_state["diag.source"] = keys[0]
    key = st.selectbox(
        _("Model"),
        keys,
        key="diag.source",
        format_func=lambda k: sources[k].label,
        help=_("The session's run (live) or a saved checkpoint."),
    )
    return sources[key]


@st.cache_resource(max_entries=6, show_spinner=False)
def checkpoint_report(path: str, mtime_ns: int, n: int):
    """(Report, real points or None, 2D window or None) of a checkpoint, cached per file
    version and sample count."""
    saved = reports.measure_saved(path, n, seed=0)
    return saved.report, saved.real, saved.extent


def run_report(run, n: int):
    """The same for the session's run, sampled between two training steps; cached per step."""
    snap = run.snapshot()
    cache = st.session_state.setdefault("diag.run_reports", {})
    key = (run.uid, snap.step, n)
    if key not in cache:
        with st.spinner(_("Measuring the generator…")):
            report = run.measure(n, seed=0)
        points = snap.kind == "points"
        result = (report, run.real_sample(n, seed=0) if points else None,
                  snap.extent if points else None)
        cache.clear()
        cache[key] = result
    return cache[key]


def show_source(source: Source, run, n: int) -> None:
    cfg = source.cfg
    st.caption(_("{config} · step {step}").format(config=ui.plain(ui.describe_config(cfg)),
                                                    step=f"{source.step:,}"))
    entry = datasets.DATASETS[cfg.dataset]
    if cfg.is_points and not entry.is_mixture and not entry.user_points:
        st.info(_(
            "'{dataset}' has no separate modes to count: the measures need a Gaussian "
            "mixture ({mixtures}) or images."
        ).format(dataset=cfg.dataset, mixtures=", ".join(datasets.names_where(mixture=True))))
        return
    try:
        if source.key == CURRENT:
            report, real, extent = run_report(run, n)
        else:
            folder = Path(source.key)
            if entry.user_folder:  # a saved run names its folder: the Train page's rule holds
                own = [imagefolder_ui.upload_space().root]
                roots.check_app_data_folder(cfg.data_folder, own=own)
            with st.spinner(_("Measuring the generator…")):
                report, real, extent = checkpoint_report(
                    source.key, explore_ui.checkpoint_mtime(folder), n
                )
    except Exception as exc:  # e.g. MNIST not downloaded here: say so, show what was saved
        st.warning(_("Cannot measure this generator now: {reason}").format(
            reason=ui.reason(exc)))
        report = real = extent = None
    if report is not None:
        st.markdown(_("**Now** ({samples} samples)").format(
            samples=f"{report.measures.get('samples', n):,}"))
        verdict(report.measures)
        all_gauges(report.measures)
        distribution_gauges(report.measures, cfg.dataset)
        inception_section(source, n)
    timeline(source)
    if report is not None:
        pictures(report, real, extent, cfg)


def no_timeline_text(source: Source) -> str:
    """Why there is no timeline: a live run has not reached its first measure; a checkpoint was
    saved before its first, or by a version without them."""
    every = source.cfg.eval_every
    if source.key == CURRENT:
        if not every:
            return _("This run takes no measures while it trains (setting eval_every is 0).")
        return _(
            "No timeline yet: this run takes a measure every {every} steps (setting "
            "eval_every), and its first measure comes at step {every}; it is at step "
            "{step}. Press ↻ Measure again to measure it now."
        ).format(every=f"{every:,}", step=f"{source.step:,}")
    if not every:
        return _("This model holds no measures from its training: eval_every was 0.")
    return _(
        "This model holds no measures from its training, so there is no timeline: they are "
        "taken every {every} steps (setting eval_every), and it was saved before the "
        "first, or by a version without them."
    ).format(every=f"{every:,}")


def timeline(source: Source) -> None:
    records = source.measures
    if not records:
        st.caption(no_timeline_text(source))
        return
    labels = bin_labels(records[-1], source.cfg.dataset)
    fig = timeline_figure(records, labels)
    if fig is not None:
        st.plotly_chart(fig, key="diag.timeline")
    counts, rest = over_time_keys(records)
    left, right = st.columns(2)
    if counts:
        left.plotly_chart(
            series_figure(records, counts, _("Coverage over training")), key="diag.counts"
        )
    if rest:
        right.plotly_chart(
            series_figure(records, rest, _("Quality and spread over training")), key="diag.rest"
        )
    distribution_over_time(records, source.cfg.dataset)


def pictures(report, real, extent, cfg: GANConfig) -> None:
    m = report.measures
    labels = bin_labels(m, cfg.dataset)
    counts = report.counts
    if cfg.is_points and "modes_total" not in m:  # the user's own points: no modes to share
        st.plotly_chart(density_figure(report.samples, real, extent), key="diag.density")
        return
    if "modes_total" in m:
        left, right = st.columns([3, 2])
        left.plotly_chart(density_figure(report.samples, real, extent), key="diag.density")
        right.plotly_chart(
            share_figure(counts, report.reference, labels, "modes"), key="diag.shares"
        )
        return
    if report.predicted is None:
        st.image(
            images.make_grid(report.samples[:64]), caption=_("Generated samples"),
            output_format="PNG", alt=_("A grid of 64 images the generator made"),
        )
        return
    left, right = st.columns([2, 3])
    left.plotly_chart(share_figure(counts, report.reference, labels, "classes"), key="diag.shares")
    left.caption(_(
        "Only images the classifier recognises with at least 90% confidence are "
        "counted; the rest are neither here nor in any class."
    ))
    grid = sorted_grid(report.samples, report.predicted, report.confidence, labels)
    right.image(
        grid,
        caption=_("Generated samples sorted by the class the classifier sees, most "
                  "confident first; the percentage is each class's share of all samples."),
        output_format="PNG",
        alt=_("Generated images in rows by the class the classifier sees"),
    )


def compare_view(sources: dict[str, Source]) -> None:
    st.caption(_("Pick up to six models: their curves and measures are drawn on shared axes."))
    chosen = st.multiselect(
        _("Models"),
        list(sources),
        key="diag.compare",
        placeholder=_("Choose saved runs"),
        max_selections=MAX_COMPARE,
        format_func=lambda k: sources[k].label,
    )
    picked = [sources[k] for k in chosen]
    if not picked:
        return
    g_loss, d_loss = go.Figure(), go.Figure()
    for s in picked:
        steps = s.history.get("step", [])
        g_loss.add_trace(
            go.Scatter(x=steps, y=s.history.get("g_loss", []), name=s.label, mode="lines")
        )
        d_loss.add_trace(
            go.Scatter(x=steps, y=s.history.get("d_loss", []), name=s.label, mode="lines")
        )
    for fig, title in ((g_loss, _("G loss")), (d_loss, _("D loss"))):
        fig.update_layout(
            title=title,
            height=280,
            margin=dict(l=10, r=10, t=40, b=10),
            xaxis_title=_("step"),  # the runs' legend beside the plot, clear of this title
        )
    left, right = st.columns(2)
    left.plotly_chart(g_loss, key="diag.cmp.g")
    right.plotly_chart(d_loss, key="diag.cmp.d")
    present = {k for s in picked for r in s.measures for k in r}
    options = [k for k in SERIES_ORDER if k in present]
    if options:
        key = st.selectbox(
            _("Measure over time"),
            options,
            key="diag.cmp.measure",
            format_func=lambda k: _(LABELS.get(k, k)),
            help=None,
        )
        st.caption(_(EXPLANATIONS[key]))
        fig = go.Figure()
        for s in picked:
            fig.add_trace(
                go.Scatter(
                    x=[r["step"] for r in s.measures],
                    y=[r.get(key) for r in s.measures],
                    name=s.label,
                    mode="lines+markers",
                )
            )
        fig.update_layout(
            title=_(LABELS.get(key, key)),
            height=300,
            xaxis_title=_("step"),  # the runs' legend beside the plot, clear of this title
            margin=dict(l=10, r=10, t=40, b=10),
        )
        st.plotly_chart(fig, key="diag.cmp.measure_chart")
    else:
        st.caption(_("None of these recorded measures during training."))
    for col, s in zip(st.columns(len(picked)), picked, strict=True):
        picture = s.picture
        if picture is None and s.key != CURRENT:
            picture = explore_ui.thumbnail(s.key, explore_ui.checkpoint_mtime(Path(s.key)))
        if picture is not None:
            col.image(picture, output_format="PNG",
                      alt=_("Samples of {name}").format(name=s.label))
        col.caption(
            f"**{s.label}**  \n"
            + _("{loss} · step {step}").format(loss=s.cfg.loss, step=f"{s.step:,}")
            + (f"  \n{_summary(s.measures[-1])}" if s.measures else "")
        )


def _summary(record: dict) -> str:
    for held, total in (("modes_held", "modes_total"), ("classes_held", "classes_total")):
        if held in record:
            fid = f" · FID {record['fid']:.3g}" if "fid" in record else ""
            unit = _("modes") if held == "modes_held" else _("classes")
            return _("{held}/{total} {unit} held").format(
                held=record[held], total=record[total], unit=unit) + fid
    return ""


@st.cache_data(max_entries=64, show_spinner=False)
def pacgan_measures(path: str, mtime_ns: int) -> dict:
    """PacGAN's measures of a saved run, cached per file version."""
    return pacgan.measure_checkpoint(path)


def pacgan_table(sources: dict[str, Source]) -> None:
    """PacGAN's Table 1 (ring and grid) for chosen saved runs: runs with the same settings but
    the seed form one row (mean ± standard error), beside the published rows."""
    saved = {k: s for k, s in sources.items() if k != CURRENT and s.cfg.dataset in pacgan.PUBLISHED}
    with st.expander(_("PacGAN's table for saved runs (ring and grid of Gaussians)")):
        if not saved:
            st.caption(_("Save runs on ring8 or grid25 to measure them as PacGAN did."))
            return
        chosen = st.multiselect(
            _("Saved runs"), list(saved), key="diag.pacgan",
            placeholder=_("Choose saved runs"),
            format_func=lambda k: saved[k].label,
            help=_("Runs that differ only in their seed are averaged into one row."),
        )
        rows = pacgan.group_runs({saved[k].label: saved[k].cfg for k in chosen})
        by_label = {saved[k].label: k for k in chosen}
        for dataset, modes in pacgan.PUBLISHED_MODES.items():
            mine = {}
            for row, labels in rows.items():
                if saved[by_label[labels[0]]].cfg.dataset != dataset:
                    continue
                with st.spinner(_("Measuring with PacGAN's measures…")):
                    results = [
                        pacgan_measures(by_label[lb], explore_ui.checkpoint_mtime(by_label[lb]))
                        for lb in labels
                    ]
                mine[row] = pacgan.summarise(results)
            if mine:
                st.markdown(_("**{dataset}** (modes of {modes}; mean ± standard error)").format(
                    dataset=dataset, modes=modes))
                st.dataframe(_table(pacgan.table_rows(dataset, mine)), hide_index=True)
        st.caption(_(
            "Published rows: {source}. Measured as there: 2,500 samples; high "
            "quality within 3σ of the nearest mode; a mode is covered by one high-quality "
            "sample; reverse KL of the modes' histogram. `gan-playground reproduce pacgan` "
            "trains the project's recipes over ten seeds for the same table."
        ).format(source=_(pacgan.PUBLISHED_SOURCE)))


def _table(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """PacGAN's table with its column names and the published rows' tag in the page's
    language."""
    tag = " (published)"
    return [{_(column): (value[: -len(tag)] + _(tag) if column == "row" and value.endswith(tag)
                         else value) for column, value in row.items()} for row in rows]


def distribution_over_time(records: list[dict], dataset: str) -> None:
    """FID and IS over training, when the records hold them."""
    if not any("fid" in r for r in records):
        return
    names = measure_names(dataset or "dataset")
    left, right = st.columns(2)
    for col, key, floor in ((left, "fid", "fid_floor"), (right, "inception_score", None)):
        keys = [key] + ([floor] if floor else [])
        fig = series_figure(records, keys, _("{measure} over training").format(measure=names[key]))
        col.plotly_chart(fig, key=f"diag.over.{key}")


@st.cache_data(max_entries=8, show_spinner=False)
def inception_report(path: str, mtime_ns: int, n: int) -> dict:
    """Inception-v3 FID/KID of a checkpoint, cached per file version and sample count."""
    # device="auto": a GPU when there is one
    measures = reports.measure_saved(path, n, seed=0, device="auto", inception=True).report.measures
    return {k: measures[k] for k in ("fid_inception", "kid_inception") if k in measures}


def inception_section(source: Source, n: int) -> None:
    """Standard Inception-v3 FID/KID of a saved image model, on request when the weights are on
    disk (slow on a CPU), shown beside the classifier ones."""
    if source.cfg.is_points or source.key == CURRENT or inception_weights() is None:
        return
    folder = Path(source.key)
    wanted = st.toggle(
        _("Inception-v3 FID/KID (as in papers)"),
        key=f"diag.inception.{source.key}",
        help=_("Runs Inception-v3 on every sample at 299 px: seconds on a GPU, minutes on a CPU."),
    )
    if wanted:
        with st.spinner(_("Measuring with Inception-v3 (minutes on a CPU)…")):
            measures = inception_report(source.key, explore_ui.checkpoint_mtime(folder), n)
        distribution_gauges(measures, source.cfg.dataset)
