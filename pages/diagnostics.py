"""Diagnostics: is the generator collapsing? Mode and class coverage measured now and over
training, the pictures that show it, runs compared side by side, and samples brought from a GAN
trained elsewhere.

Widgets → `playground.measures.evaluation` (through cached helpers in diagnostics_ui) → draw.
"""

import streamlit as st

from pages.ui import brought as brought_ui
from pages.ui import common as ui
from pages.ui import diagnostics as dui
from pages.ui import every_loss as every_loss_ui
from pages.ui.i18n import _

ui.require_router()

st.title(_("Diagnostics"))
st.caption(_(
    "A loss curve cannot show mode collapse: a generator that makes only one kind of sample can "
    "have perfectly calm losses. So here it is measured: which modes (for 2D mixtures) or which "
    "classes (for labelled images) the generator produces, and how often."
))

run = ui.run_slot().run
sources = dui.all_sources(run)
one, compare, own = st.tabs([_("One model"), _("Compare models"), _("Your own samples")])

with one:
    source = dui.source_picker(sources)
    if source is not None:
        n = st.select_slider(
            _("Samples"),
            dui.SAMPLE_CHOICES,
            value=2500,
            key="diag.samples",
            help=_("How many fresh samples to measure now. The papers use 2,500; fewer is faster, "
                   "more is steadier. (During training, 1,000 points or 256 images are "
                   "measured.)"),
        )
        if source.key == dui.CURRENT:
            st.button(
                _("↻ Measure again"),
                key="diag.refresh",
                help=_("The run keeps training: measure its generator as it is now."),
            )
        dui.show_source(source, run, n)

with compare:
    if sources:
        dui.compare_view(sources)
        dui.pacgan_table(sources)
    else:
        st.info(_("Nothing to compare yet: train and save a few runs first."))
    st.divider()
    every_loss_ui.every_loss_section()

with own:
    brought_ui.brought_tab()
