"""Drawing helpers for the Lessons page: the lesson text, its one-click start, the 2D view with
toggleable layers (D's map, G's manifold, gradient arrows), the side-by-side view, the
Dirac-GAN panel and the teacher link. The lessons themselves are data in
playground.lessons.catalogue."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from pages.ui import common as ui
from pages.ui import i18n
from pages.ui import settings as settings_ui
from pages.ui import slowmo as slowmo_ui
from pages.ui import starting as starting_ui
from pages.ui import train as train_ui
from pages.ui.i18n import _
from playground.data.registry import mixture_spec
from playground.errors import ConfigError
from playground.lessons import ada as ada_lesson
from playground.lessons.catalogue import (
    HIDEABLE,
    LESSONS,
    Lesson,
    TeacherView,
    parse_teacher_link,
    teacher_query,
)
from playground.lessons.catalogue import lesson as find_lesson
from playground.runs import backends
from playground.runs.runner import Run
from playground.runs.snapshots import Frame, Snapshot
from playground.settings.fields import FIELDS
from playground.views import figures, images

ACTIVE = "lessons.active"  # (lesson key, variant index) of the run this session started here
LIVE = "lessons-live"  # the key of the container holding the lesson's live run
SCROLL = "lessons.scroll"  # set by Start: the next page run brings the live run into view
# The layers a lesson's view toggles (figures.LAYERS has their labels); points are always on.
LAYERS = {name: figures.LAYERS[name] for name in ("decision", "manifold", "arrows")}
POINTS = frozenset({"real", "generated"})
PENDING_CONFIG = getattr(train_ui, "PENDING_CONFIG", "train.pending_config")


# ---------------------------------------------------------------------- teacher view
def teacher_view() -> TeacherView:
    """The teacher link in the URL (lesson, hide, lock), or a plain view with a warning."""
    try:
        return parse_teacher_link(st.query_params.to_dict())
    except ValueError as exc:
        st.warning(_("The link's lesson settings were not used:") + f" {ui.reason(exc)}")
        return TeacherView()


def pick_lesson(view: TeacherView) -> Lesson:
    """The link's lesson when locked (or its picker hidden); else a picker in the sidebar."""
    if view.lesson is not None and (view.locked or not view.shows("picker")):
        return view.lesson
    names = [f"{x.number}. {_(x.title)}" for x in LESSONS]
    start = view.lesson.number - 1 if view.lesson is not None else 0
    chosen = st.sidebar.radio(
        _("Lesson"),
        names,
        index=start,
        key="lessons.pick",
        help=_("The lessons in teaching order."),
    )
    return LESSONS[names.index(chosen)]


# ---------------------------------------------------------------------- the lesson's text
def header(lesson: Lesson, view: TeacherView) -> None:
    st.header(_("Lesson {number}: {title}").format(number=lesson.number, title=_(lesson.title)))
    st.markdown(_(lesson.shows))
    if view.shows("formula"):
        st.latex(lesson.formula)
    if view.shows("watch"):
        st.markdown(_("**What to watch.**") + " " + _(lesson.watch))
    if view.shows("claim"):
        st.info(_("**What you should see.**") + " " + _(lesson.claim), icon=":material/visibility:")


# ---------------------------------------------------------------------- starting
@st.cache_resource(scope="session", on_release=lambda slot: slot.release(), show_spinner=False)
def multi_slot() -> ui.RunSlot:
    """This session's side-by-side run on the Lessons page (beside its one run, ui.run_slot)."""
    return ui.RunSlot()


def start(lesson: Lesson, index: int = 0) -> None:
    """Set everything the lesson needs and start its run (stopping this session's others)."""
    slot, multi = ui.run_slot(), multi_slot()
    st.session_state[ACTIVE] = (lesson.key, index)
    st.session_state[SCROLL] = True
    st.session_state.pop("lessons.switched", None)
    if lesson.kind == "side-by-side":
        slot.replace(None)
        multi.replace(None)
        try:  # the same factory as every other run: here, or an actor on the Ray cluster
            runner = backends.make_multi_run(lesson.configs(), mesh="manifold" in lesson.layers)
        except (backends.ClusterUnavailable, ConfigError) as exc:
            st.session_state[starting_ui.BACKEND_ERROR] = str(exc)
            return
        st.session_state.pop(starting_ui.BACKEND_ERROR, None)
        if backends.try_start(runner):
            multi.replace(runner)
        else:
            st.session_state[starting_ui.WAITING] = True
        return
    multi.replace(None)
    cfg = lesson.variants[index].config()
    run = starting_ui.make_run(cfg)  # None, with the reason kept, when the cluster cannot take it
    if run is None:
        return
    # The run is this session's run, so the Train page shows it too; this hands it the run's
    # settings for its sidebar (the same hand-over the Runs page's Resume uses).
    name = f"lesson {lesson.number} ({lesson.variants[index].label})"
    st.session_state[PENDING_CONFIG] = (cfg.to_dict(), name)
    starting_ui.start_run(slot, run)


