"""Helpers for the Diagnostics page and the Train page's live gauges: where a run's measures
come from (the session's run or a checkpoint), the gauges, the figures (mode timeline, densities,
class histogram, grid sorted by class) and the side-by-side comparison.

Computation is `playground.evaluation` and `playground.metrics`; this module only draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image, ImageDraw, ImageFont
from plotly.subplots import make_subplots

from pages import explore_ui, ui
from playground import backends, capacity, datasets, evaluation, images
from playground.config import ConfigError, GANConfig
from playground.metrics import EXPLANATIONS, coverage_2d

CURRENT = "run"  # the source key of the session's own run
SAMPLE_CHOICES = (250, 500, 1000, 2500, 5000)
MAX_COMPARE = 6
PER_CLASS = 8  # images per row of the grid sorted by class

# (key, label) of the gauges, by what was measured.
MODE_GAUGES = (
    ("modes_held", "Modes held"),
    ("modes_covered", "Modes covered"),
    ("high_quality_fraction", "High quality"),
    ("reverse_kl", "Reverse KL"),
)
CLASS_GAUGES = (
    ("classes_covered", "Classes covered"),
    ("classes_held", "Classes held"),
    ("confident_fraction", "Recognisable"),
    ("reverse_kl", "Reverse KL"),
)
MANIFOLD_GAUGES = (
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("density", "Density"),
    ("coverage", "Coverage"),
)
IMAGE_GAUGES = (
    ("diversity_ratio", "Diversity"),
    ("duplicate_rate", "Near-duplicates"),
    ("nearest_train_distance", "Nearest training image"),
    ("nearest_train_ratio", "… relative to real"),
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
    "diversity_ratio",
    "duplicate_rate",
    "nearest_train_ratio",
    "fid",
    "kid",
    "inception_score",
)
LABELS = dict(MODE_GAUGES + CLASS_GAUGES + MANIFOLD_GAUGES + IMAGE_GAUGES)
# Where the dataset is not known (comparing runs); elsewhere fid.describe(dataset) names them.
LABELS |= {
    "fid": "FID (classifier features)",
    "kid": "KID (classifier features)",
    "inception_score": "IS (classifier)",
    "fid_floor": "FID of real data",
}


# ---------------------------------------------------------------------- numbers
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
        lower_better = key in ("reverse_kl", "duplicate_rate")
        col.metric(
            label,
            format_value(key, measures[key], measures),
            delta=delta if delta not in ("+0", "+0%") else None,
            delta_color="inverse" if lower_better else "normal",
            help=EXPLANATIONS[key],
        )


def verdict(measures: dict) -> None:
    """One coloured sentence: collapsed, partial or healthy."""
    for unit, total_key, held_key, covered_key, good_key in (
        ("modes", "modes_total", "modes_held", "modes_covered", "high_quality_fraction"),
        ("classes", "classes_total", "classes_held", "classes_covered", "confident_fraction"),
    ):
        if total_key in measures:
            total, held = measures[total_key], measures[held_key]
            covered, good = measures[covered_key], measures.get(good_key, 1.0)
            if held <= total // 2:
                poor = f"; only {good:.0%} of the samples look like real data" if good < 0.5 else ""
                st.error(
                    f"**Mode collapse:** only {held} of {total} {unit} held "
                    f"({covered} visited at all{poor})."
                )
            elif held < total:
                st.warning(
                    f"**Partial coverage:** {held} of {total} {unit} held, {covered} covered."
                )
            else:
                st.success(f"**All {total} {unit} held.**")
            return


def explain(keys) -> None:
    with st.expander("What do these numbers mean?"):
        st.markdown("\n".join(f"- **{LABELS.get(k, k)}**: {EXPLANATIONS[k]}" for k, _ in keys))


def all_gauges(measures: dict, previous: dict | None = None) -> None:
    groups = [MODE_GAUGES, CLASS_GAUGES, MANIFOLD_GAUGES, IMAGE_GAUGES]
    present = [g for g in groups if g[0][0] in measures]  # a group shows when its lead does
    for group in present:
        gauges(measures, group, previous)
    explain([item for g in present for item in g if item[0] in measures])


# ---------------------------------------------------------------------- figures
def bin_labels(measures: dict, dataset: str) -> list[str]:
    """Names of the modes or classes of a histogram."""
    if "modes_total" in measures:
        return [f"mode {k}" for k in range(measures["modes_total"])]
    names = datasets.class_names(dataset)
    k = measures.get("classes_total") or len(names)
    return list(names) if names and len(names) == k else [str(c) for c in range(k)]


def _counts(record: dict) -> list[int] | None:
    counts = record.get("mode_counts", record.get("class_histogram"))
    return counts if isinstance(counts, list) else None


def timeline_figure(records: list[dict], labels: list[str]) -> go.Figure | None:
    """Modes (or classes) × step, coloured by the share of evaluated samples in each: a
    generator rotating through the modes draws a staircase."""
    rows = [(r["step"], _counts(r), r.get("samples")) for r in records if _counts(r)]
    rows = [(s, c, n) for s, c, n in rows if len(c) == len(labels)]
    if not rows:
        return None
    steps = [s for s, _, _ in rows]
    shares = np.array([np.asarray(c, float) / max(n or sum(c), 1) for _, c, n in rows]).T
    fig = go.Figure(
        go.Heatmap(
            z=shares,
            x=steps,
            y=labels,
            colorscale="Viridis",
            zmin=0,
            colorbar=dict(title="share", thickness=10),
            hovertemplate="step %{x}<br>%{y}: %{z:.1%} of samples<extra></extra>",
        )
    )
    fig.update_layout(
        title="Mode timeline: share of samples in each mode over training",
        height=140 + 18 * len(labels),
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title="step",
        yaxis=dict(type="category", autorange="reversed"),  # every label, first mode on top
    )
    return fig


def series_figure(records: list[dict], keys: list[str], title: str) -> go.Figure:
    fig = go.Figure()
    steps = [r["step"] for r in records]
    for key in keys:
        values = [r.get(key) for r in records]
        if any(v is not None for v in values):
            fig.add_trace(
                go.Scatter(x=steps, y=values, name=LABELS.get(key, key), mode="lines+markers")
            )
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left", y=0.97, yanchor="top"),
        height=280,
        margin=dict(l=10, r=10, t=64, b=10),
        xaxis_title="step",
        legend=ui.LEGEND_ABOVE,
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
            "diversity_ratio",
        )
        if k in present
    ]
    return counts, rest


def density_figure(
    samples: np.ndarray, real: np.ndarray, extent: tuple[float, float, float, float], bins: int = 60
) -> go.Figure:
    """Histograms of generated (orange) and real (blue) points over the same window, each
    shaded from white up to its own densest cell on a square-root scale, so a faint spread
    stays visible next to the eight sharp real modes."""
    x0, x1, y0, y1 = extent
    edges = (np.linspace(x0, x1, bins + 1), np.linspace(y0, y1, bins + 1))
    fig = make_subplots(1, 2, subplot_titles=("generated", "real"), horizontal_spacing=0.04)
    centres = [(e[:-1] + e[1:]) / 2 for e in edges]
    for i, (points, colour) in enumerate(((samples, "#ff7f0e"), (real, "#1f77b4")), start=1):
        points = points[np.isfinite(points).all(axis=1)]
        grid = np.histogram2d(points[:, 0], points[:, 1], bins=edges)[0].T
        fig.add_trace(
            go.Heatmap(
                z=np.sqrt(grid),
                x=centres[0],
                y=centres[1],
                zmin=0,
                zmax=math.sqrt(max(float(grid.max()), 1.0)),
                colorscale=[[0, "white"], [1, colour]],
                showscale=False,
                hoverinfo="skip",
            ),
            1,
            i,
        )
        fig.update_yaxes(scaleanchor=f"x{i if i > 1 else ''}", row=1, col=i)
    fig.update_layout(
        title="Density: generated against true",
        height=380,
        margin=dict(l=10, r=10, t=60, b=10),
    )
    return fig


def share_figure(
    counts: list[int], reference: list[float], labels: list[str], unit: str
) -> go.Figure:
    """Generated share of each mode or class beside the true share."""
    total = max(sum(counts), 1)
    fig = go.Figure(
        [
            go.Bar(
                x=labels, y=[c / total for c in counts], name="generated", marker_color="#ff7f0e"
            ),
            go.Bar(x=labels, y=reference, name="real data", marker_color="#1f77b4"),
        ]
    )
    fig.update_xaxes(type="category")  # every label, digits included
    fig.update_layout(
        title=f"Share of {unit}: generated vs real",
        barmode="group",
        height=300,
        yaxis_tickformat=".0%",
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=-0.2),
    )
    return fig


def sorted_grid(
    samples: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    labels: list[str],
    per_class: int = PER_CLASS,
    scale: int = 2,
) -> np.ndarray:
    """One row per class: the label and share, then the most confidently recognised samples
    of that class (the grid sorted by predicted class). (H, W, 3) uint8."""
    n, h, w, c = samples.shape
    pad, label_w = 2, 96
    cell_h, cell_w = h * scale + pad, w * scale + pad
    k = len(labels)
    canvas = np.full((k * cell_h + pad, label_w + per_class * cell_w + pad, 3), 24, np.uint8)
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=14)
    for row, name in enumerate(labels):
        members = np.flatnonzero(predicted == row)
        members = members[np.argsort(-confidence[members])][:per_class]
        top = pad + row * cell_h
        share = (predicted == row).mean() if n else 0.0
        text = f"{name[:11]}\n{share:.0%}"
        draw.multiline_text((6, top + cell_h // 2 - 16), text, fill=(230, 230, 230), font=font)
        for col, index in enumerate(members):
            tile = samples[index].repeat(scale, 0).repeat(scale, 1)
            tile = np.repeat(tile, 3, axis=2) if c == 1 else tile
            left = label_w + col * cell_w
            picture.paste(Image.fromarray(tile), (left, top))
    return np.asarray(picture)


# ---------------------------------------------------------------------- sources
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
        f"this session's run (step {snap.step:,}, {snap.status})",
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
        st.info(
            "Nothing to diagnose yet: train a model on the **Train** page (and save it, "
            "or keep it running), or add checkpoints to `checkpoints/`."
        )
        return None
    keys = list(sources)
    wanted = st.session_state.pop("diagnose_source", None)  # another page's "diagnose this"
    if wanted in sources:
        st.session_state["diag.source"] = wanted
    if st.session_state.get("diag.source") not in sources:
        st.session_state["diag.source"] = keys[0]
    key = st.selectbox(
        "Model",
        keys,
        key="diag.source",
        format_func=lambda k: sources[k].label,
        help="The session's run (live) or a saved checkpoint.",
    )
    return sources[key]


# ---------------------------------------------------------------------- reports
@st.cache_resource(max_entries=6, show_spinner="Measuring the generator…")
def checkpoint_report(path: str, mtime_ns: int, n: int):
    """(Report, real points or None, 2D window or None) of a checkpoint, cached per file
    version and sample count."""
    from playground.checkpoints import load_checkpoint

    trainer = load_checkpoint(path, device="cpu", with_optimizers=False)
    return _report_of(trainer, evaluation.diagnose(trainer, n, seed=0), n)


def _report_of(trainer, report, n: int):
    if trainer.data.kind != "points":
        return report, None, None
    real, _ = trainer.data.sample(n, torch.Generator(trainer.device).manual_seed(0))
    return report, real.cpu().numpy(), trainer.extent()


def run_report(run, n: int):
    """The same for the session's run, sampled between two training steps; cached per step."""
    snap = run.snapshot()
    cache = st.session_state.setdefault("diag.run_reports", {})
    key = (run.uid, snap.step, n)
    if key not in cache:
        with st.spinner("Measuring the generator…"):
            report = run.measure(n, seed=0)
        points = snap.kind == "points"
        result = (report, run.real_sample(n, seed=0) if points else None,
                  snap.extent if points else None)
        cache.clear()
        cache[key] = result
    return cache[key]


