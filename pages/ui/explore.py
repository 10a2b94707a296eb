"""Helpers for the Latent explorer and Runs pages: where a model comes from (run, checkpoint
folder, uploaded zip), the latent controls, and the figures. Computation is `playground.latent`.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from pages.ui import common as ui
from pages.ui import i18n
from pages.ui.i18n import _
from playground import latent, onnxmodel
from playground.data import registry as datasets
from playground.latent import LatentModel, Vector
from playground.storage import store
from playground.storage.checkpoints import META, CheckpointError, read_meta
from playground.views import images

CURRENT_RUN, UPLOAD = "run", "upload"  # source choices besides checkpoint folders
ONNX_UPLOAD = "onnx"
SLIDER_RANGE = 3.0  # latent sliders span ±3 standard deviations of the N(0, 1) prior
N_DIRECTIONS = 4
N_CLOUD = 1000  # model samples drawn under the highlighted point of a 2D model
IMAGE_PX = 256  # the explored image is shown about this large (nearest-neighbour upscaling)


# ---------------------------------------------------------------------- loading models
def checkpoint_mtime(folder: str | Path) -> int:
    return (Path(folder) / META).stat().st_mtime_ns


@st.cache_resource(max_entries=8, show_spinner=False)
def load_model(path: str, mtime_ns: int) -> LatentModel:
    """A checkpoint's generator, cached per (folder, modification time): a re-saved run reloads."""
    return latent.load_latent_model(path, device="cpu")


@st.cache_resource(max_entries=4, show_spinner=False)
def load_uploaded(digest: str, _data: bytes) -> LatentModel:
    """An uploaded zip's generator, keyed by the zip's SHA-256. The tensors are read into
    memory, so the temporary folder is gone as soon as this returns."""
    with tempfile.TemporaryDirectory(prefix="gan-upload-") as folder:
        store.extract_checkpoint_zip(_data, Path(folder))
        return latent.load_latent_model(folder, device="cpu")


# ---------------------------------------------------------------------- the source picker
def run_model(run, refresh: bool = False) -> LatentModel:
    """This session's frozen copy of the live run's generator, taken once and again on refresh
    (copying at every slider move would cost a model copy and wait on the training step)."""
    held = st.session_state.get("explore.run_model")
    if refresh or held is None or held[0] != run.uid:
        # The run copies G between two steps (never mid-update) and hands it over as plain data.
        model = LatentModel.from_state(run.generator_state())
        held = (run.uid, model)
        st.session_state["explore.run_model"] = held
    return held[1]


def checkpoint_name(folder: Path) -> str:
    """The folder relative to checkpoints/ (e.g. examples/ring8-stable), else its full path."""
    try:
        return str(folder.relative_to(ui.CHECKPOINTS))
    except ValueError:
        return str(folder)


def checkpoint_label(folder: Path, meta: dict) -> str:
    config = ui.describe_config(meta["config_obj"])
    return _("{name} — {config} · step {step}").format(
        name=checkpoint_name(folder), config=config, step=f"{meta['step']:,}"
    )


def source_picker() -> tuple[LatentModel, str] | None:
    """The model to explore and a key naming it (for caches and widget keys), or None when
    there is nothing (yet) to show; errors are shown, never raised."""
    run = ui.run_slot().run
    has_run = run is not None and run.has_models
    labels: dict[str, str] = {}
    if has_run:
        labels[CURRENT_RUN] = _("Current run ({config})").format(
            config=ui.describe_config(run.snapshot().config)
        )
    for folder, meta in ui.list_checkpoints():
        labels[str(folder)] = checkpoint_label(folder, meta)
    _apply_requested_source(labels)
    labels[UPLOAD] = _("Upload a checkpoint (.zip)")
    labels[ONNX_UPLOAD] = _("Upload an ONNX generator (.onnx)")
    if st.session_state.get("explore.source") not in labels:
        st.session_state.pop("explore.source", None)
    choice = st.selectbox(
        _("Model"),
        list(labels),
        format_func=labels.get,
        key="explore.source",
        help=_("What to explore: the run training in this session (a snapshot of its "
               "generator), a saved checkpoint under checkpoints/, a checkpoint zip from the Runs "
               "page, or a generator trained elsewhere and exported to ONNX."),
    )
    if choice == CURRENT_RUN:
        return _current_run_source(run)
    if choice == UPLOAD:
        return _upload_source()
    if choice == ONNX_UPLOAD:
        return _onnx_source()
    try:
        mtime = checkpoint_mtime(choice)
        # The key names this version of the folder: a re-saved run gets fresh directions.
        with st.spinner(_("Loading the generator…")):
            model = load_model(choice, mtime)
        return model, f"ckpt:{choice}@{mtime}"
    except Exception as exc:  # a page shows why a checkpoint cannot be used, never a traceback
        st.error(_("This checkpoint cannot be loaded: {reason}").format(reason=ui.plain(str(exc))))
        return None


