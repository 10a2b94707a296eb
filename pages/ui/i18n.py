"""The page's language: chosen in the sidebar, kept in the address (`?lang=zh`) so that a
teacher's link opens in the class's language, and otherwise the browser's (st.context.locale).
`_(text)` is every shown text in that language (playground.texts)."""

from __future__ import annotations

import re

import plotly.graph_objects as go
import streamlit as st

from playground.texts.catalogue import (
    DEFAULT,
    LANGUAGES,
    language_of,
    translate,
    translate_message,
)
from playground.views import figures

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


def message(text: str) -> str:
    """A message the engine built (an error naming a setting and its values) in this page's
    language, its values kept (playground.texts.catalogue.translate_message)."""
    return translate_message(text, current())


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


_SCORE = re.compile(r"^(fake|real) \((.*)\)$")


def _tick(text: str) -> str:
    """A colour bar's tick ("fake (0.047)", figures.decision_legend) or a plain label."""
    found = _SCORE.match(text)
    if found:
        shown = _("fake ({score})") if found.group(1) == "fake" else _("real ({score})")
        return shown.format(score=found.group(2))
    return _(text)


def translated(fig: go.Figure) -> go.Figure:
    """A figure built by playground.views (in English) with its words in this page's
    language: the title, the axes' titles, the traces' names and colour bars."""
    if current() == DEFAULT:
        return fig
    if fig.layout.title.text:
        fig.layout.title.text = _(fig.layout.title.text)
    for axis in ("xaxis", "yaxis"):
        title = fig.layout[axis].title
        if title.text:
            title.text = _(title.text)
    for trace in fig.data:
        if getattr(trace, "name", None):
            trace.name = _(trace.name)
        bar = getattr(trace, "colorbar", None)
        if bar is not None:
            if bar.title.text:
                bar.title.text = _(bar.title.text)
            if bar.ticktext:
                bar.ticktext = [_tick(t) for t in bar.ticktext]
    return fig


def translated_line_figure(*args, **kwargs) -> go.Figure:
    """figures.line_figure with its words in this page's language."""
    return translated(figures.line_figure(*args, **kwargs))
