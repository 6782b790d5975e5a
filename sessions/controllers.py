"""JSON API for curricula, cohorts, sessions, rosters and attendance. Thin: the rules live in the
services; this module turns bodies into service calls and records into responses."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from msgspec import UNSET

from facilitators.guards import office_only, signed_in
from facilitators.services import CurrentUser, PersonInput
from mail import outbox
from sessions import attendance, curricula, feeds, outbox_views, roster, services
from sessions.access import require_cohort
from sessions.roster_csv import MAX_BYTES
from sessions.schedule import ScheduleRule, Slot, parse_weekday
from sessions.schemas import (
    AttendanceIn,
    AttendanceRowOut,
    CloneIn,
    CohortDetailOut,
    CohortIn,
    CohortOut,
    CohortPatch,
    CompetencyOut,
    CompletionOut,
    CompletionRowOut,
    CompletionRuleOut,
    CurriculumOut,
    EnrollmentOut,
    FacilitatorOut,
    ImportRowOut,
    NewSessionIn,
    OutboxMessageDetailOut,
    OutboxMessageOut,
    ParticipantIn,
    ParticipantOut,
    ReleaseIn,
    ReleaseOut,
    RosterImportOut,
    ScheduleIn,
    SessionChangeOut,
    SessionOut,
    SessionPatch,
    SessionTemplateOut,
)
from web import OptionalQueryId, QueryOffset, problem_responses


def _unset(value: Any) -> Any:
    return None if value is UNSET else value


def schedule_rule(data: ScheduleIn) -> ScheduleRule:
    return ScheduleRule(
        first_date=data.first_date,
        start_time=dt.time.fromisoformat(data.start_time) if data.start_time else None,
        interval_weeks=data.interval_weeks,
        weekday=parse_weekday(data.weekday),
        skip_dates=frozenset(data.skip_dates),
        minutes=data.minutes,
        count=data.count,
        slots=tuple(
            Slot(slot.date, dt.time.fromisoformat(slot.start_time), slot.minutes)
            for slot in data.slots
        ),
    )


def session_out(row: services.SessionRow) -> SessionOut:
    return SessionOut(
        id=row.id,
        cohort_id=row.cohort_id,
        position=row.position,
        title=row.title,
        competencies=list(row.competencies),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        starts_at_local=row.local_start().isoformat(),
        minutes=row.minutes,
        location=row.location,
        video_url=row.video_url,
        status=row.status,
        ical_uid=row.ical_uid,
        ical_sequence=row.ical_sequence,
        objectives=row.objectives,
        assignment_prompt=row.assignment_prompt,
        prompt_due_at=row.prompt_due_at,
        prompt_lead_minutes=row.prompt_lead_minutes,
        reminder_minutes=None if row.reminder_minutes is None else list(row.reminder_minutes),
        prompt_revision=row.prompt_revision,
    )


def _rule_out(summary: services.CohortSummary) -> CompletionRuleOut:
    rule = summary.completion
    return CompletionRuleOut(
        rule.percent, rule.requires_first_last, rule.late_counts, rule.left_early_counts
    )


def _cohort_fields(summary: services.CohortSummary) -> dict[str, Any]:
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
        "published_at": summary.published_at,
        "auto_promote": summary.auto_promote,
        "completion_rule": _rule_out(summary),
        "prompt_lead_minutes": summary.prompt_lead_minutes,
        "reminder_minutes": list(summary.reminder_minutes),
    }


def cohort_out(summary: services.CohortSummary) -> CohortOut:
    return CohortOut(**_cohort_fields(summary))


def cohort_detail_out(
    detail: services.CohortDetail, notes: tuple[str, ...] = ()
) -> CohortDetailOut:
    return CohortDetailOut(
        **_cohort_fields(detail.summary),
        sessions=[session_out(s) for s in detail.sessions],
        notes=list(notes),
    )


def participant_out(row: roster.ParticipantRow) -> ParticipantOut:
    return ParticipantOut(
        enrollment_id=row.enrollment_id,
        person_id=row.person_id,
        name=row.name,
        email=row.email,
        department=row.department,
        career_stage=row.career_stage,
        status=row.status,
        enrolled_at=row.enrolled_at,
        withdrawn_at=row.withdrawn_at,
    )


class CurriculumController(Controller):
    path = "/api"
    tags = ["curricula"]
    guards = [signed_in]
    security = [{"bearer": []}]

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
            for c in await curricula.list_curricula()
        ]

    @get(
        "/competencies",
        summary="The competencies, with stable codes and older names",
        responses=problem_responses(401),
    )
    async def list_competencies(self) -> list[CompetencyOut]:
        return [
            CompetencyOut(code=c.code, name=c.name, aliases=list(c.aliases), core=c.core)
            for c in await curricula.list_competencies()
        ]


class CohortController(Controller):
    path = "/api/cohorts"
    tags = ["cohorts"]
    guards = [signed_in]
    security = [{"bearer": []}]

    @get("/", summary="Cohorts the token's owner may see", responses=problem_responses(401))
    async def list_cohorts(self, user: NamedDependency[CurrentUser]) -> list[CohortOut]:
        return [cohort_out(c) for c in await services.list_cohorts(user)]

    @post(
        "/",
        summary="Create a cohort, with its sessions from a curriculum template and a schedule rule",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def create_cohort(
        self, data: JSONBody[CohortIn], user: NamedDependency[CurrentUser]
    ) -> Response[CohortDetailOut]:
        created = await services.create_cohort(
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
                schedule=schedule_rule(data.schedule) if data.schedule else None,
            ),
            actor=user,
        )
        detail = await services.get_cohort(user, created.id)
        return Response(
            cohort_detail_out(detail, created.notes),
            status_code=201,
            headers={"Location": f"/api/cohorts/{created.id}"},
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
        summary="Change a cohort: details, facilitators, status, completion rule",
        description="A new room or video link reaches the sessions still to come that used the "
        "old one. A new timezone keeps those sessions at the same local time.",
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
                name=_unset(data.name),
                term=_unset(data.term),
                timezone=_unset(data.timezone),
                modality=_unset(data.modality),
                location=_unset(data.location),
                video_url=_unset(data.video_url),
                capacity=_unset(data.capacity),
                clear_capacity=data.capacity is None,
                facilitator_ids=None
                if data.facilitator_ids is UNSET
                else tuple(data.facilitator_ids),
                lead_facilitator_id=_unset(data.lead_facilitator_id),
                status=_unset(data.status),
                auto_promote=_unset(data.auto_promote),
                completion_percent=_unset(data.completion_percent),
                completion_requires_first_last=_unset(data.completion_requires_first_last),
                late_counts=_unset(data.late_counts),
                left_early_counts=_unset(data.left_early_counts),
                review_mail=_unset(data.review_mail),
                organizer_name=_unset(data.organizer_name),
                organizer_email=_unset(data.organizer_email),
                prompt_lead_minutes=_unset(data.prompt_lead_minutes),
                reminder_minutes=None
                if data.reminder_minutes is UNSET
                else tuple(data.reminder_minutes),
            ),
            actor=user,
        )
        return cohort_detail_out(await services.get_cohort(user, cohort_id))

    @get(
        "/{cohort_id:int}/sessions",
        summary="The cohort's sessions in time order",
        responses=problem_responses(401, 404),
    )
    async def list_sessions(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> list[SessionOut]:
        return [session_out(s) for s in (await services.get_cohort(user, cohort_id)).sessions]

    @post(
        "/{cohort_id:int}/sessions",
        summary="Add a session (a make-up) at the end of the numbering",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def add_session(
        self,
        cohort_id: FromPath[int],
        data: JSONBody[NewSessionIn],
        user: NamedDependency[CurrentUser],
    ) -> Response[SessionChangeOut]:
        session_id, notes = await services.add_session(
            cohort_id,
            services.NewSession(
                title=data.title,
                date=data.date,
                start_time=dt.time.fromisoformat(data.start_time),
                minutes=data.minutes,
                location=data.location,
                video_url=data.video_url,
                assignment_prompt=data.assignment_prompt,
                competencies=tuple(data.competencies),
            ),
            actor=user,
        )
        detail = await services.get_session(user, session_id)
        return Response(
            SessionChangeOut(session_out(detail.session), False, list(notes)), status_code=201
        )

    @post(
        "/{cohort_id:int}/publish",
        summary="Publish the schedule: the cohort becomes scheduled",
        responses=problem_responses(401, 403, 404, 409, 422),
        status_code=200,
    )
    async def publish(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> CohortDetailOut:
        await services.publish_schedule(cohort_id, actor=user)
        return cohort_detail_out(await services.get_cohort(user, cohort_id))

    @post(
        "/{cohort_id:int}/clone",
        summary="Clone into a new term: same template, facilitators and prompts, new dates",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def clone(
        self, cohort_id: FromPath[int], data: JSONBody[CloneIn], user: NamedDependency[CurrentUser]
    ) -> Response[CohortDetailOut]:
        created = await services.clone_cohort(
            cohort_id,
            services.CloneInput(
                name=data.name,
                term=data.term,
                schedule=schedule_rule(data.schedule) if data.schedule else None,
            ),
            actor=user,
        )
        detail = await services.get_cohort(user, created.id)
        return Response(
            cohort_detail_out(detail, created.notes),
            status_code=201,
            headers={"Location": f"/api/cohorts/{created.id}"},
        )

    @get(
        "/{cohort_id:int}/participants",
        summary="The cohort's roster, withdrawn participants included (facilitators and office staff)",
        responses=problem_responses(401, 403, 404),
    )
    async def list_participants(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> list[ParticipantOut]:
        await require_cohort(user, cohort_id, manage=True)
        return [participant_out(p) for p in await roster.list_participants(cohort_id)]

    @post(
        "/{cohort_id:int}/participants",
        summary="Enroll someone by email (a name is needed only for someone new); waitlisted when full",
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def add_participant(
        self,
        cohort_id: FromPath[int],
        data: JSONBody[ParticipantIn],
        user: NamedDependency[CurrentUser],
    ) -> Response[EnrollmentOut]:
        result = await roster.add_participant(
            cohort_id,
            data.email,
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
            for p in await roster.list_participants(cohort_id)
            if p.enrollment_id == result.enrollment_id
        )
        return Response(
            EnrollmentOut(participant_out(row), result.created_person, result.warning),
            status_code=201,
        )

    @post(
        "/{cohort_id:int}/participants/{enrollment_id:int}/withdraw",
        summary="Withdraw a participant (their history stays); may promote from the waitlist",
        responses=problem_responses(401, 403, 404, 409),
        status_code=200,
    )
    async def withdraw(
        self,
        cohort_id: FromPath[int],
        enrollment_id: FromPath[int],
        user: NamedDependency[CurrentUser],
    ) -> list[ParticipantOut]:
        await roster.withdraw(cohort_id, enrollment_id, actor=user)
        return [participant_out(p) for p in await roster.list_participants(cohort_id)]

    @post(
        "/{cohort_id:int}/participants/{enrollment_id:int}/promote",
        summary="Move someone from the waitlist into the cohort",
        responses=problem_responses(401, 403, 404, 409),
        status_code=200,
    )
    async def promote(
        self,
        cohort_id: FromPath[int],
        enrollment_id: FromPath[int],
        user: NamedDependency[CurrentUser],
    ) -> list[ParticipantOut]:
        await roster.promote(cohort_id, enrollment_id, actor=user)
        return [participant_out(p) for p in await roster.list_participants(cohort_id)]

    @post(
        "/{cohort_id:int}/roster",
        summary="Import a roster CSV (text/csv body); ?dry_run=true previews without changing anything",
        description="Columns (header names in any case; extra columns ignored): email, name, "
        "department, career stage, timezone. UTF-8 with or without BOM; comma or semicolon. "
        "Applying is all or nothing: any rejected row means 422 and no change.",
        responses=problem_responses(400, 401, 403, 404, 422),
        status_code=200,
        request_max_body_size=MAX_BYTES,
    )
    async def import_roster(
        self,
        cohort_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
        dry_run: FromQuery[bool] = False,
    ) -> RosterImportOut:
        # The body is the file itself (Content-Type: text/csv), read as bytes.
        data = await request.body()
        result = await roster.import_roster(cohort_id, data, dry_run=dry_run, actor=user)
        return roster_import_out(result)

    @get(
        "/{cohort_id:int}/completion",
        summary="Attendance and completion per participant (a participant sees only their own)",
        responses=problem_responses(401, 404),
    )
    async def completion(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> CompletionOut:
        sessions, rows = await attendance.completion_for(user, cohort_id)
        summary = await services.cohort_summary(cohort_id)
        return CompletionOut(
            rule=_rule_out(summary),
            rule_text=attendance.rule_text(summary.completion, len(sessions)),
            sessions=[session_out(s) for s in sessions],
            participants=[
                CompletionRowOut(
                    enrollment_id=r.participant.enrollment_id,
                    person_id=r.participant.person_id,
                    name=r.participant.name,
                    enrollment_status=r.participant.status,
                    attended=r.completion.attended,
                    required=r.completion.required,
                    completion=r.completion.status.value,
                    reason=r.completion.reason,
                    attendance={str(k): v for k, v in r.by_session.items()},
                )
                for r in rows
            ],
        )


def roster_import_out(result: roster.RosterImport) -> RosterImportOut:
    return RosterImportOut(
        applied=result.applied,
        added=result.count(roster.RowAction.add),
        enrolled=result.count(roster.RowAction.enroll),
        updated=result.count(roster.RowAction.update),
        unchanged=result.count(roster.RowAction.unchanged),
        rejected=result.count(roster.RowAction.reject),
        warning=result.warning,
        rows=[
            ImportRowOut(
                r.line, r.email, r.name, r.action.value, r.status, list(r.changes), r.reason
            )
            for r in result.rows
        ],
    )


class SessionController(Controller):
    path = "/api/sessions"
    tags = ["sessions"]
    guards = [signed_in]
    security = [{"bearer": []}]

    async def _change_out(
        self, user: CurrentUser, session_id: int, result: services.SessionChangeResult
    ) -> SessionChangeOut:
        detail = await services.get_session(user, session_id)
        return SessionChangeOut(
            session_out(detail.session), result.sequence_bumped, list(result.notes)
        )

    @patch(
        "/{session_id:int}",
        summary="Reschedule or edit a session (local date and time in the cohort's timezone)",
        description="Once the schedule is published, a change of start, end, room or link bumps "
        "the session's ical_sequence; titles and prompts do not.",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def update_session(
        self,
        session_id: FromPath[int],
        data: JSONBody[SessionPatch],
        user: NamedDependency[CurrentUser],
    ) -> SessionChangeOut:
        result = await services.update_session(
            session_id,
            services.SessionChanges(
                title=_unset(data.title),
                date=_unset(data.date),
                start_time=None
                if data.start_time is UNSET
                else dt.time.fromisoformat(data.start_time),
                minutes=_unset(data.minutes),
                location=_unset(data.location),
                video_url=_unset(data.video_url),
                objectives=_unset(data.objectives),
                assignment_prompt=_unset(data.assignment_prompt),
                competencies=None if data.competencies is UNSET else tuple(data.competencies),
                prompt_due_at=data.prompt_due_at
                if isinstance(data.prompt_due_at, dt.datetime)
                else None,
                clear_prompt_due=data.prompt_due_at is None,
                prompt_lead_minutes=data.prompt_lead_minutes
                if isinstance(data.prompt_lead_minutes, int)
                else None,
                reminder_minutes=tuple(data.reminder_minutes)
                if isinstance(data.reminder_minutes, list)
                else None,
                cohort_lead=data.prompt_lead_minutes is None,
                cohort_reminders=data.reminder_minutes is None,
            ),
            actor=user,
        )
        return await self._change_out(user, session_id, result)

    @post(
        "/{session_id:int}/cancel",
        summary="Cancel a session",
        responses=problem_responses(401, 403, 404, 409),
        status_code=200,
    )
    async def cancel(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> SessionChangeOut:
        result = await services.set_session_status(session_id, "cancelled", actor=user)
        return await self._change_out(user, session_id, result)

    @post(
        "/{session_id:int}/restore",
        summary="Restore a cancelled session (if its time is still free)",
        responses=problem_responses(401, 403, 404, 409, 422),
        status_code=200,
    )
    async def restore(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> SessionChangeOut:
        result = await services.set_session_status(session_id, "scheduled", actor=user)
        return await self._change_out(user, session_id, result)

    @get(
        "/{session_id:int}/invite.ics",
        summary="The session as an .ics file to add by hand (METHOD:PUBLISH, no attendees)",
        responses=problem_responses(401, 404),
        media_type="text/calendar",
    )
    async def download(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Response[bytes]:
        await services.require_session(user, session_id)
        return Response(
            await feeds.session_download(session_id),
            media_type="text/calendar",
            headers={"Content-Disposition": f'attachment; filename="session-{session_id}.ics"'},
        )

    @get(
        "/{session_id:int}/attendance",
        summary="The session's attendance sheet",
        responses=problem_responses(401, 403, 404),
    )
    async def get_attendance(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> list[AttendanceRowOut]:
        return await _attendance_rows(user, session_id)

    @put(
        "/{session_id:int}/attendance",
        summary="Record attendance for some or all participants (all or nothing)",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def put_attendance(
        self,
        session_id: FromPath[int],
        data: JSONBody[AttendanceIn],
        user: NamedDependency[CurrentUser],
    ) -> list[AttendanceRowOut]:
        await attendance.record_attendance(
            session_id,
            [attendance.Mark(m.enrollment_id, m.status, m.note) for m in data.marks],
            actor=user,
        )
        return await _attendance_rows(user, session_id)


async def _attendance_rows(user: CurrentUser, session_id: int) -> list[AttendanceRowOut]:
    return [
        AttendanceRowOut(
            r.participant.enrollment_id,
            r.participant.person_id,
            r.participant.name,
            r.status,
            r.note,
        )
        for r in await attendance.attendance_sheet(user, session_id)
    ]


def message_out(row: outbox.MessageRow) -> OutboxMessageOut:
    return OutboxMessageOut(
        id=row.id,
        kind=row.kind,
        recipient=row.recipient,
        subject="" if row.confidential else row.subject,
        state=row.state,
        message_id=row.message_id,
        send_after=row.send_after,
        attempts=row.attempts,
        last_code=row.last_code,
        last_error=row.last_error,
        sent_at=row.sent_at,
        created_at=row.created_at,
        confidential=row.confidential,
        cohort_id=row.cohort_id,
        session_id=row.session_id,
        person_id=row.person_id,
    )


class OutboxController(Controller):
    """The outbox for office staff. Confidential messages show their metadata only."""

    path = "/api/outbox"
    tags = ["outbox"]
    guards = [office_only]
    security = [{"bearer": []}]

    @get(
        "/",
        summary="Messages, newest first (filters: cohort_id, session_id, kind, state, recipient)",
        responses=problem_responses(401, 403, 422),
    )
    async def list_messages(
        self,
        cohort_id: OptionalQueryId = None,
        session_id: OptionalQueryId = None,
        kind: FromQuery[str] = "",
        message_state: Annotated[str, QueryParameter(name="state")] = "",
        recipient: FromQuery[str] = "",
        limit: FromQuery[int] = 100,
        offset: QueryOffset = 0,
    ) -> list[OutboxMessageOut]:
        rows = await outbox.list_messages(
            outbox.OutboxFilter(
                cohort_id, session_id, kind[:40], message_state[:20], recipient[:200], limit, offset
            )
        )
        return [message_out(row) for row in rows]

    @get(
        "/{message_id:int}",
        summary="One message with its text, HTML and calendar parts",
        responses=problem_responses(401, 403, 404),
    )
    async def get_message(
        self, message_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> OutboxMessageDetailOut:
        row, parts = await outbox_views.message_detail(user, message_id)
        base = message_out(row)
        return OutboxMessageDetailOut(
            **{f: getattr(base, f) for f in base.__struct_fields__},
            text=parts.text if parts else None,
            html=parts.html if parts else None,
            calendar=parts.calendar if parts else None,
        )

    @post(
        "/{message_id:int}/retry",
        summary="Send a failed or cancelled message again",
        responses=problem_responses(401, 403, 404, 409),
        status_code=200,
    )
    async def retry(
        self, message_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> OutboxMessageOut:
        await outbox_views.retry(user, message_id)
        return await _message_now(user, message_id)

    @post(
        "/{message_id:int}/cancel",
        summary="Cancel a held or queued message",
        responses=problem_responses(401, 403, 404, 409),
        status_code=200,
    )
    async def cancel(
        self, message_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> OutboxMessageOut:
        await outbox_views.cancel(user, message_id)
        return await _message_now(user, message_id)

    @post(
        "/release",
        summary="Release held messages (of one cohort, or all)",
        responses=problem_responses(400, 401, 403, 422),
        status_code=200,
    )
    async def release(
        self, data: JSONBody[ReleaseIn], user: NamedDependency[CurrentUser]
    ) -> ReleaseOut:
        return ReleaseOut(
            await outbox_views.release(user, outbox.OutboxFilter(cohort_id=data.cohort_id))
        )


async def _message_now(user: CurrentUser, message_id: int) -> OutboxMessageOut:
    return message_out((await outbox_views.message_detail(user, message_id))[0])
