"""Cohorts, their facilitators, sessions and participants: queries and rules, and who sees what."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from piccolo.query.functions.aggregate import Count

from database import is_unique_violation
from errors import Conflict, Forbidden, InvalidInput, NotFound
from facilitators import audit
from facilitators.services import (
    CurrentUser,
    PersonInput,
    clean_person_input,
    create_person,
    find_person_id_by_email,
    grant_role,
)
from facilitators.tables import Person, Role, RoleGrant
from facilitators.validation import check_timezone, optional_text, required_text
from sessions.schedule import SessionPlan, WeeklyRule, weekly_sessions
from sessions.tables import (
    Cohort,
    CohortFacilitator,
    CohortStatus,
    Competency,
    CurriculumTemplate,
    Enrollment,
    EnrollmentStatus,
    Modality,
    Session,
    SessionStatus,
    SessionTemplate,
)
from settings import get_settings

RECOMMENDED_SIZE = (8, 12)
ACTIVE_ENROLLMENT = (EnrollmentStatus.enrolled.value, EnrollmentStatus.waitlisted.value)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CohortInput:
    name: str
    timezone: str
    term: str = ""
    modality: str = Modality.in_person.value
    location: str = ""
    video_url: str = ""
    capacity: int | None = None
    curriculum_id: int | None = None
    facilitator_ids: tuple[int, ...] = ()
    lead_facilitator_id: int | None = None
    schedule: WeeklyRule | None = None


@dataclass(frozen=True)
class FacilitatorRow:
    person_id: int
    name: str
    email: str
    lead: bool


@dataclass(frozen=True)
class SessionRow:
    id: int
    cohort_id: int
    position: int
    title: str
    competencies: tuple[str, ...]
    starts_at: dt.datetime
    ends_at: dt.datetime
    location: str
    video_url: str
    status: str
    ical_uid: str
    ical_sequence: int
    cohort_name: str = ""
    cohort_timezone: str = ""


@dataclass(frozen=True)
class ParticipantRow:
    enrollment_id: int
    person_id: int
    name: str
    email: str
    department: str
    career_stage: str
    status: str
    enrolled_at: dt.datetime


@dataclass(frozen=True)
class CohortSummary:
    id: int
    name: str
    term: str
    timezone: str
    modality: str
    location: str
    video_url: str
    capacity: int | None
    status: str
    curriculum_id: int | None
    participant_count: int
    waitlist_count: int
    facilitators: tuple[FacilitatorRow, ...]
    next_session: SessionRow | None
    created_at: dt.datetime

    @property
    def size_warning(self) -> str | None:
        return size_warning(self.participant_count)


@dataclass(frozen=True)
class CohortDetail:
    summary: CohortSummary
    sessions: tuple[SessionRow, ...]
    participants: tuple[ParticipantRow, ...] = field(default_factory=tuple)
    can_manage: bool = False


@dataclass(frozen=True)
class CompetencyRow:
    code: str
    name: str
    aliases: tuple[str, ...]
    core: bool


@dataclass(frozen=True)
class SessionTemplateRow:
    id: int
    position: int
    title: str
    competencies: tuple[str, ...]
    minutes: int
    objectives: str
    assignment_prompt: str
    alternate_for: int | None


@dataclass(frozen=True)
class CurriculumRow:
    id: int
    slug: str
    name: str
    description: str
    builtin: bool
    sessions: tuple[SessionTemplateRow, ...]


def size_warning(participants: int) -> str | None:
    low, high = RECOMMENDED_SIZE
    if participants and not low <= participants <= high:
        return (
            f"{participants} participants: learning communities work best with {low} to {high} "
            "mentors; larger groups need more facilitators."
        )
    return None


# -- who sees what --------------------------------------------------------------------------


async def visible_cohort_ids(user: CurrentUser) -> set[int] | None:
    """The cohorts a user may see; None means all of them (admins and office staff)."""
    if user.is_office:
        return None
    facilitated = await CohortFacilitator.select(CohortFacilitator.cohort).where(
        CohortFacilitator.person == user.person_id
    )
    enrolled = await Enrollment.select(Enrollment.cohort).where(
        (Enrollment.person == user.person_id) & Enrollment.status.is_in(list(ACTIVE_ENROLLMENT))
    )
    return {row["cohort"] for row in facilitated} | {row["cohort"] for row in enrolled}


async def can_manage_cohort(user: CurrentUser, cohort_id: int) -> bool:
    if user.is_office:
        return True
    return bool(
        await CohortFacilitator.exists().where(
            (CohortFacilitator.cohort == cohort_id) & (CohortFacilitator.person == user.person_id)
        )
    )


async def require_cohort(user: CurrentUser, cohort_id: int, *, manage: bool = False) -> None:
    """404 for a cohort the user cannot see (its existence is not disclosed); 403 for one they
    see but may not change."""
    exists = await Cohort.exists().where(Cohort.id == cohort_id)
    visible = await visible_cohort_ids(user)
    if not exists or (visible is not None and cohort_id not in visible):
        raise NotFound(f"no cohort with id {cohort_id}")
    if manage and not await can_manage_cohort(user, cohort_id):
        raise Forbidden("only the cohort's facilitators and office staff may change it")


# -- reading --------------------------------------------------------------------------------


_SESSION_COLUMNS = (
    Session.id,
    Session.cohort,
    Session.position,
    Session.title,
    Session.competencies,
    Session.starts_at,
    Session.ends_at,
    Session.location,
    Session.video_url,
    Session.status,
    Session.ical_uid,
    Session.ical_sequence,
    Session.cohort.name.as_alias("cohort_name"),
    Session.cohort.timezone.as_alias("cohort_timezone"),
)


def _session_row(row: dict) -> SessionRow:
    return SessionRow(
        id=row["id"],
        cohort_id=row["cohort"],
        position=row["position"],
        title=row["title"],
        competencies=tuple(row["competencies"] or ()),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        location=row["location"],
        video_url=row["video_url"],
        status=row["status"],
        ical_uid=row["ical_uid"],
        ical_sequence=row["ical_sequence"],
        cohort_name=row["cohort_name"],
        cohort_timezone=row["cohort_timezone"],
    )


async def _summaries(
    cohort_ids: list[int] | None, include_archived: bool = True
) -> list[CohortSummary]:
    """Cohort summaries in four queries, whatever the number of cohorts."""
    query = Cohort.select().order_by(Cohort.created_at, ascending=False)
    if cohort_ids is not None:
        if not cohort_ids:
            return []
        query = query.where(Cohort.id.is_in(cohort_ids))
    if not include_archived:
        query = query.where(Cohort.status != CohortStatus.archived.value)
    cohorts = await query
    ids = [row["id"] for row in cohorts]
    if not ids:
        return []
    counts: dict[tuple[int, str], int] = {}
    for row in (
        await Enrollment.select(Enrollment.cohort, Enrollment.status, Count(alias="n"))
        .where(Enrollment.cohort.is_in(ids))
        .group_by(Enrollment.cohort, Enrollment.status)
    ):
        counts[(row["cohort"], row["status"])] = row["n"]
    facilitators: dict[int, list[FacilitatorRow]] = {}
    for row in (
        await CohortFacilitator.select(
            CohortFacilitator.cohort,
            CohortFacilitator.person,
            CohortFacilitator.lead,
            CohortFacilitator.person.name.as_alias("name"),
            CohortFacilitator.person.email.as_alias("email"),
        )
        .where(CohortFacilitator.cohort.is_in(ids))
        .order_by(CohortFacilitator.lead, ascending=False)
        .order_by(CohortFacilitator.id)
    ):
        facilitators.setdefault(row["cohort"], []).append(
            FacilitatorRow(row["person"], row["name"], row["email"], row["lead"])
        )
    upcoming: dict[int, SessionRow] = {}
    now = _now()
    for row in (
        await Session.select(*_SESSION_COLUMNS)
        .where(
            Session.cohort.is_in(ids)
            & (Session.ends_at > now)
            & (Session.status == SessionStatus.scheduled.value)
        )
        .order_by(Session.starts_at)
    ):
        upcoming.setdefault(row["cohort"], _session_row(row))
    return [
        CohortSummary(
            id=row["id"],
            name=row["name"],
            term=row["term"],
            timezone=row["timezone"],
            modality=row["modality"],
            location=row["location"],
            video_url=row["video_url"],
            capacity=row["capacity"],
            status=row["status"],
            curriculum_id=row["curriculum"],
            participant_count=counts.get((row["id"], EnrollmentStatus.enrolled.value), 0),
            waitlist_count=counts.get((row["id"], EnrollmentStatus.waitlisted.value), 0),
            facilitators=tuple(facilitators.get(row["id"], [])),
            next_session=upcoming.get(row["id"]),
            created_at=row["created_at"],
        )
        for row in cohorts
    ]


async def list_cohorts(user: CurrentUser) -> list[CohortSummary]:
    visible = await visible_cohort_ids(user)
    return await _summaries(None if visible is None else sorted(visible))


async def get_cohort(user: CurrentUser, cohort_id: int) -> CohortDetail:
    await require_cohort(user, cohort_id)
    manage = await can_manage_cohort(user, cohort_id)
    (summary,) = await _summaries([cohort_id])
    sessions = (
        await Session.select(*_SESSION_COLUMNS)
        .where(Session.cohort == cohort_id)
        .order_by(Session.starts_at)
        .order_by(Session.position)
    )
    participants = await list_participants(cohort_id)
    if not manage:
        # Participants see who is in their group, not how to email everyone in it.
        participants = [
            ParticipantRow(
                p.enrollment_id, p.person_id, p.name, "", p.department, "", p.status, p.enrolled_at
            )
            for p in participants
            if p.status == EnrollmentStatus.enrolled.value
        ]
    return CohortDetail(
        summary=summary,
        sessions=tuple(_session_row(row) for row in sessions),
        participants=tuple(participants),
        can_manage=manage,
    )


async def list_participants(cohort_id: int) -> list[ParticipantRow]:
    rows = (
        await Enrollment.select(
            Enrollment.id,
            Enrollment.person,
            Enrollment.status,
            Enrollment.enrolled_at,
            Enrollment.person.name.as_alias("name"),
            Enrollment.person.email.as_alias("email"),
            Enrollment.person.department.as_alias("department"),
            Enrollment.person.career_stage.as_alias("career_stage"),
        )
        .where(Enrollment.cohort == cohort_id)
        .order_by(Enrollment.enrolled_at)
        .order_by(Enrollment.id)
    )
    return [
        ParticipantRow(
            enrollment_id=row["id"],
            person_id=row["person"],
            name=row["name"],
            email=row["email"],
            department=row["department"],
            career_stage=row["career_stage"],
            status=row["status"],
            enrolled_at=row["enrolled_at"],
        )
        for row in rows
    ]


async def upcoming_sessions(user: CurrentUser, limit: int = 10) -> list[SessionRow]:
    """The next meetings of the cohorts a user sees, soonest first."""
    visible = await visible_cohort_ids(user)
    query = Session.select(*_SESSION_COLUMNS).where(
        (Session.ends_at > _now()) & (Session.status == SessionStatus.scheduled.value)
    )
    if visible is not None:
        if not visible:
            return []
        query = query.where(Session.cohort.is_in(sorted(visible)))
    rows = await query.order_by(Session.starts_at).limit(limit)
    return [_session_row(row) for row in rows]


async def list_competencies() -> list[CompetencyRow]:
    rows = await Competency.select().order_by(Competency.position)
    return [CompetencyRow(r["code"], r["name"], tuple(r["aliases"] or ()), r["core"]) for r in rows]


async def list_curricula() -> list[CurriculumRow]:
    """Every curriculum template with its sessions, in two queries."""
    curricula = (
        await CurriculumTemplate.select()
        .order_by(CurriculumTemplate.builtin, ascending=False)
        .order_by(CurriculumTemplate.id)
    )
    sessions: dict[int, list[SessionTemplateRow]] = {}
    for row in await SessionTemplate.select().order_by(SessionTemplate.position):
        sessions.setdefault(row["curriculum"], []).append(
            SessionTemplateRow(
                id=row["id"],
                position=row["position"],
                title=row["title"],
                competencies=tuple(row["competencies"] or ()),
                minutes=row["minutes"],
                objectives=row["objectives"],
                assignment_prompt=row["assignment_prompt"],
                alternate_for=row["alternate_for"],
            )
        )
    return [
        CurriculumRow(
            id=row["id"],
            slug=row["slug"],
            name=row["name"],
            description=row["description"],
            builtin=row["builtin"],
            sessions=tuple(sessions.get(row["id"], [])),
        )
        for row in curricula
    ]


# -- changing -------------------------------------------------------------------------------


def _check_video_url(value: str) -> str:
    url = optional_text(value, "video_url", 500)
    if url:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise InvalidInput.single("video_url", f"{url!r} is not an http(s) link")
    return url


def _clean_cohort(data: CohortInput) -> CohortInput:
    if data.modality not in {m.value for m in Modality}:
        raise InvalidInput.single(
            "modality", f"{data.modality!r} is not one of: in_person, virtual, hybrid"
        )
    if data.capacity is not None and not 1 <= data.capacity <= 500:
        raise InvalidInput.single("capacity", "must be between 1 and 500, or empty for no limit")
    return CohortInput(
        name=required_text(data.name, "name", 200),
        timezone=check_timezone(data.timezone),
        term=optional_text(data.term, "term", 60),
        modality=data.modality,
        location=optional_text(data.location, "location", 300),
        video_url=_check_video_url(data.video_url),
        capacity=data.capacity,
        curriculum_id=data.curriculum_id,
        facilitator_ids=tuple(dict.fromkeys(data.facilitator_ids)),
        lead_facilitator_id=data.lead_facilitator_id,
        schedule=data.schedule,
    )


async def _check_facilitators(
    facilitator_ids: tuple[int, ...], lead_id: int | None, actor: CurrentUser
) -> tuple[tuple[int, ...], int]:
    ids = facilitator_ids
    if not actor.is_office and actor.person_id not in ids:
        # A facilitator who sets up a cohort facilitates it; otherwise they could not see it.
        ids = (actor.person_id, *ids)
    elif not ids and actor.has_role(Role.facilitator.value):
        ids = (actor.person_id,)
    if not ids:
        raise InvalidInput.single("facilitator_ids", "a cohort needs at least one facilitator")
    rows = await Person.select(
        Person.id,
        Person.active,
    ).where(Person.id.is_in(list(ids)))
    found = {row["id"]: row["active"] for row in rows}
    facilitators = {
        row["person"]
        for row in await RoleGrant.select(RoleGrant.person).where(
            RoleGrant.person.is_in(list(ids)) & (RoleGrant.role == Role.facilitator.value)
        )
    }
    for person_id in ids:
        if person_id not in found:
            raise InvalidInput.single("facilitator_ids", f"no person with id {person_id}")
        if not found[person_id]:
            raise InvalidInput.single("facilitator_ids", f"person {person_id} is deactivated")
        if person_id not in facilitators:
            raise InvalidInput.single(
                "facilitator_ids", f"person {person_id} does not hold the facilitator role"
            )
    lead = lead_id if lead_id is not None else ids[0]
    if lead not in ids:
        raise InvalidInput.single(
            "lead_facilitator_id", f"person {lead} is not one of the cohort's facilitators"
        )
    return ids, lead


async def _session_plans(curriculum_id: int) -> list[SessionPlan]:
    rows = (
        await SessionTemplate.select()
        .where(
            (SessionTemplate.curriculum == curriculum_id) & SessionTemplate.alternate_for.is_null()
        )
        .order_by(SessionTemplate.position)
    )
    return [
        SessionPlan(
            title=row["title"],
            minutes=row["minutes"],
            competencies=tuple(row["competencies"] or ()),
            objectives=row["objectives"],
            assignment_prompt=row["assignment_prompt"],
        )
        for row in rows
    ]


def new_ical_uid() -> str:
    """A session's calendar UID, fixed at creation and never regenerated."""
    return f"session-{uuid.uuid4()}@{get_settings().mail_domain}"


