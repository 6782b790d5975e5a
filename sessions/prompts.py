"""Assignment prompts and reminders before each meeting.

The rules: a cohort sends each session's prompt `prompt_lead_minutes` before it and a reminder
at each of `reminder_minutes` (a session may override both). Nothing is stored until a message
is due: `plan()` computes the planned messages from the rules (for pages), and `enqueue_due()`,
the scheduler step that runs with the dispatcher, queues what is due for every enrolled
participant. Keys make a second enqueue a no-op, so the step can run any number of times, in
any number of processes.

What counts as "already sent" is looked up by meaning, not by key: a participant has their
prompt when any prompt for that session reached the outbox and was not cancelled; a reminder
is the same offset before the same start time. A change that supersedes a waiting message (a
reschedule, an edited prompt, a cancelled session, a withdrawal) cancels it, and the next key
for the same message carries one more cancelled predecessor in its count, so the replacement
is new to the outbox while a delivered message is never repeated.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.utils import formataddr
from typing import Any

from database import lock_for_update
from errors import Conflict, InvalidInput, NotFound
from facilitators import audit
from facilitators.services import CurrentUser
from mail import outbox
from mail.compose import Draft, compose, message_id_for
from mail.render import render_message
from mail.tables import MessageState, OutboxMessage
from prose import markdown_html
from sessions.access import require_session
from sessions.invites import Attendee, CohortMail, cohort_mail, render_invite
from sessions.tables import (
    Cohort,
    CohortStatus,
    Enrollment,
    EnrollmentStatus,
    Session,
    SessionStatus,
)
from settings import get_settings, sign

PROMPT = "prompt"
REMINDER = "reminder"
KINDS = (PROMPT, REMINDER)
# What facilitators can preview as a participant will get it. (A test copy of an invitation
# leaves out the calendar part, so that it does not land in the tester's calendar.)
PREVIEW_KINDS = (PROMPT, REMINDER, "invite")
# The longest lead and reminder offset the rules accept: the scheduler looks this far ahead.
MAX_LEAD = dt.timedelta(days=30)
MAX_REMINDERS = 5
LIVE = (
    MessageState.held.value,
    MessageState.queued.value,
    MessageState.sending.value,
    MessageState.sent.value,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- the case studies a session discusses (provided by the case_studies app) -----------------


@dataclass(frozen=True)
class LinkedCase:
    title: str
    summary: str
    path: str  # the case study's page on this site


# Called with session ids; returns the case studies each will discuss, in agenda order.
# create_app() plugs in the case-study library's lookup (sessions never imports it).
CaseLookup = Callable[[list[int]], Awaitable[dict[int, list[LinkedCase]]]]
case_lookups: list[CaseLookup] = []


async def linked_cases(session_ids: list[int]) -> dict[int, list[LinkedCase]]:
    found: dict[int, list[LinkedCase]] = defaultdict(list)
    for lookup in case_lookups:
        for session_id, cases in (await lookup(session_ids)).items():
            found[session_id].extend(cases)
    return dict(found)


# -- the rules and the plan -----------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """The rules in force for one session: its own, else its cohort's."""

    lead_minutes: int
    reminder_minutes: tuple[int, ...]
    overridden: bool = False


def timing_of(session: dict[str, Any], cohort: dict[str, Any]) -> Timing:
    lead = session.get("prompt_lead_minutes")
    reminders = session.get("reminder_minutes")
    return Timing(
        lead_minutes=cohort["prompt_lead_minutes"] if lead is None else lead,
        reminder_minutes=tuple(cohort["reminder_minutes"] if reminders is None else reminders),
        overridden=lead is not None or reminders is not None,
    )


@dataclass(frozen=True)
class Planned:
    kind: str
    minutes_before: int
    due_at: dt.datetime

    @property
    def label(self) -> str:
        what = "Assignment prompt" if self.kind == PROMPT else "Reminder"
        return f"{what}, {describe_minutes(self.minutes_before)} before"


def plan(starts_at: dt.datetime, timing: Timing) -> list[Planned]:
    """The prompt and the reminders of one session, in the order they go. A reminder set to go
    before the prompt would remind of nothing: it is left out."""
    items = [
        Planned(PROMPT, timing.lead_minutes, starts_at - dt.timedelta(minutes=timing.lead_minutes))
    ]
    for minutes in sorted(set(timing.reminder_minutes), reverse=True):
        if minutes < timing.lead_minutes:
            items.append(Planned(REMINDER, minutes, starts_at - dt.timedelta(minutes=minutes)))
    return items


