"""The case-study app's JSON API: the library, the review of submitted cases, session agendas
and discussion notes. Thin: the rules live in services, agenda and notes."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import UNSET, UnsetType

from case_studies import agenda, notes, services
from case_studies.schemas import (
    AgendaCaseOut,
    AgendaIn,
    AgendaItemOut,
    CaseIn,
    CaseOut,
    CasePageOut,
    CasePatch,
    CommentIn,
    CommentOut,
    FieldDiffOut,
    NoteChangeOut,
    NoteIn,
    NoteOut,
    NotePatch,
    NoteRevisionOut,
    PublishIn,
    ReturnIn,
    RevisionOut,
    ScribeIn,
    ScribeOut,
    SendOut,
    SendStateOut,
    SessionNotesOut,
    SubmitIn,
)
from errors import Checks, FieldError
from facilitators.guards import signed_in
from facilitators.services import CurrentUser
from web import QueryId, QueryOffset, download, problem_responses


def case_out(case: services.CaseView) -> CaseOut:
    return CaseOut(
        id=case.id,
        title=case.title,
        scenario=case.scenario,
        questions=list(case.questions),
        facilitator_notes=case.facilitator_notes,
        primary_competency=case.primary_competency,
        competencies=list(case.competencies),
        audiences=list(case.audiences),
        disciplines=list(case.disciplines),
        provenance=case.provenance,
        attribution=case.attribution,
        licence=case.licence,
        status=case.status,
        scope=case.scope,
        cohort_id=case.cohort_id,
        author_id=case.author_id,
        share_consent=case.share_consent,
        revision=case.revision,
        created_at=case.created_at,
        updated_at=case.updated_at,
        published_at=case.published_at,
        actions=list(case.actions),
    )


def _new_case(data: CaseIn) -> services.CaseInput:
    return services.CaseInput(
        title=data.title,
        scenario=data.scenario,
        questions=tuple(data.questions),
        facilitator_notes=data.facilitator_notes,
        primary_competency=data.primary_competency,
        competencies=tuple(data.competencies),
        audiences=tuple(data.audiences),
        disciplines=tuple(data.disciplines),
        attribution=data.attribution,
        licence=data.licence,
    )


async def _comments_out(user: CurrentUser, case_id: int) -> list[CommentOut]:
    return [
        CommentOut(c.id, c.author_name, c.body, c.event, c.created_at)
        for c in await services.comments(user, case_id)
    ]


async def _agenda_out(user: CurrentUser, session_id: int) -> list[AgendaItemOut]:
    return [
        AgendaItemOut(e.position, case_out(e.case))
        for e in await agenda.session_agenda(user, session_id)
    ]


class CaseStudyController(Controller):
    path = "/api/case-studies"
    tags = ["case studies"]
    guards = [signed_in]
    security = [{"bearer": []}]

    @get(
        "/",
        summary="Search and filter the case studies you may read",
        responses=problem_responses(401, 422),
        description="`q` searches title, scenario and questions (most relevant first); without "
        "it, newest first. `status` defaults to published; `mine=true` lists your own in any "
        "state.",
    )
    async def list_cases(
        self,
        user: NamedDependency[CurrentUser],
        q: FromQuery[str] = "",
        competency: FromQuery[str] = "",
        audience: FromQuery[str] = "",
        discipline: FromQuery[str] = "",
        status: FromQuery[str] = "",
        provenance: FromQuery[str] = "",
        mine: FromQuery[bool] = False,
        limit: FromQuery[int] = 20,
        offset: QueryOffset = 0,
    ) -> CasePageOut:
        checks = Checks()
        for name, value, allowed in (
            ("status", status, services.STATUSES),
            ("provenance", provenance, services.PROVENANCES),
            ("audience", audience, services.AUDIENCES),
        ):
            if value and value not in allowed:
                checks.errors.append(
                    FieldError(name, f"{value!r} is not one of {', '.join(allowed)}")
                )
        if not 1 <= limit <= 100:
            checks.errors.append(FieldError("limit", "must be between 1 and 100"))
        checks.done()
        filters = services.CaseFilter(
            q[:200],
            competency[:40],
            audience[:30],
            discipline[:60],
            status[:20],
            provenance[:20],
            mine,
            limit,
            offset,
        )
        result = await services.list_cases(user, filters)
        return CasePageOut(
            [case_out(c) for c in result.cases], result.total, min(max(limit, 1), 100), offset
        )

    @post(
        "/",
        summary="Write a case study",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def create_case(
        self, data: JSONBody[CaseIn], user: NamedDependency[CurrentUser]
    ) -> CaseOut:
        case_id = await services.create_case(
            _new_case(data),
            actor=user,
            scope=data.scope,
            cohort_id=data.cohort_id,
            publish=data.publish,
        )
        return case_out(await services.get_case(user, case_id))

    @get("/{case_id:int}", summary="One case study", responses=problem_responses(401, 404))
    async def get_case(self, case_id: FromPath[int], user: NamedDependency[CurrentUser]) -> CaseOut:
        return case_out(await services.get_case(user, case_id))

    @patch(
        "/{case_id:int}",
        summary="Edit a case study (each save that changes it is a new revision)",
        description="Send `base_revision` (the revision you started from) to be refused with "
        "409 instead of overwriting someone's later save.",
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def update_case(
        self,
        case_id: FromPath[int],
        data: JSONBody[CasePatch],
        user: NamedDependency[CurrentUser],
    ) -> CaseOut:
        changes = {
            name: tuple(value) if isinstance(value, list) else value
            for name in services.CaseInput.__dataclass_fields__
            if (value := getattr(data, name)) is not UNSET
        }
        await services.update_case(
            case_id,
            changes,
            actor=user,
            share_consent=None if data.share_consent is UNSET else data.share_consent,
            base_revision=None if data.base_revision is UNSET else data.base_revision,
        )
        return case_out(await services.get_case(user, case_id))

    @post(
        "/{case_id:int}/submit",
        summary="Submit your draft to your cohort's facilitators",
        responses=problem_responses(400, 401, 403, 404, 409, 422),
        status_code=200,
    )
    async def submit(
        self, case_id: FromPath[int], data: JSONBody[SubmitIn], user: NamedDependency[CurrentUser]
    ) -> CaseOut:
        await services.submit(
            case_id, actor=user, checklist=tuple(data.checklist), share_consent=data.share_consent
        )
        return case_out(await services.get_case(user, case_id))

    @post(
        "/{case_id:int}/review",
        summary="Take the review of a submitted case",
        responses=problem_responses(401, 403, 404, 409),
        status_code=200,
    )
    async def review(self, case_id: FromPath[int], user: NamedDependency[CurrentUser]) -> CaseOut:
        await services.take_review(case_id, actor=user)
        return case_out(await services.get_case(user, case_id))

    @post(
        "/{case_id:int}/return",
        summary="Return a case to its author for changes, with a comment",
        responses=problem_responses(400, 401, 403, 404, 409, 422),
        status_code=200,
    )
    async def return_case(
        self, case_id: FromPath[int], data: JSONBody[ReturnIn], user: NamedDependency[CurrentUser]
    ) -> CaseOut:
        await services.return_case(case_id, data.comment, actor=user)
        return case_out(await services.get_case(user, case_id))

    @post(
        "/{case_id:int}/publish",
        summary="Publish a case to its cohort or the library",
        responses=problem_responses(400, 401, 403, 404, 409, 422),
        status_code=200,
    )
    async def publish(
        self,
        case_id: FromPath[int],
        user: NamedDependency[CurrentUser],
        data: JSONBody[PublishIn | None] = None,
    ) -> CaseOut:
        await services.publish(case_id, actor=user, scope=data.scope if data else None)
        return case_out(await services.get_case(user, case_id))

    @post(
        "/{case_id:int}/retire",
        summary="Retire a published case (it leaves search; it stays readable where used)",
        responses=problem_responses(401, 403, 404, 409),
        status_code=200,
    )
    async def retire(self, case_id: FromPath[int], user: NamedDependency[CurrentUser]) -> CaseOut:
        await services.retire(case_id, actor=user)
        return case_out(await services.get_case(user, case_id))

    @get(
        "/{case_id:int}/comments",
        summary="The review thread (its author and the reviewers)",
        responses=problem_responses(401, 404),
    )
    async def list_comments(
        self, case_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> list[CommentOut]:
        return await _comments_out(user, case_id)

    @post(
        "/{case_id:int}/comments",
        summary="Comment on a case under review",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def add_comment(
        self, case_id: FromPath[int], data: JSONBody[CommentIn], user: NamedDependency[CurrentUser]
    ) -> list[CommentOut]:
        await services.add_comment(case_id, data.body, actor=user)
        return await _comments_out(user, case_id)

    @get(
        "/{case_id:int}/revisions",
        summary="Every saved revision; with from and to, what changed between two",
        responses=problem_responses(401, 404, 422),
    )
    async def list_revisions(
        self,
        case_id: FromPath[int],
        user: NamedDependency[CurrentUser],
    ) -> list[RevisionOut]:
        return [
            RevisionOut(r.number, r.author_name, r.created_at, r.title)
            for r in await services.revisions(user, case_id)
        ]

    @get(
        "/{case_id:int}/revisions/diff",
        summary="What changed between two revisions, field by field",
        responses=problem_responses(401, 404, 422),
    )
    async def revision_diff(
        self,
        case_id: FromPath[int],
        user: NamedDependency[CurrentUser],
        older: QueryId,
        newer: QueryId,
    ) -> list[FieldDiffOut]:
        return [
            FieldDiffOut(d.field, list(d.lines))
            for d in await services.diff(user, case_id, older, newer)
        ]


class AgendaController(Controller):
    path = "/api/sessions/{session_id:int}/case-studies"
    tags = ["sessions", "case studies"]
    guards = [signed_in]
    security = [{"bearer": []}]

    @get("/", summary="The session's agenda of case studies", responses=problem_responses(401, 404))
    async def get_agenda(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> list[AgendaItemOut]:
        return await _agenda_out(user, session_id)

    @put(
        "/",
        summary="Set the session's agenda: case study ids in order",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def set_agenda(
        self,
        session_id: FromPath[int],
        data: JSONBody[AgendaIn],
        user: NamedDependency[CurrentUser],
    ) -> list[AgendaItemOut]:
        await agenda.set_agenda(session_id, list(data.case_ids), actor=user)
        return await _agenda_out(user, session_id)


# -- discussion notes ----------------------------------------------------------------------


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
            viewer=found.access.role.value,
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
        export = await notes.export_markdown(user, session_id)
        return download(export.text, export.filename, "text/markdown", private=True)

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


CONTROLLERS: list[Any] = [CaseStudyController, AgendaController, NoteController]
