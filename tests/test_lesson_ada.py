"""Lesson 9 (ADA beside no augmentation and fixed DiffAugment on 100 digits): it is listed with
its three runs, they validate, the page draws it at rest and after a short ADA run (with p beside
r_t) in English and in Chinese, and its measurement reads a tiny run the same way the stored
results were measured. (AppTest never fires run_every: call .run() again to redraw.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import lesson_slots, wait_for
from streamlit.testing.v1 import AppTest
from test_i18n import _english_left

from playground.lessons import ada as ada_lesson
from playground.lessons import catalogue, claims
from playground.settings.config import GANConfig

ROOT = Path(__file__).resolve().parent.parent
SHORT = dict(steps=6, log_every=1, sample_every=3, eval_every=0, width=8, batch_size=16)
LESSON = catalogue.lesson("ada")


@pytest.fixture
def slots(monkeypatch):
    with lesson_slots(monkeypatch, SHORT) as pair:
        yield pair


def _page(lang: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "lessons.py"), default_timeout=60)
    at.query_params["lesson"] = str(LESSON.number)
    if lang:
        at.query_params["lang"] = lang
    return at


def _chart(at: AppTest, key: str) -> dict | None:
    found = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    return json.loads(found[0].proto.spec) if found else None


# ---------------------------------------------------------------------- the lesson's data
def test_the_lesson_is_listed_after_the_diffaugment_lesson_with_a_measured_claim():
    assert catalogue.LESSONS[-1] is LESSON and LESSON.number == len(catalogue.LESSONS)
    assert catalogue.lesson(str(LESSON.number)) is LESSON
    assert LESSON.key in claims.CLAIMS
    assert [v.label for v in LESSON.variants] == ["No augmentation", "Fixed DiffAugment", "ADA"]


def test_its_runs_validate_and_differ_only_in_the_augmentation():
    plain, diffaug, ada = LESSON.configs(seed=3)
    for cfg in (plain, diffaug, ada):
        assert cfg.seed == 3 and cfg.train_images == 100 and cfg.dataset == "digits"
        assert GANConfig.from_dict(cfg.to_dict()) == cfg
    assert plain.ada_target == 0 and not plain.diffaugment
    assert diffaug.ada_target == 0 and diffaug.diffaugment == catalogue.DIFFAUGMENT
    assert ada.ada_target == 0.6 and not ada.diffaugment
    augmentation = {"ada_target", "diffaugment"}
    rest = [{k: v for k, v in c.to_dict().items() if k not in augmentation} for c in (plain, ada)]
    assert rest[0] == rest[1] == {
        k: v for k, v in diffaug.to_dict().items() if k not in augmentation
    }


# ---------------------------------------------------------------------- the page
@pytest.mark.parametrize("lang", [None, "zh"])
def test_the_page_draws_the_lesson_at_rest(lang, slots):
    at = _page(lang).run()
    assert not at.exception
    assert any(LESSON.formula in x.value for x in at.latex)
    if lang == "zh":
        assert any(h.value.startswith(f"第 {LESSON.number} 课") for h in at.header)
        assert _english_left(at) == {}
    else:
        assert any(f"Lesson {LESSON.number}: {LESSON.title}" in h.value for h in at.header)
        assert {b.key for b in at.button} >= {f"lessons.start.ada{s}" for s in ("", ".1", ".2")}


@pytest.mark.parametrize("lang", [None, "zh"])
def test_an_ada_run_from_the_page_draws_p_beside_r_t(lang, slots):
    slot, _ = slots
    at = _page(lang).run()
    next(b for b in at.button if b.key == "lessons.start.ada.2").click()
    at.run()
    assert not at.exception
    assert slot.run is not None and slot.run.snapshot().config.ada_target == 0.6
    wait_for(lambda: not slot.run.snapshot().active, "the ADA run to finish")
    at.run()
    assert not at.exception
    chart = _chart(at, "lessons.ada")
    assert chart is not None, "no chart of p and r_t"
    assert [t["name"] for t in chart["data"]] == ["p", "r_t"]
    if lang == "zh":
        assert _english_left(at) == {}


def test_a_run_without_ada_draws_no_p_chart(slots):
    slot, _ = slots
    at = _page().run()
    next(b for b in at.button if b.key == "lessons.start.ada").click()
    at.run()
    wait_for(lambda: not slot.run.snapshot().active, "the run to finish")
    at.run()
    assert not at.exception
    assert _chart(at, "lessons.ada") is None and _chart(at, "lessons.d_outputs") is not None


# ---------------------------------------------------------------------- the measurement
@pytest.fixture
def tiny(monkeypatch):
    """The lesson's arms at a few steps of a tiny DCGAN, looked at every 2 steps."""
    monkeypatch.setattr(ada_lesson, "CHECK_EVERY", 2)
    monkeypatch.setattr(ada_lesson, "LOOK_SAMPLES", 8)
    monkeypatch.setattr(ada_lesson, "DIAGNOSE_SAMPLES", 64)
    original = catalogue.Variant.config
    monkeypatch.setattr(
        catalogue.Variant,
        "config",
        lambda self, seed=None: original(self, seed).replace(
            steps=4, width=8, batch_size=16, log_every=2
        ),
    )