def due_items(starts_at: dt.datetime, timing: Timing, now: dt.datetime) -> list[Planned]:
    """What is due at `now` for a session that has not started: the prompt once its time has
    come, and the latest reminder whose time has come (an earlier one that was missed, say
    while no dispatcher ran, is superseded by it rather than sent as well)."""
    if starts_at <= now:
        return []
    items = [item for item in plan(starts_at, timing) if item.due_at <= now]
    reminders = [item for item in items if item.kind == REMINDER]
    return [item for item in items if item.kind == PROMPT] + reminders[-1:]


UNITS = (("day", 24 * 60), ("hour", 60), ("minute", 1))
_UNIT_WORDS = {
    "d": 24 * 60,
    "day": 24 * 60,
    "days": 24 * 60,
    "h": 60,
    "hr": 60,
    "hrs": 60,
    "hour": 60,
    "hours": 60,
    "m": 1,
    "min": 1,
    "mins": 1,
    "minute": 1,
    "minutes": 1,
}
_DURATION = re.compile(r"^\s*(\d{1,5})\s*([a-z]*)\s*$")


def describe_minutes(minutes: int) -> str:
    for name, size in UNITS:
        if minutes % size == 0 and minutes >= size:
            count = minutes // size
            return f"{count} {name}{'' if count == 1 else 's'}"
    return f"{minutes} minutes"


def timing_text(timing: Timing) -> dict[str, str]:
    """The timing as a form shows it (and `parse_duration(s)` reads it back)."""
    return {
        "prompt_lead_minutes": describe_minutes(timing.lead_minutes),
        "reminder_minutes": ", ".join(map(describe_minutes, timing.reminder_minutes)) or "none",
    }


def parse_duration(text: str, field: str) -> int:
    """ "7 days", "48 hours", "2h", "90 min" -> minutes; a bare number means hours."""
    match = _DURATION.match(text.lower())
    if not match or (match.group(2) and match.group(2) not in _UNIT_WORDS):
        raise InvalidInput.single(
            field,
            f"{text.strip()!r} is not a length of time: write e.g. 7 days, 48 hours, 90 minutes",
        )
    return int(match.group(1)) * _UNIT_WORDS.get(match.group(2) or "h", 60)


def parse_durations(text: str, field: str) -> tuple[int, ...]:
    """ "48 hours, 2 hours" -> (2880, 120); "none" or nothing -> no reminders."""
    if text.strip().lower() in {"", "none", "no", "-"}:
        return ()
    return tuple(parse_duration(part, field) for part in text.split(","))


def check_lead(minutes: int) -> int:
    if not 15 <= minutes <= MAX_LEAD.total_seconds() // 60:
        raise InvalidInput.single(
            "prompt_lead_minutes", "the prompt goes between 15 minutes and 30 days before"
        )
    return minutes


def check_reminders(minutes: Sequence[int]) -> tuple[int, ...]:
    if len(minutes) > MAX_REMINDERS:
        raise InvalidInput.single(
            "reminder_minutes", f"at most {MAX_REMINDERS} reminders before a session"
        )
    for value in minutes:
        if not 5 <= value <= MAX_LEAD.total_seconds() // 60:
            raise InvalidInput.single(
                "reminder_minutes",
                f"{describe_minutes(value)}: a reminder goes between 5 minutes and 30 days before",
            )
    return tuple(sorted(set(minutes), reverse=True))


# -- keys -----------------------------------------------------------------------------------


def _reminder_slot(session_id: int, person_id: int, minutes: int, starts_at: dt.datetime) -> str:
    """A reminder is "this many minutes before this start": a new time is a new reminder."""
    start = starts_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")
    return f"{REMINDER}:{session_id}:{person_id}:{minutes}m:{start}"


def _prompt_slot(session_id: int, person_id: int) -> str:
    return f"{PROMPT}:{session_id}:{person_id}"


def _slot_of(key: str) -> str:
    """The slot a key belongs to: the key without its last part (the count or the revision)."""
    return key.rpartition(":")[0]


# -- links in the messages ------------------------------------------------------------------


def absence_token(session_id: int, person_id: int) -> str:
    return f"{person_id}-{sign('absence', f'{session_id}:{person_id}')}"


def unsubscribe_token(person_id: int) -> str:
    return f"{person_id}-{sign('reminders-off', str(person_id))}"


