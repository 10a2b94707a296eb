"""A class on one server (playground.runs.classroom): codes a person can read off a projector,
students who keep their place over a reload, a console only the teacher's token opens, statuses
from the runs' live measures, pushes, and bounds on everything a visitor can make."""

from __future__ import annotations

import pytest

from playground.runs import classroom
from playground.runs.snapshots import Snapshot

TEACHER, ALICE, BOB = "t" * 43, "a" * 43, "b" * 43


def _snap(status="running", measures=(), step=100, error=None) -> Snapshot:
    return Snapshot(status=status, step=step, total_steps=1000, steps_per_sec=10.0, history={},
                    measures=tuple(measures), error=error)


class _Run:
    def __init__(self, snap: Snapshot):
        self.snap = snap

    def snapshot(self) -> Snapshot:
        return self.snap


def test_a_code_is_short_unambiguous_and_read_in_any_case():
    klass = classroom.Classes().create(TEACHER)
    assert len(klass.code) == classroom.CODE_LENGTH
    assert set(klass.code) <= set(classroom.CODE_ALPHABET)
    assert not set("01OI") & set(classroom.CODE_ALPHABET)
    assert classroom.normalise_code(" k7q2 ") == "K7Q2"
    assert classroom.normalise_code("K7-Q2") == "K7Q2"
    for bad in ("", None, "K7Q", "K7Q2X", "K0Q2", "<script>"):
        assert classroom.normalise_code(bad) is None


def test_a_class_is_found_by_its_code_and_an_unknown_code_finds_nothing():
    classes = classroom.Classes()
    klass = classes.create(TEACHER)
    assert classes.get(klass.code.lower()) is klass
    other = next(c for c in ("AAAA", "BBBB") if c != klass.code)
    assert classes.get(other) is None and classes.get("not a code") is None


def test_a_student_keeps_their_place_over_a_reload_and_is_numbered_in_joining_order():
    klass = classroom.Classes().create(TEACHER)
    assert klass.join(ALICE).number == 1
    assert klass.join(BOB, name="  Bob   Smith ").number == 2
    assert klass.join(ALICE).number == 1, "the same browser token: the same place"
    assert klass.size == 2
    assert klass.student(BOB).name == "Bob Smith"
    assert len(klass.join(BOB, name="x" * 500).name) == classroom.MAX_NAME


def test_only_the_teachers_token_opens_the_console_and_sends_to_the_class():
    klass = classroom.Classes().create(TEACHER)
    klass.join(ALICE)
    for token in (ALICE, "", None, TEACHER + "x"):
        with pytest.raises(classroom.ClassError, match="only the teacher"):
            klass.members(token)
        with pytest.raises(classroom.ClassError, match="only the teacher"):
            klass.send(token, lesson=2)
    assert [m.number for m in klass.members(TEACHER)] == [1]
    assert classroom.Classes().taught_by(ALICE) == []


def test_a_class_is_bounded_in_students_and_the_server_in_classes(monkeypatch):
    monkeypatch.setattr(classroom, "MAX_STUDENTS", 3)
    monkeypatch.setattr(classroom, "MAX_CLASSES", 2)
    classes = classroom.Classes()
    first = classes.create(TEACHER)
    for i in range(3):
        first.join(str(i) * 43)
    with pytest.raises(classroom.ClassError, match="full"):
        first.join(BOB)
    assert first.join("0" * 43).number == 1, "a student already in it still gets in"
    second = classes.create(TEACHER)
    third = classes.create(TEACHER)
    assert classes.get(first.code) is None, "the oldest class made room"
    assert classes.taught_by(TEACHER) == [third, second]


def test_a_class_ends_after_its_hours(monkeypatch):
    classes = classroom.Classes()
    klass = classes.create(TEACHER)
    monkeypatch.setattr(classroom, "CLASS_HOURS", 0.0)
    assert klass.expired and classes.get(klass.code) is None


def test_a_runs_status_comes_from_its_end_or_its_latest_mode_measures():
    held = lambda n: dict(step=100, modes_held=n, modes_total=8, high_quality_fraction=0.9)  # noqa: E731
    assert classroom.run_status(None)[0] == "not measured yet"
    assert classroom.run_status(_snap())[0] == "not measured yet"
    assert classroom.run_status(_snap("diverged", error="D's loss is nan"))[:2] == (
        "diverged", "D's loss is nan")
    assert classroom.run_status(_snap(measures=[held(8)]))[0] == "healthy"
    assert classroom.run_status(_snap(measures=[held(8), held(6)]))[0] == "partly collapsed"
    status, _, got, total = classroom.run_status(_snap(measures=[held(3)]))
    assert (status, got, total) == ("collapsed", 3, 8)
    off = dict(held(8), high_quality_fraction=0.2)
    assert classroom.run_status(_snap(measures=[off]))[0] == "off the data"


def test_the_console_shows_each_students_latest_run():
    klass = classroom.Classes().create(TEACHER)
    klass.attach(ALICE, _Run(_snap(measures=[dict(modes_held=2, modes_total=8,
                                                   high_quality_fraction=0.9)])))
    klass.attach(ALICE, _Run(_snap(step=7)))  # a new run replaces the old one on the console
    klass.join(BOB)
    alice, bob = klass.members(TEACHER)
    assert alice.snapshot.step == 7 and alice.status == "not measured yet"
    assert bob.run is None and bob.status == "not measured yet"


def test_a_push_has_a_version_and_needs_a_lesson_or_settings():
    klass = classroom.Classes().create(TEACHER)
    assert klass.send(TEACHER, lesson=3).version == 1
    pushed = klass.send(TEACHER, settings={"lr_g": "0.0002"})
    assert (pushed.version, pushed.lesson, pushed.settings) == (2, None, {"lr_g": "0.0002"})
    with pytest.raises(classroom.ClassError, match="lesson or some settings"):
        klass.send(TEACHER)


def test_a_student_whose_start_was_refused_shows_as_waiting_until_a_run_starts():
    klass = classroom.Classes().create(TEACHER)
    klass.refused(ALICE)
    (alice,) = klass.members(TEACHER)
    assert alice.waiting and alice.run is None
    klass.attach(ALICE, _Run(_snap()))
    (alice,) = klass.members(TEACHER)
    assert not alice.waiting and alice.run is not None