def generated(model: LatentModel, z, label):
    """G(z), or None after saying why in the page: an ONNX generator can fail on a z its probe
    batch did not hold (NaN or inf out, an operator that fails), and a page says so in one line
    instead of a traceback."""
    try:
        return model.generate(z, label)
    except onnxmodel.OnnxError as exc:
        st.error(_("The generator could not draw these samples: {reason}").format(
            reason=ui.reason(exc)))
        return None


@st.cache_resource(max_entries=4, show_spinner=False)
def load_onnx_upload(digest: str, _data: bytes) -> LatentModel:
    """An uploaded ONNX generator, keyed by the file's SHA-256."""
    return onnxmodel.load_onnx_model(_data)


def _onnx_source() -> tuple[LatentModel, str] | None:
    upload = st.file_uploader(
        _("ONNX generator"),
        type=["onnx"],
        key="explore.onnx",
        help=_("A generator exported with torch.onnx.export: z (and the class labels, if it is "
               "conditional) in, samples out. The README shows how to export one."),
    )
    st.caption(
        _("Only the graph's standard ONNX operators and the weights stored in the file are "
          "read; onnxruntime evaluates them. No code from the file runs.")
    )
    if upload is None:
        st.info(_("Upload an .onnx generator to explore it."))
        return None
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    try:
        with st.spinner(_("Reading the ONNX generator…")):
            model = load_onnx_upload(digest, data)
    except Exception as exc:  # a refused file is reported, never raised
        st.error(_("This ONNX file cannot be used: {reason}").format(reason=ui.plain(str(exc))))
        return None
    for note in onnxmodel.onnx_notes(model):
        st.caption(_("Note: {note}.").format(note=ui.plain(note)))
    return model, f"onnx:{digest}"


def _apply_requested_source(labels: dict[str, str]) -> None:
    """Another page's "Explore" button leaves a folder in session state: preselect it once."""
    requested = st.session_state.pop("explore_source", None)
    if not requested:
        return
    wanted = Path(str(requested)).resolve()
    match = next(
        (key for key in labels if key != CURRENT_RUN and Path(key).resolve() == wanted), None
    )
    if match is None:
        try:
            meta = read_meta(wanted)
        except CheckpointError as exc:
            st.error(_("{name} cannot be explored: {reason}").format(
                name=ui.plain(str(requested)), reason=ui.plain(str(exc))
            ))
            return
        match = str(wanted)
        labels[match] = checkpoint_label(wanted, meta)
    st.session_state["explore.source"] = match


def _current_run_source(run) -> tuple[LatentModel, str]:
    col, button = st.columns([4, 1], vertical_alignment="bottom")
    refresh = button.button(
        _("Refresh from run"),
        help=_("Take a new snapshot of the run's "
               "generator; the explorer does not follow training by itself."),
    )
    model = run_model(run, refresh=refresh)
    col.caption(
        _("Snapshot of the generator at step {step} (the run is at step {run_step}).").format(
            step=f"{model.step:,}", run_step=f"{run.snapshot().step:,}"
        )
    )
    return model, f"run:{run.uid}:{model.step}"


def _upload_source() -> tuple[LatentModel, str] | None:
    upload = st.file_uploader(
        _("Checkpoint zip"),
        type=["zip"],
        key="explore.upload",
        help=_("A zip of a checkpoint folder (checkpoint.json and its .safetensors files), as "
               "the Runs page's Download button makes. Nothing in it is executed."),
    )
    if upload is None:
        st.info(_("Upload a checkpoint zip to explore it."))
        return None
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    try:
        with st.spinner(_("Reading the uploaded checkpoint…")):
            model = load_uploaded(digest, data)
        return model, f"upload:{digest}"
    except Exception as exc:  # a bad upload is reported, never raised
        st.error(_("This zip cannot be used: {reason}").format(reason=ui.plain(str(exc))))
        return None


# ---------------------------------------------------------------------- latent controls
def seed_input(key: str, label: str, help_text: str) -> int:
    """A seed number_input with a "Random" button beside it that draws a new one."""

    def reroll() -> None:
        st.session_state[key] = secrets.randbelow(100_000)

    st.session_state.setdefault(key, 0)
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    seed = left.number_input(
        label, min_value=0, max_value=2**31 - 1, step=1, key=key, help=help_text
    )
    right.button(
        _("Random"), icon=":material/casino:", key=f"{key}.random", on_click=reroll,
        help=_("Draw a new random seed."),
    )
    return int(seed)


