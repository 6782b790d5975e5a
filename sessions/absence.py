""" "I can't attend": a participant tells the facilitators they will miss a session.

The link in every prompt and reminder carries a signature of the session and the person, so it
works without signing in (and only for that person and session). Saying it records the
session's attendance as excused, with their message as the note, and tells the facilitators in
one message each: saying it again updates the note and sends nothing more.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import formataddr
from typing import Any

from database import lock_for_update
from errors import Conflict, NotFound
from facilitators import audit
from facilitators.validation import optional_text
from mail import outbox
from mail.compose import Draft
from mail.render import render_message
from sessions.invites import cohort_mail
from sessions.links import absence_token
from sessions.prompt_rules import REMINDER
from sessions.tables import (
    Attendance,
    AttendanceStatus,
    CohortFacilitator,
    Enrollment,
    EnrollmentStatus,
    Session,
    SessionStatus,
)
from settings import get_settings

KIND = "absence"


@dataclass(frozen=True)
class AbsenceView:
    session_id: int
    cohort_id: int
    cohort_name: str
    timezone: str
    position: int
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    person_name: str
    already_said: bool
    note: str
    token: str
    cancelled: bool = False

    @property
    def closed(self) -> str:
        """Why it is too late to say it, if it is."""
        if self.cancelled:
            return "The session is cancelled: there is nothing to miss."
        if self.ends_at <= dt.datetime.now(dt.UTC):
            return "The session is over: ask your facilitator to correct your attendance."
        return ""


async def _enrollment(session_id: int, person_id: int) -> tuple[dict[str, Any], int]:
    session = (
        await Session.select(
            Session.id,
            Session.cohort,
            Session.position,
            Session.title,
            Session.starts_at,
            Session.ends_at,
            Session.status,
            Session.cohort.name.as_alias("cohort_name"),
            Session.cohort.timezone.as_alias("timezone"),
        )
        .where(Session.id == session_id)
        .first()
    )
    if session is None:
        raise NotFound(f"no session with id {session_id}")
    enrollment = (
        await Enrollment.select(Enrollment.id)
        .where(
            (Enrollment.cohort == session["cohort"])
            & (Enrollment.person == person_id)
            & (Enrollment.status == EnrollmentStatus.enrolled.value)
        )
        .first()
    )
    if enrollment is None:
        raise NotFound("you are not enrolled in this session's cohort")
    return session, int(enrollment["id"])


async def absence_view(session_id: int, person_id: int) -> AbsenceView:
    session, enrollment_id = await _enrollment(session_id, person_id)
    record = (
        await Attendance.select(Attendance.status, Attendance.note)
        .where((Attendance.session == session_id) & (Attendance.enrollment == enrollment_id))
        .first()
    )
    person = (
        await Enrollment.select(Enrollment.person.name.as_alias("name"))
        .where(Enrollment.id == enrollment_id)
        .first()
    )
    assert person is not None
    excused = record is not None and record["status"] == AttendanceStatus.excused.value
    return AbsenceView(
        session_id=session_id,
        cohort_id=session["cohort"],
        cohort_name=str(session["cohort_name"]),
        timezone=str(session["timezone"]),
        position=session["position"],
        title=str(session["title"]),
        starts_at=session["starts_at"],
        ends_at=session["ends_at"],
        person_name=str(person["name"]),
        already_said=excused,
        note=record["note"] if excused and record else "",
        token=absence_token(session_id, person_id),
        cancelled=session["status"] != SessionStatus.scheduled.value,
    )


async def report_absence(session_id: int, person_id: int, message: str) -> bool:
    """Record that `person_id` will miss `session_id`, with their message, tell the
    facilitators, and stop the reminders of that session for them. Returns False when they
    had said so already (the note is updated, on the attendance sheet; nobody is told twice)."""
    note = optional_text(message, "message", 500)
    async with Session._meta.db.transaction():
        session, enrollment_id = await _enrollment(session_id, person_id)
        await lock_for_update(Session.select(Session.id).where(Session.id == session_id)).first()
        if session["status"] != SessionStatus.scheduled.value:
            raise Conflict("the session is cancelled: there is nothing to miss")
        if session["ends_at"] <= dt.datetime.now(dt.UTC):
            raise Conflict("the session is over: ask your facilitator to correct the attendance")
        record = (
            await Attendance.select(Attendance.status, Attendance.note)
            .where((Attendance.session == session_id) & (Attendance.enrollment == enrollment_id))
            .first()
        )
        if record is None:
            await Attendance.insert(
                Attendance(
                    session=session_id,
                    enrollment=enrollment_id,
                    status=AttendanceStatus.excused.value,
                    note=note,
                    recorded_by=person_id,
                )
            )
        else:
            await Attendance.update(
                {
                    Attendance.status: AttendanceStatus.excused.value,
                    Attendance.note: note or record["note"],
                    Attendance.recorded_by: person_id,
                    Attendance.recorded_at: dt.datetime.now(dt.UTC),
                }
            ).where((Attendance.session == session_id) & (Attendance.enrollment == enrollment_id))
        first_time = record is None or record["status"] != AttendanceStatus.excused.value
        await _tell_facilitators(session, person_id, note)
        await outbox.cancel_waiting(session_id=session_id, person_id=person_id, kinds=(REMINDER,))
        await audit.record(
            person_id,
            "attendance.cant_attend",
            "session",
            session_id,
            cohort_id=session["cohort"],
            summary=f"Said they cannot attend session {session['position']}",
        )
    return first_time


async def _tell_facilitators(session: dict[str, Any], person_id: int, note: str) -> int:
    """One message to each active facilitator, keyed so that a second click adds none. The
    message may say why (health, family): it is confidential in the outbox."""
    settings = get_settings()
    cohort_id = session["cohort"]
    cohort = await cohort_mail(cohort_id)
    facilitators = await CohortFacilitator.select(
        CohortFacilitator.person,
        CohortFacilitator.person.name.as_alias("name"),
        CohortFacilitator.person.email.as_alias("email"),
    ).where(
        (CohortFacilitator.cohort == cohort_id) & (CohortFacilitator.person.active == True)  # noqa: E712
    )
    person = (
        await Enrollment.select(
            Enrollment.person.name.as_alias("name"), Enrollment.person.email.as_alias("email")
        )
        .where((Enrollment.person == person_id) & (Enrollment.cohort == cohort_id))
        .first()
    )
    assert person is not None
    messages = []
    for facilitator in facilitators:
        key = f"{KIND}:{session['id']}:{person_id}:{facilitator['person']}"
        context = {
            "cohort": cohort.name,
            "cohort_zone": cohort.timezone,
            "name": facilitator["name"],
            "participant": person["name"],
            "session": session,
            "note": note,
            "attendance": f"{settings.base_url}/sessions/{session['id']}/attendance",
        }
        text, html = render_message(KIND, context)
        subject = f"{person['name']} cannot attend session {session['position']} of {cohort.name}"
        messages.append(
            outbox.composed(
                Draft(
                    sender=formataddr(("mentorcircle", settings.mail_from)),
                    recipient=formataddr((facilitator["name"], facilitator["email"])),
                    subject=subject,
                    text=text,
                    html=html,
                    reply_to=person["email"],
                ),
                key=key,
                kind=KIND,
                domain=settings.mail_domain,
                confidential=True,
                cohort_id=cohort_id,
                session_id=session["id"],
                person_id=facilitator["person"],
            )
        )
    return await outbox.enqueue(messages)
