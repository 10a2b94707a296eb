"""A class on one server: the teacher creates one and gets a short join code; a student who opens
the class's link (`/lessons?class=K7Q2`) joins it, and the runs they start belong to it. The
teacher's console lists every student's latest run with its status; only the browser that holds
the teacher's token may read it, and a student sees only their own runs (their pages hold them).

Tokens are the browsers' owner tokens (storage.store.new_owner_token, kept in a cookie, so a
reload keeps both the teacher's console and a student's place in the class). A class keeps only
their SHA-256 digests and compares them in constant time.

Everything here is bounded, so no visitor can grow the server's memory by creating classes or
joining them: at most MAX_CLASSES classes (the oldest is dropped for a new one), each with at
most MAX_STUDENTS students, each with one run on the console (their latest), and a class ends
CLASS_HOURS after it was made. A run stays its student's: the class holds the handle only to
read its snapshots, and a run its student replaced or discarded drops out at the next look.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from playground.measures.brought import point_verdict
from playground.runs.snapshots import Snapshot

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a projector
CODE_LENGTH = 4
MAX_CLASSES = 32
MAX_STUDENTS = 60
MAX_NAME = 24
CLASS_HOURS = 12.0
# What the console says of a run: the words of measures.brought's verdicts, plus a run's own end.
STATUSES = (
    "healthy", "partly collapsed", "collapsed", "off the data", "diverged", "not measured yet"
)


class ClassError(ValueError):
    """A code that names no class, a class that is full, a token that is not the teacher's."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_code(text: str | None) -> str | None:
    """The code as written on the board (any case, spaces, dashes), or None when it cannot be
    one."""
    if not text:
        return None
    code = "".join(ch for ch in str(text).upper() if ch not in " -_")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


@dataclass
class Push:
    """What the teacher last sent the class: a lesson to move to, or settings to try."""

    version: int
    lesson: int | None = None
    settings: dict | None = None


@dataclass
class Student:
    number: int  # 1, 2, … in order of joining
    name: str = ""
    run: object | None = None  # the latest run they started (a runs.interface.SingleRun)
    label: str = ""  # what the run is (e.g. "lesson 2 (the fix)")
    joined: float = field(default_factory=time.time)
    waiting: bool = False  # their last Start found every training slot busy


@dataclass(frozen=True)
class Member:
    """One row of the teacher's console: a student and what their run says now."""

    number: int
    name: str  # as the student gave it; "" when they gave none
    label: str
    run: object | None
    snapshot: Snapshot | None
    status: str  # one of STATUSES
    why: str  # the status in a sentence (the verdict's figure)
    modes_held: int | None
    modes_total: int | None
    waiting: bool = False  # their last Start found every training slot busy


def run_status(snap: Snapshot | None) -> tuple[str, str, int | None, int | None]:
    """(status, sentence, modes held, modes total) of a run from its snapshot: diverged when it
    stopped itself or failed, else the verdict of its latest live mode measures (2D data)."""
    if snap is None:
        return "not measured yet", "no run yet", None, None
    if snap.status in ("diverged", "error"):
        return "diverged", snap.error or snap.status, None, None
    measured = [m for m in snap.measures if "modes_total" in m]
    if not measured:
        return "not measured yet", f"step {snap.step}", None, None
    last = measured[-1]
    status, why = point_verdict(last)
    return status, why, int(last.get("modes_held", 0)), int(last.get("modes_total", 0))


