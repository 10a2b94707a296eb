"""The page's language: chosen in the sidebar, kept in the address (`?lang=zh`) so that a
teacher's link opens in the class's language, and otherwise the browser's (st.context.locale).
`_(text)` is every shown text in that language (playground.texts)."""

from __future__ import annotations

import streamlit as st

from playground.texts.catalogue import DEFAULT, LANGUAGES, language_of, translate

KEY = "ui.lang"


def current() -> str:
    """The language of this page run: the address's, else the one chosen this session, else
    the browser's."""
    asked = st.query_params.get("lang")
    if asked:
        return language_of(asked)
    if KEY in st.session_state:
        return st.session_state[KEY]
    try:
        locale = st.context.locale
    except AttributeError:  # an older Streamlit, or a test without a browser
        locale = None
    return language_of(locale)


def _(text: str) -> str:
    """`text` in this page's language."""
    return translate(text, current())


def _chosen() -> None:
    lang = st.session_state[KEY + ".pick"]
    st.session_state[KEY] = lang
    if lang == DEFAULT:
        st.query_params.pop("lang", None)
    else:
        st.query_params["lang"] = lang


def language_switch() -> None:
    """The sidebar's language picker; it keeps the choice in the address as well."""
    lang = current()
    st.session_state[KEY] = lang
    if lang != DEFAULT and st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang  # kept in the address across pages
    st.sidebar.selectbox(
        "Language · 语言",
        list(LANGUAGES),
        index=list(LANGUAGES).index(lang),
        format_func=LANGUAGES.get,
        key=KEY + ".pick",
        on_change=_chosen,
        help="The app's language; it is kept in the page's address (?lang=zh) for a link.",
    )
