"""The Train page's settings sidebar: a widget per row of the settings table (settings.fields),
the preset picker, and the page URL's settings (a shared link fills the widgets)."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from pages.ui import common as ui
from pages.ui.i18n import _
from playground.data import registry as datasets
from playground.errors import ConfigError
from playground.settings.config import GANConfig
from playground.settings.fields import ADVANCED_SETTINGS, FIELDS, MAIN_SETTINGS
from playground.settings.presets import PRESETS
from playground.texts.catalogue import N_

# ---------------------------------------------------------------------- settings widgets
# Each setting's label, help, bounds, step and liveness are rows of one table, settings.FIELDS.
LIVE_CHANGED = "train.live_changed"  # settings the user changed since the last page run


def key_of(name: str) -> str:
    return f"cfg.{name}"


def load_into_widgets(cfg: GANConfig | dict[str, Any]) -> None:
    """Put a config's values (or a link's, see link_settings) into the settings widgets' state
    (before they are drawn)."""
    values = cfg if isinstance(cfg, dict) else cfg.to_dict()
    for name, value in values.items():
        st.session_state[key_of(name)] = value


def _note_live_change(name: str) -> None:
    st.session_state.setdefault(LIVE_CHANGED, set()).add(name)


def help_for(name: str) -> str:
    row = FIELDS.get(name)
    text = _(row.help) if row is not None else ""
    where = _("(Setting `{name}` in the page's URL and on the command line.)").format(name=name)
    return f"{text} {where}".lstrip()


def _widget(name: str, field: dataclasses.Field, device_text: str):
    # persist_state="session": the value outlives a visit to another page (a widget's state is
    # otherwise dropped when it is not drawn, and the run's settings came back as defaults).
    # on_change: only a control the user changes is pushed into a live run.
    row = FIELDS[name]
    common = dict(key=key_of(name), help=help_for(name), persist_state="session",
                  on_change=_note_live_change if row.live else None,
                  args=(name,) if row.live else None)
    label = _(row.label)
    if row.choices:
        options = list(row.choices)
        auto = _("auto ({device})").format(device=device_text)
        fmt = (lambda v: auto if v == "auto" else v) if name == "device" else str
        if name == "dataset":  # the user's own data is named in words: its name is jargon
            fmt = dataset_label
        return st.selectbox(label, options, format_func=fmt, **common)
    if field.type in ("bool", bool):
        return st.checkbox(label, **common)
    if field.type in ("int", int):
        # A float widget: an int one silently truncates a typed 2.5 to 2. This one hands 2.5
        # to the engine, which refuses it by name (whole numbers come back as ints: _coerce).
        return st.number_input(label, step=1.0, format="%g", **common)
    if field.type in ("float", float):
        if row.step is None:  # no -/+ buttons' scale given: plain typing, checked by the engine
            return st.number_input(label, format="%g", **common)
        return st.number_input(label, min_value=float(row.low), max_value=float(row.high),
                               step=row.step, format="%g", **common)
    return st.text_input(label, **common)


def dataset_label(name: str) -> str:
    """A dataset as the picker shows it: the user's own points in plain words."""
    entry = datasets.DATASETS.get(name)
    return _(entry.title) if entry is not None and entry.user_points else name


def live_changes() -> list[str]:
    """The live settings the user changed since the page last ran (each reported once)."""
    return sorted(st.session_state.pop(LIVE_CHANGED, set()))


def settings_sidebar() -> tuple[GANConfig | None, str | None]:
    """Every setting as a widget in the sidebar. Returns (config, None) when valid, else
    (None, message) with the engine's message also shown under the offending control."""
    fields = {f.name: f for f in dataclasses.fields(GANConfig)}
    defaults = GANConfig().to_dict()
    for name, value in defaults.items():
        st.session_state.setdefault(key_of(name), value)
    device_text = ui.device_description()
    slots: dict[str, st.delta_generator.DeltaGenerator] = {}
    values = {}
    with st.sidebar:
        for name in MAIN_SETTINGS:
            values[name] = _widget(name, fields[name], device_text)
            slots[name] = st.empty()
        st.caption(_("The loss's formula is shown beside the run's controls."))
        with st.expander(_("Advanced")):
            for name in ADVANCED_SETTINGS:
                values[name] = _widget(name, fields[name], device_text)
                slots[name] = st.empty()
    try:
        return GANConfig.from_dict(_coerce(values, fields)), None
    except ConfigError as exc:
        target = slots.get(exc.setting)
        if target is not None:
            target.error(_(str(exc)))  # the common ones (your own data not given) translated
        return None, str(exc)


