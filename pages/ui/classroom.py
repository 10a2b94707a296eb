"""A class on this server (playground.runs.classroom): the Lessons page's "Teach a class" panel
and a student's banner, and the teacher's console (pages/classroom.py)."""

from __future__ import annotations

import base64
import html

import numpy as np
import streamlit as st

from pages.ui import common as ui
from pages.ui import settings as settings_ui
from pages.ui.i18n import _, message
from playground.lessons.catalogue import BY_NUMBER, LESSONS
from playground.runs import classroom
from playground.settings.presets import PRESETS
from playground.texts.catalogue import N_
from playground.views import images

CLASS_KEY = "class.code"  # session_state: the code of the class this session joined
SEEN_KEY = "class.seen"  # session_state: the last push this session answered
THUMB_PX = 200
PROJECTED_PX = 640
REFRESH_S = 2.0
COLUMNS = 4
# The console's status colours: the Okabe-Ito palette the app's charts use, and always a word.
STATUS_COLOURS = {
    "healthy": "#009E73",
    "partly collapsed": "#E69F00",
    "collapsed": "#D55E00",
    "off the data": "#CC79A7",
    "diverged": "#000000",
    "not measured yet": "#56B4E9",
}
STATUS_WORDS = {
    "healthy": N_("healthy"),
    "partly collapsed": N_("partly collapsed"),
    "collapsed": N_("collapsed"),
    "off the data": N_("off the data"),
    "diverged": N_("diverged"),
    "not measured yet": N_("not measured yet"),
}
RUN_STATES = {"paused": N_("paused"), "stopped": N_("stopped"), "finished": N_("finished")}
SORTS = {
    "student": N_("Student"),
    "status": N_("Status (worst first)"),
    "modes": N_("Modes held (fewest first)"),
    "step": N_("Step (furthest first)"),
}
_WORST_FIRST = ("diverged", "collapsed", "off the data", "partly collapsed", "not measured yet",
                "healthy")


# ---------------------------------------------------------------------- a student
def joined_class() -> classroom.Class | None:
    """The class this session belongs to: the one its link names (`?class=K7Q2`), kept for the
    session; else the one this browser joined earlier (a reload, another page opened by its
    address); None without one, or when the class has ended."""
    asked = st.query_params.get("class")
    if asked:
        code = classroom.normalise_code(asked)
        if code != st.session_state.get(CLASS_KEY):
            st.session_state[CLASS_KEY] = code
            st.session_state.pop(SEEN_KEY, None)
    code = st.session_state.get(CLASS_KEY)
    if code:
        return classroom.classes().get(code)
    return classroom.classes().joined_by(ui.owner_token())


def attach(run, label: str = "") -> None:
    """Put a run this session just started on its class's console (when it is in one); None:
    its Start was refused for want of a free training slot, which the console shows."""
    klass = joined_class()
    if klass is None or klass.is_teacher(ui.owner_token()):
        return
    try:
        if run is None:
            klass.refused(ui.owner_token())
        else:
            klass.attach(ui.owner_token(), run, label)
    except classroom.ClassError:
        pass  # a full class: the run trains all the same, only off the console


def student_banner() -> None:
    """On the Lessons page of a student in a class: which class, and the teacher's last push."""
    asked = st.query_params.get("class")
    klass = joined_class()
    if klass is None:
        if asked:
            st.warning(_("There is no class {code} on this server (it may have ended). Ask your "
                         "teacher for the code.").format(code=str(asked)[:12]))
        return
    if klass.is_teacher(ui.owner_token()):
        return
    try:
        me = klass.join(ui.owner_token())
    except classroom.ClassError as exc:
        st.warning(message(str(exc)))
        return
    st.info(
        _("You are in class **{code}** as {name}: the runs you start here show on your "
          "teacher's screen.").format(code=klass.code, name=_student_name(me)),
        icon=":material/groups:",
    )
    push = klass.push
    if push is None or st.session_state.get(SEEN_KEY) == push.version:
        return
    with st.container(border=True):
        if push.lesson is not None and push.lesson in BY_NUMBER:
            lesson = BY_NUMBER[push.lesson]
            st.markdown(_("Your teacher moved the class to **lesson {number}: {title}**.").format(
                number=lesson.number, title=_(lesson.title)))
            go = _("Go to lesson {number}").format(number=lesson.number)
            follow, args = _follow_lesson, (push.version, lesson.number)
        else:
            st.markdown(_("Your teacher suggests these settings: {settings}.").format(
                settings=", ".join(f"`{k}={v}`" for k, v in (push.settings or {}).items())))
            go = _("Open them on the Train page")
            follow, args = _follow_settings, (push.version, push.settings or {})
        cols = st.columns(2)
        cols[0].button(go, key="class.follow", type="primary", on_click=follow, args=args,
                       icon=":material/arrow_forward:")
        cols[1].button(_("Stay here"), key="class.stay", on_click=_answered, args=(push.version,))


