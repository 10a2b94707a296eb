"""Train: pick settings, start a run, watch it learn live, pause/step/resume/stop/save."""

import streamlit as st

from pages import train_ui, ui
from playground.runner import Run

ui.require_router()

st.title("Train a GAN")
slot = ui.run_slot()
ui.apply_query_params()
train_ui.apply_pending_preset()
ui.preset_picker()
train_ui.image_upload()
cfg, problem = ui.settings_sidebar()
if cfg is not None:
    ui.write_query_params(cfg)

run = slot.run
snap = run.snapshot() if run else None

# Live-changeable settings reach a running run at its next step.
if run is not None and snap.active and cfg is not None:
    live = {k: getattr(cfg, k) for k in ui.LIVE if getattr(cfg, k) != getattr(snap.config, k)}
    if live:
        run.set_hyper(**live)
        st.toast("Changed live: " + ", ".join(f"{k} = {v:g}" for k, v in live.items()))


def start() -> None:
    if cfg is None:
        return
    # A second Start stops the first run; the new one starts only if the server has a free
    # training slot (otherwise the page says so and watches for one).
    train_ui.start_run(slot, Run(cfg))


train_ui.controls(slot, start, problem)
train_ui.capacity_notice()
if st.session_state.pop("autostart", False) and cfg is not None:
    start()
    st.rerun()
train_ui.live_view(slot)
