"""The Diagnostics page's every-loss launcher: the same data trained under every loss of the
registry at once, each loss with its paper's training settings (playground.runs.everyloss), in
batched
groups beside lone runs (or as one Ray actor), drawn live side by side.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from pages.ui import common as ui
from playground.data import registry as datasets
from playground.data.registry import mixture_spec, points_source
from playground.errors import ConfigError
from playground.measures.metrics import HELD_SHARE, coverage_2d
from playground.objectives.losses import LOSSES
from playground.runs import backends, capacity, everyloss
from playground.views import figures, images


@st.cache_resource(scope="session", on_release=lambda slot: slot.release(), show_spinner=False)
def multi_slot() -> ui.RunSlot:
    """This session's every-loss run on the Diagnostics page (beside its one run, ui.run_slot)."""
    return ui.RunSlot()


def settings_table(dataset: str) -> list[dict[str, str]]:
    """One row per loss: what its paper's settings change from the common ones, in words."""
    configs = everyloss.every_loss_configs(dataset)
    common = everyloss.common_config(dataset)
    together = everyloss.batched(configs)
    return [
        {
            "Loss": cfg.loss,
            "Differs from the common settings": "; ".join(everyloss.differences(cfg, common))
            or "nothing",
            "Trained": "batched with others" if together[i] else "on its own, beside them",
            "Settings from": LOSSES[cfg.loss].source,
        }
        for i, cfg in enumerate(configs)
    ]


def every_loss_section() -> None:
    """Every loss on the same data, each with its paper's settings, trained side by side."""
    st.subheader("Every loss on the same data, live")
    st.caption(
        f"One click trains the same generator and discriminator on the same data under each of "
        f"the {len(LOSSES)} losses, side by side, so you can watch which ones keep all the "
        "modes. Each loss runs with the training settings its paper recommends (one set for "
        "all would favour the loss it was tuned for); everything else is common."
    )
    cols = st.columns([1, 2])
    mixtures = datasets.names_where(mixture=True)
    dataset = cols[0].selectbox("Data", mixtures, key="diag.multi.dataset")
    st.caption(f"Common settings: {everyloss.common_words(everyloss.common_config(dataset))}.")
    note = datasets.DATASETS[dataset].every_loss_note
    if note:
        st.info(note, icon=":material/info:")
    st.table(settings_table(dataset))
    slot = multi_slot()
    if cols[1].button(
        "▶ Train every loss on the same data, live", key="diag.multi.start", type="primary"
    ):
        slot.replace(None)  # this session's previous every-loss run frees its slot first
        try:  # here, or as one actor on the Ray cluster (backend setting)
            runner = backends.make_multi_run(everyloss.every_loss_configs(dataset))
        except (backends.ClusterUnavailable, ConfigError) as exc:
            st.error(f"The run could not start: {ui.plain(str(exc))}")
            return
        if backends.try_start(runner):  # a server-wide slot, like any run (Ray: its queue)
            slot.replace(runner)
        else:
            busy = capacity.SLOTS.status()
            st.error(
                f"All {busy.limit} training slots on this server are in use ({busy.active} "
                "runs active): try again when one finishes or is stopped."
            )
    if slot.run is not None:
        every_loss_live(slot.run)


def every_loss_live(runner) -> None:
    active = runner.snapshot().active

    @st.fragment(run_every=ui.REFRESH_SECONDS if active else None)
    def view() -> None:
        snap = runner.snapshot()
        ui.progress_bar(snap)
        if snap.error:
            st.error(snap.error)
        members = snap.members
        if not members or members[0].latest is None:
            return
        centres, sigma = mixture_spec(members[0].config.dataset)
        # The same real points under every member's samples, so the modes they miss show.
        real = points_source(members[0].config.dataset).numpy_sample(512, seed=0)
        fig_loss = go.Figure()
        for m in members:
            fig_loss.add_trace(
                go.Scatter(
                    x=m.history.get("step", []), y=m.history.get("g_loss", []), name=m.config.loss
                )
            )
        fig_loss.update_layout(title="G loss", height=260, margin=dict(l=10, r=10, t=40, b=10))
        fig_held = figures.modes_held_figure(
            [(m.config.loss, *ui.held_series(m.frames, centres, sigma)) for m in members],
            len(centres),
            f"Modes held (of {len(centres)}, on the 512 fixed-noise samples)",
        )
        left, right = st.columns(2)
        left.plotly_chart(fig_loss, key="diag.multi.loss")
        right.plotly_chart(fig_held, key="diag.multi.held")
        st.caption(
            "Blue: the real data. Orange: each loss's samples of its fixed noise batch. A mode is "
            "covered when at least one sample lies within 3 standard deviations of it, held when "
            f"at least {HELD_SHARE:.0%} of its fair share of the samples (1/{len(centres)} of "
            "them) do."
        )
        for col, m in zip(st.columns(len(members)), members, strict=True):
            frame = m.latest
            col.image(
                images.scatter_image(frame.samples, real, m.extent, size=200), output_format="PNG",
                alt=f"{m.config.loss}: its samples (orange) over the real data (blue)",
            )
            measures = coverage_2d(frame.samples, centres, sigma)
            col.caption(
                f"**{m.config.loss}**  \n{measures['modes_held']}/"
                f"{measures['modes_total']} modes held, {measures['modes_covered']} covered"
            )
        if active and not snap.active:
            st.rerun()

    view()
