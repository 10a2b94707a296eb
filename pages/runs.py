"""Runs: every checkpoint under checkpoints/, with a preview, its settings and its metrics, and
buttons to explore it, train it further, download it or (for the runs this session saved)
delete it. Runs other sessions saved are read-only here (playground.storage.store's owner
tokens)."""

from pathlib import Path

import streamlit as st

from pages.ui import common as ui
from pages.ui import explore as xui
from pages.ui import gauges as gauges_ui
from pages.ui import train as train_ui
from pages.ui import userdata as userdata_ui
from pages.ui.i18n import _
from playground.data import registry as datasets
from playground.data import roots
from playground.runs import backends, capacity
from playground.storage import store
from playground.storage.checkpoints import read_meta
from playground.texts.catalogue import N_

ui.require_router()

st.title(_("Runs"))
st.caption(
    _(
        "Checkpoints saved under `{folder}/`: the runs you saved in this session "
        "(which you may delete), runs saved by others (read-only to you), then the examples that "
        "ship with the app."
    ).format(folder=ui.CHECKPOINTS.name)
)

if flash := st.session_state.pop("runs.flash", None):
    st.success(flash)


def run_card(folder: Path, meta: dict, own: bool = False) -> None:
    cfg, key = meta["config_obj"], str(folder)
    with st.container(border=True):
        picture, info, actions = st.columns([1, 3, 2], vertical_alignment="center")
        preview = xui.thumbnail(key, xui.checkpoint_mtime(folder))
        if preview is None:
            picture.caption(_("no preview"))
        else:
            picture.image(preview, caption=_("fixed-noise samples"),
                          alt=_("Samples of {name}").format(name=xui.checkpoint_name(folder)))
        info.markdown(f"**{xui.checkpoint_name(folder)}**")
        info.caption(ui.describe_config(cfg))
        info.write(_("step {step} of {steps}").format(step=f"{meta['step']:,}",
                                                      steps=f"{cfg.steps:,}"))
        if metrics := metrics_line(meta.get("metrics")):
            info.write(metrics)

        if actions.button(
            _("Explore"),
            key=f"runs.explore.{key}",
            width="stretch",
            help=_("Open this generator in the Latent explorer."),
        ):
            st.session_state["explore_source"] = key
            st.switch_page("pages/explore.py")
        if actions.button(
            _("Resume training"),
            key=f"runs.resume.{key}",
            width="stretch",
            help=_("Load this checkpoint (models, optimisers, history) as this "
                   "session's run, paused, and open the Train page. It replaces the "
                   "run you have there now."),
        ):
            resume(folder)
        actions.download_button(
            _("Download .zip"),
            icon=":material/download:",
            data=lambda: store.zip_checkpoint(folder),
            file_name=f"{folder.name}.zip",
            mime="application/zip",
            key=f"runs.zip.{key}",
            on_click="ignore",
            width="stretch",
            help=_("checkpoint.json and its safetensors files; the Latent explorer can open "
                   "it."),
        )
        if own:
            delete_controls(folder, actions)


METRIC_NAMES = {"reverse_kl": N_("reverse KL"), "samples": N_("number of samples")}


def metrics_line(metrics) -> str:
    """A saved run's metrics as one line in the page's language (mode coverage first, then
    any other scalars by their names in words: "reverse KL", never the key "reverse_kl")."""
    if not isinstance(metrics, dict) or not metrics:
        return ""
    parts, total = [], metrics.get("modes_total")
    if isinstance(metrics.get("modes_held"), int) and isinstance(total, int):
        parts.append(_("modes held {held}/{total}").format(held=metrics["modes_held"], total=total))
    if isinstance(metrics.get("modes_covered"), int) and isinstance(total, int):
        parts.append(_("covered {covered}/{total}").format(covered=metrics["modes_covered"],
                                                            total=total))
    if isinstance(metrics.get("high_quality_fraction"), (int, float)):
        share = f"{metrics['high_quality_fraction']:.0%}"
        parts.append(_("high quality {share}").format(share=share))
    shown = {"modes_held", "modes_covered", "modes_total", "high_quality_fraction"}
    for name, value in metrics.items():
        if name not in shown and isinstance(value, (int, float)) and not isinstance(value, bool):
            label = METRIC_NAMES.get(name) or gauges_ui.LABELS.get(name, name)
            parts.append(f"{_(label)} {value:.4g}")
    return " · ".join(parts[:8])