# ---------------------------------------------------------------------- one model
def show_source(source: Source, run, n: int) -> None:
    cfg = source.cfg
    st.caption(f"{ui.describe_config(cfg)} · step {source.step:,}")
    if cfg.is_points and not datasets.DATASETS[cfg.dataset].is_mixture:
        st.info(
            f"'{cfg.dataset}' has no separate modes to count: the measures need a Gaussian "
            f"mixture ({', '.join(datasets.names_where(mixture=True))}) or images."
        )
        return
    try:
        if source.key == CURRENT:
            report, real, extent = run_report(run, n)
        else:
            folder = Path(source.key)
            report, real, extent = checkpoint_report(
                source.key, explore_ui.checkpoint_mtime(folder), n
            )
    except Exception as exc:  # e.g. MNIST not downloaded here: say so, show what was saved
        st.warning(f"Cannot measure this generator now: {exc}")
        report = real = extent = None
    if report is not None:
        st.markdown(f"**Now** ({report.measures.get('samples', n):,} samples)")
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
            return "This run takes no measures while it trains (setting eval_every is 0)."
        return (
            f"No timeline yet: this run takes a measure every {every:,} steps (setting "
            f"eval_every), and its first measure comes at step {every:,}; it is at step "
            f"{source.step:,}. Press ↻ Measure again to measure it now."
        )
    if not every:
        return "This model holds no measures from its training: eval_every was 0."
    return (
        "This model holds no measures from its training, so there is no timeline: they are "
        f"taken every {every:,} steps (setting eval_every), and it was saved before the "
        "first, or by a version without them."
    )


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
            series_figure(records, counts, "Coverage over training"), key="diag.counts"
        )
    if rest:
        right.plotly_chart(
            series_figure(records, rest, "Quality and spread over training"), key="diag.rest"
        )
    distribution_over_time(records, source.cfg.dataset)


