"""AppTest for the Lessons page: every lesson's one click starts its run (or draws its
Dirac-GAN), the 2D view carries the manifold and arrows layers, and teacher links hide and lock.
(AppTest never fires run_every: call .run() again to redraw.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import lesson_slots, shown, wait_for
from streamlit.testing.v1 import AppTest

from playground.lessons import catalogue as lessons_data
from playground.lessons import claims as lesson_claims

ROOT = Path(__file__).resolve().parent.parent
SHORT = dict(steps=6, log_every=1, sample_every=3, eval_every=0, hidden=16, batch_size=32)


@pytest.fixture
def slots(monkeypatch):
    """Fresh run slots per test, and every lesson shrunk to a few tiny steps so a click trains
    in well under a second."""
    with lesson_slots(monkeypatch, SHORT) as pair:
        yield pair


def _page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "lessons.py"), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def _pick(at: AppTest, lesson) -> AppTest:
    at.sidebar.radio(key="lessons.pick").set_value(f"{lesson.number}. {lesson.title}")
    return at.run()


def test_the_page_lists_seven_lessons_in_teaching_order():
    at = _page().run()
    assert not at.exception
    options = at.sidebar.radio(key="lessons.pick").options
    assert len(options) >= 7
    assert options[0].startswith("1. The game itself")
    assert [o.split(". ", 1)[1] for o in options] == [x.title for x in lessons_data.LESSONS]


@pytest.mark.parametrize("lesson", lessons_data.LESSONS, ids=lambda x: x.key)
def test_each_lesson_is_one_click(lesson, slots):
    slot, multi = slots
    at = _pick(_page().run(), lesson)
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "What to watch" in text and any(lesson.formula in x.value for x in at.latex)
    assert any("What you should see" in x.value for x in at.info)
    _button(at, f"lessons.start.{lesson.key}").click()
    at.run()
    assert not at.exception
    runner = multi.run if lesson.kind == "side-by-side" else slot.run
    assert runner is not None, "the click started no run"
    wait_for(lambda: not runner.snapshot().active, "the lesson's run to finish")
    snap = runner.snapshot()
    assert snap.status == "finished", snap.error
    if lesson.kind == "side-by-side":
        assert [m.config.loss for m in snap.members] == [c.loss for c in lesson.configs()]
    else:
        assert snap.config.to_dict() == lesson.configs()[0].to_dict()
    at.run()
    assert not at.exception
    assert at.get("plotly_chart"), "no live picture"
    if lesson.kind == "dirac":
        assert any("The Dirac-GAN" in h.value for h in at.subheader)


IMAGE_VARIANTS = [
    (entry, i)
    for entry in lessons_data.LESSONS
    for i, variant in enumerate(entry.variants)
    if not variant.config().is_points
]


@pytest.mark.parametrize(
    "lesson, index", IMAGE_VARIANTS, ids=[f"{e.key}-{i}" for e, i in IMAGE_VARIANTS]
)
def test_an_image_variant_is_one_click_and_shows_its_sample_grid(lesson, index, slots):
    slot, _ = slots
    at = _pick(_page().run(), lesson)
    key = f"lessons.start.{lesson.key}" + (f".{index}" if index else "")
    _button(at, key).click()
    at.run()
    assert not at.exception
    assert slot.run is not None, "the click started no run"
    assert slot.run.snapshot().config.to_dict() == lesson.configs()[index].to_dict()
    wait_for(lambda: not slot.run.snapshot().active, "the lesson's run to finish")
    at.run()
    assert not at.exception
    assert any("Fixed noise at step" in (i.proto.imgs[0].caption or "") for i in at.get("image"))
    assert at.get("plotly_chart"), "no chart of D's output"


def test_lesson_one_draws_the_manifold_and_arrows_layers(slots):
    slot, _ = slots
    at = _page().run()
    _button(at, "lessons.start.game").click()
    at.run()
    wait_for(lambda: not slot.run.snapshot().active, "the run to finish")
    at.run()
    toggles = {t.key: t.value for t in at.toggle}
    assert toggles["lessons.layer.game.manifold"] and toggles["lessons.layer.game.arrows"]
    import json

    figure = json.loads(next(c for c in at.get("plotly_chart")).proto.spec)
    names = [trace.get("name") for trace in figure["data"]]
    assert "G's manifold" in names and "gradient arrows" in names
    # Off goes the layer.
    at.toggle(key="lessons.layer.game.manifold").set_value(False).run()
    figure = json.loads(next(c for c in at.get("plotly_chart")).proto.spec)
    assert "G's manifold" not in [trace.get("name") for trace in figure["data"]]


def _chart(at: AppTest, key: str) -> dict | None:
    import json

    found = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    return json.loads(found[0].proto.spec) if found else None


def test_lesson_two_shows_the_collapse_beside_its_fix_with_meshes_and_modes_held(slots):
    """Both runs at once (the fix's G has another shape: it trains beside, not batched), each
    drawn with its G manifold and a line of words, and one chart of the modes each holds."""
    _, multi = slots
    lesson = lessons_data.lesson("collapse")
    at = _pick(_page().run(), lesson)
    _button(at, "lessons.start.collapse").click()
    at.run()
    wait_for(lambda: not multi.run.snapshot().active, "the side-by-side run to finish")
    at.run()
    assert not at.exception
    held = _chart(at, "lessons.side.chart")
    assert held is not None and held["layout"]["title"]["text"].startswith("Modes held")
    assert [t["name"] for t in held["data"]] == ["Collapsing run", "Fixed run"]
    for label in ("Collapsing run", "Fixed run"):
        figure = _chart(at, f"lessons.side.{label}")
        assert "G's manifold" in [t.get("name") for t in figure["data"]], label
    summaries = [c.value for c in at.caption if "modes held" in c.value]
    assert any(s.startswith("**Collapsing run**, step 6: ") for s in summaries), summaries
    assert any(s.startswith("**Fixed run**, step 6: ") for s in summaries), summaries


def test_before_start_the_page_draws_the_data_the_run_will_show(slots):
    """The lesson's data is drawn where its live picture will be (so the browser has its
    charting code loaded before the click): the very points the run's real layer shows."""
    slot, _ = slots
    at = _page().run()
    preview = _chart(at, "lessons.preview")
    assert preview is not None, "no picture of the lesson's data before Start"
    assert [t["name"] for t in preview["data"]] == ["real"]
    _button(at, "lessons.start.game").click()
    at.run()
    wait_for(lambda: not slot.run.snapshot().active, "the run to finish")
    at.run()
    assert _chart(at, "lessons.preview") is None, "the live picture replaces the preview"
    live = _chart(at, "lessons.view")
    (real,) = [t for t in live["data"] if t["name"] == "real"]
    assert real["x"] == preview["data"][0]["x"] and real["y"] == preview["data"][0]["y"]
    assert live["layout"]["xaxis"]["range"] == preview["layout"]["xaxis"]["range"]


