"""Attendance per session and participant, completion per participant, and the roster export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

from database import Prepared, lock_for_update
from errors import Checks, FieldError, InvalidInput
from facilitators import audit
from facilitators.services import CurrentUser
from sessions.access import can_manage_cohort, require_cohort, require_session
from sessions.completion import Completion, CompletionRule, completion
from sessions.roster import ParticipantRow, list_participants
from sessions.services import CohortSummary, SessionRow, cohort_sessions, cohort_summary
from sessions.tables import (
    Attendance,
    AttendanceStatus,
    Enrollment,
    EnrollmentStatus,
    Session,
    SessionStatus,
)

STATUSES = tuple(s.value for s in AttendanceStatus)
STATUS_LABELS = {
    "present": "Present",
    "late": "Late",
    "left_early": "Left early",
    "excused": "Excused",
    "absent": "Absent",
}


@dataclass(frozen=True)
class Mark:
    enrollment_id: int
    status: str
    note: str | None = None  # None: leave the note as it is


@dataclass(frozen=True)
class SheetRow:
    participant: ParticipantRow
    status: str | None
    note: str


_RECORDS = Prepared(
    lambda sessions: Attendance.select(
        Attendance.session, Attendance.enrollment, Attendance.status, Attendance.note
    ).where(Attendance.session.is_in(sessions))
)


async def _records(session_ids: list[int]) -> dict[tuple[int, int], tuple[str, str]]:
    """(session, enrollment) -> (status, note), in one query."""
    if not session_ids:
        return {}
    rows = await _RECORDS(sessions=session_ids)
    return {(r["session"], r["enrollment"]): (r["status"], r["note"]) for r in rows}


async def attendance_sheet(user: CurrentUser, session_id: int) -> list[SheetRow]:
    """Everyone enrolled in the session's cohort, with what is recorded for this session."""
    cohort_id = await require_session(user, session_id, manage=True)
    participants = await list_participants(cohort_id, include_withdrawn=False)
    records = await _records([session_id])
    return [
        SheetRow(p, *records.get((session_id, p.enrollment_id), (None, "")))
        for p in participants
        if p.status == EnrollmentStatus.enrolled.value
    ]


async def record_attendance(session_id: int, marks: list[Mark], *, actor: CurrentUser) -> int:
    """Record (or correct) attendance for some participants of one session. All or nothing.
    Before a session starts only "excused" can be recorded (someone says they will miss it).
    A mark without a note leaves the note as it was. Returns how many marks changed something."""
    cohort_id = await require_session(actor, session_id, manage=True)
    if not marks:
        raise InvalidInput.single("marks", "give at least one participant's attendance")
    enrollments = {
        row["id"]: row["status"]
        for row in await Enrollment.select(Enrollment.id, Enrollment.status).where(
            Enrollment.cohort == cohort_id
        )
    }
    checks = Checks()
    for index, mark in enumerate(marks, start=1):
        checks.check(_check_mark, mark, enrollments, f"marks[{index}]")
    if len({m.enrollment_id for m in marks}) != len(marks):
        checks.errors.append(FieldError("marks", "each participant may appear once"))
    checks.done()
    changed = 0
    now = dt.datetime.now(dt.UTC)
    async with Attendance._meta.db.transaction():
        # The session row's lock serializes writers of one sheet (two taps at once on
        # PostgreSQL); SQLite's transactions are serialized already.
        session = await lock_for_update(
            Session.select(Session.status, Session.position, Session.starts_at).where(
                Session.id == session_id
            )
        ).first()
        assert session is not None
        if session["status"] == SessionStatus.cancelled.value:
            raise InvalidInput.single(
                "session", "the session is cancelled: there is no attendance to record"
            )
        if session["starts_at"] > now and any(
            m.status != AttendanceStatus.excused.value for m in marks
        ):
            raise InvalidInput.single(
                "status", "the session has not started: only an excused absence can be recorded yet"
            )
        existing = await _records([session_id])
        for mark in marks:
            before = existing.get((session_id, mark.enrollment_id))
            note = (before[1] if before else "") if mark.note is None else mark.note.strip()
            if before == (mark.status, note):
                continue
            if before is None:
                await Attendance.insert(
                    Attendance(
                        session=session_id,
                        enrollment=mark.enrollment_id,
                        status=mark.status,
                        note=note,
                        recorded_by=actor.person_id,
                        recorded_at=now,
                    )
                )
            else:
                await Attendance.update(
                    {
                        Attendance.status: mark.status,
                        Attendance.note: note,
                        Attendance.recorded_by: actor.person_id,
                        Attendance.recorded_at: now,
                    }
                ).where(
                    (Attendance.session == session_id)
                    & (Attendance.enrollment == mark.enrollment_id)
                )
            changed += 1
        if changed:
            await audit.record(
                actor.person_id,
                "attendance.record",
                "session",
                session_id,
                cohort_id=cohort_id,
                summary=f"Attendance for session {session['position']}: {changed} participant(s)",
            )
    return changed