def _student_name(student: classroom.Student | classroom.Member) -> str:
    if student.name:
        return ui.plain(student.name)
    return _("student {number}").format(number=student.number)


def _answered(version: int) -> None:
    st.session_state[SEEN_KEY] = version


def _follow_lesson(version: int, number: int) -> None:
    _answered(version)
    lesson = BY_NUMBER[number]
    st.session_state["lessons.pick"] = f"{lesson.number}. {_(lesson.title)}"


def _follow_settings(version: int, settings: dict) -> None:
    _answered(version)
    settings_ui.load_into_widgets(settings_ui.link_settings(settings))
    st.session_state["class.to_train"] = True


def after_follow() -> None:
    """Where a followed push of settings goes (st.switch_page cannot run in a callback)."""
    if st.session_state.pop("class.to_train", False):
        st.switch_page("pages/train.py")


# ---------------------------------------------------------------------- the teacher
def teacher_panel() -> None:
    """The Lessons page's "Teach a class" panel: make a class, and its code and links."""
    token = ui.owner_token()
    taught = classroom.classes().taught_by(token)
    with st.expander(_("Teach a class"), icon=":material/groups:", expanded=bool(taught)):
        st.caption(_("Each student who opens the class's link trains their own run; you see "
                     "every run on the class console, live. Only this browser can open it."))
        if taught:
            klass = taught[0]
            st.markdown(_("Class code: **{code}** · {count} students joined").format(
                code=klass.code, count=klass.size))
            st.code(f"/lessons?class={klass.code}", language=None)
            if st.button(_("Open the class console"), key="class.console",
                         icon=":material/dashboard:", type="primary"):
                st.switch_page("pages/classroom.py")
        if st.button(_("Make a new class") if taught else _("Make a class"), key="class.make",
                     icon=":material/add:"):
            classroom.classes().create(token)
            st.rerun()


def console() -> None:
    """The teacher's console: every student's run as a small picture with its status, sorted as
    asked, refreshed live; one on the projector at full size; pushes to the class."""
    taught = classroom.classes().taught_by(ui.owner_token())
    if not taught:
        st.warning(_("Only the browser that made a class can open its console. Make a class on "
                     "the Lessons page (Teach a class)."), icon=":material/lock:")
        return
    klass = taught[0]
    st.markdown(_("Class **{code}**: students join at `/lessons?class={code}`.").format(
        code=klass.code))
    _push_form(klass)
    # a radio, not a segmented control: its selected segment's text fell short of axe-core's
    # contrast threshold (tests/test_accessibility.py)
    sort = st.radio(
        _("Sort by"), list(SORTS), format_func=lambda k: _(SORTS[k]), key="console.sort",
        horizontal=True,
    )
    live_grid(klass, sort)