def test_an_image_lesson_has_no_points_to_preview(slots):
    lesson = next(x for x in lessons_data.LESSONS if not x.variants[0].config().is_points)
    at = _pick(_page().run(), lesson)
    assert not at.exception
    assert _chart(at, "lessons.preview") is None
    assert any("Press the start button" in c.value for c in at.caption)


def test_the_dirac_lesson_draws_without_training():
    lesson = lessons_data.lesson("nonconvergence")
    at = _pick(_page().run(), lesson)
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "simultaneous**: spirals out" in text
    assert "regularised**: converges" in text


def test_the_switch_lesson_changes_the_loss_of_the_live_run(slots, monkeypatch):
    slot, _ = slots
    lesson = lessons_data.lesson("switch")
    original = lessons_data.Variant.config
    monkeypatch.setattr(
        lessons_data.Variant,
        "config",
        lambda self, seed=None: original(self, seed).replace(steps=100_000),
    )
    at = _pick(_page().run(), lesson)
    _button(at, "lessons.start.switch").click()
    at.run()
    wait_for(lambda: slot.run.snapshot().step > 0, "the run to train")
    at.button(key="lessons.switch").click()
    at.run()
    assert not at.exception
    wait_for(lambda: slot.run.snapshot().config.loss == "lsgan", "the loss to switch")
    assert any("Switched at step" in c.value for c in at.caption)


def test_a_teacher_link_opens_one_lesson_hidden_and_locked(slots):
    at = _page({"lesson": "3", "hide": "formula,claim", "lock": "1"}).run()
    assert not at.exception
    assert not at.sidebar.radio, "a locked link shows no lesson picker"
    assert any("Lesson 3: Vanishing gradients" in h.value for h in at.header)
    assert not at.latex and not at.info, "hidden parts are drawn"
    assert at.number_input(key="lessons.lr_g.vanishing").disabled
    assert not any(e.label == "Teacher link" for e in at.expander)
    _button(at, "lessons.start.vanishing").click()  # the class can still start it
    at.run()
    assert not at.exception and slots[1].run is not None


