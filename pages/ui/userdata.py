"""Your own 2D points on the Train page: draw them on a chart (a click, a box or a lasso adds
brush dabs around the chosen spots), or upload a CSV of x,y values. Either becomes this
session's points file (setting points_file), read by `playground.data.userpoints` like any dataset.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from pages.ui import common as ui
from pages.ui import settings as settings_ui
from pages.ui.i18n import _, translated
from playground.data import registry as datasets
from playground.data import userpoints
from playground.errors import ConfigError
from playground.settings.config import GANConfig
from playground.storage.checkpoints import read_meta, saved_points
from playground.texts.catalogue import N_
from playground.views import figures

CHART_KEY = "userdata.canvas"
CSV_KEY = "userdata.csv"
STROKES = "userdata.strokes"  # list of (n, 2) arrays, one per click or selection (for Undo)
NOTE = "userdata.note"  # (kind, text) about the last upload or drawing
SOURCE = "userdata.source"  # "drawing" or "CSV file 'name'": where the active points came from
SPAN = 2.0  # the canvas is [-SPAN, SPAN]², the window the points are normalised into
GRID = 41  # candidate points a side: what a click or a selection picks
BRUSH_SEED = 0
# ---------------------------------------------------------------------- the session's space
class PointsSpace(ui.SessionFolder):
    """This session's private temporary folder for its points files; deleted with it."""

    def save(self, points: np.ndarray) -> str:
        return str(userpoints.save_points(points, self.folder()))


@st.cache_resource(scope="session", on_release=lambda space: space.remove(), show_spinner=False)
def points_space() -> PointsSpace:
    return PointsSpace()


def check_points_file(cfg: GANConfig | None, problem: str | None):
    """Points are read only from this session's own space or under a root the server's
    operator allows (userpoints.check_app_points_file): otherwise no config, and the reason."""
    if cfg is None or not datasets.DATASETS[cfg.dataset].user_points:
        return cfg, problem
    try:
        userpoints.check_app_points_file(cfg.points_file, own=[points_space().root])
    except ConfigError as exc:
        return None, str(exc)
    return cfg, problem


def with_saved_points(config: dict, folder) -> dict:
    """A resumed run's settings with its points (saved in its checkpoint) copied into this
    session's space, so the sidebar's points_file is readable here and a new Start trains on
    the same points; other settings are returned unchanged."""
    if not datasets.DATASETS[config.get("dataset")].user_points:
        return config
    points = saved_points(folder, read_meta(folder))
    if points is None:
        return config
    st.session_state[SOURCE] = N_("saved run")
    return config | {"points_file": points_space().save(points.double().numpy())}


def selected() -> bool:
    entry = datasets.DATASETS.get(st.session_state.get(settings_ui.key_of("dataset")))
    return entry is not None and entry.user_points


# ---------------------------------------------------------------------- the panel
def points_panel() -> None:
    """With the dataset "your own points": draw or upload them (main area, above the run)."""
    if not selected():
        return
    with st.expander(_("Your own points"), expanded=ui.run_slot().run is None):
        draw_tab, csv_tab = st.tabs([_("Draw"), _("Upload a CSV")])
        with draw_tab:
            drawing()
        with csv_tab:
            csv_upload()
        kind, text = st.session_state.get(NOTE, (None, None))
        if kind == "error":
            st.error(text)
        elif kind:
            st.success(text)