async def create_cohort(data: CohortInput, *, actor: CurrentUser) -> int:
    if not actor.can_create_cohorts:
        raise Forbidden("only facilitators and office staff may create cohorts")
    data = _clean_cohort(data)
    if data.curriculum_id is not None and not await CurriculumTemplate.exists().where(
        CurriculumTemplate.id == data.curriculum_id
    ):
        raise InvalidInput.single(
            "curriculum_id", f"no curriculum template with id {data.curriculum_id}"
        )
    if data.schedule is not None and data.curriculum_id is None:
        raise InvalidInput.single(
            "curriculum_id", "a schedule needs a curriculum template to follow"
        )
    facilitator_ids, lead = await _check_facilitators(
        data.facilitator_ids, data.lead_facilitator_id, actor
    )
    planned = (
        weekly_sessions(await _session_plans(data.curriculum_id), data.schedule, data.timezone)
        if data.schedule is not None and data.curriculum_id is not None
        else []
    )
    async with Cohort._meta.db.transaction():
        cohort = Cohort(
            name=data.name,
            term=data.term,
            timezone=data.timezone,
            modality=data.modality,
            location=data.location,
            video_url=data.video_url,
            capacity=data.capacity,
            curriculum=data.curriculum_id,
        )
        await cohort.save()
        await CohortFacilitator.insert(
            *[
                CohortFacilitator(cohort=cohort.id, person=person_id, lead=person_id == lead)
                for person_id in facilitator_ids
            ]
        )
        if planned:
            await Session.insert(
                *[
                    Session(
                        cohort=cohort.id,
                        position=p.position,
                        title=p.title,
                        competencies=list(p.competencies),
                        starts_at=p.starts_at,
                        ends_at=p.ends_at,
                        location=data.location,
                        video_url=data.video_url,
                        ical_uid=new_ical_uid(),
                        objectives=p.objectives,
                        assignment_prompt=p.assignment_prompt,
                    )
                    for p in planned
                ]
            )
        await audit.record(
            actor.person_id,
            "cohort.create",
            "cohort",
            cohort.id,
            cohort_id=cohort.id,
            summary=f"Created cohort {data.name!r} with {len(planned)} sessions",
        )
    return int(cohort.id)


