"""The Diagnostics page's every-loss launcher: the same data trained under every loss of the
registry at once, each loss with its paper's training settings (playground.runs.everyloss), in
batched
groups beside lone runs (or as one Ray actor), drawn live side by side.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from pages.ui import common as ui
from pages.ui.i18n import _, message, translated
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
            _("Loss"): cfg.loss,
            _("Differs from the common settings"): "; ".join(
                message(d) for d in everyloss.differences(cfg, common)) or _("nothing"),
            _("Trained"): _("batched with others") if together[i]
            else _("on its own, beside them"),
            _("Settings from"): _(LOSSES[cfg.loss].source),
        }
        for i, cfg in enumerate(configs)
    ]


def every_loss_section() -> None:
    """Every loss on the same data, each with its paper's settings, trained side by side."""
    st.subheader(_("Every loss on the same data, live"))
    st.caption(_(
        "One click trains the same generator and discriminator on the same data under each of "
        "the {n} losses, side by side, so you can watch which ones keep all the "
        "modes. Each loss runs with the training settings its paper recommends (one set for "
        "all would favour the loss it was tuned for); everything else is common."
    ).format(n=len(LOSSES)))
    cols = st.columns([1, 2])
    mixtures = datasets.names_where(mixture=True)
    dataset = cols[0].selectbox(_("Data"), mixtures, key="diag.multi.dataset")
    st.caption(_("Common settings: {settings}.").format(
        settings=message(everyloss.common_words(everyloss.common_config(dataset)))))
    note = datasets.DATASETS[dataset].every_loss_note
    if note:
        st.info(_(note), icon=":material/info:")
    st.table(settings_table(dataset))
    slot = multi_slot()
    if cols[1].button(
        _("▶ Train every loss on the same data, live"), key="diag.multi.start", type="primary"
    ):
        slot.replace(None)  # this session's previous every-loss run frees its slot first
        try:  # here, or as one actor on the Ray cluster (backend setting)
            runner = backends.make_multi_run(everyloss.every_loss_configs(dataset))
        except (backends.ClusterUnavailable, ConfigError) as exc:
            st.error(_("The run could not start: {reason}").format(reason=ui.reason(exc)))
            return
        if backends.try_start(runner):  # a server-wide slot, like any run (Ray: its queue)
            slot.replace(runner)
        else:
            busy = capacity.SLOTS.status()
            st.error(_(
                "All {limit} training slots on this server are in use ({active} "
                "runs active): try again when one finishes or is stopped."
            ).format(limit=busy.limit, active=busy.active))
    if slot.run is not None:
        every_loss_live(slot.run)


def every_loss_live(runner) -> None:
    active = runner.snapshot().active

    @st.fragment(run_every=ui.REFRESH_SECONDS if active else None)
    def view() -> None:
        snap = runner.snapshot()
        ui.progress_bar(snap)
        if snap.error:
            st.error(ui.reason(snap.error))
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
        fig_loss.update_layout(title=_("G loss"), height=260, margin=dict(l=10, r=10, t=40, b=10))
        fig_held = figures.modes_held_figure(
            [(m.config.loss, *ui.held_series(m.frames, centres, sigma)) for m in members],
            len(centres),
            _("Modes held (of {k}, on the 512 fixed-noise samples)").format(k=len(centres)),
        )
        left, right = st.columns(2)
        left.plotly_chart(fig_loss, key="diag.multi.loss")
        right.plotly_chart(translated(fig_held), key="diag.multi.held")
        st.caption(_(
            "Blue: the real data. Orange: each loss's samples of its fixed noise batch. A mode is "
            "covered when at least one sample lies within 3 standard deviations of it, held when "
            "at least {share} of its fair share of the samples (1/{k} of them) do."
        ).format(share=f"{HELD_SHARE:.0%}", k=len(centres)))
        for col, m in zip(st.columns(len(members)), members, strict=True):
            frame = m.latest
            col.image(
                images.scatter_image(frame.samples, real, m.extent, size=200), output_format="PNG",
                alt=_("{loss}: its samples (orange) over the real data (blue)").format(
                    loss=m.config.loss),
            )
            measures = coverage_2d(frame.samples, centres, sigma)
            col.caption(
                f"**{m.config.loss}**  \n" + _("{held}/{total} modes held, {covered} covered")
                .format(held=measures["modes_held"], total=measures["modes_total"],
                        covered=measures["modes_covered"])
            )
        if active and not snap.active:
            st.rerun()

    view()