class Class:
    """One class: its code, its teacher's token digest, its students and the teacher's last
    push. Thread-safe: students' sessions and the teacher's console run in different threads."""

    def __init__(self, code: str, teacher_token: str):
        self.code = code
        self.created = time.time()
        self._teacher = _digest(teacher_token)
        self._students: dict[str, Student] = {}
        self._lock = threading.Lock()
        self.push: Push | None = None

    @property
    def expired(self) -> bool:
        return time.time() - self.created > CLASS_HOURS * 3600

    def is_teacher(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self._teacher, _digest(token))

    def _require_teacher(self, token: str | None) -> None:
        if not self.is_teacher(token):
            raise ClassError(f"only the teacher who made class {self.code} can do that")

    def join(self, token: str, name: str = "") -> Student:
        """This browser's place in the class (the same one again after a reload)."""
        key = _digest(token)
        with self._lock:
            if key in self._students:
                student = self._students[key]
            elif len(self._students) >= MAX_STUDENTS:
                raise ClassError(f"class {self.code} is full ({MAX_STUDENTS} students)")
            else:
                student = Student(len(self._students) + 1)
                self._students[key] = student
            if name:
                student.name = " ".join(str(name).split())[:MAX_NAME]
            return student

    def student(self, token: str) -> Student | None:
        with self._lock:
            return self._students.get(_digest(token))

    def attach(self, token: str, run, label: str = "") -> Student:
        """`run` is now this student's run on the console (joining first if need be)."""
        student = self.join(token)
        with self._lock:
            student.run, student.label, student.waiting = run, label, False
        return student

    def refused(self, token: str) -> Student:
        """This student's Start found no free training slot: the console says they wait."""
        student = self.join(token)
        with self._lock:
            student.waiting = True
        return student

    @property
    def size(self) -> int:
        with self._lock:
            return len(self._students)

    def members(self, token: str | None) -> list[Member]:
        """The console's rows, in joining order (the teacher's token only)."""
        self._require_teacher(token)
        with self._lock:
            students = list(self._students.values())
        rows = []
        for s in students:
            run = s.run
            try:
                snap = run.snapshot() if run is not None else None
            except Exception:  # a run whose owner discarded it: shown as no run
                run, snap = None, None
            status, why, held, total = run_status(snap)
            rows.append(
                Member(s.number, s.name, s.label, run, snap, status, why, held, total, s.waiting)
            )
        return rows

    def send(
        self, token: str | None, lesson: int | None = None, settings: dict | None = None
    ) -> Push:
        """The teacher moves the class to a lesson, or suggests settings: each student's page
        shows a banner and the student chooses to follow."""
        self._require_teacher(token)
        if lesson is None and not settings:
            raise ClassError("send a lesson or some settings")
        with self._lock:
            version = self.push.version + 1 if self.push else 1
            self.push = Push(version, lesson, dict(settings) if settings else None)
            return self.push


class Classes:
    """Every class of this server, bounded (MAX_CLASSES, CLASS_HOURS)."""

    def __init__(self):
        self._classes: dict[str, Class] = {}
        self._lock = threading.Lock()

    def _drop_expired(self) -> None:
        for code in [c for c, k in self._classes.items() if k.expired]:
            del self._classes[code]

    def create(self, teacher_token: str) -> Class:
        with self._lock:
            self._drop_expired()
            while len(self._classes) >= MAX_CLASSES:
                oldest = min(self._classes.values(), key=lambda k: k.created)
                del self._classes[oldest.code]
            while True:
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                if code not in self._classes:
                    break
            made = Class(code, teacher_token)
            self._classes[code] = made
            return made

    def get(self, code: str | None) -> Class | None:
        """The class of a code as written, or None (no such class, or it ended)."""
        code = normalise_code(code)
        with self._lock:
            self._drop_expired()
            return self._classes.get(code) if code else None

    def joined_by(self, token: str | None) -> Class | None:
        """The newest class this token joined as a student (None: none), so that a student who
        reloads or opens another page without the class's link stays in the class."""
        if not token:
            return None
        with self._lock:
            self._drop_expired()
            found = [k for k in self._classes.values() if k.student(token) is not None]
        return max(found, key=lambda k: k.created) if found else None

    def taught_by(self, token: str | None) -> list[Class]:
        """The classes this token teaches, newest first."""
        with self._lock:
            self._drop_expired()
            found = [k for k in self._classes.values() if k.is_teacher(token)]
        return sorted(found, key=lambda k: -k.created)


_CLASSES = Classes()


def classes() -> Classes:
    """This server's classes (one per process, like its run slots)."""
    return _CLASSES
