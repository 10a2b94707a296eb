"""GAN Playground: `streamlit run app.py`. The router: page config and navigation only."""

import streamlit as st

import playground  # noqa: F401  (sets the CPU thread policy before any page loads torch)
from pages.ui.common import keep_owner_cookie, warm_up_in_background
from pages.ui.i18n import _, language_switch

st.set_page_config(page_title="GAN Playground", page_icon=":material/casino:", layout="wide")

pages = [
    st.Page("pages/home.py", title=_("Home"), icon=":material/home:", default=True),
    st.Page("pages/lessons.py", title=_("Lessons"), icon=":material/school:", url_path="lessons"),
    st.Page("pages/train.py", title=_("Train"), icon=":material/model_training:", url_path="train"),
    st.Page(
        "pages/explore.py",
        title=_("Latent explorer"),
        icon=":material/explore:",
        url_path="explore",
    ),
    st.Page(
        "pages/diagnostics.py",
        title=_("Diagnostics"),
        icon=":material/troubleshoot:",
        url_path="diagnostics",
    ),
    st.Page("pages/runs.py", title=_("Runs"), icon=":material/folder_open:", url_path="runs"),
    st.Page(
        "pages/classroom.py",
        title=_("Class console"),
        icon=":material/groups:",
        url_path="classroom",
    ),
]
warm_up_in_background()
keep_owner_cookie()  # a reload keeps the runs this browser saved
st.navigation(pages).run()
# Last in the sidebar, under the page's own controls (whose order the pages rely on).
language_switch()