def _check_mark(mark: Mark, enrollments: dict[int, str], field: str) -> Mark:
    if mark.status not in STATUSES:
        raise InvalidInput.single(
            f"{field}.status", f"{mark.status!r} is not one of: {', '.join(STATUSES)}"
        )
    if mark.enrollment_id not in enrollments:
        raise InvalidInput.single(
            f"{field}.enrollment_id", f"no participant {mark.enrollment_id} in this cohort"
        )
    if enrollments[mark.enrollment_id] != EnrollmentStatus.enrolled.value:
        raise InvalidInput.single(
            f"{field}.enrollment_id",
            f"participant {mark.enrollment_id} is {enrollments[mark.enrollment_id]}",
        )
    if mark.note is not None and len(mark.note) > 500:
        raise InvalidInput.single(f"{field}.note", "is longer than 500 characters")
    if mark.note is not None and "\x00" in mark.note:
        raise InvalidInput.single(f"{field}.note", "must not hold a NUL character")
    return mark


@dataclass(frozen=True)
class CompletionRow:
    participant: ParticipantRow
    completion: Completion
    by_session: dict[int, str]


async def cohort_completion(cohort_id: int) -> tuple[list[SessionRow], list[CompletionRow]]:
    """Each enrolled or withdrawn participant's attendance and completion, in a few queries."""
    return await completion_of(
        await cohort_summary(cohort_id),
        await cohort_sessions(cohort_id),
        await list_participants(cohort_id),
    )


async def completion_of(
    summary: CohortSummary, all_sessions: Sequence[SessionRow], roster: Sequence[ParticipantRow]
) -> tuple[list[SessionRow], list[CompletionRow]]:
    """`cohort_completion` for a page that has read the cohort, its sessions and its whole
    roster (withdrawn included) already: one more query, for the attendance records."""
    sessions = [s for s in all_sessions if not s.is_cancelled]
    session_ids = [s.id for s in sessions if not s.extra]
    extra_ids = tuple(s.id for s in sessions if s.extra)
    records = await _records([s.id for s in sessions])
    # Over: the cohort says so, or its last session has ended.
    final = summary.status in {"completed", "archived"} or bool(
        sessions and sessions[-1].ends_at <= dt.datetime.now(dt.UTC)
    )
    participants = [p for p in roster if p.status != EnrollmentStatus.waitlisted.value]
    rows = []
    for p in participants:
        by_session = {
            s.id: records[(s.id, p.enrollment_id)][0]
            for s in sessions
            if (s.id, p.enrollment_id) in records
        }
        rows.append(
            CompletionRow(
                p,
                completion(
                    summary.completion, session_ids, by_session, final=final, extra_ids=extra_ids
                ),
                by_session,
            )
        )
    return sessions, rows


async def completion_for(
    user: CurrentUser, cohort_id: int
) -> tuple[list[SessionRow], list[CompletionRow]]:
    """Managers see everyone; a participant sees only their own row."""
    await require_cohort(user, cohort_id)
    sessions, rows = await cohort_completion(cohort_id)
    if not await can_manage_cohort(user, cohort_id):
        rows = [r for r in rows if r.participant.person_id == user.person_id]
    return sessions, rows


async def roster_csv(user: CurrentUser, cohort_id: int) -> str:
    """The roster with attendance per session and completion, as CSV for a spreadsheet."""
    await require_cohort(user, cohort_id, manage=True)
    sessions, rows = await cohort_completion(cohort_id)
    waitlist = [
        p
        for p in await list_participants(cohort_id)
        if p.status == EnrollmentStatus.waitlisted.value
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "name",
            "email",
            "department",
            "enrollment",
            *[
                f"session {s.position} ({s.local_start():%Y-%m-%d}){' make-up' if s.extra else ''}"
                for s in sessions
            ],
            "attended",
            "required",
            "completion",
        ]
    )
    for row in rows:
        p = row.participant
        writer.writerow(
            [
                _safe(p.name),
                _safe(p.email),
                _safe(p.department),
                p.status,
                *[STATUS_LABELS.get(row.by_session.get(s.id, ""), "") for s in sessions],
                row.completion.attended,
                row.completion.required,
                row.completion.status.value.replace("_", " "),
            ]
        )
    for p in waitlist:
        writer.writerow(
            [
                _safe(p.name),
                _safe(p.email),
                _safe(p.department),
                p.status,
                *[""] * len(sessions),
                "",
                "",
                "",
            ]
        )
    # A byte-order mark, so that a spreadsheet opened by double-click reads UTF-8 names right.
    return "\ufeff" + buffer.getvalue()


def _safe(text: str) -> str:
    """Neutralize spreadsheet formulas (CSV injection): a cell starting with =, +, - or @."""
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def rule_text(rule: CompletionRule, sessions: int) -> str:
    """The completion rule in words, for the roster page."""
    text = (
        f"at least {rule.required(sessions)} of {sessions} sessions ({rule.percent}%, rounded up)"
    )
    if rule.requires_first_last:
        text += ", including the first and the last"
    if rule.late_counts and rule.left_early_counts:
        return text + "; arriving late or leaving early still counts as attending"
    if rule.late_counts:
        return text + "; arriving late counts, leaving early does not"
    if rule.left_early_counts:
        return text + "; leaving early counts, arriving late does not"
    return text + "; arriving late or leaving early does not count"
