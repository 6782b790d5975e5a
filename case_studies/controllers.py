"""The case-study app's JSON API: the library, the review of submitted cases, and session
agendas. Thin: the rules live in the services."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import UNSET

from case_studies import agenda, services
from case_studies.note_controllers import NoteController
from case_studies.schemas import (
    AgendaIn,
    AgendaItemOut,
    CaseIn,
    CaseOut,
    CasePageOut,
    CasePatch,
    CommentIn,
    CommentOut,
    FieldDiffOut,
    PublishIn,
    ReturnIn,
    RevisionOut,
    SubmitIn,
)
from facilitators.guards import signed_in
from facilitators.services import CurrentUser
from web import problem_responses


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
        description="`q` searches title, scenario and questions (most relevant first); without "
        "it, newest first. `status` defaults to published; `mine=true` lists your own in any "
        "state.",
        responses=problem_responses(401),
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
        offset: FromQuery[int] = 0,
    ) -> CasePageOut:
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
        older: FromQuery[int],
        newer: FromQuery[int],
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


CONTROLLERS: list[Any] = [CaseStudyController, AgendaController, NoteController]
