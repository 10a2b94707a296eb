"""GAN Playground: `streamlit run app.py`. The router: page config and navigation only."""

import streamlit as st

st.set_page_config(page_title="GAN Playground", page_icon="🎲", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
    st.Page("pages/explore.py", title="Latent explorer", icon="🧭", url_path="explore"),
    st.Page("pages/runs.py", title="Runs", icon="🗂️", url_path="runs"),
]
st.navigation(pages).run()