def start_buttons(lesson: Lesson) -> None:
    """The lesson's one click, and one click for each further variant."""
    first = lesson.variants[0]
    cols = st.columns(max(2, len(lesson.variants)))
    label = _("Start lesson {number}").format(number=lesson.number)
    if len(lesson.variants) > 1 and lesson.kind != "side-by-side":
        label += f": {_(first.label)}"
    cols[0].button(
        label,
        key=f"lessons.start.{lesson.key}",
        type="primary",
        icon=":material/play_arrow:",
        on_click=start,
        args=(lesson, 0),
        width="stretch",
    )
    if lesson.kind == "side-by-side":
        cols[1].caption(
            _(
                "Trains {runs} side by side, stepped together (batched where their settings allow)."
            ).format(runs=_(" and ").join(_(v.label) for v in lesson.variants))
        )
        return
    for i, variant in enumerate(lesson.variants[1:], start=1):
        cols[i].button(
            _(variant.label),
            key=f"lessons.start.{lesson.key}.{i}",
            on_click=start,
            args=(lesson, i),
            width="stretch",
        )


def active_index(lesson: Lesson) -> int | None:
    """Which of this lesson's variants this session's run is, or None when it is not this
    lesson's run."""
    key, index = st.session_state.get(ACTIVE, (None, 0))
    return index if key == lesson.key else None


def scroll_to_live_after_start() -> None:
    """Right after Start, scroll the live run to the top of the window: below the lesson's
    text it starts beneath the fold on a projector's 720 lines."""
    if st.session_state.pop(SCROLL, False):
        ui.scroll_into_view(LIVE)


# ---------------------------------------------------------------------- settings and controls
def settings_panel(lesson: Lesson, run: Run | None, view: TeacherView) -> None:
    """What the lesson sets (the settings that differ from the defaults), and the learning
    rates, live; locked by a teacher link."""
    index = active_index(lesson) or 0
    cfg = lesson.variants[index].config()
    # One pair of rate widgets per variant: a variant's run must not get another's rates.
    variant = f".{index}" if index else ""
    with st.expander(_("Settings of this lesson"), expanded=False):
        rows = [
            {_("setting"): _(FIELDS[k].label) if k in FIELDS else k, _("value"): v}
            for k, v in cfg.to_query().items()
        ]
        st.dataframe(rows, hide_index=True, width="content")
        live = run is not None and active_index(lesson) is not None and run.snapshot().active
        cols = st.columns(2)
        lr_g = cols[0].number_input(
            _("{setting} (changes live)").format(setting=_(FIELDS["lr_g"].label)),
            value=cfg.lr_g,
            format="%g",
            step=None,
            key=f"lessons.lr_g.{lesson.key}{variant}",
            disabled=view.locked,
            help=settings_ui.help_for("lr_g"),
        )
        lr_d = cols[1].number_input(
            _("{setting} (changes live)").format(setting=_(FIELDS["lr_d"].label)),
            value=cfg.lr_d,
            format="%g",
            step=None,
            key=f"lessons.lr_d.{lesson.key}{variant}",
            disabled=view.locked,
            help=settings_ui.help_for("lr_d"),
        )
        if view.locked:
            st.caption(_("Settings are locked by this link."))
        if live and not view.locked:
            current = run.snapshot().config
            changes = {
                k: v for k, v in dict(lr_g=lr_g, lr_d=lr_d).items() if v != getattr(current, k)
            }
            if changes:
                try:
                    run.set_hyper(**changes)
                    st.toast(
                        _("Changed live:")
                        + " "
                        + ", ".join(f"{k} = {v:g}" for k, v in changes.items())
                    )
                except ValueError as exc:
                    st.error(ui.reason(exc))


def run_controls(run, snap) -> None:
    """Pause / Resume / Stop for the lesson's run."""
    cols = st.columns(6)
    if snap.status == "paused":
        cols[0].button(
            _("Resume"), icon=":material/resume:", on_click=run.resume, key="lessons.resume"
        )
    else:
        cols[0].button(
            _("Pause"),
            icon=":material/pause:",
            on_click=run.pause,
            disabled=not snap.active,
            key="lessons.pause",
        )
    cols[1].button(
        _("Stop"),
        icon=":material/stop:",
        on_click=run.stop,
        disabled=not snap.active,
        key="lessons.stop",
    )


