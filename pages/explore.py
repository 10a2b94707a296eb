"""Latent explorer: pick a trained generator, move through its latent space, interpolate.

Widgets → `playground.latent` → draw. The generator is a cached, frozen copy running under
inference mode, so moving a slider costs one forward pass: no reloading, no retraining.
"""

import streamlit as st

from pages.ui import common as ui
from pages.ui import explore as xui
from pages.ui.i18n import _
from playground import latent
from playground.texts.catalogue import N_
from playground.views import images

ui.require_router()

DIMS, DIRECTIONS = N_("Latent dimensions"), N_("Principal directions")

st.title(_("Latent explorer"))
st.caption(
    _("Every sample a generator makes is a point z in its latent space. Pick a point with "
      "a seed, move it with the sliders, and walk from one seed to another.")
)

source = xui.source_picker()
if source is None:
    st.stop()
model, key = source

controls, output = st.columns([2, 3], gap="large")
with controls:
    seed = xui.seed_input(
        "explore.seed",
        _("Seed"),
        _("Which random z to start from: the same seed always gives the same z, on any machine."),
    )
    label = xui.class_picker(model)
    codes = xui.code_controls(model, f"explore.{key}")  # InfoGAN's codes, None without
    psi = st.slider(
        _("Truncation ψ"),
        0.1,
        1.5,
        1.0,
        0.05,
        key="explore.psi",
        help=_("Scales z towards the centre of the latent space (z → ψ·z, the truncation "
               "trick). ψ < 1 gives more typical, cleaner samples with less variety; ψ > 1 "
               "reaches rarely sampled regions, where samples get stranger."),
    )
    mode = st.radio(
        _("Move along"),
        (DIMS, DIRECTIONS),
        horizontal=True,
        key="explore.mode",
        format_func=_,
        help=_("Latent dimensions: edit coordinates of z one by one (often entangled: one "
               "coordinate changes many things). Principal directions: move along the few "
               "latent directions that change the output most (GANSpace). With InfoGAN codes, "
               "both move the noise only: the codes stay as their controls set them."),
    )
    base = latent.z_from_seed(seed, model.latent_dim)
    n_noise = model.latent_dim - model.codes.size  # InfoGAN's codes have their own controls
    if mode == DIMS:
        noise = xui.dimension_sliders(base[:n_noise], f"explore.{key}", seed)
        z = latent.with_noise(base, noise)
    else:
        with st.spinner(_("Finding principal directions…")):
            found, explained = xui.directions(model, key)
        z = base + xui.direction_sliders(found, explained, f"explore.{key}")
z = latent.truncate(z, psi)
if codes is not None:
    z = model.codes.set(z[None], *codes)[0]

with output:
    sample = xui.generated(model, z[None], label)  # None: the reason is on the page
    if sample is not None and model.kind == "images":
        xui.show_image(
            sample,
            _("G(z) · seed {seed} · ψ {psi} · step {step}").format(
                seed=seed, psi=f"{psi:g}", step=f"{model.step:,}"
            ),
        )
    elif sample is not None:
        cloud = model.sample(xui.N_CLOUD, seed=0, psi=psi)  # the model as a whole, for context
        xui.show_point(model, sample[0], cloud)


@st.fragment
def interpolation(
    model: latent.LatentModel, psi: float, label: int | None, codes: tuple | None
) -> None:
    """From seed A to seed B; a fragment, so its own controls rerun only this section."""
    st.header(_("Interpolation"))
    a_col, b_col = st.columns(2)
    with a_col:
        seed_a = xui.seed_input("explore.seed_a", _("Seed A"), _("Where the walk starts."))
    with b_col:
        st.session_state.setdefault("explore.seed_b", 1)
        seed_b = xui.seed_input("explore.seed_b", _("Seed B"), _("Where the walk ends."))
    n_col, m_col = st.columns(2)
    frames = n_col.slider(
        _("Frames"),
        4,
        32,
        8,
        key="explore.frames",
        help=_("How many evenly spaced steps from A to B, both included."),
    )
    method = m_col.radio(
        _("Path"),
        latent.METHODS,
        index=1,
        horizontal=True,
        key="explore.method",
        format_func=_,
        help=_("linear: the straight line between the two z. spherical (slerp): along the great "
               "circle, keeping ‖z‖ near the values seen in training; a straight line between "
               "two random z passes near the origin, where samples are often washed out."),
    )
    ends = [latent.truncate(latent.z_from_seed(s, model.latent_dim), psi) for s in (seed_a, seed_b)]
    zs = latent.interpolate(*ends, frames, method)
    if codes is not None:  # InfoGAN: the walk keeps the chosen codes
        zs = model.codes.set(zs, *codes)
    outputs = xui.generated(model, zs, label)
    if outputs is None:
        return  # the reason is on the page
    if model.kind == "images":
        st.image(
            xui.frames_strip(images.to_uint8(outputs)),
            caption=_("seed {seed_a} → seed {seed_b}, {method}, {frames} frames").format(
                seed_a=seed_a, seed_b=seed_b, method=_(method), frames=frames
            ),
            output_format="PNG",
            alt=_("{frames} images along the path from seed {seed_a} to seed {seed_b}").format(
                frames=frames, seed_a=seed_a, seed_b=seed_b
            ),
        )
    else:
        st.columns([3, 2])[0].plotly_chart(xui.path_figure(model, outputs.numpy()))
    st.download_button(
        _("Download GIF"),
        icon=":material/download:",
        data=xui.gif_maker(model, outputs),
        file_name="interpolation.gif",
        mime="image/gif",
        help=_("An animated GIF of this walk, A → B and back, looping."),
    )


if latent.has_styles(model.generator):  # a StyleGAN generator: its W space too
    st.divider()
    xui.style_space(model, key, seed, label)
st.divider()
interpolation(model, psi, label, codes)