def absence_url(session_id: int, person_id: int) -> str:
    token = absence_token(session_id, person_id)
    return f"{get_settings().base_url}/sessions/{session_id}/cant-attend/{token}"


def unsubscribe_url(person_id: int) -> str:
    return f"{get_settings().base_url}/reminders/off/{unsubscribe_token(person_id)}"


# -- the messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    person_id: int
    name: str
    email: str
    timezone: str
    reminders_off: bool = False
    enrolled_at: dt.datetime | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    headers: dict[str, str]


def render(
    kind: str,
    cohort: CohortMail,
    session: dict[str, Any],
    recipient: Recipient,
    cases: list[LinkedCase],
    *,
    updated: bool = False,
) -> Rendered:
    """The subject, text and HTML of a prompt or reminder (also for previews and test copies)."""
    settings = get_settings()
    prompt = session["assignment_prompt"]
    context = {
        "kind": kind,
        "name": recipient.name,
        "cohort": cohort.name,
        "cohort_zone": cohort.timezone,
        "own_zone": recipient.timezone
        if recipient.timezone and recipient.timezone != cohort.timezone
        else "",
        "session": session,
        "organizer": cohort.organizer.name,
        "prompt_text": prompt,
        "prompt_html": markdown_html(prompt),
        "due_at": session["prompt_due_at"],
        "cases": [
            {"title": c.title, "summary": c.summary, "url": settings.base_url + c.path}
            for c in cases
        ],
        "updated": updated,
        "page": f"{settings.base_url}/sessions/{session['id']}",
        "absence_url": absence_url(session["id"], recipient.person_id),
        "unsubscribe_url": unsubscribe_url(recipient.person_id) if kind == REMINDER else "",
    }
    text, html = render_message(kind, context)
    title = f"{cohort.name}, session {session['position']}: {session['title']}"
    if kind == PROMPT:
        subject = ("Updated assignment: " if updated else "Assignment: ") + title
    else:
        subject = f"Reminder: {title}"
    headers: dict[str, str] = {}
    if kind == REMINDER:
        # RFC 2369 and RFC 8058: mail clients offer "unsubscribe" and POST to it in one click.
        headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return Rendered(subject, text, html, headers)


def _message(
    key: str,
    kind: str,
    cohort: CohortMail,
    session: dict[str, Any],
    recipient: Recipient,
    cases: list[LinkedCase],
    *,
    send_after: dt.datetime,
    updated: bool = False,
) -> outbox.NewMessage:
    settings = get_settings()
    rendered = render(kind, cohort, session, recipient, cases, updated=updated)
    content = compose(
        Draft(
            sender=formataddr((f"{cohort.organizer.name} via mentorcircle", settings.mail_from)),
            recipient=formataddr((recipient.name, recipient.email)),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            reply_to=cohort.organizer.email,
            headers=rendered.headers,
        ),
        key=key,
        domain=settings.mail_domain,
    )
    return outbox.NewMessage(
        key=key,
        kind=kind,
        recipient=recipient.email,
        subject=rendered.subject,
        content=content,
        message_id=message_id_for(key, settings.mail_domain),
        send_after=send_after,
        # Nothing about a meeting goes out once it has begun (a held message released late).
        expires_at=session["starts_at"],
        held=cohort.review,
        cohort_id=cohort.id,
        session_id=session["id"],
        person_id=recipient.person_id,
    )


async def recipients(cohort_ids: Sequence[int]) -> dict[int, list[Recipient]]:
    """Enrolled, active participants of each cohort."""
    if not cohort_ids:
        return {}
    rows = (
        await Enrollment.select(
            Enrollment.cohort,
            Enrollment.person,
            Enrollment.enrolled_at,
            Enrollment.person.name.as_alias("name"),
            Enrollment.person.email.as_alias("email"),
            Enrollment.person.timezone.as_alias("timezone"),
            Enrollment.person.reminders_off.as_alias("reminders_off"),
        )
        .where(
            Enrollment.cohort.is_in(list(cohort_ids))
            & (Enrollment.status == EnrollmentStatus.enrolled.value)
            & (Enrollment.person.active == True)  # noqa: E712
        )
        .order_by(Enrollment.id)
    )
    found: dict[int, list[Recipient]] = defaultdict(list)
    for row in rows:
        found[row["cohort"]].append(
            Recipient(
                row["person"],
                row["name"],
                row["email"],
                row["timezone"],
                row["reminders_off"],
                row["enrolled_at"],
            )
        )
    return found