@dataclass(frozen=True)
class CohortChanges:
    """A partial update: None means "leave as it is"."""

    name: str | None = None
    term: str | None = None
    timezone: str | None = None
    modality: str | None = None
    location: str | None = None
    video_url: str | None = None
    capacity: int | None = None
    clear_capacity: bool = False
    facilitator_ids: tuple[int, ...] | None = None
    lead_facilitator_id: int | None = None


async def update_cohort(cohort_id: int, changes: CohortChanges, *, actor: CurrentUser) -> None:
    await require_cohort(actor, cohort_id, manage=True)
    current = await Cohort.select().where(Cohort.id == cohort_id).first()
    assert current is not None
    merged = _clean_cohort(
        CohortInput(
            name=current["name"] if changes.name is None else changes.name,
            timezone=current["timezone"] if changes.timezone is None else changes.timezone,
            term=current["term"] if changes.term is None else changes.term,
            modality=current["modality"] if changes.modality is None else changes.modality,
            location=current["location"] if changes.location is None else changes.location,
            video_url=current["video_url"] if changes.video_url is None else changes.video_url,
            capacity=None
            if changes.clear_capacity
            else (current["capacity"] if changes.capacity is None else changes.capacity),
        )
    )
    facilitators: tuple[tuple[int, ...], int] | None = None
    if changes.facilitator_ids is not None or changes.lead_facilitator_id is not None:
        existing = (
            await CohortFacilitator.select(CohortFacilitator.person, CohortFacilitator.lead)
            .where(CohortFacilitator.cohort == cohort_id)
            .order_by(CohortFacilitator.id)
        )
        ids = (
            tuple(dict.fromkeys(changes.facilitator_ids))
            if changes.facilitator_ids is not None
            else tuple(row["person"] for row in existing)
        )
        lead = changes.lead_facilitator_id
        if lead is None:
            current_lead = [row["person"] for row in existing if row["lead"]]
            lead = current_lead[0] if current_lead and current_lead[0] in ids else None
        if not actor.is_office and actor.person_id not in ids:
            raise InvalidInput.single(
                "facilitator_ids", "you cannot remove yourself; ask office staff to hand over"
            )
        facilitators = await _check_facilitators(ids, lead, actor)
    changed: dict[str, object] = {
        key: value
        for key, value in (
            ("name", merged.name),
            ("term", merged.term),
            ("timezone", merged.timezone),
            ("modality", merged.modality),
            ("location", merged.location),
            ("video_url", merged.video_url),
            ("capacity", merged.capacity),
        )
        if current[key] != value
    }
    async with Cohort._meta.db.transaction():
        await Cohort.update(
            {
                Cohort.name: merged.name,
                Cohort.term: merged.term,
                Cohort.timezone: merged.timezone,
                Cohort.modality: merged.modality,
                Cohort.location: merged.location,
                Cohort.video_url: merged.video_url,
                Cohort.capacity: merged.capacity,
                Cohort.updated_at: _now(),
            }
        ).where(Cohort.id == cohort_id)
        if facilitators is not None:
            ids, lead = facilitators
            await CohortFacilitator.delete().where(CohortFacilitator.cohort == cohort_id)
            await CohortFacilitator.insert(
                *[CohortFacilitator(cohort=cohort_id, person=p, lead=p == lead) for p in ids]
            )
            changed["facilitators"] = list(ids)
            changed["lead"] = lead
        await audit.record(
            actor.person_id,
            "cohort.update",
            "cohort",
            cohort_id,
            cohort_id=cohort_id,
            summary="Changed " + (", ".join(sorted(changed)) or "nothing"),
            detail={
                k: v for k, v in changed.items() if isinstance(v, (str, int, list)) or v is None
            },
        )