def drawing() -> None:
    left, right = st.columns([3, 2])
    with right:
        st.slider(_("Points per click"), 1, 40, 10, key="userdata.per_click",
                  help=_("How many points one click lays around the clicked spot; a box or "
                         "lasso lays a quarter of this around each spot of the faint grid it "
                         "encloses."))
        st.slider(_("Brush spread"), 0.02, 0.5, 0.1, 0.01, key="userdata.spread",
                  help=_("Standard deviation of the brush: how far from the chosen spot its "
                         "points fall, in the canvas's units (it spans −2 to 2)."))
        cols = st.columns(3)
        strokes = st.session_state.get(STROKES, [])
        cols[0].button(_("Undo"), on_click=_undo, disabled=not strokes, key="userdata.undo",
                       help=_("Remove the last click or selection's points."))
        cols[1].button(_("Clear"), on_click=_clear, disabled=not strokes, key="userdata.clear",
                       help=_("Remove every drawn point."))
        cols[2].button(_("Example"), on_click=_example, key="userdata.example",
                       help=_("Start from an example drawing (a smiley), then add or undo."))
        count = sum(len(s) for s in strokes)
        need = max(0, userpoints.MIN_POINTS - count)
        more = " " + _("(draw {need} more)").format(need=need) if need else ""
        st.markdown(_("**{count} points drawn**").format(count=f"{count:,}") + more)
        st.caption(_("Click the canvas to spray points. To fill an area, pick the box or lasso "
                     "tool on the chart's toolbar and drag; the canvas then goes back to clicks. "
                     "Points are centred and scaled to fill −2 to 2 for training: the preview "
                     "shows exactly what trains."))
        preview("draw")
    with left:
        st.plotly_chart(canvas_figure(_drawn()), key=CHART_KEY, on_select=_add_selection,
                        selection_mode=("points", "box", "lasso"), config={"displaylogo": False})


def canvas_figure(points: np.ndarray) -> go.Figure:
    """The drawing canvas: a faint grid of spots a click or a selection can pick, and the
    points drawn so far."""
    ticks = np.linspace(-SPAN, SPAN, GRID)
    gx, gy = np.meshgrid(ticks, ticks)
    fig = go.Figure(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name=_("canvas"),
                               marker=dict(size=5, color="rgba(120,120,120,0.15)"),
                               hovertemplate="(%{x:.1f}, %{y:.1f})<extra></extra>",
                               showlegend=False))
    if len(points):
        fig.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", name=_("drawn"),
                                 marker=dict(size=4, color=figures.REAL_COLOUR),
                                 hoverinfo="none", showlegend=False))
    margin = 0.15
    # Dragging pans nothing (fixed axes), so a click picks a spot: in plotly's box and lasso
    # modes a click clears the selection instead. Those modes are one click away on the toolbar.
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10), dragmode="pan",
                      clickmode="event+select",
                      xaxis=dict(range=[-SPAN - margin, SPAN + margin], constrain="domain",
                                 fixedrange=True),
                      yaxis=dict(range=[-SPAN - margin, SPAN + margin], scaleanchor="x",
                                 constrain="domain", fixedrange=True))
    return fig


def preview(where: str) -> None:
    """What trains now: the active points file's points, normalised, and where they came from."""
    path = st.session_state.get(settings_ui.key_of("points_file"), "")
    if not path:
        st.caption(_("No points yet: draw at least {least} or upload a CSV file.").format(
            least=userpoints.MIN_POINTS))
        return
    try:
        userpoints.check_app_points_file(path, own=[points_space().root])
        found = userpoints.read_points_file(path)
    except (ConfigError, userpoints.DatasetUnavailable) as exc:
        st.warning(_("The points file cannot be used: {reason}").format(
            reason=ui.reason(exc)))
        return
    fig = figures.points_figure(None, found.points, (-2.5, 2.5, -2.5, 2.5), height=280,
                                title=_("What trains: {count} points").format(
                                    count=f"{len(found):,}"))
    st.plotly_chart(translated(fig), key=f"userdata.preview.{where}")
    source = st.session_state.get(SOURCE, N_("points file"))
    if isinstance(source, tuple):  # a CSV file: ("CSV file {name}", its name)
        source = _(source[0]).format(name=source[1])
    else:
        source = _(source)
    st.caption(_("From the {source}.").format(source=source))


# ---------------------------------------------------------------------- drawing callbacks
def _drawn() -> np.ndarray:
    strokes = st.session_state.get(STROKES, [])
    return np.concatenate(strokes) if strokes else np.zeros((0, 2))


