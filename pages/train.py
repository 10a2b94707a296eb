"""Train: pick settings, start a run, watch it learn live, pause/step/resume/stop/save."""

import streamlit as st

from pages.ui import common as ui
from pages.ui import imagefolder as imagefolder_ui
from pages.ui import settings as settings_ui
from pages.ui import starting as starting_ui
from pages.ui import train as train_ui
from pages.ui.i18n import _

ui.require_router()

st.title(_("Train a GAN"))
slot = ui.run_slot()
settings_ui.apply_query_params()
train_ui.apply_pending_preset()
train_ui.apply_pending_config()
settings_ui.preset_picker()
imagefolder_ui.image_upload()
cfg, problem = settings_ui.settings_sidebar()
cfg, problem = imagefolder_ui.check_data_folder(cfg, problem)  # a server's files are not data
problem = starting_ui.memory_check(cfg, problem)  # over the server's per-run budget: refused
if cfg is not None:
    settings_ui.write_query_params(cfg)

run = slot.run
snap = run.snapshot() if run else None

# A live setting the user just changed reaches a running run at its next step; nothing else is
# pushed (coming back to this page, or loading a run's settings, changes no run).
if cfg is not None:
    changed = settings_ui.live_changes()
    if run is not None and snap.active:
        train_ui.push_live_changes(run, snap, cfg, changed)


def start() -> None:
    current, _problem = imagefolder_ui.check_data_folder(*settings_ui.config_from_state())
    if current is None:  # the page shows the reason under the offending control
        return
    # A second Start stops the first run; the new one starts only if the server has a free
    # training slot (otherwise the page says so and watches for one); on a Ray cluster it
    # waits in the cluster's queue instead.
    new_run = starting_ui.make_run(current)
    if new_run is not None:
        starting_ui.start_run(slot, new_run)


train_ui.controls(slot, start, problem)
if cfg is not None:
    train_ui.differences_note(snap, cfg)
train_ui.loss_formula(st.session_state[settings_ui.key_of("loss")])
starting_ui.capacity_notice()
if st.session_state.pop("autostart", False) and cfg is not None:
    start()
    st.rerun()
train_ui.live_view(slot, cfg)
