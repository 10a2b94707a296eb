"""A class of thirty on one server, through the pages (AppTest sessions, each its own browser
token and run slot): the teacher makes a class on the Lessons page; thirty students open its link
and start lesson 1; all thirty train, pooled, none refused, each page showing its own run's
picture; stopping one leaves the others stepping; the teacher's console lists all thirty with a
status, and a student's session cannot open it. (AppTest never fires run_every: .run() redraws.)"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import wait_for
from streamlit.testing.v1 import AppTest

from playground.runs import classroom, pool

ROOT = Path(__file__).resolve().parent.parent
STUDENTS = 30
# lesson 1 shrunk: a small MLP that never finishes while the test looks at it
SIZES = dict(steps=10_000_000, log_every=5, sample_every=5, eval_every=20, hidden=32,
             batch_size=64)
WAIT_S = 300  # a bound for a loaded 2-core machine: the waits end as soon as their condition holds


@pytest.fixture
def sessions(monkeypatch):
    """A run slot per session (the cached session resource is per real browser session), keyed
    on the session's owner token, and lesson 1 shrunk; every run is stopped afterwards."""
    from pages.ui import common as ui
    from pages.ui import lessons as lessons_ui
    from playground.lessons import catalogue

    slots: dict[str, ui.RunSlot] = {}
    multis: dict[str, ui.RunSlot] = {}
    monkeypatch.setattr(ui, "run_slot", lambda: slots.setdefault(ui.owner_token(), ui.RunSlot()))
    monkeypatch.setattr(lessons_ui, "multi_slot",
                        lambda: multis.setdefault(ui.owner_token(), ui.RunSlot()))
    original = catalogue.Variant.config
    monkeypatch.setattr(
        catalogue.Variant, "config", lambda self, seed=None: original(self, seed).replace(**SIZES)
    )
    try:
        yield slots
    finally:
        for slot in slots.values():
            slot.stop()


