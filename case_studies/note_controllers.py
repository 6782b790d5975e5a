"""JSON API for discussion notes: a session's notes, writing and finalizing them, its scribe,
sending the final notes to the cohort, and the Markdown export. Thin: the rules live in
case_studies.notes; anyone outside the cohort's circle gets 404."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from msgspec import UNSET, Meta, Struct, UnsetType

from case_studies import notes
from facilitators.guards import signed_in
from facilitators.services import CurrentUser
from web import problem_responses

NoteText = Annotated[str, Meta(max_length=notes.MAX_TEXT)]
Id = Annotated[int, Meta(ge=1)]


class NoteIn(Struct, forbid_unknown_fields=True):
    """A new note. case_id: a case on the session's agenda; null: the session as a whole.
    private: the facilitators' own note, never shown to participants or the scribe."""

    case_id: Id | None = None
    private: bool = False
    key_issues: NoteText = ""
    strategies: NoteText = ""
    open_questions: NoteText = ""
    resources: NoteText = ""


class NotePatch(Struct, forbid_unknown_fields=True):
    """Only the parts present change. base_revision: the revision you started from; if someone
    saved the note since, the answer is 409 instead of overwriting their change."""

    key_issues: NoteText | UnsetType = UNSET
    strategies: NoteText | UnsetType = UNSET
    open_questions: NoteText | UnsetType = UNSET
    resources: NoteText | UnsetType = UNSET
    base_revision: Id | UnsetType = UNSET


class ScribeIn(Struct, forbid_unknown_fields=True):
    person_id: Id


class NoteOut(Struct):
    id: int
    session_id: int
    case_id: int | None
    topic: str  # the case's title, or "The session as a whole"
    private: bool
    status: Literal["draft", "final"]
    revision: int
    key_issues: str
    strategies: str
    open_questions: str
    resources: str
    created_at: dt.datetime
    updated_at: dt.datetime
    finalized_at: dt.datetime | None
    sent_at: dt.datetime | None
    # Who saved it last: shown to the cohort's facilitators only (notes are not attributed).
    updated_by: str | None
    can_edit: bool
    can_finalize: bool


class NoteChangeOut(Struct):
    note: NoteOut
    changed: bool  # false: the text was the same, no revision was added


class NoteRevisionOut(Struct):
    number: int
    key_issues: str
    strategies: str
    open_questions: str
    resources: str
    author: str
    created_at: dt.datetime


class ScribeOut(Struct):
    person_id: int
    name: str
    named_at: dt.datetime


class AgendaCaseOut(Struct):
    case_id: int
    title: str


class SendStateOut(Struct):
    final_notes: int
    unsent: int
    last_sent_at: dt.datetime | None


class SessionNotesOut(Struct):
    session_id: int
    cohort_id: int
    viewer: notes.NoteRole
    agenda: list[AgendaCaseOut]
    notes: list[NoteOut]  # the group's: final ones, and drafts for facilitators and the scribe
    private_notes: list[NoteOut]  # facilitators only; empty for anyone else
    scribe: ScribeOut | None  # to facilitators and to the scribe
    send: SendStateOut | None  # facilitators only


class SendOut(Struct):
    queued: int  # messages added now; 0 when these notes went out already
    notes: int
    recipients: int


def note_out(note: notes.NoteView) -> NoteOut:
    return NoteOut(
        id=note.id,
        session_id=note.session_id,
        case_id=note.case_id,
        topic=note.heading,
        private=note.private,
        status="final" if note.is_final else "draft",
        revision=note.revision,
        key_issues=note.key_issues,
        strategies=note.strategies,
        open_questions=note.open_questions,
        resources=note.resources,
        created_at=note.created_at,
        updated_at=note.updated_at,
        finalized_at=note.finalized_at,
        sent_at=note.sent_at,
        updated_by=note.updated_by_name,
        can_edit=note.can_edit,
        can_finalize=note.can_finalize,
    )


def _scribe_out(scribe: notes.ScribeView) -> ScribeOut:
    return ScribeOut(scribe.person_id, scribe.name, scribe.named_at)


def _text(value: str | UnsetType) -> str | None:
    return None if isinstance(value, UnsetType) else value