def test_a_seed_is_measured_on_all_three_arms_with_p_and_r_t_for_ada(tiny, tmp_path):
    arms = ada_lesson.measure_seed(5)
    assert [a.label for a in arms] == [v.label for v in LESSON.variants]
    for arm in arms:
        assert arm.seed == 5 and arm.steps == [2, 4] and arm.fid == arm.fid  # not NaN
        assert all(-1 <= g <= 1 for g in arm.gap)
        assert all(0 <= s <= 1 for s in arm.held_out_called_real)
    assert not arms[0].ada_p and not arms[1].ada_p
    assert len(arms[2].ada_p) == len(arms[2].ada_rt) == 2
    assert all(0 <= p <= 1 for p in arms[2].ada_p)
    holds, detail = ada_lesson.claim_holds(arms)
    assert holds == (arms[2].fid < arms[0].fid) and "ADA p" in detail
    path = tmp_path / "ada.json"
    ada_lesson.write_results([arms, arms], path)
    again = ada_lesson.load_results(path)
    assert [[a.fid for a in s] for s in again] == [[a.fid for a in arms]] * 2
    stored = json.loads(path.read_text())
    assert stored["summary"]["seeds"] == [5, 5] and stored["summary"]["ada_below_none"] in (0, 2)
    figure = ada_lesson.figure(again)
    names = [t.name for t in figure.data]
    assert names == [*(v.label for v in LESSON.variants), "p", "r_t"]


def test_the_stored_measurement_is_of_the_lessons_arms_on_untuned_seeds():
    stored = ada_lesson.load_results()
    assert len(stored) == 10
    seeds = [arms[0].seed for arms in stored]
    assert not set(seeds) & set(catalogue.TUNING_SEEDS)
    for arms in stored:
        assert [a.label for a in arms] == [v.label for v in LESSON.variants]
        assert arms[2].ada_p and len(arms[2].steps) == LESSON.configs()[2].steps // 100


# ---------------------------------------------------------------------- the claim's own code
def _arm(label: str, fid: float, real: list[float], fake: list[float], p=()):
    steps = [100 * (i + 1) for i in range(len(real))]
    return ada_lesson.ArmResult(label, 0, fid, steps=steps, real_called_real=real,
                                fake_called_real=fake, ada_p=list(p))


def test_the_claim_holds_when_adas_fid_is_below_no_augmentations_and_not_otherwise():
    plain = _arm("none", 70.0, [0.9, 1.0, 1.0, 1.0], [0.1, 0.0, 0.0, 0.0])
    diffaug = _arm("DiffAugment", 60.0, [0.8, 0.7, 0.7, 0.6], [0.3, 0.3, 0.3, 0.4])
    ada = _arm("ADA", 55.0, [0.7, 0.6, 0.6, 0.6], [0.4, 0.4, 0.5, 0.5], p=[0.1, 0.3])
    holds, detail = ada_lesson.claim_holds([plain, diffaug, ada])
    assert holds
    assert "FID none 70.0, DiffAugment 60.0, ADA 55.0" in detail and "ADA p 0.30" in detail
    # the late gap: the mean over the looks past half the run (steps 300, 400)
    assert plain.late_gap == pytest.approx(1.0) and ada.late_gap == pytest.approx(0.1)
    assert "gap 1.00/0.30/0.10" in detail
    worse = _arm("ADA", 71.0, ada.real_called_real, ada.fake_called_real, p=[0.3])
    assert not ada_lesson.claim_holds([plain, diffaug, worse])[0]
    tie = _arm("ADA", 70.0, ada.real_called_real, ada.fake_called_real, p=[0.3])
    assert not ada_lesson.claim_holds([plain, diffaug, tie])[0], "a tie is not better"


def test_the_summary_counts_the_seeds_that_go_adas_way():
    def seed(none, diffaug, ada):
        return [_arm("none", none, [1.0, 1.0], [0.0, 0.0]),
                _arm("DiffAugment", diffaug, [0.8, 0.8], [0.4, 0.4]),
                _arm("ADA", ada, [0.6, 0.6], [0.5, 0.5], p=[0.2])]

    got = ada_lesson.summary([seed(70, 60, 50), seed(70, 60, 65), seed(50, 55, 60)])
    assert got["ada_below_none"] == 2 and got["ada_below_diffaugment"] == 1
    assert got["diffaugment_below_none"] == 2 and got["ada_gap_below_none"] == 3
    assert got["median_fid"] == {"none": 70.0, "DiffAugment": 60.0, "ADA": 60.0}
    assert got["median_final_p"] == pytest.approx(0.2)
    assert ada_lesson.summary([]) == {}


class _ScoringTrainer:
    """A stand-in run whose D calls an image real when its mean brightness is above 0 (in
    [-1, 1]), with a batch norm whose running statistics a look must leave as they were."""

    def __init__(self):
        self.device = torch.device("cpu")
        self.cfg = GANConfig(dataset="digits", image_size=8)
        norm = torch.nn.BatchNorm2d(1)
        norm.train()

        class D(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.norm = norm

            def forward(self, x):
                self.norm(x[:, :1])  # moves the running statistics, as a real D's would
                return x.mean(dim=(1, 2, 3))

        self.D = D()


def test_called_real_is_the_share_d_scores_above_zero_and_leaves_d_as_it_was():
    trainer = _ScoringTrainer()
    before = [b.clone() for b in trainer.D.buffers()]
    bright = torch.full((3, 1, 8, 8), 200, dtype=torch.uint8)  # uint8 -> above 0 in [-1, 1]
    dark = torch.full((1, 1, 8, 8), 20, dtype=torch.uint8)
    assert ada_lesson.called_real(trainer, torch.cat([bright, dark])) == pytest.approx(0.75)
    floats = torch.tensor([-0.5, 0.5]).view(2, 1, 1, 1).expand(2, 1, 8, 8)
    assert ada_lesson.called_real(trainer, floats) == pytest.approx(0.5)
    # through an augmentation that darkens every image: none is called real
    assert ada_lesson.called_real(trainer, bright, augment=lambda x: x - 2.0) == 0.0
    for b, a in zip(before, trainer.D.buffers(), strict=True):
        torch.testing.assert_close(a, b)