def config_from_state() -> tuple[GANConfig | None, str | None]:
    """The settings as the widgets hold them now, for a button's callback: callbacks run before
    the page script, so a config the previous run computed misses a value typed just before
    the click (the browser sends the two together)."""
    settle_preset()
    fields = {f.name: f for f in dataclasses.fields(GANConfig)}
    values = {name: st.session_state.get(key_of(name), default)
              for name, default in GANConfig().to_dict().items()}
    try:
        return GANConfig.from_dict(_coerce(values, fields)), None
    except ConfigError as exc:
        return None, str(exc)


def _coerce(values: dict, fields: dict) -> dict:
    """number_input returns floats for ints typed as 3.0 etc.; give the engine its types."""
    out = {}
    for name, value in values.items():
        kind = fields[name].type
        if kind in ("int", int) and isinstance(value, float) and value.is_integer():
            value = int(value)
        out[name] = value
    return out


SETTLED_PRESET = "ui.settled_preset"  # the preset whose values the controls were last given


def settle_preset() -> None:
    """Give the controls the picked preset's values unless that was done already. A button's
    callback calls it first: a preset picked just before a click can reach the server in the
    same page run, and the click's callback may run before the preset's own."""
    name = st.session_state.get("preset")
    if name in PRESETS and name != st.session_state.get(SETTLED_PRESET):
        load_into_widgets(PRESETS[name].config())
    st.session_state[SETTLED_PRESET] = name


CUSTOM = N_("(custom)")  # the preset picker's entry for settings set by hand (a key: kept)


def preset_picker() -> None:
    """One click sets every setting from a preset."""

    names = [CUSTOM] + list(PRESETS)
    st.sidebar.selectbox(_("Preset"), names, key="preset", on_change=settle_preset,
                         persist_state="session",
                         format_func=lambda v: _(v) if v == CUSTOM else v,
                         help=_("A named setup that reliably shows something; picking one sets "
                                "every control below."))
    chosen = st.session_state.get("preset")
    st.session_state[SETTLED_PRESET] = chosen  # the controls below now hold what it set
    if chosen in PRESETS:
        st.sidebar.caption(_(PRESETS[chosen].description))


def apply_query_params() -> None:
    """On a session's first visit, settings in the URL (a shared link) fill the widgets."""
    if st.session_state.get("_query_applied"):
        return
    st.session_state["_query_applied"] = True
    params = {k: v for k, v in st.query_params.to_dict().items() if k in GANConfig().to_dict()}
    if not params:
        return
    try:
        load_into_widgets(link_settings(params))
    except ConfigError as exc:
        st.warning(_("The link's settings were not used: {reason}").format(
            reason=ui.reason(exc)))


# A dataset of your own needs one of these; a link cannot carry the data itself.
OWN_DATA = {"points_file": N_("draw your points or upload a CSV"),
            "data_folder": N_("give a folder")}


def link_settings(params: dict[str, str]) -> dict[str, Any]:
    """The settings of a link, as the widgets' values. One that picks your own points (or
    folder) without naming them is used all the same, the data left for the visitor to give
    (the sidebar asks for it, and no run starts without it); anything else invalid raises
    ConfigError."""
    try:
        return GANConfig().with_strings(params).to_dict()
    except ConfigError as exc:
        if exc.setting not in OWN_DATA or params.get(exc.setting, "").strip():
            raise
        checked = GANConfig().with_strings({**params, exc.setting: "given later"})  # the rest
        st.info(_("This link trains on your own data: {what}.").format(
            what=_(OWN_DATA[exc.setting])))
        return {**checked.to_dict(), exc.setting: ""}


def write_query_params(cfg: GANConfig) -> None:
    wanted = cfg.to_query()
    if lang := st.query_params.get("lang"):  # the page's language stays in the address
        wanted["lang"] = lang
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