def class_picker(model: LatentModel, key: str = "explore.class") -> int | None:
    """The class for a conditional generator, else None."""
    if not model.num_classes:
        return None
    entry = datasets.DATASETS.get(model.dataset)  # class names come from the dataset registry
    label = st.selectbox(
        _("Class"),
        range(model.num_classes),
        key=key,
        format_func=lambda c: entry.class_label(c) if entry else str(c),
        help=_("This generator is conditional: it takes a class label with z. The same z with "
               "another class often keeps the style (slant, thickness) and changes the content."),
    )
    return int(label)


def code_controls(model: LatentModel, key: str) -> tuple[int, list[float]] | None:
    """An InfoGAN generator's codes as widgets: a category picker and one slider per
    continuous code; returns (category, continuous values), or None without codes."""
    codes = model.codes
    if not codes:
        return None
    st.markdown(_("**InfoGAN codes**"))
    category = 0
    if codes.categories:
        category = st.selectbox(
            _("Category"),
            range(codes.categories),
            key=f"{key}.info_cat",
            format_func=lambda c: _("category {number}").format(number=c),
            help=_("The categorical code, one of the values G's latent holds as a one-hot part. "
                   "Nothing told G what the values mean: training only made them recoverable "
                   "from the image, so each tends to settle on one kind of sample (often one "
                   "digit)."),
        )
    values = [
        st.slider(
            _("code {number}").format(number=j + 1),
            -1.0,
            1.0,
            0.0,
            0.05,
            key=f"{key}.info_cont{j}",
            help=_("A continuous code, drawn uniformly from [-1, 1] in training. InfoGAN makes "
                   "it recoverable from the image, so it tends to control one smooth property "
                   "(slant, stroke width). Beyond ±1 is outside what G saw."),
        )
        for j in range(codes.continuous)
    ]
    return int(category), values


def dimension_sliders(base: Vector, key: str, seed: int) -> Vector:
    """Edit chosen coordinates of z; the others keep the seed's values. The sliders are keyed
    by seed, so a new seed starts them at its own values; the choice of dimensions stays."""
    dim = base.shape[0]
    default = list(range(dim)) if dim <= 8 else list(range(4))
    chosen = st.multiselect(
        _("Dimensions to edit"),
        list(range(dim)),
        default=default,
        key=f"{key}.dims",
        placeholder=_("Choose dimensions"),
        format_func=lambda i: f"z[{i}]",
        help=_("Which coordinates of z get a slider. The rest keep the values the seed drew."),
    )
    z = base.clone()
    for i in sorted(chosen):
        start = float(np.clip(base[i].item(), -SLIDER_RANGE, SLIDER_RANGE))
        z[i] = st.slider(
            f"z[{i}]",
            -SLIDER_RANGE,
            SLIDER_RANGE,
            round(start, 2),
            0.05,
            key=f"{key}.{seed}.z{i}",
            help=_("One coordinate of the noise vector, in standard deviations of its N(0, 1) "
                   "prior. It starts at the seed's value; most training samples lie within ±2."),
        )
    return z


def direction_sliders(directions: Vector, explained: Vector, key: str) -> Vector:
    """Offsets along the principal directions; returns the latent shift (latent_dim,)."""
    if directions.shape[0] == 0:
        st.info(_("This model has no principal directions to show."))
    amounts = [
        st.slider(
            _("Direction {number} ({share} of output variance)").format(
                number=j + 1, share=f"{float(explained[j]):.1%}"
            ),
            -SLIDER_RANGE,
            SLIDER_RANGE,
            0.0,
            0.05,
            key=f"{key}.pc{j}",
            help=_("Move z along the latent direction that best explains the generator's "
                   "{ordinal} largest way of varying its output (PCA of many samples, "
                   "regressed back onto z: GANSpace). 0 is the seed's own sample.").format(
                ordinal=_ordinal(j + 1)
            ),
        )
        for j in range(directions.shape[0])
    ]
    return latent.along(directions, amounts)


def _ordinal(n: int) -> str:
    if i18n.current() != "en":  # the translations say "the nth" in their own words
        return str(n)
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


@st.cache_resource(max_entries=16, show_spinner=False)
def directions(_model: LatentModel, key: str, k: int = N_DIRECTIONS):
    """Principal directions per model (cached by the model's key): computed once, not per move."""
    return latent.principal_directions(_model, k)