def pictures(report, real, extent, cfg: GANConfig) -> None:
    m = report.measures
    labels = bin_labels(m, cfg.dataset)
    counts = report.counts
    if "modes_total" in m:
        left, right = st.columns([3, 2])
        left.plotly_chart(density_figure(report.samples, real, extent), key="diag.density")
        right.plotly_chart(
            share_figure(counts, report.reference, labels, "modes"), key="diag.shares"
        )
        return
    if report.predicted is None:
        st.image(
            images.make_grid(report.samples[:64]), caption="Generated samples", output_format="PNG"
        )
        return
    left, right = st.columns([2, 3])
    left.plotly_chart(share_figure(counts, report.reference, labels, "classes"), key="diag.shares")
    left.caption(
        "Only images the classifier recognises with at least 90% confidence are "
        "counted; the rest are neither here nor in any class."
    )
    grid = sorted_grid(report.samples, report.predicted, report.confidence, labels)
    right.image(
        grid,
        caption="Generated samples sorted by the class the classifier sees, most "
        "confident first; the percentage is each class's share of all samples.",
        output_format="PNG",
    )


# ---------------------------------------------------------------------- comparing runs
def compare_view(sources: dict[str, Source]) -> None:
    st.caption("Pick up to six models: their curves and measures are drawn on shared axes.")
    chosen = st.multiselect(
        "Models",
        list(sources),
        key="diag.compare",
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
    for fig, title in ((g_loss, "G loss"), (d_loss, "D loss")):
        fig.update_layout(
            title=title,
            height=280,
            margin=dict(l=10, r=10, t=40, b=10),
            xaxis_title="step",  # the runs' legend beside the plot, clear of this title
        )
    left, right = st.columns(2)
    left.plotly_chart(g_loss, key="diag.cmp.g")
    right.plotly_chart(d_loss, key="diag.cmp.d")
    present = {k for s in picked for r in s.measures for k in r}
    options = [k for k in SERIES_ORDER if k in present]
    if options:
        key = st.selectbox(
            "Measure over time",
            options,
            key="diag.cmp.measure",
            format_func=lambda k: LABELS.get(k, k),
            help=None,
        )
        st.caption(EXPLANATIONS[key])
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
            title=LABELS.get(key, key),
            height=300,
            xaxis_title="step",  # the runs' legend beside the plot, clear of this title
            margin=dict(l=10, r=10, t=40, b=10),
        )
        st.plotly_chart(fig, key="diag.cmp.measure_chart")
    else:
        st.caption("None of these recorded measures during training.")
    for col, s in zip(st.columns(len(picked)), picked, strict=True):
        picture = s.picture
        if picture is None and s.key != CURRENT:
            picture = explore_ui.thumbnail(s.key, explore_ui.checkpoint_mtime(Path(s.key)))
        if picture is not None:
            col.image(picture, output_format="PNG")
        col.caption(
            f"**{s.label}**  \n{s.cfg.loss} · step {s.step:,}"
            + (f"  \n{_summary(s.measures[-1])}" if s.measures else "")
        )


