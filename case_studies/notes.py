"""Discussion notes: what a group concluded in one session, per case on its agenda or for the
session as a whole (key issues, strategies, open questions, resources), never attributed to
anyone.

Who reads and writes (everyone else, office staff and administrators included unless they
facilitate the cohort, is answered 404, as if there were no notes):
- the cohort's facilitators: every note, private ones too; they write, finalize, correct final
  notes (each correction is a new revision and the note stays final), name the session's scribe
  and send the final notes to the cohort;
- the session's scribe (an enrolled participant a facilitator named): the group's notes, drafts
  included; they write drafts, never private notes, and neither finalize nor correct final ones;
- the cohort's enrolled participants: the group's final notes.

Every save keeps a revision with its author and time. Authors are shown to facilitators only.
Sending queues one confidential message per enrolled participant and facilitator under a key
made of the final notes' ids and revisions: sending the same notes again queues nothing, and a
new or corrected final note makes a new edition that can be sent once more.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from email.utils import formataddr
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from case_studies.tables import AgendaItem, DiscussionNote, NoteRevision, NoteStatus, Scribe
from database import lock_for_update
from errors import Checks, Conflict, FieldError, Forbidden, InvalidInput, NotFound
from facilitators import audit
from facilitators.services import CurrentUser
from facilitators.validation import optional_text
from mail import outbox
from mail.compose import Draft
from mail.render import render_message
from prose import markdown_html
from sessions.access import enrolled_cohort_ids, facilitated_cohort_ids
from sessions.tables import CohortFacilitator, Enrollment, EnrollmentStatus, Session
from settings import get_settings

KIND = "notes"
FIELDS = ("key_issues", "strategies", "open_questions", "resources")
SECTION_LABELS = {
    "key_issues": "Key issues raised",
    "strategies": "Strategies proposed",
    "open_questions": "Open questions",
    "resources": "Resources mentioned",
}
MAX_TEXT = 20_000  # also in schemas.NoteText
WHOLE_SESSION = "The session as a whole"
FINAL = NoteStatus.final.value
DRAFT = NoteStatus.draft.value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- who may ---------------------------------------------------------------------------------


class NoteRole(StrEnum):
    facilitator = "facilitator"
    scribe = "scribe"
    participant = "participant"


@dataclass(frozen=True)
class SessionInfo:
    id: int
    cohort_id: int
    cohort_name: str
    timezone: str
    position: int
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    location: str
    video_url: str


@dataclass(frozen=True)
class NotesAccess:
    """What one person is to one session's notes."""

    session: SessionInfo
    person_id: int
    role: NoteRole

    @property
    def is_facilitator(self) -> bool:
        return self.role is NoteRole.facilitator

    def reads(self, private: bool, status: str) -> bool:
        if self.is_facilitator:
            return True
        if private:
            return False
        return self.role is NoteRole.scribe or status == FINAL

    def writes(self, private: bool, status: str) -> bool:
        if self.is_facilitator:
            return True
        return self.role is NoteRole.scribe and not private and status == DRAFT


def _no_notes(session_id: int) -> NotFound:
    # One answer whether the session is missing or only its notes are out of reach.
    return NotFound(f"no discussion notes for session {session_id}")


