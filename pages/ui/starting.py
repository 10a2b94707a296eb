"""Starting a run from a page: the factory call (this process or the Ray cluster), the server's
training slots, and what a refused start says until a slot frees."""

from __future__ import annotations

import streamlit as st

from pages.ui import classroom as class_ui
from pages.ui import common as ui
from pages.ui.i18n import _
from playground.errors import ConfigError
from playground.runs import backends, capacity
from playground.runs.runner import Run
from playground.settings.config import GANConfig
from playground.texts.catalogue import N_
from playground.training.cost import gflop, gib

# ---------------------------------------------------------------------- training slots
WAITING = "train.waiting_for_slot"  # this session's Start was refused: all slots were busy


SLOT_FREED = "train.slot_freed"


SLOT_POLL_SECONDS = 2.0


BACKEND_ERROR = "train.backend_error"  # the Ray cluster could not take the run: why


def make_run(cfg: GANConfig) -> Run | None:
    """A new run of `cfg` on the server's backend (this process, or the Ray cluster); None, with
    the reason kept for the page, when the cluster cannot be reached."""
    try:
        run = backends.make_run(cfg)
    except (backends.ClusterUnavailable, ConfigError) as exc:
        st.session_state[BACKEND_ERROR] = str(exc)
        return None
    st.session_state.pop(BACKEND_ERROR, None)
    return run


def start_run(slot: ui.RunSlot, new_run: Run, label: str = "") -> bool:
    """Start `new_run` as this session's run if the server has a free training slot (a run on
    the Ray cluster always starts, and queues there when the cluster is full). This session's
    current run is stopped first, so it frees its own slot. False when all are busy."""
    slot.stop()
    if not backends.try_start(new_run):
        st.session_state[WAITING] = True
        class_ui.attach(None)  # in a class: the console says this student waits
        return False
    slot.replace(new_run)
    class_ui.attach(new_run, label)  # in a class: the teacher's console shows it
    st.session_state.pop(WAITING, None)
    st.session_state.pop(SLOT_FREED, None)
    return True


def memory_check(cfg: GANConfig | None, problem: str | None) -> str | None:
    """The run's estimated memory beside Start, or, over the server's per-run budget, the
    problem that keeps Start disabled (naming the settings that drive the cost)."""
    if cfg is None or problem:
        return problem
    try:
        budget = capacity.run_budget()
        cost = capacity.check_budget(cfg, budget)
    except ConfigError as exc:
        return str(exc)
    st.caption(
        _(
            "Memory this run needs: about {needed}, of the {budget} each run may use on this "
            "server. Work per step: {work} GFLOP."
        ).format(needed=gib(cost.peak_bytes), budget=gib(budget), work=_work(cost.step_flops)),
        help=_(
            "Estimated before the run starts from its models and batch size. Memory: "
            "weights, gradients, optimiser state and the activations of one training step. "
            "Work: the arithmetic of one step (its D updates and its G update), in GFLOP, "
            "billions of multiplications and additions; a CPU core does a few tens of them "
            "a second, a GPU thousands."
        ),
    )
    return None


def _work(flops: int) -> str:
    """cost.gflop's words ("about 0.22", "under 0.01") in the page's language."""
    text = gflop(flops)
    for word, template in (("about ", N_("about {value}")), ("under ", N_("under {value}"))):
        if text.startswith(word):
            return _(template).format(value=text[len(word):])
    return text


def capacity_notice() -> None:
    """How many of the server's training slots are in use; after a refused Start, a warning
    that watches for a free slot by itself."""
    if BACKEND_ERROR in st.session_state:
        st.error(
            _("**The run could not start.**") + f" {ui.reason(st.session_state[BACKEND_ERROR])}"
        )
    try:
        on_ray = backends.backend_name() == "ray"
    except ConfigError as exc:  # a bad GAN_PLAYGROUND_BACKEND: say so, keep the page
        st.error(ui.reason(exc))
        on_ray = False
    if on_ray:
        st.caption(backends.describe())
        if backends.cluster_in_use():  # the cluster queues runs: no slots on this server
            return
    waiting = st.session_state.get(WAITING, False)

    @st.fragment(run_every=SLOT_POLL_SECONDS if waiting else None)
    def notice() -> None:
        status = capacity.SLOTS.status()
        if waiting and not status.full:
            st.session_state[WAITING] = False
            st.session_state[SLOT_FREED] = True
            st.rerun()  # redraw the page: the warning goes and polling stops
        if waiting:
            st.warning(
                _(
                    "**All {limit} training slots on this server are in use** ({active} runs "
                    "active), so your run did not start. A run frees its slot when it "
                    "finishes, is stopped or reset, or its browser tab is closed; this message "
                    "changes by itself when a slot is free."
                ).format(limit=status.limit, active=max(status.runs, status.active))
            )
        elif st.session_state.get(SLOT_FREED):
            st.success(
                _(
                    "A training slot is free ({active} of {limit} in use): press **▶ Start**."
                ).format(active=status.active, limit=status.limit)
            )
        st.caption(
            _("Training slots on this server: {active} of {limit} in use.").format(
                active=status.active, limit=status.limit
            )
        )

    notice()