def _summary(record: dict) -> str:
    for held, total in (("modes_held", "modes_total"), ("classes_held", "classes_total")):
        if held in record:
            fid = f" · FID {record['fid']:.3g}" if "fid" in record else ""
            return f"{record[held]}/{record[total]} {held.split('_')[0]} held{fid}"
    return ""


# ---------------------------------------------------------------------- every loss, live
@dataclass
class MultiSlot:
    runner: object | None = None

    def replace(self, runner) -> None:
        if self.runner is not None:
            self.runner.stop(wait=10.0)
        self.runner = runner


@st.cache_resource(
    scope="session",
    show_spinner=False,
    on_release=lambda slot: slot.runner and slot.runner.stop(wait=None),
)
def multi_slot() -> MultiSlot:
    return MultiSlot()


def every_loss_configs(dataset: str) -> list[GANConfig]:
    from playground.config import LOSSES, preset

    base = preset(f"{dataset}-stable")
    return [base.replace(loss=loss) for loss in LOSSES]


def every_loss_section() -> None:
    """Every loss on the same data and settings, trained as one batched computation."""
    from playground.config import LOSSES

    st.subheader("Every loss on the same data, live")
    st.caption(
        f"One click trains the same generator and discriminator under each of the {len(LOSSES)} "
        "losses, side by side (one batched computation), so you can watch which ones "
        "keep all the modes."
    )
    cols = st.columns([1, 2])
    mixtures = datasets.names_where(mixture=True)
    dataset = cols[0].selectbox("Data", mixtures, key="diag.multi.dataset")
    slot = multi_slot()
    if cols[1].button(
        "▶ Train every loss on the same data, live", key="diag.multi.start", type="primary"
    ):
        slot.replace(None)  # this session's previous every-loss run frees its slot first
        try:  # here, or as one actor on the Ray cluster (backend setting)
            runner = backends.make_multi_run(every_loss_configs(dataset))
        except (backends.ClusterUnavailable, ConfigError) as exc:
            st.error(f"The run could not start: {exc}")
            return
        if backends.try_start(runner):  # a server-wide slot, like any run (Ray: its queue)
            slot.replace(runner)
        else:
            busy = capacity.SLOTS.status()
            st.error(f"All {busy.limit} training slots on this server are in use ({busy.active} "
                     "runs active): try again when one finishes or is stopped.")
    if slot.runner is not None:
        every_loss_live(slot.runner)