async def notes_access(user: CurrentUser, session_id: int) -> NotesAccess:
    """The viewer's place in the session's notes; 404 for anyone outside the cohort's circle."""
    row = (
        await Session.select(
            Session.id,
            Session.cohort,
            Session.position,
            Session.title,
            Session.starts_at,
            Session.ends_at,
            Session.location,
            Session.video_url,
            Session.cohort.name.as_alias("cohort_name"),
            Session.cohort.timezone.as_alias("timezone"),
        )
        .where(Session.id == session_id)
        .first()
    )
    if row is None:
        raise _no_notes(session_id)
    info = SessionInfo(
        id=row["id"],
        cohort_id=row["cohort"],
        cohort_name=row["cohort_name"],
        timezone=row["timezone"],
        position=row["position"],
        title=row["title"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        location=row["location"],
        video_url=row["video_url"],
    )
    if info.cohort_id in await facilitated_cohort_ids(user):
        return NotesAccess(info, user.person_id, NoteRole.facilitator)
    if info.cohort_id in await enrolled_cohort_ids(user, waitlisted=False):
        scribe = await Scribe.exists().where(
            (Scribe.session == session_id) & (Scribe.person == user.person_id)
        )
        return NotesAccess(
            info, user.person_id, NoteRole.scribe if scribe else NoteRole.participant
        )
    raise _no_notes(session_id)


def _require_facilitator(access: NotesAccess, doing: str) -> None:
    if not access.is_facilitator:
        raise Forbidden(f"only the cohort's facilitators {doing}")


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    field: str
    label: str
    text: str


@dataclass(frozen=True)
class NoteView:
    """A note as one viewer may see it: `updated_by_name` for facilitators only."""

    id: int
    session_id: int
    case_id: int | None
    case_title: str
    private: bool
    key_issues: str
    strategies: str
    open_questions: str
    resources: str
    status: str
    revision: int
    created_at: dt.datetime
    updated_at: dt.datetime
    finalized_at: dt.datetime | None
    sent_at: dt.datetime | None
    updated_by_name: str | None
    can_edit: bool
    can_finalize: bool

    @property
    def is_final(self) -> bool:
        return self.status == FINAL

    @property
    def heading(self) -> str:
        return self.case_title if self.case_id is not None else WHOLE_SESSION

    @property
    def sections(self) -> list[Section]:
        """The parts that say something, in their order."""
        return [
            Section(name, SECTION_LABELS[name], getattr(self, name))
            for name in FIELDS
            if getattr(self, name).strip()
        ]

    @property
    def changed_since_sent(self) -> bool:
        return self.sent_at is not None and self.updated_at > self.sent_at


@dataclass(frozen=True)
class Topic:
    """One heading of a session's notes: a case on its agenda, or the session as a whole."""

    case_id: int | None
    title: str
    on_agenda: bool
    group: NoteView | None
    private: NoteView | None

    @property
    def key(self) -> str:
        return f"case-{self.case_id}" if self.case_id is not None else "session"


@dataclass(frozen=True)
class ScribeView:
    person_id: int
    name: str
    named_at: dt.datetime


@dataclass(frozen=True)
class RevisionView:
    number: int
    key_issues: str
    strategies: str
    open_questions: str
    resources: str
    author_name: str
    created_at: dt.datetime

    @property
    def sections(self) -> list[Section]:
        return [
            Section(name, SECTION_LABELS[name], getattr(self, name))
            for name in FIELDS
            if getattr(self, name).strip()
        ]


@dataclass(frozen=True)
class SendState:
    final_notes: int
    unsent: int  # final notes never sent, or corrected since
    last_sent_at: dt.datetime | None


@dataclass(frozen=True)
class SessionNotes:
    access: NotesAccess
    topics: tuple[Topic, ...]
    scribe: ScribeView | None  # to facilitators, and to the scribe themself
    send: SendState | None  # facilitators only

    @property
    def group_notes(self) -> list[NoteView]:
        return [t.group for t in self.topics if t.group is not None]

    @property
    def private_notes(self) -> list[NoteView]:
        return [t.private for t in self.topics if t.private is not None]


_NOTE_COLUMNS = (
    *DiscussionNote.all_columns(),
    DiscussionNote.case.title.as_alias("case_title"),
    DiscussionNote.updated_by.name.as_alias("updated_by_name"),
)


def _view(access: NotesAccess, row: dict[str, Any]) -> NoteView:
    return NoteView(
        id=row["id"],
        session_id=row["session"],
        case_id=row["case"],
        case_title=row.get("case_title") or "",
        private=row["private"],
        key_issues=row["key_issues"],
        strategies=row["strategies"],
        open_questions=row["open_questions"],
        resources=row["resources"],
        status=row["status"],
        revision=row["revision"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finalized_at=row["finalized_at"],
        sent_at=row["sent_at"],
        updated_by_name=(row.get("updated_by_name") or "") if access.is_facilitator else None,
        can_edit=access.writes(row["private"], row["status"]),
        can_finalize=access.is_facilitator and not row["private"] and row["status"] == DRAFT,
    )


async def _agenda(session_id: int) -> list[tuple[int, str]]:
    rows = (
        await AgendaItem.select(AgendaItem.case, AgendaItem.case.title.as_alias("title"))
        .where(AgendaItem.session == session_id)
        .order_by(AgendaItem.position)
    )
    return [(row["case"], row["title"]) for row in rows]


async def _scribe(session_id: int) -> ScribeView | None:
    row = (
        await Scribe.select(Scribe.person, Scribe.person.name.as_alias("name"), Scribe.created_at)
        .where(Scribe.session == session_id)
        .first()
    )
    return None if row is None else ScribeView(row["person"], row["name"], row["created_at"])


def _send_state(notes: list[NoteView]) -> SendState:
    final = [n for n in notes if n.is_final and not n.private]
    sent = [n.sent_at for n in final if n.sent_at is not None]
    return SendState(
        final_notes=len(final),
        unsent=sum(1 for n in final if n.sent_at is None or n.changed_since_sent),
        last_sent_at=max(sent) if sent else None,
    )


async def session_notes(user: CurrentUser, session_id: int) -> SessionNotes:
    """The session's notes as `user` may read them, one topic per agenda case (and the session
    as a whole first); a note about a case since taken off the agenda keeps its topic."""
    access = await notes_access(user, session_id)
    rows = await DiscussionNote.select(*_NOTE_COLUMNS).where(DiscussionNote.session == session_id)
    notes = [_view(access, r) for r in rows if access.reads(r["private"], r["status"])]
    agenda = await _agenda(session_id)
    titles: dict[int | None, str] = {None: WHOLE_SESSION, **dict(agenda)}
    order: list[int | None] = [None, *(case_id for case_id, _ in agenda)]
    for note in sorted(notes, key=lambda n: n.created_at):
        if note.case_id not in titles:
            titles[note.case_id] = note.case_title or "A case no longer in the library"
            order.append(note.case_id)
    topics = tuple(
        Topic(
            case_id=case_id,
            title=titles[case_id],
            on_agenda=case_id is None or case_id in dict(agenda),
            group=next((n for n in notes if n.case_id == case_id and not n.private), None),
            private=next((n for n in notes if n.case_id == case_id and n.private), None),
        )
        for case_id in order
    )
    scribe = await _scribe(session_id) if access.role is not NoteRole.participant else None
    return SessionNotes(
        access=access,
        topics=topics,
        scribe=scribe,
        send=_send_state(notes) if access.is_facilitator else None,
    )


async def _note_row(note_id: int, *, lock: bool = False) -> dict[str, Any]:
    if lock:
        # Locked alone: FOR UPDATE refuses the nullable side of the joins below (PostgreSQL).
        await lock_for_update(
            DiscussionNote.select(DiscussionNote.id).where(DiscussionNote.id == note_id)
        ).first()
    row = await DiscussionNote.select(*_NOTE_COLUMNS).where(DiscussionNote.id == note_id).first()
    if row is None:
        raise NotFound(f"no discussion note with id {note_id}")
    return row


async def _readable(
    user: CurrentUser, note_id: int, *, lock: bool = False
) -> tuple[NotesAccess, dict[str, Any]]:
    """The note and the viewer's access, or 404 when they may not read it."""
    row = await _note_row(note_id, lock=lock)
    try:
        access = await notes_access(user, row["session"])
    except NotFound:
        raise NotFound(f"no discussion note with id {note_id}") from None
    if not access.reads(row["private"], row["status"]):
        raise NotFound(f"no discussion note with id {note_id}")
    return access, row


async def get_note(user: CurrentUser, note_id: int) -> NoteView:
    access, row = await _readable(user, note_id)
    return _view(access, row)


async def revisions(user: CurrentUser, note_id: int) -> list[RevisionView]:
    """Every saved version of a note, newest first, with who saved it (facilitators only)."""
    access, _ = await _readable(user, note_id)
    _require_facilitator(access, "read a note's history")
    return (await _revisions([note_id])).get(note_id, [])


async def session_revisions(user: CurrentUser, session_id: int) -> dict[int, list[RevisionView]]:
    """Every note's history in one query, for the facilitators' notes page."""
    access = await notes_access(user, session_id)
    _require_facilitator(access, "read the notes' history")
    ids = [
        row["id"]
        for row in await DiscussionNote.select(DiscussionNote.id).where(
            DiscussionNote.session == session_id
        )
    ]
    return await _revisions(ids)


async def _revisions(note_ids: list[int]) -> dict[int, list[RevisionView]]:
    if not note_ids:
        return {}
    rows = (
        await NoteRevision.select(
            *NoteRevision.all_columns(), NoteRevision.author.name.as_alias("author_name")
        )
        .where(NoteRevision.note.is_in(note_ids))
        .order_by(NoteRevision.number, ascending=False)
    )
    found: dict[int, list[RevisionView]] = {}
    for row in rows:
        found.setdefault(row["note"], []).append(
            RevisionView(
                number=row["number"],
                key_issues=row["key_issues"],
                strategies=row["strategies"],
                open_questions=row["open_questions"],
                resources=row["resources"],
                author_name=row["author_name"] or "someone since removed",
                created_at=row["created_at"],
            )
        )
    return found


# -- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteText:
    key_issues: str = ""
    strategies: str = ""
    open_questions: str = ""
    resources: str = ""


def check_text(data: NoteText) -> NoteText:
    """The text cleaned, or every problem at once; a note says something in one part at least."""
    checks = Checks()
    cleaned = {
        name: str(checks.check(optional_text, getattr(data, name), name, MAX_TEXT))
        for name in FIELDS
    }
    if not checks.errors and not any(cleaned.values()):
        checks.errors.append(
            FieldError(
                "key_issues", "write at least one part: issues, strategies, questions or resources"
            )
        )
    checks.done()
    return NoteText(**cleaned)


def _text_columns(text: NoteText) -> dict[Any, Any]:
    return {getattr(DiscussionNote, name): getattr(text, name) for name in FIELDS}


async def _save_revision(note_id: int, number: int, text: NoteText, author_id: int) -> None:
    await NoteRevision.insert(
        NoteRevision(
            note=note_id,
            number=number,
            author=author_id,
            **{name: getattr(text, name) for name in FIELDS},
        )
    )


def _topic_name(case_title: str | None) -> str:
    return repr(case_title) if case_title else "the session as a whole"


async def create_note(
    session_id: int,
    case_id: int | None,
    text: NoteText,
    *,
    private: bool = False,
    actor: CurrentUser,
) -> NoteView:
    """A new note (a draft) about a case on the session's agenda, or about the whole session.
    One group note and one private note per topic: a second is a conflict (edit the first)."""
    access = await notes_access(actor, session_id)
    if private:
        _require_facilitator(access, "write private notes")
    elif not access.writes(False, DRAFT):
        raise Forbidden("only the cohort's facilitators and the session's scribe write notes")
    cleaned = check_text(text)
    agenda = dict(await _agenda(session_id))
    if case_id is not None and case_id not in agenda:
        raise InvalidInput.single("case_id", f"case {case_id} is not on this session's agenda")
    case_title = agenda.get(case_id) if case_id is not None else None
    async with DiscussionNote._meta.db.transaction():
        # Two people starting the same topic at once: the second waits, then finds the first.
        await lock_for_update(Session.select(Session.id).where(Session.id == session_id)).first()
        same_case = (
            DiscussionNote.case.is_null() if case_id is None else DiscussionNote.case == case_id
        )
        if await DiscussionNote.exists().where(
            (DiscussionNote.session == session_id) & same_case & (DiscussionNote.private == private)
        ):
            kind = "private note" if private else "group note"
            raise Conflict(
                f"this session already has a {kind} about {_topic_name(case_title)}: edit it"
            )
        rows = await DiscussionNote.insert(
            DiscussionNote(
                session=session_id,
                case=case_id,
                private=private,
                status=DRAFT,
                revision=1,
                updated_by=actor.person_id,
                **{name: getattr(cleaned, name) for name in FIELDS},
            )
        ).returning(DiscussionNote.id)
        note_id = int(rows[0]["id"])
        await _save_revision(note_id, 1, cleaned, actor.person_id)
        await audit.record(
            actor.person_id,
            "notes.create",
            "discussion_note",
            note_id,
            cohort_id=access.session.cohort_id,
            summary=f"Started {'a private' if private else 'the group'} note about "
            f"{_topic_name(case_title)} for session {access.session.position}",
        )
    return _view(access, await _note_row(note_id))


@dataclass(frozen=True)
class NoteChanges:
    """Only the parts given change. `base_revision`: the revision the writer started from; a
    later save by someone else is then a conflict instead of being overwritten."""

    key_issues: str | None = None
    strategies: str | None = None
    open_questions: str | None = None
    resources: str | None = None
    base_revision: int | None = None


async def update_note(
    note_id: int, changes: NoteChanges, *, actor: CurrentUser
) -> tuple[NoteView, bool]:
    """Save a note's text as a new revision (nothing when the text is the same). A final note
    stays final: its facilitators correct it, and the correction is a new revision."""
    async with DiscussionNote._meta.db.transaction():
        access, row = await _readable(actor, note_id, lock=True)
        if not access.writes(row["private"], row["status"]):
            if access.role is NoteRole.scribe:
                raise Forbidden("a final note is corrected by the cohort's facilitators only")
            raise Forbidden("only the cohort's facilitators and the session's scribe write notes")
        if changes.base_revision is not None and changes.base_revision != row["revision"]:
            raise Conflict(
                f"this note was saved again since you opened it (it is at revision "
                f"{row['revision']}, you started from {changes.base_revision}): reload it and "
                "make your change again"
            )
        merged = NoteText(
            **{
                name: row[name] if getattr(changes, name) is None else getattr(changes, name)
                for name in FIELDS
            }
        )
        cleaned = check_text(merged)
        if all(getattr(cleaned, name) == row[name] for name in FIELDS):
            return _view(access, row), False
        number = row["revision"] + 1
        await DiscussionNote.update(
            {
                **_text_columns(cleaned),
                DiscussionNote.revision: number,
                DiscussionNote.updated_by: actor.person_id,
                DiscussionNote.updated_at: _now(),
            }
        ).where(DiscussionNote.id == note_id)
        await _save_revision(note_id, number, cleaned, actor.person_id)
        final = " (a correction of a final note)" if row["status"] == FINAL else ""
        await audit.record(
            actor.person_id,
            "notes.update",
            "discussion_note",
            note_id,
            cohort_id=access.session.cohort_id,
            summary=f"Saved revision {number} of a note of session "
            f"{access.session.position}{final}",
        )
        return _view(access, await _note_row(note_id)), True


async def finalize_note(note_id: int, *, actor: CurrentUser) -> NoteView:
    """draft → final: the cohort's participants read it from now on."""
    async with DiscussionNote._meta.db.transaction():
        access, row = await _readable(actor, note_id, lock=True)
        _require_facilitator(access, "finalize notes")
        if row["private"]:
            raise Conflict("a private note stays with the facilitators: it is never final")
        if row["status"] == FINAL:
            raise Conflict("the note is final already")
        await DiscussionNote.update(
            {DiscussionNote.status: FINAL, DiscussionNote.finalized_at: _now()}
        ).where(DiscussionNote.id == note_id)
        await audit.record(
            actor.person_id,
            "notes.finalize",
            "discussion_note",
            note_id,
            cohort_id=access.session.cohort_id,
            summary=f"Finalized the group note about {_topic_name(row['case_title'])} "
            f"of session {access.session.position}",
        )
        return _view(access, await _note_row(note_id))


# -- the scribe ------------------------------------------------------------------------------


async def scribe_candidates(cohort_id: int) -> list[tuple[int, str]]:
    """Who may be named scribe: the cohort's enrolled participants, by name."""
    rows = (
        await Enrollment.select(Enrollment.person, Enrollment.person.name.as_alias("name"))
        .where(
            (Enrollment.cohort == cohort_id)
            & (Enrollment.status == EnrollmentStatus.enrolled.value)
            & (Enrollment.person.active == True)  # noqa: E712
        )
        .order_by(Enrollment.person.name)
    )
    return [(row["person"], row["name"]) for row in rows]


async def name_scribe(session_id: int, person_id: int, *, actor: CurrentUser) -> ScribeView:
    """Name the session's scribe (replacing the one before): an enrolled participant."""
    access = await notes_access(actor, session_id)
    _require_facilitator(access, "name the scribe")
    candidates = dict(await scribe_candidates(access.session.cohort_id))
    if person_id not in candidates:
        raise InvalidInput.single(
            "person_id", "the scribe is one of the cohort's enrolled participants"
        )
    async with Scribe._meta.db.transaction():
        await Scribe.delete().where(Scribe.session == session_id)
        await Scribe.insert(Scribe(session=session_id, person=person_id, named_by=actor.person_id))
        await audit.record(
            actor.person_id,
            "notes.scribe",
            "session",
            session_id,
            cohort_id=access.session.cohort_id,
            summary=f"Named {candidates[person_id]} scribe of session {access.session.position}",
        )
    scribe = await _scribe(session_id)
    assert scribe is not None
    return scribe


async def remove_scribe(session_id: int, *, actor: CurrentUser) -> bool:
    """The session has no scribe any more (their drafts stay). False if it had none."""
    access = await notes_access(actor, session_id)
    _require_facilitator(access, "remove the scribe")
    async with Scribe._meta.db.transaction():
        removed = await Scribe.delete().where(Scribe.session == session_id).returning(Scribe.id)
        if removed:
            await audit.record(
                actor.person_id,
                "notes.scribe_removed",
                "session",
                session_id,
                cohort_id=access.session.cohort_id,
                summary=f"Removed the scribe of session {access.session.position}",
            )
    return bool(removed)


# -- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    queued: int  # messages added to the outbox now (0: this edition went out already)
    notes: int  # final group notes in the message
    recipients: int


@dataclass(frozen=True)
class _Recipient:
    person_id: int
    name: str
    email: str
    timezone: str


async def _recipients(cohort_id: int) -> list[_Recipient]:
    """The cohort's active facilitators and enrolled participants, each once."""
    facilitators = await CohortFacilitator.select(
        CohortFacilitator.person,
        CohortFacilitator.person.name.as_alias("name"),
        CohortFacilitator.person.email.as_alias("email"),
        CohortFacilitator.person.timezone.as_alias("timezone"),
    ).where(
        (CohortFacilitator.cohort == cohort_id) & (CohortFacilitator.person.active == True)  # noqa: E712
    )
    participants = (
        await Enrollment.select(
            Enrollment.person,
            Enrollment.person.name.as_alias("name"),
            Enrollment.person.email.as_alias("email"),
            Enrollment.person.timezone.as_alias("timezone"),
        )
        .where(
            (Enrollment.cohort == cohort_id)
            & (Enrollment.status == EnrollmentStatus.enrolled.value)
            & (Enrollment.person.active == True)  # noqa: E712
        )
        .order_by(Enrollment.id)
    )
    found: dict[int, _Recipient] = {}
    for row in [*facilitators, *participants]:
        found.setdefault(
            row["person"], _Recipient(row["person"], row["name"], row["email"], row["timezone"])
        )
    return list(found.values())


def edition(notes: list[NoteView]) -> str:
    """What a send is made of: the final notes' ids and revisions. The same notes make the same
    edition (and the same outbox keys); a new or corrected final note makes a new one."""
    parts = ",".join(f"{n.id}.{n.revision}" for n in sorted(notes, key=lambda n: n.id))
    return hashlib.sha256(parts.encode()).hexdigest()[:16]


def _mail_notes(notes: list[NoteView]) -> list[dict[str, Any]]:
    return [
        {
            "heading": note.heading,
            "sections": [
                {"label": s.label, "text": s.text, "html": markdown_html(s.text)}
                for s in note.sections
            ],
        }
        for note in notes
    ]


async def send_final_notes(session_id: int, *, actor: CurrentUser) -> SendResult:
    """Queue the session's final group notes (never private ones, drafts or cases' facilitator
    notes) to every enrolled participant and facilitator, as confidential messages."""
    notes = await session_notes(actor, session_id)
    access = notes.access
    _require_facilitator(access, "send the notes")
    final = [n for n in notes.group_notes if n.is_final]
    if not final:
        raise Conflict("there are no final group notes to send: finalize a note first")
    settings = get_settings()
    info = access.session
    this_edition = edition(final)
    page = f"{settings.base_url}/sessions/{session_id}/notes"
    session = {
        "position": info.position,
        "title": info.title,
        "starts_at": info.starts_at,
        "ends_at": info.ends_at,
        "location": info.location,
        "video_url": info.video_url,
    }
    recipients = await _recipients(info.cohort_id)
    subject = f"Discussion notes: {info.cohort_name}, session {info.position}: {info.title}"
    messages = []
    for person in recipients:
        context = {
            "name": person.name,
            "cohort": info.cohort_name,
            "cohort_zone": info.timezone,
            "own_zone": person.timezone
            if person.timezone and person.timezone != info.timezone
            else "",
            "session": session,
            "page": f"{settings.base_url}/sessions/{session_id}",
            "notes_page": page,
            "notes": _mail_notes(final),
        }
        text, html = render_message(KIND, context)
        messages.append(
            outbox.composed(
                Draft(
                    sender=formataddr(("mentorcircle", settings.mail_from)),
                    recipient=formataddr((person.name, person.email)),
                    subject=subject,
                    text=text,
                    html=html,
                ),
                key=f"{KIND}:{session_id}:{this_edition}:{person.person_id}",
                kind=KIND,
                domain=settings.mail_domain,
                confidential=True,
                cohort_id=info.cohort_id,
                session_id=session_id,
                person_id=person.person_id,
            )
        )
    async with DiscussionNote._meta.db.transaction():
        queued = await outbox.enqueue(messages)
        if queued:
            await DiscussionNote.update({DiscussionNote.sent_at: _now()}).where(
                DiscussionNote.id.is_in([n.id for n in final])
            )
            await audit.record(
                actor.person_id,
                "notes.send",
                "session",
                session_id,
                cohort_id=info.cohort_id,
                summary=f"Sent {len(final)} final note(s) of session {info.position} "
                f"to {queued} people",
            )
    return SendResult(queued=queued, notes=len(final), recipients=len(recipients))


# -- export ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkdownExport:
    filename: str
    text: str


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "cohort"


def _note_markdown(note: NoteView, heading: str) -> list[str]:
    draft = not note.private and not note.is_final
    lines = [f"{heading} {note.heading}" + (" (draft)" if draft else ""), ""]
    for section in note.sections:
        lines += [f"{heading}# {section.label}", "", section.text.strip(), ""]
    return lines


async def export_markdown(user: CurrentUser, session_id: int) -> MarkdownExport:
    """The session's notes as one Markdown file: the group's notes the viewer reads (final ones
    only for participants), and for facilitators their private notes in a section apart."""
    notes = await session_notes(user, session_id)
    info = notes.access.session
    local = info.starts_at.astimezone(ZoneInfo(info.timezone))
    lines = [
        f"# Discussion notes: {info.cohort_name}, session {info.position}: {info.title}",
        "",
        f"{local:%A %d %B %Y, %H:%M} {local.tzname()}",
        "",
        "Notes of the group's discussion, not attributed to anyone. They stay within the "
        "cohort: please do not share them beyond it.",
        "",
    ]
    group = notes.group_notes
    if not group:
        lines += ["No notes yet.", ""]
    for note in group:
        lines += _note_markdown(note, "##")
    if notes.access.is_facilitator and notes.private_notes:
        lines += ["## Facilitators only", ""]
        for note in notes.private_notes:
            lines += _note_markdown(note, "###")
    filename = f"{_slug(info.cohort_name)}-session-{info.position}-notes.md"
    return MarkdownExport(filename=filename, text="\n".join(lines).rstrip() + "\n")