@dataclass(frozen=True)
class SentSoFar:
    """For the sessions at hand: which slots hold a live message, and how many were cancelled."""

    live: set[str]
    cancelled: Counter[str]

    def next_key(self, slot: str) -> str | None:
        if slot in self.live:
            return None
        return f"{slot}:{self.cancelled[slot]}"


async def _sent_so_far(session_ids: list[int]) -> SentSoFar:
    rows = await OutboxMessage.select(OutboxMessage.key, OutboxMessage.state).where(
        OutboxMessage.session_id.is_in(session_ids) & OutboxMessage.kind.is_in(list(KINDS))
    )
    live: set[str] = set()
    cancelled: Counter[str] = Counter()
    for row in rows:
        slot = _slot_of(row["key"])
        if row["state"] in LIVE:
            live.add(slot)
        else:
            cancelled[slot] += 1
    return SentSoFar(live, cancelled)


_SESSION_COLUMNS = (
    Session.id,
    Session.cohort,
    Session.position,
    Session.title,
    Session.starts_at,
    Session.ends_at,
    Session.location,
    Session.video_url,
    Session.status,
    Session.assignment_prompt,
    Session.prompt_due_at,
    Session.prompt_lead_minutes,
    Session.reminder_minutes,
    Session.prompt_revision,
)


async def enqueue_due(now: dt.datetime | None = None) -> int:
    """The scheduler step: queue every prompt and reminder that is due at `now` (default: the
    real time; `mentorcircle dispatch --now` moves it) and not yet in the outbox. Returns how
    many messages were queued."""
    now = now or _now()
    rows = await Session.select(
        *_SESSION_COLUMNS,
        Session.cohort.prompt_lead_minutes.as_alias("cohort_lead"),
        Session.cohort.reminder_minutes.as_alias("cohort_reminders"),
    ).where(
        (Session.status == SessionStatus.scheduled.value)
        & (Session.starts_at > now)
        & (Session.starts_at <= now + MAX_LEAD)
        & Session.cohort.published_at.is_not_null()
        & Session.cohort.status.is_in(
            [CohortStatus.scheduled.value, CohortStatus.in_progress.value]
        )
    )
    due: list[tuple[dict[str, Any], list[Planned]]] = []
    for row in rows:
        timing = timing_of(
            row,
            {
                "prompt_lead_minutes": row["cohort_lead"],
                "reminder_minutes": row["cohort_reminders"],
            },
        )
        items = due_items(row["starts_at"], timing, now)
        if items:
            due.append((row, items))
    if not due:
        return 0
    people = await recipients(sorted({row["cohort"] for row, _ in due}))
    so_far = await _sent_so_far([row["id"] for row, _ in due])
    cases = await linked_cases([row["id"] for row, _ in due])
    cohorts: dict[int, CohortMail] = {}
    published = {
        row["id"]: row["published_at"]
        for row in await Cohort.select(Cohort.id, Cohort.published_at).where(
            Cohort.id.is_in(sorted({row["cohort"] for row, _ in due}))
        )
    }
    messages: list[outbox.NewMessage] = []
    prompted: dict[int, int] = {}  # session -> the prompt revision that went out
    for session, items in due:
        for person in people.get(session["cohort"], []):
            for item in items:
                if item.kind == PROMPT:
                    key = so_far.next_key(_prompt_slot(session["id"], person.person_id))
                else:
                    # A reminder whose time passed before they joined (or before the schedule
                    # was published) is not sent late: the prompt tells them what they need.
                    joined = max(filter(None, [person.enrolled_at, published[session["cohort"]]]))
                    if person.reminders_off or item.due_at < joined:
                        continue
                    key = so_far.next_key(
                        _reminder_slot(
                            session["id"],
                            person.person_id,
                            item.minutes_before,
                            session["starts_at"],
                        )
                    )
                if key is None:
                    continue
                if session["cohort"] not in cohorts:
                    cohorts[session["cohort"]] = await cohort_mail(session["cohort"])
                messages.append(
                    _message(
                        key,
                        item.kind,
                        cohorts[session["cohort"]],
                        session,
                        person,
                        cases.get(session["id"], []),
                        send_after=item.due_at,
                    )
                )
                if item.kind == PROMPT:
                    prompted[session["id"]] = session["prompt_revision"]
    async with Session._meta.db.transaction():
        queued = await outbox.enqueue(messages)
        for session_id, revision in prompted.items():
            await Session.update({Session.prompt_revision_sent: revision}).where(
                Session.id == session_id
            )
    return queued