# ---------------------------------------------------------------------- drawing
def upscale(image: np.ndarray, target: int = IMAGE_PX) -> np.ndarray:
    """(H, W, C) uint8 repeated by a whole factor (nearest neighbour: pixels stay crisp) so its
    longer side is about `target`; a single channel is squeezed for st.image."""
    image = images.upscale(image, target)
    return image[..., 0] if image.shape[-1] == 1 else image


def show_image(sample: Vector, caption: str) -> None:
    st.image(upscale(images.to_uint8(sample)[0]), caption=caption, output_format="PNG",
             alt=_("The generated image: {caption}").format(caption=caption))


def show_point(model: LatentModel, point: Vector, cloud: Vector) -> None:
    """The sample for z (a star) over the model's cloud and the real data."""
    fig = ui.points_figure(cloud.numpy(), model.real, model.extent)
    x, y = point.tolist()
    fig.add_trace(
        go.Scatter(
            x=[x],
            y=[y],
            mode="markers",
            name=_("this z"),
            marker=dict(size=18, symbol="star", color="#d62728", line=dict(width=1, color="black")),
        )
    )
    i18n.translated(fig)
    fig.update_layout(
        title=_("G(z) over 1,000 samples of the model (orange) and real data (blue)")
    )
    st.plotly_chart(fig, width="stretch")


def frames_strip(frames: np.ndarray) -> np.ndarray:
    """Interpolation frames (N, H, W, C) in rows of up to 8, upscaled to be readable."""
    return frames_strip_grid(frames, min(8, len(frames)))


def path_figure(model: LatentModel, path: np.ndarray) -> go.Figure:
    """A 2D interpolation as a line in data space over the real data."""
    x0, x1, y0, y1 = model.extent
    fig = go.Figure()
    if model.real is not None:
        fig.add_trace(
            go.Scattergl(
                x=model.real[:, 0],
                y=model.real[:, 1],
                mode="markers",
                name=_("real"),
                marker=dict(size=4, color="#1f77b4"),
            )
        )
    fig.add_trace(
        go.Scatter(
            x=path[:, 0],
            y=path[:, 1],
            mode="lines+markers",
            name=_("G(z) path"),
            line=dict(color="#ff7f0e"),
            marker=dict(size=7),
        )
    )
    for index, name in ((0, "A"), (-1, "B")):
        fig.add_annotation(x=path[index, 0], y=path[index, 1], text=name, showarrow=True)
    fig.update_layout(
        height=440,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(range=[x0, x1]),
        yaxis=dict(range=[y0, y1], scaleanchor="x"),
        legend=dict(orientation="h", y=-0.12),
    )
    return fig


def gif_maker(model: LatentModel, outputs: Vector):
    """A zero-argument callable making the interpolation's looping GIF (A → B → A) on demand,
    so a slider move never pays for encoding it."""

    def make() -> bytes:
        if model.kind == "images":
            pictures = [upscale(f, 128) for f in images.to_uint8(outputs)]
        else:
            path = outputs.numpy()
            pictures = [
                images.scatter_image(path[: i + 1], model.real, model.extent, size=256)
                for i in range(len(path))
            ]
        pictures = [p if p.ndim == 3 else p[..., None] for p in pictures]
        loop = pictures + pictures[-2:0:-1]  # back and forth: no jump when the GIF restarts
        return images.gif_bytes(loop, ms_per_frame=120)

    return make


# ---------------------------------------------------------------------- the Runs page
@st.cache_data(max_entries=64, show_spinner=False)
def thumbnail(path: str, mtime_ns: int) -> np.ndarray | None:
    """A small picture of a checkpoint's samples on its fixed noise, cached per (folder, mtime);
    None when the generator cannot be read."""
    try:
        model = latent.load_latent_model(path, device="cpu")
    except Exception:  # the Runs page shows "no preview" and carries on
        return None
    if model.kind == "points":
        points = model.generate(model.fixed_z[:512]).numpy()
        return images.scatter_image(points, model.real, model.extent, size=160)
    labels = None if model.fixed_labels is None else model.fixed_labels[:16]
    samples = images.to_uint8(model.generate(model.fixed_z[:16], labels))
    grid = images.make_grid(samples, ncols=4, pad=1)
    return upscale(grid, 160)



# ---------------------------------------------------------------------- W space (StyleGAN)
N_W_DIRECTIONS = 4
MIX_SEEDS = 3  # the style-mixing grid: this many coarse sources by this many fine ones
MIX_GRID_PX = 420  # its width on the page


@st.cache_resource(max_entries=16, show_spinner=False)
def w_directions(_model: LatentModel, key: str, k: int = N_W_DIRECTIONS):
    """W's principal directions per model (cached by the model's key)."""
    return latent.w_directions(_model.generator, k)


