"""JSON API for curricula, cohorts and their participants. Thin: every rule is in services."""

from __future__ import annotations

import datetime as dt

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from msgspec import UNSET

from facilitators.guards import signed_in
from facilitators.services import CurrentUser, PersonInput
from sessions import services
from sessions.schedule import WeeklyRule
from sessions.schemas import (
    CohortDetailOut,
    CohortIn,
    CohortOut,
    CohortPatch,
    CompetencyOut,
    CurriculumOut,
    EnrollmentOut,
    FacilitatorOut,
    ParticipantIn,
    ParticipantOut,
    SessionOut,
    SessionTemplateOut,
)
from web import problem_responses


def session_out(row: services.SessionRow) -> SessionOut:
    return SessionOut(
        id=row.id,
        cohort_id=row.cohort_id,
        position=row.position,
        title=row.title,
        competencies=list(row.competencies),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        location=row.location,
        video_url=row.video_url,
        status=row.status,
        ical_uid=row.ical_uid,
        ical_sequence=row.ical_sequence,
    )


def _cohort_fields(summary: services.CohortSummary) -> dict[str, object]:
    return {
        "id": summary.id,
        "name": summary.name,
        "term": summary.term,
        "timezone": summary.timezone,
        "modality": summary.modality,
        "location": summary.location,
        "video_url": summary.video_url,
        "capacity": summary.capacity,
        "status": summary.status,
        "curriculum_id": summary.curriculum_id,
        "participant_count": summary.participant_count,
        "waitlist_count": summary.waitlist_count,
        "facilitators": [
            FacilitatorOut(f.person_id, f.name, f.email, f.lead) for f in summary.facilitators
        ],
        "next_session": session_out(summary.next_session) if summary.next_session else None,
        "size_warning": summary.size_warning,
        "created_at": summary.created_at,
    }


def cohort_out(summary: services.CohortSummary) -> CohortOut:
    return CohortOut(**_cohort_fields(summary))  # type: ignore[arg-type]


def cohort_detail_out(detail: services.CohortDetail) -> CohortDetailOut:
    return CohortDetailOut(
        **_cohort_fields(detail.summary),  # type: ignore[arg-type]
        sessions=[session_out(s) for s in detail.sessions],
    )


def participant_out(row: services.ParticipantRow) -> ParticipantOut:
    return ParticipantOut(
        enrollment_id=row.enrollment_id,
        person_id=row.person_id,
        name=row.name,
        email=row.email,
        department=row.department,
        career_stage=row.career_stage,
        status=row.status,
        enrolled_at=row.enrolled_at,
    )


class CurriculumController(Controller):
    path = "/api"
    tags = ["curricula"]
    guards = [signed_in]

    @get(
        "/curricula",
        summary="Curriculum templates with their sessions",
        responses=problem_responses(401),
    )
    async def list_curricula(self) -> list[CurriculumOut]:
        return [
            CurriculumOut(
                id=c.id,
                slug=c.slug,
                name=c.name,
                description=c.description,
                builtin=c.builtin,
                sessions=[
                    SessionTemplateOut(
                        id=s.id,
                        position=s.position,
                        title=s.title,
                        competencies=list(s.competencies),
                        minutes=s.minutes,
                        objectives=s.objectives,
                        assignment_prompt=s.assignment_prompt,
                        alternate_for=s.alternate_for,
                    )
                    for s in c.sessions
                ],
            )
            for c in await services.list_curricula()
        ]

    @get(
        "/competencies",
        summary="The competencies, with stable codes and older names",
        responses=problem_responses(401),
    )
    async def list_competencies(self) -> list[CompetencyOut]:
        return [
            CompetencyOut(code=c.code, name=c.name, aliases=list(c.aliases), core=c.core)
            for c in await services.list_competencies()
        ]