def _add_selection() -> None:
    """A click, box or lasso on the canvas: brush dabs around every spot it picked."""
    event = st.session_state.get(CHART_KEY) or {}
    picked = (event.get("selection") or {}).get("points") or []
    centres = np.array([[p["x"], p["y"]] for p in picked if "x" in p and "y" in p], dtype=float)
    if not len(centres):
        return
    per_click = int(st.session_state.get("userdata.per_click", 10))
    per_spot = per_click if len(centres) == 1 else max(1, round(per_click / 4))
    spread = float(st.session_state.get("userdata.spread", 0.1))
    strokes = st.session_state.setdefault(STROKES, [])
    rng = np.random.default_rng([BRUSH_SEED, len(strokes)])  # the same drawing, the same dabs
    dabs = np.clip(userpoints.brush(centres, per_spot, spread, rng), -SPAN, SPAN)
    strokes.append(dabs)
    _use_drawing()


def _undo() -> None:
    strokes = st.session_state.get(STROKES, [])
    if strokes:
        strokes.pop()
    _use_drawing()


def _clear() -> None:
    st.session_state[STROKES] = []
    _use_drawing()


def _example() -> None:
    raw = userpoints.example_points()
    st.session_state[STROKES] = [userpoints.normalised(raw)[0] * 0.9]
    _use_drawing()


def _use_drawing() -> None:
    """The drawing becomes the points file once it has enough points."""
    points = _drawn()
    if len(points) < userpoints.MIN_POINTS:
        st.session_state.pop(NOTE, None)
        return
    try:
        found = userpoints.finish(points, what="drawn points")
    except userpoints.PointsError as exc:
        st.session_state[NOTE] = ("error", _("The drawing cannot be used: {reason}.").format(
            reason=exc))
        return
    st.session_state[settings_ui.key_of("points_file")] = points_space().save(found.points)
    st.session_state[SOURCE] = N_("drawing")
    st.session_state.pop(NOTE, None)


# ---------------------------------------------------------------------- a CSV file
def csv_upload() -> None:
    left, right = st.columns([3, 2])
    with right:
        preview("csv")
    with left:
        csv_form()


def csv_form() -> None:
    st.file_uploader(_("Your points (.csv)"), type=["csv", "txt"], key=CSV_KEY,
                     on_change=_read_csv,
                     help=_("Read here, never run: a file that is not plain numbers is refused "
                            "with the line at fault."))
    st.caption(
        _("Format: one point a line, **x then y**, separated by a comma (or a semicolon, tab or "
          "space). A header line is optional; name columns `x` and `y` to pick them among more. "
          "At least {least} points; above {most} a fixed random {most} are used; {megabytes} MB "
          "at most. Any units: the points are centred and scaled to fit −2 to 2.").format(
              least=userpoints.MIN_POINTS, most=f"{userpoints.MAX_POINTS:,}",
              megabytes=userpoints.MAX_FILE_BYTES // 2**20)
    )
    st.download_button(_("Example CSV"), data=userpoints.example_csv(), file_name="points.csv",
                       mime="text/csv", key="userdata.example_csv", icon=":material/download:")


def _read_csv() -> None:
    upload = st.session_state.get(CSV_KEY)
    if upload is None:
        return
    try:
        if upload.size > userpoints.MAX_FILE_BYTES:  # refused before its bytes are read
            raise userpoints.PointsError(
                f"the file is larger than {userpoints.MAX_FILE_BYTES // 2**20} MB")
        found = userpoints.parse_csv(upload.getvalue())
        path = points_space().save(found.points)
    except userpoints.PointsError as exc:
        st.session_state[NOTE] = ("error", _("This file cannot be used: {reason}.").format(
            reason=ui.reason(exc)))
        return
    except OSError as exc:  # disk full: say so
        st.session_state[NOTE] = ("error", _("Could not store the points: {reason}").format(
            reason=ui.reason(exc)))
        return
    st.session_state[settings_ui.key_of("points_file")] = path
    st.session_state[SOURCE] = (N_("CSV file {name}"), ui.plain(repr(upload.name)))
    st.session_state[NOTE] = ("success", _("Read {notes}.").format(notes="; ".join(found.notes)))