def switch_button(lesson: Lesson, run: Run, snap: Snapshot) -> None:
    """Lesson 6: change the game of the live run (Run.set_hyper, applied at its next step)."""
    switch = lesson.switch
    done = st.session_state.get("lessons.switched")

    def apply() -> None:
        try:
            run.set_hyper(**switch.changes)
            st.session_state["lessons.switched"] = run.snapshot().step
        except ValueError as exc:
            st.session_state["lessons.switch_error"] = str(exc)

    st.button(
        _(switch.label),
        key="lessons.switch",
        type="primary",
        on_click=apply,
        disabled=not snap.active or done is not None,
        icon=":material/swap_horiz:",
    )
    if done is not None:
        changed = ", ".join(f"{k} = {v}" for k, v in switch.changes.items())
        st.caption(
            _("Switched at step {step}: {changes}.").format(step=f"{done:,}", changes=changed)
        )
    if "lessons.switch_error" in st.session_state:
        st.error(st.session_state.pop("lessons.switch_error"))


# ---------------------------------------------------------------------- the 2D view
def layer_toggles(lesson: Lesson, view: TeacherView) -> set[str]:
    """A toggle per layer (the lesson's defaults on); fixed at the defaults when hidden."""
    if not view.shows("layers"):
        return set(lesson.layers)
    cols = st.columns(len(LAYERS))
    on = set()
    for col, (name, (label, text)) in zip(cols, LAYERS.items(), strict=True):
        if col.toggle(
            _(label),
            value=name in lesson.layers,
            key=f"lessons.layer.{lesson.key}.{name}",
            help=_(text),
        ):
            on.add(name)
    return on


def view_figure(
    frame: Frame,
    real: np.ndarray | None,
    extent,
    layers: set[str],
    title: str = "",
    height: int = 520,
) -> go.Figure:
    """Real and generated points over D's map, with G's manifold and the gradient arrows."""
    return i18n.translated(
        figures.layered_figure(frame, real, extent, set(layers) | POINTS, title, height)
    )


@st.cache_data(show_spinner=False)
def mode_centres(dataset: str) -> np.ndarray | None:
    """A mixture's mode centres, drawn as the real data in the side-by-side view."""
    spec = mixture_spec(dataset)
    return None if spec is None else np.asarray(spec[0], dtype=np.float32)


def plane_caption(frame: Frame, cfg) -> str:
    if frame.manifold is None:
        return ""
    return figures.plane_caption(frame.manifold.plane, cfg.latent_dim, _)


def preview(lesson: Lesson) -> None:
    """Before Start: the data the lesson trains on, drawn where its live picture will be (which
    also has the browser load its charting code now rather than after the click)."""
    title = _("The data this lesson trains on (real, blue)")
    caption = _("Press the start button above: the generator learns to draw these, live.")
    if not ui.data_preview_chart(
        lesson.variants[0].config().dataset, "lessons.preview", title, caption
    ):
        st.caption(_("Press the start button above: the run trains here, live."))
    if lesson.key == ada_lesson.KEY:
        measured_ada()


@st.cache_data(show_spinner=False)
def _ada_results() -> list:
    return ada_lesson.load_results()


def measured_ada() -> None:
    """Lesson 9 before Start: its three runs as measured over seeds (playground/lessons/
    ada.json): the FIDs, D's real/fake gap over time and ADA's p beside r_t."""
    per_seed = _ada_results()
    if not per_seed:
        return
    found = ada_lesson.summary(per_seed)
    seeds = found["seeds"]
    st.subheader(_("Measured: the three runs on {count} seeds").format(count=len(seeds)))
    rows = [
        {
            _("run"): _(label),
            _("median FID"): round(found["median_fid"][label], 1),
            _("median real/fake gap, second half"): round(found["median_late_gap"][label], 2),
        }
        for label in found["labels"]
    ]
    st.dataframe(rows, hide_index=True, width="content")
    st.plotly_chart(ada_lesson.figure(per_seed, _), key="lessons.measured")
    st.caption(
        _(
            "Medians over seeds {first} to {last}, each run trained to its end on one CPU "
            "thread; FID on the project's classifier features against all 1,797 digits."
        ).format(first=seeds[0], last=seeds[-1])
    )


def held_text(snap: Snapshot) -> str:
    records = [r for r in snap.measures if "modes_held" in r]
    if not records:
        return ""
    last = records[-1]
    return _("{held} of {total} modes held (step {step})").format(
        held=last["modes_held"], total=last["modes_total"], step=f"{last['step']:,}"
    )