def resume(folder: Path) -> None:
    try:
        cfg = read_meta(folder)["config_obj"]
        if datasets.DATASETS[cfg.dataset].user_folder:  # the rule of the Train page's folder
            roots.check_app_data_folder(cfg.data_folder)
        run = backends.make_run(resume_from=folder)  # here, or in an actor on the Ray cluster
    except Exception as exc:  # shown to the person, never a traceback
        st.error(_("Cannot resume {name}: {reason}").format(name=ui.plain(folder.name),
                                                           reason=ui.reason(exc)))
        return
    slot = ui.run_slot()
    slot.stop()  # this session's current run frees its training slot first
    if not backends.try_start(run, paused=True):  # on Ray it always starts (or queues)
        busy = capacity.SLOTS.status()
        st.error(_("All {limit} training slots on this server are in use ({active} runs "
                   "active): try again when one finishes or is stopped.").format(
                       limit=busy.limit, active=busy.active))
        return
    slot.replace(run)
    # The Train page shows the run's own settings, so nothing of the sidebar's is pushed into it.
    config = userdata_ui.with_saved_points(run.snapshot().config.to_dict(), folder)
    st.session_state[train_ui.PENDING_CONFIG] = (config, xui.checkpoint_name(folder))
    st.switch_page("pages/train.py")


def delete_controls(folder: Path, where) -> None:
    key = str(folder)
    sure = where.checkbox(
        _("Yes, delete it"),
        key=f"runs.sure.{key}",
        help=_("Tick to enable the Delete button: deleting cannot be undone."),
    )
    if where.button(
        _("Delete"),
        icon=":material/delete:",
        key=f"runs.delete.{key}",
        disabled=not sure,
        width="stretch",
        help=_("Remove this checkpoint folder from disk."),
    ):
        try:
            store.delete_user_run(folder, ui.USER_RUNS, owner=ui.owner_token())
        except (ValueError, OSError) as exc:
            st.error(ui.reason(exc))
            return
        st.session_state["runs.flash"] = _("Deleted {name}.").format(name=ui.plain(folder.name))
        st.rerun()


listing = ui.checkpoint_listing()
checkpoints = listing.runs
if listing.skipped:
    skipped = _("{count} folder(s) skipped: their checkpoint cannot be read")
    with st.expander(skipped.format(count=len(listing.skipped))):
        for folder, why in listing.skipped:
            st.text(f"{ui.shown_path(folder)}: {why}")  # as text: a file's words are not markup
if not checkpoints:
    st.info(
        _("No checkpoints yet. Train a model on the **Train** page and save it: it will be "
          "listed here, ready to explore, resume or download.")
    )
    st.page_link("pages/train.py", label=_("Go to the Train page"),
                 icon=":material/model_training:")
token = ui.owner_token()
OWN, OTHERS, EXAMPLES = N_("Your runs"), N_("Saved by others"), N_("Examples")
groups: dict[str, list] = {OWN: [], OTHERS: [], EXAMPLES: []}
for folder, meta in checkpoints:
    if not store.is_user_run(folder, ui.USER_RUNS):
        groups[EXAMPLES].append((folder, meta))
    elif store.owns_run(folder, token):
        groups[OWN].append((folder, meta))
    else:
        groups[OTHERS].append((folder, meta))
for title, group in groups.items():
    if group:
        st.header(f"{_(title)} ({len(group)})")
        for folder, meta in group:
            run_card(folder, meta, own=title == OWN)