def test_a_bad_teacher_link_says_which_part_is_wrong():
    at = _page({"lesson": "99"}).run()
    assert not at.exception
    assert any("lesson: must be one of" in shown(w.value) for w in at.warning)
    at = _page({"lesson": "2", "hide": "everything"}).run()
    assert any("hide:" in shown(w.value) for w in at.warning)


def test_the_teacher_link_builder_writes_a_link_the_page_reads():
    at = _page().run()
    code = next(c.value for c in at.code)
    query = dict(part.split("=") for part in code.split("?", 1)[1].split("&"))
    view = lessons_data.parse_teacher_link(query)
    assert view.lesson.number == 1 and view.locked and not view.shows("settings")


# ---------------------------------------------------------------------- the lesson data
def test_every_lesson_is_complete_and_its_runs_are_valid_configs():
    assert [x.number for x in lessons_data.LESSONS] == list(range(1, len(lessons_data.LESSONS) + 1))
    for entry in lessons_data.LESSONS:
        assert entry.kind in lessons_data.KINDS
        assert entry.shows and entry.formula and entry.watch and entry.claim
        assert entry.configs(), entry.key
        for cfg in entry.configs(seed=3):
            assert cfg.seed == 3  # validated by GANConfig.replace
        assert entry.key in lesson_claims.CLAIMS, f"lesson {entry.key} has no measured claim"
    side = lessons_data.lesson("vanishing")
    from playground.training.multirun import check_members

    check_members(side.configs())  # a side-by-side lesson's runs can be batched


def test_lessons_are_found_by_number_or_key_and_bad_ones_are_named():
    assert lessons_data.lesson(3) is lessons_data.lesson("vanishing")
    assert lessons_data.lesson(" 2 ").key == "collapse"
    with pytest.raises(ValueError, match="^lesson: must be one of 1 \\(game\\)"):
        lessons_data.lesson(str(len(lessons_data.LESSONS) + 1))


@pytest.mark.parametrize(
    "params, problem",
    [
        ({"lesson": "1", "hide": "picker,everything"}, "hide: parts must be among"),
        ({"lesson": "1", "lock": "maybe"}, "lock: must be 1 or 0"),
        ({"lock": "1"}, "lock: a locked link must name its lesson"),
        ({"lesson": "zero"}, "lesson: must be one of"),
    ],
)
def test_bad_teacher_links_are_refused_naming_the_parameter(params, problem):
    with pytest.raises(ValueError, match=f"^{problem}"):
        lessons_data.parse_teacher_link(params)


def test_teacher_links_round_trip():
    entry = lessons_data.lesson("lipschitz")
    query = lessons_data.teacher_query(entry, ("settings", "formula"), lock=True)
    assert query == {"lesson": "5", "hide": "settings,formula", "lock": "1"}
    view = lessons_data.parse_teacher_link(query)
    assert view.lesson is entry and view.locked
    assert not view.shows("settings") and not view.shows("formula") and view.shows("claim")
    open_view = lessons_data.parse_teacher_link(lessons_data.teacher_query(entry, lock=False))
    assert not open_view.locked and not open_view.hidden


def test_claims_table_counts_the_seeds_a_claim_holds_on():
    result = lesson_claims.ClaimResult
    table = lesson_claims.claims_table(
        {"game": [result(0, True, "8/8"), result(1, False, "7/8"), result(2, True, "8/8")]}
    )
    assert "| 1. The game itself |" in table and "| 2 of 3 |" in table


def test_start_scrolls_the_live_run_into_view_once(slots):
    """The click's page run carries the script that scrolls the live run to the top; the
    next page runs do not (the person may have scrolled away since)."""
    slot, _ = slots

    def scripts(at: AppTest) -> list[str]:
        return [h.proto.body for h in at.get("html") if "scrollIntoView" in h.proto.body]

    at = _page().run()
    assert not scripts(at)
    _button(at, "lessons.start.game").click()
    at.run()
    (script,) = scripts(at)
    assert ".st-key-lessons-live" in script
    wait_for(lambda: not slot.run.snapshot().active, "the run to finish")
    at.run()
    assert not scripts(at)


def test_a_lessons_settings_are_listed_by_their_labels():
    """The lesson's settings table names each setting as the Train page does ("Generator
    learning rate"), not by its code name (lr_g)."""
    at = _pick(_page().run(), lessons_data.lesson("collapse"))
    (table,) = at.dataframe
    names = list(table.value["setting"])
    assert "Generator learning rate" in names and "Batch size" in names
    assert not any(name in lessons_data.lesson("collapse").configs()[0].to_query()
                   for name in names)