def live_single(lesson: Lesson, run: Run, view: TeacherView) -> None:
    """The lesson's run, redrawn about once a second while it trains."""
    active = ui.await_first_picture(run).status in train_ui.POLLING

    @st.fragment(run_every=ui.REFRESH_SECONDS if active else None)
    def live() -> None:
        snap = run.snapshot()
        if active and snap.status not in train_ui.POLLING:
            st.rerun()
        ui.progress_bar(snap)
        ui.status_message(snap)
        if view.shows("controls"):
            run_controls(run, snap)
        if lesson.switch is not None:
            switch_button(lesson, run, snap)
        frame = snap.latest
        if frame is not None and snap.kind == "images":
            live_images(snap, frame)
            return
        layers = layer_toggles(lesson, view)
        if frame is None or snap.kind != "points":
            st.caption(_("Building the models and loading the data…"))
            return
        left, right = st.columns([3, 2])
        with left:
            fig = view_figure(
                frame,
                ui.shown_real_points(run),
                snap.extent,
                layers,
                title=_("Step {step}: real and generated points").format(
                    step=f"{frame.step:,}"
                ),
            )
            st.plotly_chart(fig, key="lessons.view")
            if "manifold" in layers:
                st.caption(plane_caption(frame, snap.config))
        with right:
            text = held_text(snap)
            if text:
                st.metric(_("Mode coverage"), text.split(" (")[0], help=text)
            if frame.arrows is not None:
                st.caption(
                    _("Arrows: median ‖∂L_G/∂x‖ = {norm}.").format(
                        norm=f"{frame.arrows.median_norm:.3g}"
                    )
                )
            st.plotly_chart(
                i18n.translated_line_figure(
                    snap.history,
                    {"g_grad_norm": "‖∇G‖", "d_grad_norm": "‖∇D‖"},
                    _("Gradient norms"),
                    log_y=True,
                ),
                key="lessons.grads",
            )
            st.plotly_chart(
                i18n.translated_line_figure(
                    snap.history,
                    {"d_loss": _("D loss"), "g_loss": _("G loss")},
                    _("Losses"),
                    0.6,
                ),
                key="lessons.losses",
            )
        if view.shows("controls"):  # slow motion on the paused run (pausing is a control)
            slowmo_ui.panel(run, snap, ui.shown_real_points(run), "lessons")

    live()


GRID_PX = 448  # an image lesson's sample grid is enlarged (pixels repeated) to about this


def live_images(snap: Snapshot, frame: Frame) -> None:
    """An image lesson's run: the fixed-noise grid enlarged for the room, D's mean output on
    real and generated images, and the class measures once they are in."""
    left, right = st.columns([3, 2])
    with left:
        grid = images.upscale(images.make_grid(frame.samples, pad=1), GRID_PX)
        step = f"{frame.step:,}"
        st.image(
            grid,
            caption=_("Fixed noise at step {step}").format(step=step),
            output_format="PNG",
            alt=_("The generator's images of its fixed noise at step {step}").format(step=step),
        )
    with right:
        last = snap.measures[-1] if snap.measures else {}
        if "classes_covered" in last:
            st.metric(
                _("Classes covered"),
                _("{covered} of {total}").format(
                    covered=last["classes_covered"], total=last.get("classes_total", 10)
                ),
                help=_("by the project's classifier, step {step}").format(step=f"{last['step']:,}"),
            )
        st.plotly_chart(
            i18n.translated_line_figure(
                snap.history, {"d_real": "D(real)", "d_fake": "D(fake)"}, _("D's output")
            ),
            key="lessons.d_outputs",
        )
        if snap.history.get("ada_p"):  # an ADA run: p, tuned to keep r_t at its target
            st.plotly_chart(
                i18n.translated_line_figure(
                    snap.history, {"ada_p": "p", "ada_rt": "r_t"}, _("ADA: p beside r_t")
                ),
                key="lessons.ada",
            )
        st.plotly_chart(
            i18n.translated_line_figure(
                snap.history, {"d_loss": _("D loss"), "g_loss": _("G loss")}, _("Losses"), 0.6
            ),
            key="lessons.losses",
        )


# ---------------------------------------------------------------------- teacher link
def teacher_link_builder(lesson: Lesson) -> None:
    """Make a link that opens this lesson for a class: chosen parts hidden, settings locked."""
    with st.expander(_("Teacher link"), icon=":material/link:"):
        hide = st.multiselect(
            _("Hide"),
            HIDEABLE,
            default=["picker", "settings"],
            key=f"lessons.hide.{lesson.key}",
            placeholder=_("Choose parts to hide"),
            help=_("Parts of the page the class does not see."),
            format_func=_,
        )
        lock = st.checkbox(_("Lock the settings"), value=True, key=f"lessons.lock.{lesson.key}")

        query = teacher_query(lesson, tuple(hide), lock)
        text = "&".join(f"{k}={v}" for k, v in query.items())
        st.code(f"/lessons?{text}", language=None)
        st.caption(
            _("Append this to the app's address (for example {address}).").format(
                address="http://localhost:8501"
            )
        )


__all__ = ["find_lesson"]