@dataclass(frozen=True)
class EnrollResult:
    enrollment_id: int
    person_id: int
    status: str
    created_person: bool
    warning: str | None


async def add_participant(cohort_id: int, data: PersonInput, *, actor: CurrentUser) -> EnrollResult:
    """Enroll a person by email, adding them first if new. Beyond capacity: the waitlist."""
    await require_cohort(actor, cohort_id, manage=True)
    data = clean_person_input(data)
    try:
        async with Cohort._meta.db.transaction():
            person_id = await find_person_id_by_email(data.email)
            created = person_id is None
            if person_id is None:
                person_id = await create_person(
                    data, {Role.participant.value}, actor_id=actor.person_id
                )
            else:
                await grant_role(person_id, Role.participant.value)
            cohort = (
                await Cohort.select(Cohort.capacity, Cohort.name)
                .where(Cohort.id == cohort_id)
                .first()
            )
            assert cohort is not None
            enrolled = await Enrollment.count().where(
                (Enrollment.cohort == cohort_id)
                & (Enrollment.status == EnrollmentStatus.enrolled.value)
            )
            status = (
                EnrollmentStatus.waitlisted.value
                if cohort["capacity"] is not None and enrolled >= cohort["capacity"]
                else EnrollmentStatus.enrolled.value
            )
            existing = (
                await Enrollment.select(Enrollment.id, Enrollment.status)
                .where((Enrollment.cohort == cohort_id) & (Enrollment.person == person_id))
                .first()
            )
            if existing is not None and existing["status"] != EnrollmentStatus.withdrawn.value:
                raise Conflict(f"{data.email} is already {existing['status']} in this cohort")
            if existing is not None:
                enrollment_id = existing["id"]
                await Enrollment.update(
                    {
                        Enrollment.status: status,
                        Enrollment.withdrawn_at: None,
                        Enrollment.enrolled_at: _now(),
                    }
                ).where(Enrollment.id == enrollment_id)
            else:
                saved = await Enrollment.insert(
                    Enrollment(cohort=cohort_id, person=person_id, status=status)
                ).returning(Enrollment.id)
                enrollment_id = saved[0]["id"]
            await audit.record(
                actor.person_id,
                "enrollment.add",
                "enrollment",
                enrollment_id,
                cohort_id=cohort_id,
                summary=f"{data.email} {status} in {cohort['name']!r}",
            )
    except Exception as error:
        if is_unique_violation(error):
            raise Conflict(f"{data.email} is already in this cohort") from error
        raise
    count = enrolled + (1 if status == EnrollmentStatus.enrolled.value else 0)
    return EnrollResult(enrollment_id, person_id, status, created, size_warning(count))