class NoteController(Controller):
    path = "/api"
    tags = ["discussion notes"]
    guards = [signed_in]
    security = [{"bearer": []}]

    @get(
        "/sessions/{session_id:int}/notes",
        summary="A session's discussion notes as the token's owner may read them",
        description="Participants of the cohort read the group's final notes; the session's "
        "scribe its drafts too; the cohort's facilitators everything, private notes apart. "
        "Office staff and administrators get 404 unless they facilitate the cohort.",
        responses=problem_responses(401, 404),
    )
    async def list_notes(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> SessionNotesOut:
        found = await notes.session_notes(user, session_id)
        send = found.send
        return SessionNotesOut(
            session_id=session_id,
            cohort_id=found.access.session.cohort_id,
            viewer=found.access.role,
            agenda=[
                AgendaCaseOut(t.case_id, t.title)
                for t in found.topics
                if t.case_id is not None and t.on_agenda
            ],
            notes=[note_out(n) for n in found.group_notes],
            private_notes=[note_out(n) for n in found.private_notes],
            scribe=_scribe_out(found.scribe) if found.scribe else None,
            send=SendStateOut(send.final_notes, send.unsent, send.last_sent_at) if send else None,
        )

    @post(
        "/sessions/{session_id:int}/notes",
        summary="Start a note (a draft) about a case on the agenda or the whole session",
        description="One group note and one private note per case and session; a second is 409. "
        "The scribe writes group notes only.",
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def create_note(
        self, session_id: FromPath[int], data: JSONBody[NoteIn], user: NamedDependency[CurrentUser]
    ) -> Response[NoteOut]:
        note = await notes.create_note(
            session_id,
            data.case_id,
            notes.NoteText(data.key_issues, data.strategies, data.open_questions, data.resources),
            private=data.private,
            actor=user,
        )
        return Response(
            note_out(note), status_code=201, headers={"Location": f"/api/notes/{note.id}"}
        )

    @get(
        "/sessions/{session_id:int}/notes.md",
        summary="The session's notes as a Markdown file",
        description="The group's notes the reader may see; for facilitators, their private "
        "notes follow under 'Facilitators only'.",
        responses=problem_responses(401, 404),
        media_type="text/markdown",  # Litestar adds "; charset=utf-8"
    )
    async def export(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Response[str]:
        return markdown_download(await notes.export_markdown(user, session_id))

    @put(
        "/sessions/{session_id:int}/scribe",
        summary="Name the session's scribe (an enrolled participant), replacing any before",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def name_scribe(
        self,
        session_id: FromPath[int],
        data: JSONBody[ScribeIn],
        user: NamedDependency[CurrentUser],
    ) -> ScribeOut:
        return _scribe_out(await notes.name_scribe(session_id, data.person_id, actor=user))

    @delete(
        "/sessions/{session_id:int}/scribe",
        summary="The session has no scribe any more (what they wrote stays)",
        responses=problem_responses(401, 403, 404),
    )
    async def remove_scribe(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> None:
        await notes.remove_scribe(session_id, actor=user)

    @post(
        "/sessions/{session_id:int}/notes/send",
        summary="Send the final group notes to the cohort (once per set of notes)",
        description="One confidential message per enrolled participant and facilitator. "
        "Sending the same final notes again queues nothing; after a new or corrected final "
        "note, sending makes a new message.",
        responses=problem_responses(401, 403, 404, 409),
        status_code=200,
    )
    async def send(self, session_id: FromPath[int], user: NamedDependency[CurrentUser]) -> SendOut:
        result = await notes.send_final_notes(session_id, actor=user)
        return SendOut(result.queued, result.notes, result.recipients)

    @get(
        "/notes/{note_id:int}",
        summary="One discussion note",
        responses=problem_responses(401, 404),
    )
    async def get_note(self, note_id: FromPath[int], user: NamedDependency[CurrentUser]) -> NoteOut:
        return note_out(await notes.get_note(user, note_id))

    @patch(
        "/notes/{note_id:int}",
        summary="Save a note's text as a new revision",
        description="The scribe edits drafts; facilitators edit drafts and correct final notes "
        "(a final note stays final). Give base_revision to be told (409) of a save since.",
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def update_note(
        self, note_id: FromPath[int], data: JSONBody[NotePatch], user: NamedDependency[CurrentUser]
    ) -> NoteChangeOut:
        note, changed = await notes.update_note(
            note_id,
            notes.NoteChanges(
                key_issues=_text(data.key_issues),
                strategies=_text(data.strategies),
                open_questions=_text(data.open_questions),
                resources=_text(data.resources),
                base_revision=None
                if isinstance(data.base_revision, UnsetType)
                else data.base_revision,
            ),
            actor=user,
        )
        return NoteChangeOut(note_out(note), changed)

    @post(
        "/notes/{note_id:int}/finalize",
        summary="Make a group note final: the cohort's participants read it from now on",
        responses=problem_responses(401, 403, 404, 409),
        status_code=200,
    )
    async def finalize(self, note_id: FromPath[int], user: NamedDependency[CurrentUser]) -> NoteOut:
        return note_out(await notes.finalize_note(note_id, actor=user))

    @get(
        "/notes/{note_id:int}/revisions",
        summary="A note's saved versions, newest first, with who saved each (facilitators)",
        responses=problem_responses(401, 403, 404),
    )
    async def revisions(
        self, note_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> list[NoteRevisionOut]:
        return [
            NoteRevisionOut(
                r.number,
                r.key_issues,
                r.strategies,
                r.open_questions,
                r.resources,
                r.author_name,
                r.created_at,
            )
            for r in await notes.revisions(user, note_id)
        ]


def markdown_download(export: notes.MarkdownExport) -> Response[str]:
    return Response(
        export.text,
        media_type="text/markdown",  # Litestar adds "; charset=utf-8"
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            # Confidential to the cohort: no shared cache keeps a copy.
            "Cache-Control": "private, no-store",
        },
    )