def every_loss_live(runner) -> None:
    from playground.data import mixture_spec

    active = runner.snapshot().active

    @st.fragment(run_every=ui.REFRESH_SECONDS if active else None)
    def view() -> None:
        snap = runner.snapshot()
        st.progress(
            min(1.0, snap.step / max(snap.total_steps, 1)),
            text=f"{snap.status} · step {snap.step:,} / {snap.total_steps:,}",
        )
        if snap.error:
            st.error(snap.error)
        members = snap.members
        if not members or members[0].latest is None:
            return
        centres, sigma = mixture_spec(members[0].config.dataset)
        fig_loss, fig_held = go.Figure(), go.Figure()
        for m in members:
            name = m.config.loss
            fig_loss.add_trace(
                go.Scatter(x=m.history.get("step", []), y=m.history.get("g_loss", []), name=name)
            )
            held = [coverage_2d(f.samples, centres, sigma)["modes_held"] for f in m.frames]
            fig_held.add_trace(
                go.Scatter(x=[f.step for f in m.frames], y=held, name=name, mode="lines+markers")
            )
        fig_loss.update_layout(title="G loss", height=260, margin=dict(l=10, r=10, t=40, b=10))
        fig_held.update_layout(
            title=f"Modes held (of {len(centres)}, on the 512 fixed-noise samples)",
            height=260,
            margin=dict(l=10, r=10, t=40, b=10),
        )
        left, right = st.columns(2)
        left.plotly_chart(fig_loss, key="diag.multi.loss")
        right.plotly_chart(fig_held, key="diag.multi.held")
        for col, m in zip(st.columns(len(members)), members, strict=True):
            frame = m.latest
            col.image(
                images.scatter_image(frame.samples, None, m.extent, size=200), output_format="PNG"
            )
            measures = coverage_2d(frame.samples, centres, sigma)
            col.caption(
                f"**{m.config.loss}**  \n{measures['modes_held']}/"
                f"{measures['modes_total']} modes held"
            )
        if active and not snap.active:
            st.rerun()

    view()


