"""Lessons: a GAN lecture in nine one-click steps, each with what to watch and what to expect.

A teacher link (`/lessons?lesson=3&hide=settings,formula&lock=1`) opens one lesson with chosen
parts hidden and its settings locked.
"""

import streamlit as st

from pages.ui import classroom as class_ui
from pages.ui import common as ui
from pages.ui import dirac as dirac_ui
from pages.ui import lessons as lui
from pages.ui import side_by_side as side_ui
from pages.ui import starting as starting_ui
from pages.ui.i18n import _

ui.require_router()

view = lui.teacher_view()
if view.shows("picker") and not view.locked:
    st.title(_("Lessons"))
    st.caption(
        _(
            "A GAN lecture in nine steps, in teaching order. Each lesson starts with one "
            "click; each says what to watch and what you should see (measured: see the README)."
        )
    )
class_ui.after_follow()
class_ui.student_banner()
lesson = lui.pick_lesson(view)
lui.header(lesson, view)
lui.start_buttons(lesson)
starting_ui.capacity_notice()

if lesson.kind == "dirac" and view.shows("dirac"):
    dirac_ui.dirac_panel(lesson, view)
    st.subheader(_("A 2D run that does not settle"))

run = ui.run_slot().run
runner = lui.multi_slot().run
ours = lui.active_index(lesson) is not None
if view.shows("settings"):
    lui.settings_panel(lesson, run if ours else None, view)
side_by_side = lesson.kind == "side-by-side"
if ours and (runner if side_by_side else run) is not None:
    with st.container(key=lui.LIVE):
        lui.scroll_to_live_after_start()
        if side_by_side:
            side_ui.live_side_by_side(lesson, runner, view)
        else:
            lui.live_single(lesson, run, view)
else:
    lui.preview(lesson)

for page, label in lesson.links:
    if st.button(_(label), key=f"lessons.link.{page}", icon=":material/arrow_forward:"):
        st.switch_page(page)
if not view.locked:
    lui.teacher_link_builder(lesson)
    class_ui.teacher_panel()
