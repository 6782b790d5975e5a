"""Calendar invites: one email per session and person holding one VEVENT, queued in the outbox.

Rules from INVITES.md: each session has a UID fixed at creation; a new session is
METHOD:REQUEST with SEQUENCE 0; a change of time, room, link or status keeps the UID, raises
SEQUENCE and goes to everyone who holds the event; a cancellation is METHOD:CANCEL with
STATUS:CANCELLED; times are UTC; the organizer does not invite themself; co-facilitators are
attendees with ROLE=CHAIR. Everything here runs inside the transaction of the change it follows,
so a change and its messages are written together or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import formataddr
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vDuration, vText

from facilitators.tables import Person
from mail import outbox
from mail.compose import Calendar as MailCalendar
from mail.compose import Draft
from mail.render import render_message
from mail.tables import OutboxMessage
from sessions.tables import (
    Cohort,
    CohortFacilitator,
    Enrollment,
    EnrollmentStatus,
    Session,
    SessionStatus,
)
from settings import get_settings

PRODID = "-//mentorcircle//Entering Mentoring cohorts//EN"
KINDS = ("invite", "update", "cancel")


@dataclass(frozen=True)
class Attendee:
    person_id: int
    name: str
    email: str
    timezone: str
    chair: bool  # a co-facilitator


@dataclass(frozen=True)
class Organizer:
    name: str
    email: str


@dataclass(frozen=True)
class CohortMail:
    id: int
    name: str
    timezone: str
    review: bool
    published: bool
    organizer: Organizer
    attendees: tuple[Attendee, ...]


async def cohort_mail(cohort_id: int) -> CohortMail:
    """The cohort's organizer and everyone who holds its events: enrolled participants and the
    facilitators other than the organizer."""
    cohort = await Cohort.select().where(Cohort.id == cohort_id).first()
    assert cohort is not None
    facilitators = (
        await CohortFacilitator.select(
            CohortFacilitator.person,
            CohortFacilitator.lead,
            CohortFacilitator.person.name.as_alias("name"),
            CohortFacilitator.person.email.as_alias("email"),
            CohortFacilitator.person.timezone.as_alias("timezone"),
            CohortFacilitator.person.active.as_alias("active"),
        )
        .where(CohortFacilitator.cohort == cohort_id)
        .order_by(CohortFacilitator.id)
    )
    lead = next((f for f in facilitators if f["lead"]), None)
    settings = get_settings()
    if cohort["organizer_email"]:
        organizer = Organizer(cohort["organizer_name"] or cohort["name"], cohort["organizer_email"])
    elif lead is not None:
        organizer = Organizer(lead["name"], lead["email"])
    else:
        organizer = Organizer("mentorcircle", settings.mail_from)
    participants = (
        await Enrollment.select(
            Enrollment.person,
            Enrollment.person.name.as_alias("name"),
            Enrollment.person.email.as_alias("email"),
            Enrollment.person.timezone.as_alias("timezone"),
            Enrollment.person.active.as_alias("active"),
        )
        .where(
            (Enrollment.cohort == cohort_id)
            & (Enrollment.status == EnrollmentStatus.enrolled.value)
        )
        .order_by(Enrollment.id)
    )
    attendees = [
        Attendee(f["person"], f["name"], f["email"], f["timezone"], True)
        for f in facilitators
        if f["active"] and f["email"].casefold() != organizer.email.casefold()
    ] + [
        Attendee(p["person"], p["name"], p["email"], p["timezone"], False)
        for p in participants
        if p["active"]
    ]
    return CohortMail(
        id=cohort_id,
        name=cohort["name"],
        timezone=cohort["timezone"],
        review=cohort["review_mail"],
        published=cohort["published_at"] is not None,
        organizer=organizer,
        attendees=tuple(attendees),
    )


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key.replace("_", "-").upper()] = value
    return address


def session_event(
    session: dict[str, Any],
    cohort_name: str,
    *,
    sequence: int,
    stamp: dt.datetime,
    cancelled: bool = False,
    organizer: Organizer | None = None,
    attendee: Attendee | None = None,
) -> Event:
    event = Event()
    event.add("uid", session["ical_uid"])
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("dtstart", session["starts_at"].astimezone(dt.UTC))
    event.add("dtend", session["ends_at"].astimezone(dt.UTC))
    event.add("sequence", sequence)
    event.add("summary", f"{cohort_name}: session {session['position']}, {session['title']}")
    description = [f"Session {session['position']} of {cohort_name}: {session['title']}."]
    if session["video_url"]:
        description.append(f"Video link: {session['video_url']}")
        event.add("url", session["video_url"])
    if session["location"]:
        event.add("location", session["location"])
    elif session["video_url"]:
        event.add("location", session["video_url"])
    event.add("description", "\n".join(description))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if organizer is not None:
        event.add("organizer", _address(organizer.email, organizer.name))
    if attendee is not None:
        event.add(
            "attendee",
            _address(
                attendee.email,
                attendee.name,
                role="CHAIR" if attendee.chair else "REQ-PARTICIPANT",
                partstat="NEEDS-ACTION",
                rsvp="TRUE",
            ),
        )
    return event


def calendar_bytes(events: list[Event], *, method: str | None, feed: bool = False) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    if feed:
        calendar.add(
            "refresh-interval", vDuration(dt.timedelta(hours=12)), parameters={"VALUE": "DURATION"}
        )
        calendar.add("x-published-ttl", vDuration(dt.timedelta(hours=12)))
    for event in events:
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def session_context(
    cohort: CohortMail, session: dict[str, Any], name: str, zone: str
) -> dict[str, Any]:
    """What every message about a session tells its reader: who it is for, the session, its
    times in the cohort's zone and (when it differs) the reader's own, and its page."""
    return {
        "name": name,
        "cohort": cohort.name,
        "cohort_zone": cohort.timezone,
        "own_zone": zone if zone and zone != cohort.timezone else "",
        "session": session,
        "organizer": cohort.organizer.name,
        "page": f"{get_settings().base_url}/sessions/{session['id']}",
    }


def render_invite(
    kind: str,
    cohort: CohortMail,
    session: dict[str, Any],
    attendee: Attendee,
    previous: dict[str, Any] | None = None,
) -> tuple[str, str, str]:
    """The subject, text and HTML of an invite, update or cancellation (also for previews)."""
    context = {
        **session_context(cohort, session, attendee.name, attendee.timezone),
        "kind": kind,
        "chair": attendee.chair,
        # What an update replaces (time, room, link), so the email can say what changed.
        "previous": previous,
    }
    text, html = render_message(kind, context)
    subject = {
        "invite": f"Invitation: {cohort.name}, session {session['position']}",
        "update": f"Updated: {cohort.name}, session {session['position']}",
        "cancel": f"Cancelled: {cohort.name}, session {session['position']}",
    }[kind]
    return subject, text, html


def _message(
    cohort: CohortMail,
    session: dict[str, Any],
    attendee: Attendee,
    *,
    method: str,
    sequence: int,
    kind: str,
    stamp: dt.datetime,
    round_: int = 0,
    previous: dict[str, Any] | None = None,
) -> outbox.NewMessage:
    settings = get_settings()
    cancelled = method == "CANCEL"
    event = session_event(
        session,
        cohort.name,
        sequence=sequence,
        stamp=stamp,
        cancelled=cancelled,
        organizer=cohort.organizer,
        attendee=attendee,
    )
    ics = calendar_bytes([event], method=method)
    # The round tells apart a second invitation after a withdrawal (or a second withdrawal).
    key = f"{kind}:{session['id']}:{attendee.person_id}:{sequence}" + (
        f":r{round_}" if round_ else ""
    )
    subject, text, html = render_invite(kind, cohort, session, attendee, previous)
    return outbox.composed(
        Draft(
            sender=formataddr((f"{cohort.organizer.name} via mentorcircle", settings.mail_from)),
            recipient=formataddr((attendee.name, attendee.email)),
            subject=subject,
            text=text,
            html=html,
            reply_to=cohort.organizer.email,
            calendar=MailCalendar(ics, method),
        ),
        key=key,
        kind=kind,
        domain=settings.mail_domain,
        now=stamp,
        held=cohort.review,
        cohort_id=cohort.id,
        session_id=session["id"],
        person_id=attendee.person_id,
    )


async def _sessions(
    cohort_id: int, session_ids: list[int] | None, *, future_only: bool
) -> list[dict[str, Any]]:
    query = Session.select().where(Session.cohort == cohort_id)
    if session_ids is not None:
        if not session_ids:
            return []
        query = query.where(Session.id.is_in(session_ids))
    if future_only:
        query = query.where(Session.ends_at > dt.datetime.now(dt.UTC))
    return await query.order_by(Session.starts_at)


async def _cancels_sent(cohort_id: int) -> dict[tuple[int, int], tuple[int, int]]:
    """For each (session, person): how many CANCELs went (or go) to them alone, and the
    highest SEQUENCE among them."""
    rows = await OutboxMessage.select(
        OutboxMessage.session_id, OutboxMessage.person_id, OutboxMessage.key
    ).where(
        (OutboxMessage.cohort_id == cohort_id)
        & (OutboxMessage.kind == "cancel")
        & OutboxMessage.state.is_in(["held", "queued", "sending", "sent"])
    )
    found: dict[tuple[int, int], tuple[int, int]] = {}
    for row in rows:
        sequence = int(row["key"].split(":")[3])
        count, highest = found.get((row["session_id"], row["person_id"]), (0, -1))
        found[(row["session_id"], row["person_id"])] = (count + 1, max(highest, sequence))
    return found


async def send_schedule(cohort_id: int, *, person_ids: list[int] | None = None) -> int:
    """Invite (REQUEST) to every scheduled session still to come: at publication for everyone,
    later for people who join. Someone who comes back after leaving gets a new invitation
    whose SEQUENCE is not below the CANCEL they had (with a newer DTSTAMP, calendars take it
    as the latest). Returns how many messages were queued."""
    cohort = await cohort_mail(cohort_id)
    if not cohort.published:
        return 0
    stamp = dt.datetime.now(dt.UTC)
    attendees = [a for a in cohort.attendees if person_ids is None or a.person_id in person_ids]
    cancels = await _cancels_sent(cohort_id)
    messages = []
    for session in await _sessions(cohort_id, None, future_only=True):
        if session["status"] != SessionStatus.scheduled.value:
            continue
        for attendee in attendees:
            count, highest = cancels.get((session["id"], attendee.person_id), (0, -1))
            messages.append(
                _message(
                    cohort,
                    session,
                    attendee,
                    method="REQUEST",
                    sequence=max(session["ical_sequence"], highest),
                    kind="invite",  # to them it is new, whatever the session's sequence
                    stamp=stamp,
                    round_=count,
                )
            )
    return await outbox.enqueue(messages)


async def send_session_change(session_id: int, previous: dict[str, Any] | None = None) -> int:
    """After a calendar-visible change (the sequence was raised): an update, or a CANCEL for a
    cancelled session, to everyone who holds the event. Older invites and updates of this
    session that have not gone out yet are superseded."""
    session = await Session.select().where(Session.id == session_id).first()
    assert session is not None
    cohort = await cohort_mail(session["cohort"])
    if not cohort.published:
        return 0
    # Supersede what had not gone out to the people who now get the replacement (a pending
    # withdrawal CANCEL to someone who left stays as it is).
    await outbox.cancel_waiting(
        session_id=session_id, kinds=KINDS, person_ids=[a.person_id for a in cohort.attendees]
    )
    cancelled = session["status"] == SessionStatus.cancelled.value
    stamp = dt.datetime.now(dt.UTC)
    messages = [
        _message(
            cohort,
            session,
            attendee,
            method="CANCEL" if cancelled else "REQUEST",
            sequence=session["ical_sequence"],
            kind="cancel" if cancelled else "update",
            stamp=stamp,
            previous=previous,
        )
        for attendee in cohort.attendees
    ]
    return await outbox.enqueue(messages)


async def send_withdrawal(cohort_id: int, person_id: int) -> int:
    """Someone left the cohort: what was waiting for them is cancelled, and each event they
    hold (a session still to come) is cancelled in their calendar."""
    await outbox.cancel_waiting(cohort_id=cohort_id, person_id=person_id)
    cohort = await cohort_mail(cohort_id)
    if not cohort.published:
        return 0
    person = (
        await Person.select(Person.name, Person.email, Person.timezone)
        .where(Person.id == person_id)
        .first()
    )
    assert person is not None
    attendee = Attendee(person_id, person["name"], person["email"], person["timezone"], False)
    stamp = dt.datetime.now(dt.UTC)
    # Only events they hold: an invitation (or update) to them actually went out.
    held = {
        row["session_id"]
        for row in await OutboxMessage.select(OutboxMessage.session_id).where(
            (OutboxMessage.cohort_id == cohort_id)
            & (OutboxMessage.person_id == person_id)
            & OutboxMessage.kind.is_in(["invite", "update"])
            & OutboxMessage.state.is_in(["sent", "sending"])
        )
    }
    cancels = await _cancels_sent(cohort_id)
    messages = [
        # Their own copy moves one sequence ahead: calendars ignore a CANCEL that is not newer.
        _message(
            cohort,
            session,
            attendee,
            method="CANCEL",
            sequence=max(
                session["ical_sequence"], cancels.get((session["id"], person_id), (0, -1))[1]
            )
            + 1,
            kind="cancel",
            stamp=stamp,
            round_=cancels.get((session["id"], person_id), (0, -1))[0],
        )
        for session in await _sessions(cohort_id, None, future_only=True)
        if session["status"] == SessionStatus.scheduled.value and session["id"] in held
    ]
    return await outbox.enqueue(messages)
