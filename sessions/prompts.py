"""Assignment prompts and reminders before each meeting: the scheduler step that queues them
when due, what supersedes them, "send the updated prompt", and what pages show (the planned
messages, previews, test copies). The rules live in prompt_rules, the messages in prompt_mail.

Nothing is stored until a message is due. The scheduler step runs before each dispatcher round
(in the app or in `mentorcircle dispatch`, whose `--now` moves time) and queues, for every
enrolled participant, what is due and not yet in the outbox. Keys make a second enqueue a
no-op, so the step can run any number of times in any number of processes.

Whether a message "is in the outbox" is decided by its slot (see MessageKey): a slot holding a
message that was not cancelled is done, whatever became of that message (sent, or failed for
good: a bounce is not retried by a new key). A change that supersedes a waiting message (a
reschedule, a new room, an edited prompt, a cancelled session, a withdrawal) cancels it in its
own transaction; the next round queues its replacement, under the next key of the slot, with
the facts as they are then.

Each round works cohort by cohort, in a transaction that first locks the cohort's row: every
change that supersedes messages takes that lock first too, so what a round reads is still true
when it writes. A cohort whose messages cannot be made (a broken template, say) is logged and
skipped; the others, and the dispatcher, carry on.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from email.utils import formataddr
from typing import Any

from database import lock_for_update
from errors import Conflict, InvalidInput, NotFound
from facilitators import audit
from facilitators.services import CurrentUser
from mail import outbox
from mail.compose import Draft
from mail.tables import MessageState, OutboxMessage
from sessions.access import require_session
from sessions.invites import Attendee, cohort_mail, render_invite
from sessions.prompt_mail import (
    MAIL_COLUMNS,
    Recipient,
    Rendered,
    linked_cases,
    message,
    recipients,
    render,
)
from sessions.prompt_rules import (
    KINDS,
    MAX_LEAD,
    PROMPT,
    REMINDER,
    MessageKey,
    Planned,
    Timing,
    due_items,
    plan,
    prompt_key,
    prompt_slot,
    reminder_slot,
)
from sessions.tables import (
    Attendance,
    AttendanceStatus,
    Cohort,
    CohortStatus,
    Session,
    SessionStatus,
)
from settings import get_settings

log = logging.getLogger("mentorcircle.prompts")

# What facilitators can preview as a participant will get it. (A test copy of an invitation
# leaves out the calendar part, so that it does not land in the tester's calendar.)
PREVIEW_KINDS = (PROMPT, REMINDER, "invite", "update", "cancel")
ACTIVE_COHORT = (CohortStatus.scheduled.value, CohortStatus.in_progress.value)
DELIVERED = (MessageState.sending.value, MessageState.sent.value)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _timing(session: dict[str, Any], cohort: dict[str, Any]) -> Timing:
    return Timing.of(
        cohort["prompt_lead_minutes"],
        cohort["reminder_minutes"],
        session["prompt_lead_minutes"],
        session["reminder_minutes"],
    )


# -- what is in the outbox already ----------------------------------------------------------


@dataclass(frozen=True)
class SentSoFar:
    """For some sessions: the slots that hold a message that was not cancelled, and how many
    were cancelled in each slot."""

    taken: set[str]
    cancelled: Counter[str]

    def next_key(self, slot: str) -> str | None:
        """The key for a new message in `slot`, or None when the slot is taken."""
        if slot in self.taken:
            return None
        return f"{slot}:{self.cancelled[slot]}"


async def _sent_so_far(session_ids: list[int]) -> SentSoFar:
    rows = await OutboxMessage.select(OutboxMessage.key, OutboxMessage.state).where(
        OutboxMessage.session_id.is_in(session_ids) & OutboxMessage.kind.is_in(list(KINDS))
    )
    taken: set[str] = set()
    cancelled: Counter[str] = Counter()
    for row in rows:
        slot = MessageKey.parse(row["key"]).slot
        if row["state"] == MessageState.cancelled.value:
            cancelled[slot] += 1
        else:
            taken.add(slot)
    return SentSoFar(taken, cancelled)


# -- the scheduler step ---------------------------------------------------------------------


async def enqueue_due(now: dt.datetime | None = None) -> int:
    """Queue every prompt and reminder that is due at `now` (default: the real time) and not
    yet in the outbox. Returns how many messages were queued."""
    now = now or _now()
    rows = await Session.select(Session.cohort).where(
        (Session.status == SessionStatus.scheduled.value)
        & (Session.starts_at > now)
        & (Session.starts_at <= now + MAX_LEAD)
        & Session.cohort.published_at.is_not_null()
        & Session.cohort.status.is_in(list(ACTIVE_COHORT))
    )
    queued = 0
    for cohort_id in sorted({row["cohort"] for row in rows}):
        try:
            queued += await _enqueue_for_cohort(cohort_id, now)
        except Exception:
            log.exception("could not queue the prompts and reminders of cohort %s", cohort_id)
    return queued


async def _enqueue_for_cohort(cohort_id: int, now: dt.datetime) -> int:
    async with Session._meta.db.transaction():
        cohort = await lock_for_update(
            Cohort.select(
                Cohort.id,
                Cohort.status,
                Cohort.published_at,
                Cohort.prompt_lead_minutes,
                Cohort.reminder_minutes,
                Cohort.timezone,
            ).where(Cohort.id == cohort_id)
        ).first()
        if (
            cohort is None
            or cohort["published_at"] is None
            or cohort["status"] not in ACTIVE_COHORT
        ):
            return 0
        sessions = await Session.select(*MAIL_COLUMNS).where(
            (Session.cohort == cohort_id)
            & (Session.status == SessionStatus.scheduled.value)
            & (Session.starts_at > now)
            & (Session.starts_at <= now + MAX_LEAD)
        )
        due = [
            (session, items)
            for session in sessions
            if (
                items := due_items(
                    session["starts_at"], _timing(session, cohort), cohort["timezone"], now
                )
            )
        ]
        if not due:
            return 0
        people = (await recipients([cohort_id])).get(cohort_id, [])
        session_ids = [session["id"] for session, _ in due]
        so_far = await _sent_so_far(session_ids)
        excused = await _excused(session_ids)
        cases = await linked_cases(session_ids)
        mail = await cohort_mail(cohort_id)
        messages = []
        for session, items in due:
            for person in people:
                for item in items:
                    if item.kind == REMINDER and (session["id"], person.person_id) in excused:
                        continue  # they said they cannot come: no reminder to come
                    key = _key_for(item, session, person, so_far, cohort["published_at"])
                    if key is not None:
                        messages.append(
                            message(
                                key,
                                item.kind,
                                mail,
                                session,
                                person,
                                cases.get(session["id"], []),
                                send_after=item.due_at,
                            )
                        )
        return await outbox.enqueue(messages)


async def _excused(session_ids: list[int]) -> set[tuple[int, int]]:
    """(session, person) of those who said they cannot attend."""
    rows = await Attendance.select(
        Attendance.session, Attendance.enrollment.person.as_alias("person")
    ).where(
        Attendance.session.is_in(session_ids)
        & (Attendance.status == AttendanceStatus.excused.value)
    )
    return {(row["session"], row["person"]) for row in rows}


def _key_for(
    item: Planned,
    session: dict[str, Any],
    person: Recipient,
    so_far: SentSoFar,
    published_at: dt.datetime,
) -> str | None:
    if item.kind == PROMPT:
        slot = prompt_slot(session["id"], person.person_id)
        if slot in so_far.taken:
            return None
        suffix = str(so_far.cancelled[slot])
        return prompt_key(session["id"], person.person_id, session["prompt_revision"], suffix)
    # A reminder whose time passed before they joined (or before the schedule was published)
    # is not sent late: the prompt, sent at once, tells them what they need.
    joined = max(moment for moment in (person.enrolled_at, published_at) if moment is not None)
    if person.reminders_off or item.due_at < joined:
        return None
    return so_far.next_key(
        reminder_slot(session["id"], person.person_id, item.minutes_before, session["starts_at"])
    )


async def cancel_waiting(session_id: int, kinds: tuple[str, ...] = KINDS) -> int:
    """A change superseded what was waiting to go (in the caller's transaction); the scheduler
    queues the replacement, with what is true now, when it is due."""
    return await outbox.cancel_waiting(session_id=session_id, kinds=kinds)


async def prompt_revised(session_id: int) -> None:
    """What the prompt says changed without its text changing (the case studies on the
    session's agenda, say): a new revision, so that a prompt still waiting goes out with what
    is true now and those who have the earlier one can be sent the update. In the caller's
    transaction."""
    await Session.update({Session.prompt_revision: Session.prompt_revision + 1}).where(
        Session.id == session_id
    )
    await cancel_waiting(session_id, kinds=(PROMPT,))


async def stop_reminders(person_id: int) -> int:
    """They switched reminders off: their waiting reminders are cancelled too."""
    return await outbox.cancel_waiting(person_id=person_id, kinds=(REMINDER,))


# -- what pages show and do -----------------------------------------------------------------


async def _session_and_cohort(session_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    session = await Session.select(*MAIL_COLUMNS).where(Session.id == session_id).first()
    if session is None:
        raise NotFound(f"no session with id {session_id}")
    cohort = (
        await Cohort.select(
            Cohort.id,
            Cohort.timezone,
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
class PromptRevisions:
    """Who has the session's prompt, and which revision of it."""

    delivered: dict[int, int]  # person -> newest revision that went out to them
    coming: dict[int, int]  # person -> newest revision that went out or is on its way

    def outdated(self, current: int, people: set[int]) -> set[int]:
        """Those (of `people`) who received the prompt and have no current one coming."""
        return {p for p in self.delivered if p in people and self.coming[p] < current}


async def prompt_revisions(session_id: int) -> PromptRevisions:
    rows = await OutboxMessage.select(OutboxMessage.key, OutboxMessage.state).where(
        (OutboxMessage.session_id == session_id)
        & (OutboxMessage.kind == PROMPT)
        & (OutboxMessage.state != MessageState.cancelled.value)
    )
    delivered: dict[int, int] = {}
    coming: dict[int, int] = {}
    for row in rows:
        key = MessageKey.parse(row["key"])
        coming[key.person_id] = max(coming.get(key.person_id, -1), key.revision)
        if row["state"] in DELIVERED:
            delivered[key.person_id] = max(delivered.get(key.person_id, -1), key.revision)
    return PromptRevisions(delivered, coming)


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
    delivered: int  # participants who have received a prompt
    outdated: int  # ... of whom have an earlier revision than the current one
    note: str = ""


async def session_schedule(user: CurrentUser, session_id: int) -> MessageSchedule:
    """The prompt and reminders of a session as the rules plan them, each with what is in the
    outbox for it (nothing until it is due)."""
    await require_session(user, session_id, manage=True)
    session, cohort = await _session_and_cohort(session_id)
    timing = _timing(session, cohort)
    people = (await recipients([session["cohort"]])).get(session["cohort"], [])
    rows = await OutboxMessage.select(
        OutboxMessage.key, OutboxMessage.state, OutboxMessage.sent_at
    ).where((OutboxMessage.session_id == session_id) & OutboxMessage.kind.is_in(list(KINDS)))
    keys = [(MessageKey.parse(row["key"]), row) for row in rows]
    lines = []
    for item in plan(session["starts_at"], timing, cohort["timezone"]):
        states: Counter[str] = Counter()
        last_sent: dt.datetime | None = None
        for key, row in keys:
            if key.kind != item.kind or key.updated:
                continue
            if key.kind == REMINDER and key.slot != reminder_slot(
                key.session_id, key.person_id, item.minutes_before, session["starts_at"]
            ):
                continue
            states[row["state"]] += 1
            if row["sent_at"] and (last_sent is None or row["sent_at"] > last_sent):
                last_sent = row["sent_at"]
        count = len(people) if item.kind == PROMPT else sum(not p.reminders_off for p in people)
        lines.append(ScheduleLine(item, count, dict(states), last_sent))
    updates = Counter(row["state"] for key, row in keys if key.updated)
    current = {p.person_id for p in people}
    revisions = await prompt_revisions(session_id)
    notes = []
    if cohort["published_at"] is None:
        notes.append("Nothing goes out before the schedule is published.")
    elif session["status"] == SessionStatus.cancelled.value:
        notes.append("The session is cancelled: nothing more goes out for it.")
    elif cohort["status"] not in ACTIVE_COHORT:
        notes.append(f"The cohort is {cohort['status']}: nothing more goes out.")
    if timing.dropped_reminders:
        notes.append(
            "Reminders set to go at or before the prompt are left out: "
            + ", ".join(f"{m // 60} hours" for m in timing.dropped_reminders)
            + "."
        )
    return MessageSchedule(
        timing,
        tuple(lines),
        dict(updates),
        delivered=len(current & revisions.delivered.keys()),
        outdated=len(revisions.outdated(session["prompt_revision"], current)),
        note=" ".join(notes),
    )


async def send_updated_prompt(session_id: int, *, actor: CurrentUser) -> int:
    """The prompt changed after it went out: send the current text, marked as updated, to the
    participants who received an earlier revision. Once per revision and person."""
    cohort_id = await require_session(actor, session_id, manage=True)
    async with Session._meta.db.transaction():
        await lock_for_update(Cohort.select(Cohort.id).where(Cohort.id == cohort_id)).first()
        session = await Session.select(*MAIL_COLUMNS).where(Session.id == session_id).first()
        assert session is not None
        if session["status"] != SessionStatus.scheduled.value:
            raise Conflict("the session is cancelled: no prompt goes out for it")
        if session["starts_at"] <= _now():
            raise Conflict("the session has begun: the prompt is no longer sent")
        revision = session["prompt_revision"]
        revisions = await prompt_revisions(session_id)
        if not revisions.delivered:
            raise Conflict(
                "no prompt has gone out yet: the current text goes out when the prompt is due"
            )
        enrolled = (await recipients([cohort_id])).get(cohort_id, [])
        outdated = revisions.outdated(revision, {person.person_id for person in enrolled})
        people = [person for person in enrolled if person.person_id in outdated]
        if not people:
            raise Conflict("participants already have the current prompt")
        mail = await cohort_mail(cohort_id)
        cases = (await linked_cases([session_id])).get(session_id, [])
        queued = await outbox.enqueue(
            [
                message(
                    prompt_key(session_id, person.person_id, revision, "updated"),
                    PROMPT,
                    mail,
                    session,
                    person,
                    cases,
                    send_after=_now(),
                    updated=True,
                )
                for person in people
            ]
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


async def preview(
    user: CurrentUser, session_id: int, kind: str, person_id: int | None
) -> tuple[Rendered, Recipient]:
    """Message `kind` as `person_id` (default: the first participant) would get it now, with
    sample links in place of their personal ones."""
    cohort_id = await require_session(user, session_id, manage=True)
    if kind not in PREVIEW_KINDS:
        raise InvalidInput.single(
            "kind", f"preview one of {', '.join(PREVIEW_KINDS)}, not {kind!r}"
        )
    people = (await recipients([cohort_id])).get(cohort_id, [])
    if person_id is None:
        if not people:
            raise Conflict("the cohort has no enrolled participants to preview a message for")
        person = people[0]
    else:
        found = [p for p in people if p.person_id == person_id]
        if not found:
            raise NotFound(f"person {person_id} is not an enrolled participant of this cohort")
        person = found[0]
    session, _ = await _session_and_cohort(session_id)
    mail = await cohort_mail(cohort_id)
    if kind in KINDS:
        cases = (await linked_cases([session_id])).get(session_id, [])
        return render(kind, mail, session, person, cases, sample=True), person
    attendee = Attendee(person.person_id, person.name, person.email, person.timezone, False)
    subject, text, html = render_invite(kind, mail, session, attendee)
    return Rendered(subject, text, html), person


async def send_test_copy(
    user: CurrentUser, session_id: int, kind: str, person_id: int | None
) -> None:
    """The preview, sent to the person asking and marked as a test: what they see in their
    own mail client is what the participant will get (with sample links)."""
    rendered, person = await preview(user, session_id, kind, person_id)
    settings = get_settings()
    key = f"test:{kind}:{session_id}:{person.person_id}:{user.person_id}:{uuid.uuid4().hex}"
    async with Session._meta.db.transaction():
        await outbox.enqueue(
            [
                outbox.composed(
                    Draft(
                        sender=formataddr(("mentorcircle test", settings.mail_from)),
                        recipient=formataddr((user.name, user.email)),
                        subject=f"[Test for {person.name}] {rendered.subject}",
                        text=rendered.text,
                        html=rendered.html,
                    ),
                    key=key,
                    kind="test",
                    domain=settings.mail_domain,
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