def _page(name: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def _token(at: AppTest) -> str:
    from pages.ui import common as ui

    return at.session_state[ui.OWNER_KEY]


def _generated_x(at: AppTest) -> tuple[int, np.ndarray]:
    """The step and the generated points' x of the 2D view this page shows."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = (spec["layout"].get("title") or {}).get("text", "")
        if not title.startswith("Step "):
            continue
        step = int(title.split()[1].rstrip(":").replace(",", ""))
        for trace in spec["data"]:
            if trace.get("name") == "generated":
                return step, _array(trace["x"])
    raise AssertionError("no 2D view on the page")


def _array(x) -> np.ndarray:
    """A plotly trace's numbers: a list, or plotly's typed array ({"dtype", "bdata"})."""
    if isinstance(x, dict):
        return np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]).astype(float)
    return np.asarray(x, dtype=float)


def test_thirty_students_in_one_class_train_pooled_and_the_teacher_sees_them(sessions):
    teacher = _page("lessons.py").run()
    assert not teacher.exception
    _button(teacher, "class.make").click().run()
    (klass,) = classroom.classes().taught_by(_token(teacher))
    assert klass.code in " ".join(c.value for c in teacher.code)

    students = []
    for _ in range(STUDENTS):
        at = _page("lessons.py", {"class": klass.code}).run()
        assert not at.exception
        assert any(klass.code in i.value for i in at.info), "the student's class banner"
        _button(at, "lessons.start.game").click().run()
        assert not at.exception
        assert "train.waiting_for_slot" not in at.session_state, "refused a slot"
        students.append(at)
    runs = [sessions[_token(at)].run for at in students]
    assert all(run is not None for run in runs), "every student got a run: none refused"
    assert all(isinstance(run, pool.PooledRun) for run in runs), "all thirty pooled"
    assert klass.size == STUDENTS

    wait_for(lambda: all(r.snapshot().step >= 10 and r.snapshot().latest for r in runs),
             "all thirty stepping", WAIT_S)
    for at, run in zip(students[:5], runs[:5], strict=True):  # each page shows its own run
        at.run()
        assert not at.exception
        step, xs = _generated_x(at)
        frame = next(f for f in run.snapshot().frames if f.step == step)
        np.testing.assert_allclose(xs, frame.samples[: len(xs), 0], rtol=1e-4, atol=1e-4)

    sessions[_token(students[0])].stop()  # one student stops
    assert runs[0].snapshot().status == "stopped"
    before = [r.snapshot().step for r in runs[1:]]
    wait_for(lambda: all(r.snapshot().step > b for r, b in zip(runs[1:], before, strict=True)),
             "the other 29 still stepping", WAIT_S)
    assert runs[0].snapshot().status == "stopped"

    console = _page("classroom.py")
    console.session_state[_owner_key()] = _token(teacher)  # the teacher's browser
    console.run()
    assert not console.exception
    projected = [b for b in console.button if b.key and b.key.startswith("console.project.")]
    assert len(projected) == STUDENTS, "a card for every student's run"
    words = " ".join(m.value for m in console.markdown)
    assert words.count("<strong>") >= STUDENTS, "a status on every card"
    captions = [c.value for c in console.caption]
    assert f"{STUDENTS} students" in " ".join(captions)
    assert sum(" · stopped" in c for c in captions) == 1, "the stopped run says so"

    snooping = _page("classroom.py")
    snooping.session_state[_owner_key()] = _token(students[1])
    snooping.run()
    assert not snooping.exception
    assert any("Only the browser that made a class" in w.value for w in snooping.warning)
    assert not [b for b in snooping.button if b.key and b.key.startswith("console.")]


def _owner_key() -> str:
    from pages.ui import common as ui

    return ui.OWNER_KEY


def test_a_student_follows_the_teachers_push_to_another_lesson(sessions):
    teacher = _page("lessons.py").run()
    _button(teacher, "class.make").click().run()
    (klass,) = classroom.classes().taught_by(_token(teacher))
    student = _page("lessons.py", {"class": klass.code}).run()
    assert not [b for b in student.button if b.key == "class.follow"], "nothing sent yet"
    klass.send(_token(teacher), lesson=5)
    student.run()
    _button(student, "class.follow").click().run()
    assert not student.exception
    assert student.sidebar.radio(key="lessons.pick").value.startswith("5. ")
    assert not [b for b in student.button if b.key == "class.follow"], "answered: no banner"


def test_an_unknown_class_code_says_so(sessions):
    at = _page("lessons.py", {"class": "ZZZZ"}).run()
    assert not at.exception
    assert any("There is no class ZZZZ" in w.value for w in at.warning)


def test_the_console_and_the_class_banner_in_chinese_have_no_english_left(sessions):
    from test_i18n import _english_left as english_left

    def _english_left(at: AppTest) -> dict:  # the class's code is no English word
        left = {t: [w for w in ws if w not in klass.code] for t, ws in english_left(at).items()}
        return {t: ws for t, ws in left.items() if ws}

    teacher = _page("lessons.py", {"lang": "zh"}).run()
    _button(teacher, "class.make").click().run()
    (klass,) = classroom.classes().taught_by(_token(teacher))
    assert _english_left(teacher) == {}
    student = _page("lessons.py", {"class": klass.code, "lang": "zh"}).run()
    _button(student, "lessons.start.game").click().run()
    run = sessions[_token(student)].run
    wait_for(lambda: run.snapshot().latest is not None, "the student's first picture", WAIT_S)
    klass.send(_token(teacher), lesson=2)
    student.run()
    assert not student.exception and _english_left(student) == {}
    console = _page("classroom.py", {"lang": "zh"})
    console.session_state[_owner_key()] = _token(teacher)
    console.run()
    assert not console.exception
    assert console.title[0].value == "班级控制台"
    assert _english_left(console) == {}


def test_a_student_who_reloads_and_starts_on_the_train_page_stays_in_the_class(sessions):
    """A page opened again by its address (a reload, a bookmark of /train) has no ?class= and
    a fresh session: the browser's owner token still finds the class it joined, so the run
    started there is on the teacher's console."""
    teacher = _page("lessons.py").run()
    _button(teacher, "class.make").click().run()
    (klass,) = classroom.classes().taught_by(_token(teacher))
    joined = _page("lessons.py", {"class": klass.code}).run()
    assert klass.size == 1
    train = _page("train.py", {"hidden": "32", "batch_size": "64", "steps": "10000000"})
    train.session_state[_owner_key()] = _token(joined)  # the same browser, a new session
    train.run()
    start = next(b for b in train.button if b.label == "Start")
    start.click().run()
    assert not train.exception
    run = sessions[_token(joined)].run
    assert run is not None
    (row,) = klass.members(_token(teacher))
    assert row.run is run, "the run started on the Train page is the student's on the console"
    stranger = _page("train.py", {"hidden": "32", "batch_size": "64", "steps": "10000000"}).run()
    next(b for b in stranger.button if b.label == "Start").click().run()
    assert klass.size == 1, "a browser that never joined is not put in the class"