@st.fragment
def style_space(model: LatentModel, key: str, seed: int, label: int | None) -> None:
    """A StyleGAN generator's W space: truncation in W, sliders along W's principal
    directions, and the style-mixing grid. A fragment: its controls rerun only this section."""
    st.header(_("Style space W (StyleGAN)"))
    st.caption(_("This generator first maps z to a style vector w (its mapping network), and "
                 "every layer of its synthesis network reads w to set the strength of its "
                 "channels. W is learnt to be less tangled than z: moving w tends to change one "
                 "thing at a time. The seed is the one chosen above."))
    controls, output = st.columns([2, 3], gap="large")
    with controls:
        psi_w = st.slider(
            _("Truncation in W, ψ"), 0.0, 1.5, 1.0, 0.05, key="explore.w.psi",
            help=_("Pulls w towards the average style w̄ the generator learnt (w → w̄ + ψ·(w − "
                   "w̄)). ψ = 0 gives the average image whatever the seed; ψ < 1 typical, "
                   "cleaner images; ψ > 1 unusual ones."),
        )
        with st.spinner(_("Finding principal directions…")):
            found, share, spread = w_directions(model, key)
        amounts = [
            st.slider(
                _("W direction {number} ({share} of W's variance)").format(
                    number=j + 1, share=f"{float(share[j]):.1%}"),
                -SLIDER_RANGE, SLIDER_RANGE, 0.0, 0.05, key=f"explore.{key}.w{j}",
                help=_("Move w along W's {ordinal} principal direction (PCA of the styles of "
                       "many seeds), in standard deviations of the styles along it; 0 is the "
                       "seed's own style.").format(ordinal=_ordinal(j + 1)),
            )
            for j in range(found.shape[0])
        ]
    shift = latent.along(found * spread[:, None], amounts)  # (w_dim,): σ units along each
    with output:
        show_image(latent.styled(model, seed, psi_w, shift, label),
                   _("G(w) · seed {seed} · ψ in W {psi}").format(seed=seed, psi=f"{psi_w:g}"))
    style_mixing(model, seed, psi_w, label)


def style_mixing(model: LatentModel, seed: int, psi_w: float, label: int | None) -> None:
    """A grid: across the top the images of the fine-style seeds, down the left those of the
    coarse-style seeds, and in each cell the coarse one's early layers with the fine one's
    later layers."""
    g = model.generator
    st.subheader(_("Style mixing"))
    a_col, b_col, c_col = st.columns(3)
    coarse_from = a_col.number_input(
        _("Coarse styles from seeds"), 0, 2**31 - 1 - MIX_SEEDS, seed, 1, key="explore.mix.coarse",
        help=_("The seeds of the rows: their early, low-resolution layers set the overall "
               "shape."),
    )
    fine_from = b_col.number_input(
        _("Fine styles from seeds"), 0, 2**31 - 1 - MIX_SEEDS, seed + MIX_SEEDS, 1,
        key="explore.mix.fine",
        help=_("The seeds of the columns: their later, high-resolution layers set the strokes "
               "and fine detail."),
    )
    crossover = c_col.slider(
        _("Layers from the coarse seed"), 1, g.num_ws - 1, max(1, g.num_ws // 2),
        key="explore.mix.crossover",
        help=_("How many of the generator's {layers} style inputs, from the lowest resolution "
               "up, read the row's w; the rest read the column's.").format(layers=g.num_ws),
    )
    n = MIX_SEEDS
    grid = images.to_uint8(latent.mixing_grid(
        model, [int(coarse_from) + i for i in range(n)], [int(fine_from) + j for j in range(n)],
        crossover, psi_w, label))
    st.image(
        frames_strip_grid(grid, n + 1),
        width=MIX_GRID_PX,
        caption=_("Top row: the fine-style seeds {fine}; left column: the coarse-style seeds "
                  "{coarse}; each cell: the row's first {layers} style inputs with the column's "
                  "others.").format(
            fine=f"{int(fine_from)}–{int(fine_from) + n - 1}",
            coarse=f"{int(coarse_from)}–{int(coarse_from) + n - 1}", layers=crossover),
        output_format="PNG",
        alt=_("A {n} by {n} grid of style mixes with their sources along the top and the "
              "left").format(n=n),
    )


def frames_strip_grid(frames: np.ndarray, ncols: int) -> np.ndarray:
    """Images (N, H, W, C) tiled `ncols` to a row, upscaled to be readable."""
    return images.make_grid(frames, ncols=ncols, upscale=max(1, 64 // frames.shape[1]))