@st.fragment(run_every=REFRESH_S)
def live_grid(klass: classroom.Class, sort: str) -> None:
    members = klass.members(ui.owner_token())
    counts = {s: sum(m.status == s for m in members) for s in classroom.STATUSES}
    st.caption(" · ".join(
        [_("{count} students").format(count=len(members))]
        + [f"{n} {_(STATUS_WORDS[s])}" for s, n in counts.items() if n]
    ))
    projected = st.session_state.get("console.projected")
    shown = {m.number: m for m in members}
    if projected in shown:
        _projected(shown[projected])
    if not members:
        st.info(_("No student has joined yet."))
        return
    for start in range(0, len(members), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, m in zip(cols, _sorted(members, sort)[start:start + COLUMNS], strict=False):
            with col.container(border=True):
                _card(m)


def _sorted(members: list[classroom.Member], sort: str) -> list[classroom.Member]:
    if sort == "status":
        return sorted(members, key=lambda m: (_WORST_FIRST.index(m.status), m.number))
    if sort == "modes":
        return sorted(members, key=lambda m: (m.modes_held is None, m.modes_held or 0, m.number))
    if sort == "step":
        return sorted(members, key=lambda m: (-(m.snapshot.step if m.snapshot else -1), m.number))
    return members


def _badge(status: str) -> str:
    """The status as a coloured dot and a word (the word carries it for every reader)."""
    return (f'<span style="color:{STATUS_COLOURS[status]}" aria-hidden="true">&#9679;</span> '
            f"<strong>{_(STATUS_WORDS[status])}</strong>")


def _inline_picture(m: classroom.Member, size: int) -> None:
    """The run's picture inline in the page (a data URL): the grid redraws every REFRESH_S, and
    an st.image's media file could be gone before a busy browser fetched it (a broken image)."""
    picture = _picture(m, size)
    if picture is None:
        return
    data = base64.b64encode(images.png_bytes(picture)).decode("ascii")
    alt = _("{name}'s run").format(name=_student_name(m))
    st.markdown(f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
                f'style="width:100%;max-width:{size}px">', unsafe_allow_html=True)


def _card(m: classroom.Member) -> None:
    _inline_picture(m, THUMB_PX)
    st.markdown(f"**{_student_name(m)}**")
    st.markdown(_badge(m.status), unsafe_allow_html=True)
    bits = []
    if m.snapshot is not None:
        bits.append(_("step {step}").format(step=f"{m.snapshot.step:,}"))
        if m.snapshot.status in RUN_STATES:
            bits.append(_(RUN_STATES[m.snapshot.status]))
    if m.modes_total:
        bits.append(_("{held} of {total} modes").format(held=m.modes_held, total=m.modes_total))
    if m.snapshot is not None and m.snapshot.config is not None:
        bits.append(f"{m.snapshot.config.dataset} · {m.snapshot.config.loss}")
    if m.waiting:
        bits.append(_("waiting for a free training slot"))
    st.caption(" · ".join(bits) or _("no run yet"))
    if m.run is not None:
        st.button(_("Project"), key=f"console.project.{m.number}", icon=":material/fit_screen:",
                  on_click=_project, args=(m.number,))


def _project(number: int | None) -> None:
    st.session_state["console.projected"] = number


def _projected(m: classroom.Member) -> None:
    with st.container(border=True):
        head = st.columns([4, 1])
        head[0].subheader(_("On the projector: {name}").format(name=_student_name(m)))
        head[1].button(_("Back to the class"), key="console.unproject", on_click=_project,
                       args=(None,), icon=":material/close:")
        _inline_picture(m, PROJECTED_PX)
        st.caption(message(m.why))


def _picture(m: classroom.Member, size: int) -> np.ndarray | None:
    snap = m.snapshot
    if snap is None or snap.latest is None:
        return None
    samples = snap.latest.samples
    if snap.kind == "points":
        return images.scatter_image(samples, ui.shown_real_points(m.run), snap.extent, size=size)
    return images.make_grid(samples[:16], ncols=4, pad=1)


def _push_form(klass: classroom.Class) -> None:
    with st.expander(_("Send the class somewhere"), icon=":material/campaign:"):
        st.caption(_("Each student sees a banner on the Lessons page and chooses to follow."))
        cols = st.columns(2)
        number = cols[0].selectbox(
            _("Lesson"), [x.number for x in LESSONS], key="console.lesson",
            format_func=lambda n: f"{n}. {_(BY_NUMBER[n].title)}",
        )
        if cols[0].button(_("Send this lesson"), key="console.send_lesson"):
            klass.send(ui.owner_token(), lesson=number)
            st.toast(_("Sent lesson {number} to the class.").format(number=number))
        name = cols[1].selectbox(_("Preset"), list(PRESETS), key="console.preset",
                                 help=_("Its settings open on each student's Train page."))
        if cols[1].button(_("Send these settings"), key="console.send_settings"):
            klass.send(ui.owner_token(), settings=PRESETS[name].config().to_query())
            st.toast(_("Sent the settings of {name} to the class.").format(name=name))
