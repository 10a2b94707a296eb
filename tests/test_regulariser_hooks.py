"""The regularisers' registry drives the step: a new entry (its hooks, weight and widget) is
applied by the lone Trainer and the batched MultiRun, and shown by the app, with no other
change. The entry used here is the drift penalty of Karras et al. 2018 (ProGAN), ε·E[D(x)²] on
D's real scores, which the project does not ship."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from playground.errors import ConfigError
from playground.objectives import regularisers as reg
from playground.settings.config import GANConfig
from playground.training.multirun import MultiRun, check_members
from playground.training.trainer import Trainer


def _points(**kw) -> GANConfig:
    base = dict(dataset="ring8", hidden=16, layers=2, batch_size=32, steps=20, log_every=5)
    return GANConfig(**{**base, **kw}, device="cpu", eval_every=0)


def _drift(seen: list) -> reg.Regulariser:
    def term(t: reg.DTerm, members, rows):
        r = t.r.detach() if members is None else t.r.detach().index_select(0, members)
        value = (r**2).mean(-1)  # detached: only its value is compared here
        seen.append((rows, value))
        return value

    return reg.Regulariser(
        "drift",
        "gp_weight",  # borrows a per-member number so members can weigh it differently
        "Karras et al. 2018",
        "Keeps D's scores near zero.",
        reg.Widget("Drift ε", "ε·E[D(x)²] on real data."),
        on=lambda cfg: cfg.loss != "hinge",
        weight=lambda cfg: cfg.gp_weight / 100,
        d_term=term,
    )


def test_a_new_d_term_is_added_to_a_lone_runs_d_loss_with_its_weight(monkeypatch):
    cfg = _points(seed=4, gp_weight=30.0)
    plain = Trainer(cfg)
    seen: list = []
    monkeypatch.setitem(reg.REGULARISERS, "drift", _drift(seen))
    drifted = Trainer(cfg)
    plain.d_update()
    drifted.d_update()
    (rows, value), = seen
    assert rows is None, "a lone run: the term is its own"
    gained = float(drifted._d_acc[0] - plain._d_acc[0])
    assert gained == pytest.approx(0.3 * float(value), rel=1e-5)
    assert gained > 0


def test_a_new_d_term_is_applied_per_member_in_a_multirun(monkeypatch):
    seen: list = []
    monkeypatch.setitem(reg.REGULARISERS, "drift", _drift(seen))
    members = [
        _points(seed=1, gp_weight=30.0),  # drift, weight 0.3
        _points(seed=2, loss="hinge"),  # no drift: it is off for hinge
        _points(seed=3, gp_weight=50.0),  # drift, weight 0.5
    ]
    multi = MultiRun(members)
    lone = [Trainer(cfg) for cfg in members]
    for _ in range(10):
        multi.train_step()
        for trainer in lone:
            trainer.train_step()
    assert seen[0][0] == (0, 2), "the term is computed for the members it is on for"
    for i, trainer in enumerate(lone):
        assert multi.histories[i].copy()["d_loss"] == pytest.approx(
            trainer.history.copy()["d_loss"], rel=1e-4, abs=1e-5
        ), f"member {i} follows its lone run"


def test_a_multirun_refuses_a_regulariser_it_cannot_batch(monkeypatch):
    entry = dataclasses.replace(_drift([]), batched=False)
    monkeypatch.setitem(reg.REGULARISERS, "drift", entry)
    with pytest.raises(ConfigError, match="gp_weight: a multi-run does not apply drift"):
        check_members([_points(), _points(seed=1)])


def test_an_input_hook_changes_what_d_sees_for_both_players(monkeypatch):
    seen = []

    def shift(x, cfg, step, streams):
        seen.append(x.requires_grad)
        return x + 100.0  # far from the data: D's scores change

    entry = dataclasses.replace(_drift([]), d_term=None, d_input=shift)
    plain = Trainer(_points(seed=7))
    monkeypatch.setitem(reg.REGULARISERS, "drift", entry)
    shifted = Trainer(_points(seed=7))
    shifted.d_update()
    assert seen == [False, False], "real and fake before D's update"
    shifted.g_update()
    assert seen[-1] is True, "G's fakes, with G's graph"
    plain.d_update()
    assert not torch.equal(plain._d_acc, shifted._d_acc)


def test_the_app_reads_each_regularisers_label_help_and_step_from_its_entry():
    from pages.ui import settings as settings_ui
    from playground.settings import fields

    assert settings_ui.FIELDS is fields.FIELDS, "the page's widgets read the one settings table"
    for entry in reg.REGULARISERS.values():
        row = fields.FIELDS[entry.setting]
        assert row.label == entry.widget.label
        assert row.help == entry.widget.help
        assert entry.setting in fields.ADVANCED_SETTINGS
        if entry.widget.step is not None:
            assert (row.step, row.low, row.high) == entry.widget.step
            assert entry.widget.step[1:] == entry.bounds, "the buttons stop at the engine's range"


def test_r1_weighs_only_the_members_it_is_on_for():
    # Linear critics D_i(x) = w_i·x: E‖∇‖² = ‖w_i‖² = 1, 4, 9; R1 adds γ_i/2 · that.
    configs = [_points(r1_gamma=0.0), _points(r1_gamma=2.0), _points(r1_gamma=4.0)]
    (r1,) = [a for a in reg.active(configs) if a.entry.name == "r1"]
    assert r1.rows == (1, 2) and r1.weight.tolist() == [1.0, 2.0]
    w = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    real = torch.randn(3, 5, 2).requires_grad_(True)
    scores = torch.einsum("nbi,ni->nb", real, w)
    streams = reg.MemberStreams([torch.Generator() for _ in configs])
    term = reg.DTerm(real, real, scores, lambda x, members: x.sum(-1), streams)
    loss = reg.add_d_terms(torch.zeros(3), [r1], term)
    assert loss.detach().tolist() == pytest.approx([0.0, 1.0 * 4.0, 2.0 * 9.0])


def test_a_regulariser_marked_not_graphable_turns_the_cuda_graph_off(monkeypatch):
    from playground.training.fast import FastPaths

    cuda = torch.device("cuda")  # FastPaths only reads the device's type: no GPU needed
    if not FastPaths.for_config(_points(), cuda).graphs:
        pytest.skip("this torch cannot capture a generator's state in a CUDA graph")
    assert not FastPaths.for_config(_points(instance_noise=0.1), cuda).graphs
    monkeypatch.setitem(reg.REGULARISERS, "drift", dataclasses.replace(_drift([]), graphable=False))
    assert not FastPaths.for_config(_points(), cuda).graphs
