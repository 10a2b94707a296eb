"""The class console: the teacher sees every student's run of their class, live (made on the
Lessons page, "Teach a class"). Only the browser that made the class can open it."""

import streamlit as st

from pages.ui import classroom as class_ui
from pages.ui import common as ui
from pages.ui.i18n import _

ui.require_router()

st.title(_("Class console"))
st.caption(_("Every student's run as a small picture of its 2D view, with its status from the "
             "live mode measures: healthy (all modes held), partly collapsed, collapsed (half "
             "the modes or fewer) or diverged (the run stopped itself)."))
class_ui.console()