class CohortController(Controller):
    path = "/api/cohorts"
    tags = ["cohorts"]
    guards = [signed_in]

    @get("/", summary="Cohorts the token's owner may see", responses=problem_responses(401))
    async def list_cohorts(self, user: NamedDependency[CurrentUser]) -> list[CohortOut]:
        return [cohort_out(c) for c in await services.list_cohorts(user)]

    @post(
        "/",
        summary="Create a cohort (optionally with its sessions from a curriculum and a schedule)",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def create_cohort(
        self, data: JSONBody[CohortIn], user: NamedDependency[CurrentUser]
    ) -> Response[CohortDetailOut]:
        schedule = (
            WeeklyRule(
                data.schedule.first_date,
                dt.time.fromisoformat(data.schedule.start_time),
                data.schedule.interval_weeks,
            )
            if data.schedule
            else None
        )
        cohort_id = await services.create_cohort(
            services.CohortInput(
                name=data.name,
                timezone=data.timezone,
                term=data.term,
                modality=data.modality,
                location=data.location,
                video_url=data.video_url,
                capacity=data.capacity,
                curriculum_id=data.curriculum_id,
                facilitator_ids=tuple(data.facilitator_ids),
                lead_facilitator_id=data.lead_facilitator_id,
                schedule=schedule,
            ),
            actor=user,
        )
        detail = await services.get_cohort(user, cohort_id)
        return Response(
            cohort_detail_out(detail),
            status_code=201,
            headers={"Location": f"/api/cohorts/{cohort_id}"},
        )

    @get(
        "/{cohort_id:int}",
        summary="One cohort with its sessions",
        responses=problem_responses(401, 404),
    )
    async def get_cohort(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> CohortDetailOut:
        return cohort_detail_out(await services.get_cohort(user, cohort_id))

    @patch(
        "/{cohort_id:int}",
        summary="Change a cohort's details or facilitators",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def update_cohort(
        self,
        cohort_id: FromPath[int],
        data: JSONBody[CohortPatch],
        user: NamedDependency[CurrentUser],
    ) -> CohortDetailOut:
        await services.update_cohort(
            cohort_id,
            services.CohortChanges(
                name=None if data.name is UNSET else data.name,
                term=None if data.term is UNSET else data.term,
                timezone=None if data.timezone is UNSET else data.timezone,
                modality=None if data.modality is UNSET else data.modality,
                location=None if data.location is UNSET else data.location,
                video_url=None if data.video_url is UNSET else data.video_url,
                capacity=None if data.capacity is UNSET else data.capacity,
                clear_capacity=data.capacity is None,
                facilitator_ids=None
                if data.facilitator_ids is UNSET
                else tuple(data.facilitator_ids),
                lead_facilitator_id=None
                if data.lead_facilitator_id is UNSET
                else data.lead_facilitator_id,
            ),
            actor=user,
        )
        return cohort_detail_out(await services.get_cohort(user, cohort_id))

    @get(
        "/{cohort_id:int}/participants",
        summary="The cohort's roster (facilitators and office staff)",
        responses=problem_responses(401, 403, 404),
    )
    async def list_participants(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> list[ParticipantOut]:
        await services.require_cohort(user, cohort_id, manage=True)
        return [participant_out(p) for p in await services.list_participants(cohort_id)]

    @post(
        "/{cohort_id:int}/participants",
        summary="Enroll a participant by email (added as a person if new; waitlisted when full)",
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def add_participant(
        self,
        cohort_id: FromPath[int],
        data: JSONBody[ParticipantIn],
        user: NamedDependency[CurrentUser],
    ) -> Response[EnrollmentOut]:
        result = await services.add_participant(
            cohort_id,
            PersonInput(
                name=data.name,
                email=data.email,
                department=data.department,
                career_stage=data.career_stage,
                timezone=data.timezone,
            ),
            actor=user,
        )
        row = next(
            p
            for p in await services.list_participants(cohort_id)
            if p.enrollment_id == result.enrollment_id
        )
        return Response(
            EnrollmentOut(participant_out(row), result.created_person, result.warning),
            status_code=201,
        )