# ---------------------------------------------------------------------- Train page gauges
def live_gauges(snap) -> None:
    """The Train page's live mode-collapse gauges: the latest measures and the counts over
    time. Called from train_ui.draw()."""
    records = list(getattr(snap, "measures", ()) or ())
    cfg = snap.config
    if not records:
        if (
            cfg is not None
            and cfg.eval_every
            and (datasets.DATASETS[cfg.dataset].is_mixture or not cfg.is_points)
        ):
            st.caption(
                f"Mode-collapse measures appear every {cfg.eval_every:,} steps "
                "(setting eval_every); the Diagnostics page explains them."
            )
        return
    last = records[-1]
    previous = records[-2] if len(records) > 1 else None
    keys = MODE_GAUGES if "modes_total" in last else CLASS_GAUGES
    if not any(k in last for k, _ in keys):
        keys = IMAGE_GAUGES
    left, right = st.columns([3, 2])
    with left:
        st.markdown(
            f"**Mode collapse** (measured at step {last['step']:,} on "
            f"{last.get('samples', 0):,} samples; details on the Diagnostics page)"
        )
        gauges(last, keys, previous)
        verdict(last)
        distribution_gauges(last, cfg.dataset if cfg is not None else "", previous)
    measures_note(snap)
    counts, rest = over_time_keys(records)
    with right:
        st.plotly_chart(
            series_figure(records, counts or rest, "Over training"), key="diag.live_chart"
        )


# ---------------------------------------------------------------------- PacGAN's table
@st.cache_data(max_entries=64, show_spinner="Measuring with PacGAN's measures…")
def pacgan_measures(path: str, mtime_ns: int) -> dict:
    """PacGAN's measures of a saved run, cached per file version."""
    from playground import pacgan

    return pacgan.measure_checkpoint(path)


def pacgan_table(sources: dict[str, Source]) -> None:
    """PacGAN's Table 1 (ring and grid) for chosen saved runs: runs with the same settings but
    the seed form one row (mean ± standard error), beside the published rows."""
    from playground import pacgan

    saved = {k: s for k, s in sources.items() if k != CURRENT and s.cfg.dataset in pacgan.PUBLISHED}
    with st.expander("PacGAN's table for saved runs (ring and grid of Gaussians)"):
        if not saved:
            st.caption("Save runs on ring8 or grid25 to measure them as PacGAN did.")
            return
        chosen = st.multiselect(
            "Saved runs", list(saved), key="diag.pacgan", format_func=lambda k: saved[k].label,
            help="Runs that differ only in their seed are averaged into one row.",
        )
        rows = pacgan.group_runs({saved[k].label: saved[k].cfg for k in chosen})
        by_label = {saved[k].label: k for k in chosen}
        for dataset, modes in pacgan.PUBLISHED_MODES.items():
            mine = {}
            for row, labels in rows.items():
                if saved[by_label[labels[0]]].cfg.dataset != dataset:
                    continue
                results = [
                    pacgan_measures(by_label[lb], explore_ui.checkpoint_mtime(by_label[lb]))
                    for lb in labels
                ]
                mine[row] = pacgan.summarise(results)
            if mine:
                st.markdown(f"**{dataset}** (modes of {modes}; mean ± standard error)")
                st.dataframe(pacgan.table_rows(dataset, mine), hide_index=True)
        st.caption(
            f"Published rows: {pacgan.PUBLISHED_SOURCE}. Measured as there: 2,500 samples; high "
            "quality within 3σ of the nearest mode; a mode is covered by one high-quality "
            "sample; reverse KL of the modes' histogram. `gan-playground reproduce pacgan` "
            "trains the project's recipes over ten seeds for the same table."
        )