async def cancel_waiting(session_id: int, kinds: tuple[str, ...] = KINDS) -> int:
    """A change superseded what was waiting to go (in the caller's transaction); the scheduler
    queues the replacement, with what is true now, when it is due."""
    return await outbox.cancel_waiting(session_id=session_id, kinds=kinds)


async def stop_reminders(person_id: int) -> int:
    """They switched reminders off: their waiting reminders are cancelled too."""
    return await outbox.cancel_waiting(person_id=person_id, kinds=(REMINDER,))


# -- what pages show and do -----------------------------------------------------------------


async def _session_and_cohort(session_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    session = await Session.select(*_SESSION_COLUMNS).where(Session.id == session_id).first()
    if session is None:
        raise NotFound(f"no session with id {session_id}")
    cohort = (
        await Cohort.select(
            Cohort.id,
            Cohort.prompt_lead_minutes,
            Cohort.reminder_minutes,
            Cohort.published_at,
            Cohort.status,
        )
        .where(Cohort.id == session["cohort"])
        .first()
    )
    assert cohort is not None
    return session, cohort


@dataclass(frozen=True)
class ScheduleLine:
    """One planned message of a session and what became of it, across its recipients."""

    planned: Planned
    recipients: int
    states: dict[str, int]
    last_sent_at: dt.datetime | None

    @property
    def label(self) -> str:
        return self.planned.label

    @property
    def is_due(self) -> bool:
        return self.planned.due_at <= _now()


@dataclass(frozen=True)
class MessageSchedule:
    timing: Timing
    lines: tuple[ScheduleLine, ...]
    updates: dict[str, int]  # updated prompts sent on request, by state
    note: str = ""


async def session_schedule(user: CurrentUser, session_id: int) -> MessageSchedule:
    """The prompt and reminders of a session as the rules plan them, each with what is in the
    outbox for it (nothing until it is due)."""
    await require_session(user, session_id, manage=True)
    session, cohort = await _session_and_cohort(session_id)
    timing = timing_of(session, cohort)
    people = (await recipients([session["cohort"]])).get(session["cohort"], [])
    rows = await OutboxMessage.select(
        OutboxMessage.key, OutboxMessage.kind, OutboxMessage.state, OutboxMessage.sent_at
    ).where((OutboxMessage.session_id == session_id) & OutboxMessage.kind.is_in(list(KINDS)))
    updates: Counter[str] = Counter()
    lines = []
    for item in plan(session["starts_at"], timing):
        states: Counter[str] = Counter()
        last_sent: dt.datetime | None = None
        for row in rows:
            parts = row["key"].split(":")
            if row["kind"] != item.kind:
                continue
            if item.kind == REMINDER and parts[3:5] != [
                f"{item.minutes_before}m",
                _reminder_slot(0, 0, 0, session["starts_at"]).rpartition(":")[2],
            ]:
                continue
            if item.kind == PROMPT and "updated" in row["key"]:
                continue
            states[row["state"]] += 1
            if row["sent_at"] and (last_sent is None or row["sent_at"] > last_sent):
                last_sent = row["sent_at"]
        count = len(people) if item.kind == PROMPT else sum(not p.reminders_off for p in people)
        lines.append(ScheduleLine(item, count, dict(states), last_sent))
    for row in rows:
        if row["kind"] == PROMPT and "updated" in row["key"]:
            updates[row["state"]] += 1
    note = ""
    if cohort["published_at"] is None:
        note = "Nothing goes out before the schedule is published."
    elif session["status"] == SessionStatus.cancelled.value:
        note = "The session is cancelled: nothing more goes out for it."
    elif cohort["status"] not in (CohortStatus.scheduled.value, CohortStatus.in_progress.value):
        note = f"The cohort is {cohort['status']}: nothing more goes out."
    return MessageSchedule(timing, tuple(lines), dict(updates), note)


async def send_updated_prompt(session_id: int, *, actor: CurrentUser) -> int:
    """The prompt changed after it went out: send the current text, marked as updated, to the
    participants who had the earlier one. Once per revision: asking again queues nothing."""
    cohort_id = await require_session(actor, session_id, manage=True)
    async with Session._meta.db.transaction():
        session = await lock_for_update(
            Session.select(*_SESSION_COLUMNS, Session.prompt_revision_sent).where(
                Session.id == session_id
            )
        ).first()
        assert session is not None
        if session["status"] != SessionStatus.scheduled.value:
            raise Conflict("the session is cancelled: no prompt goes out for it")
        if session["starts_at"] <= _now():
            raise Conflict("the session has begun: the prompt is no longer sent")
        if session["prompt_revision_sent"] is None:
            raise Conflict(
                "no prompt has gone out yet: the current text goes out when the prompt is due"
            )
        revision = session["prompt_revision"]
        if revision <= session["prompt_revision_sent"]:
            raise Conflict("participants already have the current prompt")
        had_it = {
            row["person_id"]
            for row in await OutboxMessage.select(OutboxMessage.person_id).where(
                (OutboxMessage.session_id == session_id)
                & (OutboxMessage.kind == PROMPT)
                & OutboxMessage.state.is_in([MessageState.sending.value, MessageState.sent.value])
            )
        }
        people = [
            p for p in (await recipients([cohort_id])).get(cohort_id, []) if p.person_id in had_it
        ]
        cohort = await cohort_mail(cohort_id)
        cases = (await linked_cases([session_id])).get(session_id, [])
        queued = await outbox.enqueue(
            [
                _message(
                    f"{PROMPT}:{session_id}:{person.person_id}:updated-r{revision}",
                    PROMPT,
                    cohort,
                    session,
                    person,
                    cases,
                    send_after=_now(),
                    updated=True,
                )
                for person in people
            ]
        )
        await Session.update({Session.prompt_revision_sent: revision}).where(
            Session.id == session_id
        )
        await audit.record(
            actor.person_id,
            "session.prompt_update_sent",
            "session",
            session_id,
            cohort_id=cohort_id,
            summary=f"Sent the updated prompt (revision {revision}) to {queued} participant(s)",
        )
    return queued


async def _participant(cohort_id: int, person_id: int) -> Recipient:
    for person in (await recipients([cohort_id])).get(cohort_id, []):
        if person.person_id == person_id:
            return person
    raise NotFound(f"person {person_id} is not an enrolled participant of this cohort")


async def preview(
    user: CurrentUser, session_id: int, kind: str, person_id: int | None
) -> tuple[Rendered, Recipient]:
    """The message `kind` as `person_id` (default: the first participant) would get it now."""
    cohort_id = await require_session(user, session_id, manage=True)
    if kind not in PREVIEW_KINDS:
        raise InvalidInput.single(
            "kind", f"preview one of {', '.join(PREVIEW_KINDS)}, not {kind!r}"
        )
    if person_id is None:
        people = (await recipients([cohort_id])).get(cohort_id, [])
        if not people:
            raise Conflict("the cohort has no enrolled participants to preview a message for")
        person = people[0]
    else:
        person = await _participant(cohort_id, person_id)
    session, _ = await _session_and_cohort(session_id)
    cohort = await cohort_mail(cohort_id)
    if kind == "invite":
        attendee = Attendee(person.person_id, person.name, person.email, person.timezone, False)
        subject, text, html = render_invite(kind, cohort, session, attendee)
        return Rendered(subject, text, html, {}), person
    cases = (await linked_cases([session_id])).get(session_id, [])
    return render(kind, cohort, session, person, cases), person


async def send_test_copy(
    user: CurrentUser, session_id: int, kind: str, person_id: int | None
) -> None:
    """The preview, sent to the person asking (marked as a test): what they see in their own
    mail client is what the participant will get."""
    rendered, person = await preview(user, session_id, kind, person_id)
    settings = get_settings()
    key = f"test:{kind}:{session_id}:{person.person_id}:{user.person_id}:{uuid.uuid4().hex}"
    subject = f"[Test for {person.name}] {rendered.subject}"
    content = compose(
        Draft(
            sender=formataddr(("mentorcircle test", settings.mail_from)),
            recipient=formataddr((user.name, user.email)),
            subject=subject,
            text=rendered.text,
            html=rendered.html,
            headers=rendered.headers,
        ),
        key=key,
        domain=settings.mail_domain,
    )
    async with Session._meta.db.transaction():
        await outbox.enqueue(
            [
                outbox.NewMessage(
                    key=key,
                    kind="test",
                    recipient=user.email,
                    subject=subject,
                    content=content,
                    message_id=message_id_for(key, settings.mail_domain),
                    session_id=session_id,
                    person_id=user.person_id,
                )
            ]
        )
        await audit.record(
            user.person_id,
            "session.test_copy",
            "session",
            session_id,
            summary=f"Sent themself a test copy of the {kind} for {person.name}",
        )
