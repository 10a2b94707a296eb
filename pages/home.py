"""Home: what the app is, the game in one formula, one-click starts, device and datasets."""

from pathlib import Path

import streamlit as st

from pages.ui import common as ui
from pages.ui.i18n import _
from playground.data.loading import dataset_status
from playground.data.registry import DATASETS
from playground.texts.catalogue import N_

ui.require_router()

st.title("GAN Playground")
st.markdown(
    _(
        "Train a generative adversarial network live, watch it learn, and see **mode "
        "collapse** happen and measured."
    )
)
st.latex(
    r"\min_G \max_D \; \mathbb{E}_{x \sim p_\text{data}}[\log D(x)] + "
    r"\mathbb{E}_{z \sim p_z}[\log(1 - D(G(z)))]"
)
st.markdown(
    _(
        "A **generator** G turns random noise z into samples; a **discriminator** D learns to "
        "tell them from real data. Each improves against the other, and at the game's "
        "equilibrium G's samples are indistinguishable from the data. In practice the game is "
        "unstable: G often learns only a few of the data's modes, which is *mode collapse*."
    )
)


def go_train(preset: str) -> None:
    st.session_state["pending_preset"] = preset
    st.session_state["autostart"] = True


cols = st.columns(4)
starts = [  # (button, preset, caption): translated where shown
    (N_("See mode collapse"), "ring8-collapse", N_("The original GAN on a ring of 8 Gaussians.")),
    (N_("See it fixed"), "ring8-stable", N_("The same data with settings that learn all 8 modes.")),
    (N_("Train digits"), "digits-dcgan", N_("A DCGAN on handwritten digits, offline, on a CPU.")),
]


def shipped_model() -> Path | None:
    """A model that ships with the app (the digits DCGAN when present), never a user's run."""
    examples = ui.CHECKPOINTS / "examples"
    shipped = [folder for folder, _meta in ui.list_checkpoints() if folder.parent == examples]
    preferred = examples / "digits-dcgan"
    return preferred if preferred in shipped else next(iter(shipped), None)


for col, (label, preset, text) in zip(cols, starts, strict=False):
    if col.button(_(label), key=f"start_{preset}", type="primary", width="stretch"):
        go_train(preset)
        st.switch_page("pages/train.py")
    col.caption(_(text))
if cols[3].button(_("Explore a trained generator"), key="home.explore", width="stretch"):
    if (model := shipped_model()) is not None:
        st.session_state["explore_source"] = str(model)
    st.switch_page("pages/explore.py")
cols[3].caption(_("Move through the latent space of a shipped model."))

st.header(_("This machine"))
st.write(_("Training runs on: **{device}**").format(device=_(ui.device_description())))
# A static table: the interactive data grid drew as an empty grey box until its canvas loaded
# (and in some browsers never did), and ten rows need no scrolling or sorting.
st.table(
    {
        _("what"): {name: _(d.summary) for name, d in DATASETS.items()},
        _("status"): {name: ui.dataset_status_text(s) for name, s in dataset_status().items()},
    },
    border="horizontal",
    width="content",
)