# ---------------------------------------------------------------------- FID, KID, IS
DISTRIBUTION_KEYS = ("fid", "kid", "inception_score", "fid_inception", "kid_inception")
LOWER_BETTER = ("fid", "kid", "fid_inception", "kid_inception")


def distribution_gauges(measures: dict, dataset: str, previous: dict | None = None) -> None:
    """FID, KID and IS gauges under their honest names (which features), with what a good value
    is, and the one line on the Inception-v3 ones (shown beside, or how to get them)."""
    from playground.fid import INCEPTION_HINT, describe

    shown = [k for k in DISTRIBUTION_KEYS if k in measures]
    if not shown:
        return
    names = describe(dataset or "dataset")
    for col, key in zip(st.columns(len(shown)), shown, strict=True):
        delta = None
        if previous is not None and isinstance(previous.get(key), (int, float)):
            delta = f"{measures[key] - previous[key]:+.3g}"
        col.metric(
            names[key],
            f"{measures[key]:.3g}",
            delta=delta,
            delta_color="inverse" if key in LOWER_BETTER else "normal",
            help=EXPLANATIONS[key],
        )
    if "fid" in measures:
        good = good_values(measures, dataset)
        st.caption(f"FID, KID and IS here are {names['explanation']}. " + good)
    if "fid_inception" not in measures:
        st.caption(INCEPTION_HINT + ".")


def good_values(measures: dict, dataset: str = "") -> str:
    """What a good FID/KID/IS is, in the terms of these samples (and the dataset's classes)."""
    floor = measures.get("fid_floor")
    text = "Lower FID and KID are better; "
    if floor is not None:
        text += (
            f"real data scores FID {floor:.3g} with as many samples (the noise floor), a "
            "generator stuck on one class scores hundreds. "
        )
    else:
        text += (
            "real data against other real data scores low (about 6 for 800 digits a side; more "
            "with fewer samples), a generator stuck on one class scores hundreds. "
        )
    classes = len(datasets.class_names(dataset)) or "the number of classes"
    return text + f"IS runs from 1 (one class) to {classes} (every class, each sample clear)."


def distribution_over_time(records: list[dict], dataset: str) -> None:
    """FID and IS over training, when the records hold them."""
    from playground.fid import describe

    if not any("fid" in r for r in records):
        return
    names = describe(dataset or "dataset")
    left, right = st.columns(2)
    for col, key, floor in ((left, "fid", "fid_floor"), (right, "inception_score", None)):
        keys = [key] + ([floor] if floor else [])
        fig = series_figure(records, keys, names[key] + " over training")
        col.plotly_chart(fig, key=f"diag.over.{key}")


def measures_note(snap) -> None:
    """Why some measures are missing for now (e.g. the classifier still training)."""
    note = (getattr(snap, "info", None) or {}).get("measures_note")
    if note:
        st.caption(note)


@st.cache_data(max_entries=8, show_spinner="Measuring with Inception-v3 (minutes on a CPU)…")
def inception_report(path: str, mtime_ns: int, n: int) -> dict:
    """Inception-v3 FID/KID of a checkpoint, cached per file version and sample count."""
    from playground.checkpoints import load_checkpoint

    trainer = load_checkpoint(path, device="auto", with_optimizers=False)  # a GPU when there is one
    measures = evaluation.diagnose(trainer, n, seed=0, inception=True).measures
    return {k: measures[k] for k in ("fid_inception", "kid_inception") if k in measures}


def inception_section(source: Source, n: int) -> None:
    """Standard Inception-v3 FID/KID of a saved image model, on request when the weights are on
    disk (slow on a CPU), shown beside the classifier ones."""
    from playground.fid import inception_weights

    if source.cfg.is_points or source.key == CURRENT or inception_weights() is None:
        return
    folder = Path(source.key)
    wanted = st.toggle(
        "Inception-v3 FID/KID (as in papers)",
        key=f"diag.inception.{source.key}",
        help="Runs Inception-v3 on every sample at 299 px: seconds on a GPU, minutes on a CPU.",
    )
    if wanted:
        measures = inception_report(source.key, explore_ui.checkpoint_mtime(folder), n)
        distribution_gauges(measures, source.cfg.dataset)
