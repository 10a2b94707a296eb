"""Train: pick settings, start a run, watch it learn live, pause/step/resume/stop/save."""

import streamlit as st

from pages.ui import common as ui
from pages.ui import train as train_ui

ui.require_router()

st.title("Train a GAN")
slot = ui.run_slot()
ui.apply_query_params()
train_ui.apply_pending_preset()
train_ui.apply_pending_config()
ui.preset_picker()
train_ui.image_upload()
cfg, problem = ui.settings_sidebar()
cfg, problem = train_ui.check_data_folder(cfg, problem)  # a server's files are not data
if cfg is not None:
    ui.write_query_params(cfg)

run = slot.run
snap = run.snapshot() if run else None

# A live setting the user just changed reaches a running run at its next step; nothing else is
# pushed (coming back to this page, or loading a run's settings, changes no run).
if cfg is not None:
    changed = ui.live_changes()
    if run is not None and snap.active:
        train_ui.push_live_changes(run, snap, cfg, changed)


def start() -> None:
    current, _ = train_ui.check_data_folder(*ui.config_from_state())
    if current is None:  # the page shows the reason under the offending control
        return
    # A second Start stops the first run; the new one starts only if the server has a free
    # training slot (otherwise the page says so and watches for one); on a Ray cluster it
    # waits in the cluster's queue instead.
    new_run = train_ui.make_run(current)
    if new_run is not None:
        train_ui.start_run(slot, new_run)


train_ui.controls(slot, start, problem)
if cfg is not None:
    train_ui.differences_note(snap, cfg)
ui.loss_formula(st.session_state[ui.key_of("loss")])
train_ui.capacity_notice()
if st.session_state.pop("autostart", False) and cfg is not None:
    start()
    st.rerun()
train_ui.live_view(slot, cfg)
