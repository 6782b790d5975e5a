"""Cohorts and their sessions: reading them, creating a cohort from a template and a schedule
rule, editing the schedule (reschedule, cancel, restore, add), publishing, the cohort's
lifecycle, and cloning a cohort into a new term."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from piccolo.columns.combination import WhereRaw
from piccolo.query.functions.aggregate import Count
from piccolo.query.methods.select import Select
from piccolo.querystring import QueryString

from database import Prepared, lock_for_update
from errors import Checks, Conflict, Forbidden, InvalidInput, NotFound
from facilitators import audit
from facilitators.services import CurrentUser
from facilitators.tables import Person, Role, RoleGrant
from facilitators.validation import check_timezone, normalize_email, optional_text, required_text
from sessions import invites, prompt_rules, prompts, waitlist
from sessions.access import (
    can_manage_cohort,
    enrolled_cohort_ids,
    facilitated_cohort_ids,
    require_cohort,
    require_session,
    require_visible,
    visible_cohort_ids,
)
from sessions.completion import CompletionRule
from sessions.curricula import known_competency_codes
from sessions.schedule import (
    Schedule,
    ScheduleRule,
    SessionPlan,
    check_minutes,
    generate,
    local_to_utc,
)
from sessions.tables import (
    Cohort,
    CohortFacilitator,
    CohortStatus,
    CurriculumTemplate,
    Enrollment,
    EnrollmentStatus,
    Modality,
    Session,
    SessionStatus,
    SessionTemplate,
)
from settings import get_settings

if TYPE_CHECKING:
    from sessions.roster import ParticipantRow

RECOMMENDED_SIZE = (8, 12)

# Where a cohort may go from each state. Publishing (draft -> scheduled) has its own action.
STATUS_TRANSITIONS: dict[str, set[str]] = {
    CohortStatus.draft.value: {CohortStatus.cancelled.value},
    CohortStatus.scheduled.value: {CohortStatus.in_progress.value, CohortStatus.cancelled.value},
    CohortStatus.in_progress.value: {CohortStatus.completed.value, CohortStatus.cancelled.value},
    CohortStatus.completed.value: {CohortStatus.archived.value, CohortStatus.in_progress.value},
    CohortStatus.archived.value: {CohortStatus.completed.value},
    CohortStatus.cancelled.value: set(),
}

# Called as hook(mapping of source session id -> new session id) inside the clone's transaction.
# The case-study app plugs in "copy each session's agenda" here (sessions never imports it).
CloneHook = Callable[[dict[int, int]], Awaitable[None]]
clone_hooks: list[CloneHook] = []


CLOSED = (CohortStatus.cancelled.value, CohortStatus.archived.value)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def require_open(cohort_id: int) -> None:
    """A cancelled or archived cohort's schedule and roster no longer change."""
    row = await Cohort.select(Cohort.status).where(Cohort.id == cohort_id).first()
    if row is not None and row["status"] in CLOSED:
        raise Conflict(f"the cohort is {row['status']}: its schedule and roster no longer change")


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
    schedule: ScheduleRule | None = None


@dataclass(frozen=True)
class CreatedCohort:
    id: int
    notes: tuple[str, ...] = ()


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
    objectives: str
    assignment_prompt: str
    cohort_name: str
    cohort_timezone: str
    extra: bool = False
    prompt_due_at: dt.datetime | None = None
    # This session's own prompt lead and reminder offsets in minutes (None: the cohort's).
    prompt_lead_minutes: int | None = None
    reminder_minutes: tuple[int, ...] | None = None
    prompt_revision: int = 0

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    @property
    def is_cancelled(self) -> bool:
        return self.status == SessionStatus.cancelled.value

    def local_start(self, zone: str | None = None) -> dt.datetime:
        return self.starts_at.astimezone(ZoneInfo(zone or self.cohort_timezone))


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
    published_at: dt.datetime | None
    auto_promote: bool
    completion: CompletionRule
    prompt_lead_minutes: int = 7 * 24 * 60
    reminder_minutes: tuple[int, ...] = ()
    # Staff review messages before they go; the generation of the cohort's feed address.
    review_mail: bool = False
    feed_generation: int = 0

    @property
    def size_warning(self) -> str | None:
        return size_warning(self.participant_count)

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


@dataclass(frozen=True)
class CohortDetail:
    summary: CohortSummary
    sessions: tuple[SessionRow, ...]
    can_manage: bool = False
    roster: tuple[ParticipantRow, ...] = ()  # when asked for: see `get_cohort`


@dataclass(frozen=True)
class SessionDetail:
    session: SessionRow
    cohort: CohortSummary
    can_manage: bool


def size_warning(participants: int) -> str | None:
    low, high = RECOMMENDED_SIZE
    people = f"{participants} participant{'s' if participants != 1 else ''}"
    if participants and participants < low:
        return f"{people}: learning communities work best with {low} to {high} mentors."
    if participants > high:
        return (
            f"{people}: learning communities work best with {low} to {high} mentors; "
            "a larger group needs more facilitators."
        )
    return None


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
    Session.objectives,
    Session.assignment_prompt,
    Session.extra,
    Session.prompt_due_at,
    Session.prompt_lead_minutes,
    Session.reminder_minutes,
    Session.prompt_revision,
    Session.cohort.name.as_alias("cohort_name"),
    Session.cohort.timezone.as_alias("cohort_timezone"),
)


def _session_row(row: dict[str, Any]) -> SessionRow:
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
        objectives=row["objectives"],
        assignment_prompt=row["assignment_prompt"],
        cohort_name=row["cohort_name"],
        cohort_timezone=row["cohort_timezone"],
        extra=row["extra"],
        prompt_due_at=row["prompt_due_at"],
        prompt_lead_minutes=row["prompt_lead_minutes"],
        reminder_minutes=None
        if row["reminder_minutes"] is None
        else tuple(row["reminder_minutes"]),
        prompt_revision=row["prompt_revision"],
    )


# The reads of cohort and dashboard pages, built once (see `database.Prepared`).
_COHORTS = Prepared(lambda: Cohort.select().order_by(Cohort.created_at, ascending=False))
_COHORTS_IN = Prepared(
    lambda ids: (
        Cohort.select().where(Cohort.id.is_in(ids)).order_by(Cohort.created_at, ascending=False)
    )
)
_ENROLLMENT_COUNTS = Prepared(
    lambda ids: (
        Enrollment.select(Enrollment.cohort, Enrollment.status, Count(alias="n"))
        .where(Enrollment.cohort.is_in(ids))
        .group_by(Enrollment.cohort, Enrollment.status)
    )
)
_FACILITATORS = Prepared(
    lambda ids: (
        CohortFacilitator.select(
            CohortFacilitator.cohort,
            CohortFacilitator.person,
            CohortFacilitator.lead,
            CohortFacilitator.person.name.as_alias("name"),
            CohortFacilitator.person.email.as_alias("email"),
        )
        .where(CohortFacilitator.cohort.is_in(ids))
        .order_by(CohortFacilitator.lead, ascending=False)
        .order_by(CohortFacilitator.id)
    )
)
# A cohort's next meeting: its first scheduled session, by start, that has not ended. Asked
# per cohort (one index search each) rather than per session of the cohorts.
_NEXT_SESSIONS = Prepared(
    lambda ids, now, scheduled: (
        Session.select(*_SESSION_COLUMNS)
        .where(
            WhereRaw(
                '"session"."id" IN (SELECT (SELECT upcoming.id FROM "session" AS upcoming'
                " WHERE upcoming.cohort = cohort.id AND upcoming.status = {}"
                " AND upcoming.ends_at > {} ORDER BY upcoming.starts_at, upcoming.id LIMIT 1)"
                ' FROM "cohort" AS cohort WHERE cohort.id IN ({}))',
                scheduled,
                now,
                QueryString(", ".join("{}" for _ in ids), *ids),
            )
        )
        .order_by(Session.starts_at)
    )
)
_COHORT_SESSIONS = Prepared(
    lambda cohort: (
        Session.select(*_SESSION_COLUMNS)
        .where(Session.cohort == cohort)
        .order_by(Session.starts_at)
        .order_by(Session.position)
    )
)


def next_of(sessions: list[SessionRow], now: dt.datetime) -> SessionRow | None:
    """The next meeting among a cohort's sessions, as `_NEXT_SESSIONS` finds it."""
    upcoming = [
        s for s in sessions if s.status == SessionStatus.scheduled.value and s.ends_at > now
    ]
    return min(upcoming, key=lambda s: (s.starts_at, s.id), default=None)


async def _next_sessions(cohort_ids: list[int]) -> dict[int, SessionRow]:
    """Each cohort's next meeting, soonest first; a cohort with none is missing."""
    rows = await _NEXT_SESSIONS(ids=cohort_ids, now=_now(), scheduled=SessionStatus.scheduled.value)
    return {row["cohort"]: _session_row(row) for row in rows}


async def _summaries(
    cohort_ids: list[int] | None,
    *,
    sessions: list[SessionRow] | None = None,
    enrollments: list[str] | None = None,
) -> list[CohortSummary]:
    """Cohort summaries in four queries, whatever the number of cohorts. A caller that has
    read the (one) cohort's sessions already passes them: its next meeting is among them; one
    that has read its roster passes the status of each enrollment, which are then counted."""
    if cohort_ids is None:
        cohorts = await _COHORTS()
    elif not cohort_ids:
        return []
    else:
        cohorts = await _COHORTS_IN(ids=cohort_ids)
    ids = [row["id"] for row in cohorts]
    if not ids:
        return []
    counts: dict[tuple[int, str], int] = {}
    if enrollments is None:
        counts = {
            (row["cohort"], row["status"]): row["n"] for row in await _ENROLLMENT_COUNTS(ids=ids)
        }
    else:
        assert len(ids) == 1, "enrollments are given for one cohort"
        for status in enrollments:
            counts[(ids[0], status)] = counts.get((ids[0], status), 0) + 1
    facilitators: dict[int, list[FacilitatorRow]] = {}
    for row in await _FACILITATORS(ids=ids):
        facilitators.setdefault(row["cohort"], []).append(
            FacilitatorRow(row["person"], row["name"], row["email"], row["lead"])
        )
    if sessions is None:
        upcoming = await _next_sessions(ids)
    else:
        assert len(ids) == 1, "sessions are given for one cohort"
        found = next_of(sessions, _now())
        upcoming = {} if found is None else {ids[0]: found}
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
            published_at=row["published_at"],
            auto_promote=row["auto_promote"],
            completion=CompletionRule(
                percent=row["completion_percent"],
                requires_first_last=row["completion_requires_first_last"],
                late_counts=row["late_counts"],
                left_early_counts=row["left_early_counts"],
            ),
            prompt_lead_minutes=row["prompt_lead_minutes"],
            reminder_minutes=tuple(row["reminder_minutes"] or ()),
            review_mail=row["review_mail"],
            feed_generation=row["feed_generation"],
        )
        for row in cohorts
    ]


async def cohort_mail_settings(cohort_id: int) -> dict[str, Any]:
    row = (
        await Cohort.select(Cohort.review_mail, Cohort.organizer_name, Cohort.organizer_email)
        .where(Cohort.id == cohort_id)
        .first()
    )
    if row is None:
        raise NotFound(f"no cohort with id {cohort_id}")
    return dict(row)


async def cohort_summary(cohort_id: int) -> CohortSummary:
    found = await _summaries([cohort_id])
    if not found:
        raise NotFound(f"no cohort with id {cohort_id}")
    return found[0]


async def list_cohorts(user: CurrentUser) -> list[CohortSummary]:
    visible = await visible_cohort_ids(user)
    return await _summaries(None if visible is None else sorted(visible))


async def cohort_sessions(cohort_id: int) -> list[SessionRow]:
    return [_session_row(row) for row in await _COHORT_SESSIONS(cohort=cohort_id)]


async def get_cohort(
    user: CurrentUser,
    cohort_id: int,
    *,
    read_roster: Callable[[int], Awaitable[list[ParticipantRow]]] | None = None,
) -> CohortDetail:
    """A cohort the user may see, with its sessions. `read_roster` (`roster.list_participants`,
    which this module cannot import) reads its whole roster too, once the user may see it;
    the summary's counts then come from it rather than from a query of their own."""
    await require_visible(user, cohort_id)
    sessions = await cohort_sessions(cohort_id)
    everyone = await read_roster(cohort_id) if read_roster is not None else None
    found = await _summaries(
        [cohort_id],
        sessions=sessions,
        enrollments=None if everyone is None else [p.status for p in everyone],
    )
    if not found:
        raise NotFound(f"no cohort with id {cohort_id}")
    return CohortDetail(
        summary=found[0],
        sessions=tuple(sessions),
        can_manage=await can_manage_cohort(user, cohort_id),
        roster=tuple(everyone or ()),
    )


async def get_session(user: CurrentUser, session_id: int) -> SessionDetail:
    cohort_id = await require_session(user, session_id)
    row = await Session.select(*_SESSION_COLUMNS).where(Session.id == session_id).first()
    assert row is not None
    return SessionDetail(
        session=_session_row(row),
        cohort=await cohort_summary(cohort_id),
        can_manage=await can_manage_cohort(user, cohort_id),
    )


UPCOMING_SHOWN = 8  # meetings the dashboard lists


def _upcoming_query(now: Any, scheduled: Any) -> Select:
    return (
        Session.select(*_SESSION_COLUMNS)
        .where((Session.ends_at > now) & (Session.status == scheduled))
        .order_by(Session.starts_at)
        .limit(UPCOMING_SHOWN)
    )


_UPCOMING = Prepared(_upcoming_query)
_UPCOMING_IN = Prepared(
    lambda ids, now, scheduled: _upcoming_query(now, scheduled).where(Session.cohort.is_in(ids))
)


async def upcoming_sessions(user: CurrentUser) -> list[SessionRow]:
    """The next UPCOMING_SHOWN meetings of the user's cohorts (not those they are only
    waitlisted for), soonest first."""
    visible = (
        None
        if user.is_office
        else await facilitated_cohort_ids(user) | await enrolled_cohort_ids(user, waitlisted=False)
    )
    values = {"now": _now(), "scheduled": SessionStatus.scheduled.value}
    if visible is None:
        rows = await _UPCOMING(**values)
    elif not visible:
        return []
    else:
        rows = await _UPCOMING_IN(ids=sorted(visible), **values)
    return [_session_row(row) for row in rows]


async def next_sessions(user: CurrentUser) -> list[SessionRow]:
    """The next meeting of each cohort the user takes part in as a participant (or
    facilitates), soonest first: the "my next session" page."""
    cohorts = await enrolled_cohort_ids(user, waitlisted=False) | await facilitated_cohort_ids(user)
    if not cohorts:
        return []
    return list((await _next_sessions(sorted(cohorts))).values())


# -- creating a cohort ----------------------------------------------------------------------


def check_video_url(value: str, field_name: str = "video_url") -> str:
    url = optional_text(value, field_name, 500)
    if url:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise InvalidInput.single(field_name, f"{url!r} is not an http(s) link")
    return url


def _check_capacity(capacity: int | None) -> int | None:
    if capacity is not None and not 1 <= capacity <= 500:
        raise InvalidInput.single("capacity", "must be between 1 and 500, or empty for no limit")
    return capacity


def _check_modality(modality: str) -> str:
    if modality not in {m.value for m in Modality}:
        raise InvalidInput.single(
            "modality", f"{modality!r} is not one of: in_person, virtual, hybrid"
        )
    return modality


def _clean_cohort(data: CohortInput) -> CohortInput:
    checks = Checks()
    cleaned = replace(
        data,
        name=checks.check(required_text, data.name, "name", 200),
        timezone=checks.check(check_timezone, data.timezone),
        term=checks.check(optional_text, data.term, "term", 60),
        modality=checks.check(_check_modality, data.modality),
        location=checks.check(optional_text, data.location, "location", 300),
        video_url=checks.check(check_video_url, data.video_url),
        capacity=checks.check(_check_capacity, data.capacity),
        facilitator_ids=tuple(dict.fromkeys(data.facilitator_ids)),
    )
    checks.done()
    return cleaned


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
    if len(ids) > 10:
        raise InvalidInput.single("facilitator_ids", "at most 10 facilitators")
    found = {
        row["id"]: row["active"]
        for row in await Person.select(Person.id, Person.active).where(Person.id.is_in(list(ids)))
    }
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


async def session_plans(curriculum_id: int) -> list[SessionPlan]:
    """A curriculum's sessions in order, without the alternates offered as swaps."""
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


def _generate(plans: list[SessionPlan], rule: ScheduleRule, timezone: str) -> Schedule:
    """`generate`, plus a note when sessions fall in the past (allowed: records of a cohort
    that already met, but rarely what someone setting up a new term means)."""
    schedule = generate(plans, rule, timezone)
    past = sum(1 for s in schedule.sessions if s.starts_at < _now())
    if past:
        note = f"{past} of the {len(schedule.sessions)} sessions are in the past"
        schedule = Schedule(schedule.sessions, (*schedule.notes, note))
    return schedule


async def schedule_cohort(
    cohort_id: int, curriculum_id: int | None, rule: ScheduleRule, *, actor: CurrentUser
) -> tuple[str, ...]:
    """Give a cohort that has no sessions yet its schedule (from a template, or blank sessions).
    Returns the schedule's notes."""
    await require_cohort(actor, cohort_id, manage=True)
    await require_open(cohort_id)
    plans: list[SessionPlan] = []
    if curriculum_id is not None:
        if not await CurriculumTemplate.exists().where(CurriculumTemplate.id == curriculum_id):
            raise InvalidInput.single(
                "curriculum_id", f"no curriculum template with id {curriculum_id}"
            )
        plans = await session_plans(curriculum_id)
    async with Cohort._meta.db.transaction():
        cohort = await lock_for_update(Cohort.select().where(Cohort.id == cohort_id)).first()
        assert cohort is not None
        if await Session.exists().where(Session.cohort == cohort_id):
            raise Conflict("the cohort has sessions already: edit them, or add a make-up session")
        schedule = _generate(plans, rule, cohort["timezone"])
        await _insert_sessions(
            cohort_id, schedule.sessions, cohort["location"], cohort["video_url"]
        )
        if curriculum_id is not None:
            await Cohort.update({Cohort.curriculum: curriculum_id}).where(Cohort.id == cohort_id)
        await audit.record(
            actor.person_id,
            "cohort.schedule",
            "cohort",
            cohort_id,
            cohort_id=cohort_id,
            summary=f"Scheduled {len(schedule.sessions)} sessions",
        )
    return schedule.notes


def new_ical_uid() -> str:
    """A session's calendar UID, fixed at creation and never regenerated."""
    return f"session-{uuid.uuid4()}@{get_settings().mail_domain}"


async def _insert_sessions(
    cohort_id: int, planned: Any, location: str, video_url: str
) -> list[int]:
    if not planned:
        return []
    rows = await Session.insert(
        *[
            Session(
                cohort=cohort_id,
                position=p.position,
                title=p.title,
                competencies=list(p.competencies),
                starts_at=p.starts_at,
                ends_at=p.ends_at,
                location=location,
                video_url=video_url,
                ical_uid=new_ical_uid(),
                objectives=p.objectives,
                assignment_prompt=p.assignment_prompt,
            )
            for p in planned
        ]
    ).returning(Session.id)
    return [row["id"] for row in rows]


async def create_cohort(data: CohortInput, *, actor: CurrentUser) -> CreatedCohort:
    """A cohort with its facilitators and, given a schedule rule, its sessions. All or nothing."""
    if not actor.can_create_cohorts:
        raise Forbidden("only facilitators and office staff may create cohorts")
    data = _clean_cohort(data)
    plans: list[SessionPlan] = []
    if data.curriculum_id is not None:
        if not await CurriculumTemplate.exists().where(CurriculumTemplate.id == data.curriculum_id):
            raise InvalidInput.single(
                "curriculum_id", f"no curriculum template with id {data.curriculum_id}"
            )
        plans = await session_plans(data.curriculum_id)
    facilitator_ids, lead = await _check_facilitators(
        data.facilitator_ids, data.lead_facilitator_id, actor
    )
    schedule = _generate(plans, data.schedule, data.timezone) if data.schedule else None
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
        sessions = schedule.sessions if schedule else ()
        await _insert_sessions(cohort.id, sessions, data.location, data.video_url)
        await audit.record(
            actor.person_id,
            "cohort.create",
            "cohort",
            cohort.id,
            cohort_id=cohort.id,
            summary=f"Created cohort {data.name!r} with {len(sessions)} sessions",
        )
    return CreatedCohort(int(cohort.id), schedule.notes if schedule else ())


# -- changing a cohort ----------------------------------------------------------------------


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
    status: str | None = None
    auto_promote: bool | None = None
    completion_percent: int | None = None
    completion_requires_first_last: bool | None = None
    late_counts: bool | None = None
    left_early_counts: bool | None = None
    review_mail: bool | None = None
    organizer_name: str | None = None
    organizer_email: str | None = None
    prompt_lead_minutes: int | None = None
    reminder_minutes: tuple[int, ...] | None = None


def _merged(current: dict[str, Any], changes: CohortChanges) -> dict[str, Any]:
    """The cohort's columns after the changes, checked."""

    def pick(name: str) -> Any:
        value = getattr(changes, name)
        return current[name] if value is None else value

    merged = {
        "name": required_text(pick("name"), "name", 200),
        "term": optional_text(pick("term"), "term", 60),
        "timezone": check_timezone(pick("timezone")),
        "modality": _check_modality(pick("modality")),
        "location": optional_text(pick("location"), "location", 300),
        "video_url": check_video_url(pick("video_url")),
        "capacity": None if changes.clear_capacity else _check_capacity(pick("capacity")),
        "auto_promote": bool(pick("auto_promote")),
        "completion_percent": pick("completion_percent"),
        "completion_requires_first_last": bool(pick("completion_requires_first_last")),
        "late_counts": bool(pick("late_counts")),
        "left_early_counts": bool(pick("left_early_counts")),
        "review_mail": bool(pick("review_mail")),
        "organizer_name": optional_text(pick("organizer_name"), "organizer_name", 200),
        "organizer_email": _organizer_email(pick("organizer_email")),
        "prompt_lead_minutes": prompt_rules.check_lead(pick("prompt_lead_minutes")),
        "reminder_minutes": list(prompt_rules.check_reminders(pick("reminder_minutes"))),
    }
    if not 1 <= merged["completion_percent"] <= 100:
        raise InvalidInput.single("completion_percent", "must be between 1 and 100")
    prompt_rules.check_timing(
        prompt_rules.Timing.of(merged["prompt_lead_minutes"], merged["reminder_minutes"])
    )
    return merged


def _organizer_email(value: str) -> str:
    """The office address that organizes the events instead of the lead facilitator."""
    text = (value or "").strip()
    return normalize_email(text, "organizer_email") if text else ""


async def _future_sessions(cohort_id: int) -> list[dict[str, Any]]:
    return await Session.select().where(
        (Session.cohort == cohort_id) & (Session.starts_at > _now())
    )


async def update_cohort(cohort_id: int, changes: CohortChanges, *, actor: CurrentUser) -> None:
    """Change a cohort. A new room or video link reaches the sessions still to come that used
    the old one; a new timezone keeps those sessions at the same local wall time."""
    await require_cohort(actor, cohort_id, manage=True)
    async with Cohort._meta.db.transaction():
        current = await lock_for_update(Cohort.select().where(Cohort.id == cohort_id)).first()
        if current is None:
            raise NotFound(f"no cohort with id {cohort_id}")
        merged = _merged(current, changes)
        changed = {key: value for key, value in merged.items() if current[key] != value}
        if changes.status is not None and changes.status != current["status"]:
            _check_transition(current["status"], changes.status)
            changed["status"] = changes.status
        if changes.facilitator_ids is not None or changes.lead_facilitator_id is not None:
            changed.update(await _replace_facilitators(cohort_id, changes, actor))
        if not changed:
            return
        columns = {getattr(Cohort, key): value for key, value in changed.items() if key in current}
        await Cohort.update({**columns, Cohort.updated_at: _now()}).where(Cohort.id == cohort_id)
        await _carry_to_future_sessions(cohort_id, current, merged)
        if "capacity" in changed or "auto_promote" in changed:
            promoted = await waitlist.fill_places(cohort_id, actor)
            if promoted:
                changed["promoted"] = promoted
        if changed.get("status") == CohortStatus.cancelled.value:
            changed["sessions_cancelled"] = await _cancel_future_sessions(cohort_id, current)
        await audit.record(
            actor.person_id,
            "cohort.status" if set(changed) == {"status"} else "cohort.update",
            "cohort",
            cohort_id,
            cohort_id=cohort_id,
            summary="Changed " + ", ".join(sorted(changed)),
            detail={k: v for k, v in changed.items() if isinstance(v, (str, int, bool, list))},
        )


def _check_transition(current: str, wanted: str) -> None:
    if wanted not in {s.value for s in CohortStatus}:
        raise InvalidInput.single("status", f"{wanted!r} is not a cohort status")
    if wanted == CohortStatus.scheduled.value and current == CohortStatus.draft.value:
        raise InvalidInput.single("status", "publish the schedule to move a draft to scheduled")
    if wanted not in STATUS_TRANSITIONS[current]:
        allowed = ", ".join(sorted(STATUS_TRANSITIONS[current])) or "nothing"
        raise InvalidInput.single(
            "status", f"a {current} cohort cannot become {wanted} (it can become: {allowed})"
        )


async def _replace_facilitators(
    cohort_id: int, changes: CohortChanges, actor: CurrentUser
) -> dict[str, Any]:
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
    ids, lead = await _check_facilitators(ids, lead, actor)
    before = [(row["person"], row["lead"]) for row in existing]
    if before == [(p, p == lead) for p in ids]:
        return {}
    await CohortFacilitator.delete().where(CohortFacilitator.cohort == cohort_id)
    await CohortFacilitator.insert(
        *[CohortFacilitator(cohort=cohort_id, person=p, lead=p == lead) for p in ids]
    )
    before_ids = {person for person, _ in before}
    added, removed = sorted(set(ids) - before_ids), sorted(before_ids - set(ids))
    # Their calendars change: feeds see it, and so do invitations once published.
    if added or removed:
        await Person.update({Person.calendar_changed_at: _now()}).where(
            Person.id.is_in([*added, *removed])
        )
    for person_id in removed:
        await invites.send_withdrawal(cohort_id, person_id)
    if added:
        await invites.send_schedule(cohort_id, person_ids=added)
    return {"facilitators": list(ids), "lead": lead}


async def _carry_to_future_sessions(
    cohort_id: int, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """Sessions still to come follow the cohort: a new room or link where they used the old
    one, the same local wall time in a new timezone. Published ones go out as updates."""
    old_zone, new_zone = ZoneInfo(before["timezone"]), ZoneInfo(after["timezone"])
    published = before["published_at"] is not None
    for row in await _future_sessions(cohort_id):
        values: dict[Any, Any] = {}
        for key in ("location", "video_url"):
            if before[key] != after[key] and row[key] == before[key]:
                values[getattr(Session, key)] = after[key]
        if old_zone != new_zone:
            local = row["starts_at"].astimezone(old_zone)
            starts_at, _ = local_to_utc(local.date(), local.time(), new_zone, "timezone")
            if starts_at != row["starts_at"]:
                values[Session.starts_at] = starts_at
                values[Session.ends_at] = starts_at + (row["ends_at"] - row["starts_at"])
        if not values:
            continue
        if published:
            values[Session.ical_sequence] = row["ical_sequence"] + 1
        values[Session.updated_at] = _now()
        await Session.update(values).where(Session.id == row["id"])
        if published:
            await _announce_change(row)


async def _cancel_future_sessions(cohort_id: int, cohort: dict[str, Any]) -> int:
    """A cancelled cohort's sessions still to come are cancelled too (and leave calendars)."""
    published = cohort["published_at"] is not None
    rows = await Session.select(Session.id, Session.ical_sequence).where(
        (Session.cohort == cohort_id)
        & (Session.starts_at > _now())
        & (Session.status == SessionStatus.scheduled.value)
    )
    for row in rows:
        await Session.update(
            {
                Session.status: SessionStatus.cancelled.value,
                Session.ical_sequence: row["ical_sequence"] + (1 if published else 0),
                Session.updated_at: _now(),
            }
        ).where(Session.id == row["id"])
        if published:
            await _announce_change(row)
    return len(rows)


def _calendar_facts(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in ("starts_at", "ends_at", "location", "video_url", "status")}


async def _announce_change(before: dict[str, Any]) -> None:
    """After a calendar-visible change of a published session (its sequence was raised): the
    update or cancellation goes to every calendar, and the prompt and reminders still waiting
    are superseded (the scheduler queues them again, with the new facts, when they are due)."""
    await invites.send_session_change(before["id"], previous=_calendar_facts(before))
    await prompts.cancel_waiting(before["id"])


async def publish_schedule(cohort_id: int, *, actor: CurrentUser) -> None:
    """A draft cohort's schedule goes out: status scheduled. From now on every change that a
    calendar must see bumps the session's sequence (the invites milestone sends them)."""
    await require_cohort(actor, cohort_id, manage=True)
    async with Cohort._meta.db.transaction():
        cohort = await lock_for_update(
            Cohort.select(Cohort.status, Cohort.published_at).where(Cohort.id == cohort_id)
        ).first()
        assert cohort is not None
        if cohort["published_at"] is not None:
            raise Conflict("the schedule is already published")
        if cohort["status"] != CohortStatus.draft.value:
            raise Conflict(f"a {cohort['status']} cohort cannot be published")
        scheduled = await Session.count().where(
            (Session.cohort == cohort_id) & (Session.status == SessionStatus.scheduled.value)
        )
        if not scheduled:
            raise InvalidInput.single("sessions", "add at least one session before publishing")
        await Cohort.update(
            {
                Cohort.status: CohortStatus.scheduled.value,
                Cohort.published_at: _now(),
                Cohort.updated_at: _now(),
            }
        ).where(Cohort.id == cohort_id)
        queued = await invites.send_schedule(cohort_id)
        await audit.record(
            actor.person_id,
            "cohort.publish",
            "cohort",
            cohort_id,
            cohort_id=cohort_id,
            summary=f"Published the schedule ({scheduled} sessions, {queued} invitations queued)",
        )


# -- changing sessions ----------------------------------------------------------------------

CALENDAR_FIELDS = ("starts_at", "ends_at", "location", "video_url", "status")


@dataclass(frozen=True)
class SessionChanges:
    """A partial update of one session; None means "leave as it is". Date and time are local to
    the cohort's timezone; `minutes` is the length."""

    title: str | None = None
    date: dt.date | None = None
    start_time: dt.time | None = None
    minutes: int | None = None
    location: str | None = None
    video_url: str | None = None
    objectives: str | None = None
    assignment_prompt: str | None = None
    competencies: tuple[str, ...] | None = None
    # When the assignment is due (UTC), or clear it.
    prompt_due_at: dt.datetime | None = None
    clear_prompt_due: bool = False
    # This session's own prompt lead and reminders, or back to the cohort's.
    prompt_lead_minutes: int | None = None
    reminder_minutes: tuple[int, ...] | None = None
    cohort_lead: bool = False
    cohort_reminders: bool = False


PROMPT_FIELDS = ("assignment_prompt", "prompt_due_at")


@dataclass(frozen=True)
class SessionChangeResult:
    notes: tuple[str, ...] = ()
    sequence_bumped: bool = False
    changed: tuple[str, ...] = field(default_factory=tuple)


async def _lock_cohort_row(cohort_id: int) -> None:
    """Changes to one cohort's sessions take turns (PostgreSQL), so that two reschedules
    cannot both find the same slot free."""
    await lock_for_update(Cohort.select(Cohort.id).where(Cohort.id == cohort_id)).first()


async def _session_for_update(session_id: int) -> dict[str, Any]:
    """The session's row (locked on PostgreSQL) with its cohort's timezone and publication."""
    row = await lock_for_update(Session.select().where(Session.id == session_id)).first()
    if row is None:
        raise NotFound(f"no session with id {session_id}")
    cohort = (
        await Cohort.select(
            Cohort.timezone,
            Cohort.published_at,
            Cohort.prompt_lead_minutes,
            Cohort.reminder_minutes,
        )
        .where(Cohort.id == row["cohort"])
        .first()
    )
    assert cohort is not None
    return {
        **row,
        "timezone": cohort["timezone"],
        "published_at": cohort["published_at"],
        "cohort_lead": cohort["prompt_lead_minutes"],
        "cohort_reminders": cohort["reminder_minutes"],
    }


async def _check_slot_free(
    cohort_id: int, starts_at: dt.datetime, ends_at: dt.datetime, except_id: int | None
) -> None:
    others = await Session.select(
        Session.id, Session.position, Session.starts_at, Session.ends_at
    ).where(
        (Session.cohort == cohort_id)
        & (Session.status == SessionStatus.scheduled.value)
        & (Session.starts_at < ends_at)
        & (Session.ends_at > starts_at)
    )
    clashes = [row for row in others if row["id"] != except_id]
    if clashes:
        raise InvalidInput.single(
            "start_time", f"overlaps session {clashes[0]['position']} of this cohort"
        )


async def _write_session_change(
    row: dict[str, Any], values: dict[str, Any], *, actor: CurrentUser, action: str, summary: str
) -> SessionChangeResult:
    changed = tuple(key for key, value in values.items() if row[key] != value)
    if not changed:
        return SessionChangeResult()
    bump = row["published_at"] is not None and any(key in CALENDAR_FIELDS for key in changed)
    update = {getattr(Session, key): values[key] for key in changed}
    if bump:
        # Calendars replace an event only when its SEQUENCE grows (RFC 5546).
        update[Session.ical_sequence] = row["ical_sequence"] + 1
    update[Session.updated_at] = _now()
    revised = any(key in PROMPT_FIELDS for key in changed)
    if revised:
        # A new revision of the prompt: what still waits to go out is superseded (it goes out
        # with the new text when due); who has it already gets it only on request.
        update[Session.prompt_revision] = row["prompt_revision"] + 1
    await Session.update(update).where(Session.id == row["id"])
    if bump:
        await _announce_change(row)
    elif revised:
        await prompts.cancel_waiting(row["id"], kinds=(prompt_rules.PROMPT,))
    await audit.record(
        actor.person_id,
        action,
        "session",
        row["id"],
        cohort_id=row["cohort"],
        summary=f"{summary}: " + ", ".join(changed),
        detail={"ical_sequence": row["ical_sequence"] + (1 if bump else 0)},
    )
    return SessionChangeResult(sequence_bumped=bump, changed=changed)


async def update_session(
    session_id: int, changes: SessionChanges, *, actor: CurrentUser
) -> SessionChangeResult:
    """Reschedule or edit one session. Time, length, room and link changes of a published
    schedule bump its calendar sequence; titles and prompts do not."""
    cohort_id = await require_session(actor, session_id, manage=True)
    await require_open(cohort_id)
    async with Session._meta.db.transaction():
        await _lock_cohort_row(cohort_id)
        row = await _session_for_update(session_id)
        zone = ZoneInfo(row["timezone"])
        local = row["starts_at"].astimezone(zone)
        day = changes.date or local.date()
        at = changes.start_time or local.time().replace(tzinfo=None)
        minutes = check_minutes(
            changes.minutes
            if changes.minutes is not None
            else int((row["ends_at"] - row["starts_at"]).total_seconds() // 60),
            "minutes",
        )
        starts_at, note = local_to_utc(day, at, zone, "start_time")
        ends_at = starts_at + dt.timedelta(minutes=minutes)
        if not note and starts_at < _now() <= row["starts_at"]:
            note = "the new time is in the past"
        if row["status"] == SessionStatus.scheduled.value:
            await _check_slot_free(row["cohort"], starts_at, ends_at, session_id)
        values: dict[str, Any] = {"starts_at": starts_at, "ends_at": ends_at}
        if changes.title is not None:
            values["title"] = required_text(changes.title, "title", 200)
        if changes.location is not None:
            values["location"] = optional_text(changes.location, "location", 300)
        if changes.video_url is not None:
            values["video_url"] = check_video_url(changes.video_url)
        if changes.objectives is not None:
            values["objectives"] = optional_text(changes.objectives, "objectives", 5000)
        if changes.assignment_prompt is not None:
            values["assignment_prompt"] = optional_text(
                changes.assignment_prompt, "assignment_prompt", 20_000
            )
        if changes.competencies is not None:
            values["competencies"] = await _check_competencies(changes.competencies)
        if changes.clear_prompt_due:
            values["prompt_due_at"] = None
        elif changes.prompt_due_at is not None:
            values["prompt_due_at"] = changes.prompt_due_at.astimezone(dt.UTC)
        if changes.cohort_lead:
            values["prompt_lead_minutes"] = None
        elif changes.prompt_lead_minutes is not None:
            values["prompt_lead_minutes"] = prompt_rules.check_lead(changes.prompt_lead_minutes)
        if changes.cohort_reminders:
            values["reminder_minutes"] = None
        elif changes.reminder_minutes is not None:
            values["reminder_minutes"] = list(
                prompt_rules.check_reminders(changes.reminder_minutes)
            )
        if "prompt_lead_minutes" in values or "reminder_minutes" in values:
            prompt_rules.check_timing(
                prompt_rules.Timing.of(
                    row["cohort_lead"],
                    row["cohort_reminders"],
                    values.get("prompt_lead_minutes", row["prompt_lead_minutes"]),
                    values.get("reminder_minutes", row["reminder_minutes"]),
                )
            )
        due_at = values.get("prompt_due_at", row["prompt_due_at"])
        if due_at is not None and due_at > ends_at:
            raise InvalidInput.single(
                "due_date", "is after the session: an assignment is due before it ends"
            )
        result = await _write_session_change(
            row, values, actor=actor, action="session.update", summary="Changed session"
        )
    return replace(result, notes=(note,) if note else ())


async def _check_competencies(codes: tuple[str, ...]) -> list[str]:
    known = await known_competency_codes()
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise InvalidInput.single(
            "competencies", f"unknown competency code(s): {', '.join(unknown)}"
        )
    return list(dict.fromkeys(codes))


async def set_session_status(
    session_id: int, status: str, *, actor: CurrentUser
) -> SessionChangeResult:
    """Cancel a session, or restore a cancelled one (if its slot is still free)."""
    cohort_id = await require_session(actor, session_id, manage=True)
    await require_open(cohort_id)
    async with Session._meta.db.transaction():
        await _lock_cohort_row(cohort_id)
        row = await _session_for_update(session_id)
        if row["status"] == status:
            raise Conflict(f"the session is already {status}")
        if status == SessionStatus.scheduled.value:
            try:
                await _check_slot_free(row["cohort"], row["starts_at"], row["ends_at"], session_id)
            except InvalidInput as taken:
                raise Conflict(f"cannot restore: its time {taken.errors[0].message}") from None
        action = "session.cancel" if status == SessionStatus.cancelled.value else "session.restore"
        return await _write_session_change(
            row,
            {"status": status},
            actor=actor,
            action=action,
            summary="Cancelled session" if action == "session.cancel" else "Restored session",
        )


@dataclass(frozen=True)
class NewSession:
    title: str
    date: dt.date
    start_time: dt.time
    minutes: int = 60
    location: str | None = None
    video_url: str | None = None
    assignment_prompt: str = ""
    competencies: tuple[str, ...] = ()


async def add_session(
    cohort_id: int, data: NewSession, *, actor: CurrentUser
) -> tuple[int, tuple[str, ...]]:
    """A make-up (or extra) session at the end of the numbering, with its own calendar UID."""
    await require_cohort(actor, cohort_id, manage=True)
    await require_open(cohort_id)
    async with Cohort._meta.db.transaction():
        cohort = await lock_for_update(
            Cohort.select(Cohort.timezone, Cohort.location, Cohort.video_url).where(
                Cohort.id == cohort_id
            )
        ).first()
        assert cohort is not None
        title = required_text(data.title, "title", 200)
        minutes = check_minutes(data.minutes, "minutes")
        starts_at, note = local_to_utc(
            data.date, data.start_time, ZoneInfo(cohort["timezone"]), "start_time"
        )
        ends_at = starts_at + dt.timedelta(minutes=minutes)
        if not note and starts_at < _now():
            note = "the session is in the past (to record attendance of a meeting that took place)"
        await _check_slot_free(cohort_id, starts_at, ends_at, None)
        last = (
            await Session.select(Session.position)
            .where(Session.cohort == cohort_id)
            .order_by(Session.position, ascending=False)
            .first()
        )
        position = (last["position"] if last else 0) + 1
        saved = await Session.insert(
            Session(
                cohort=cohort_id,
                position=position,
                title=title,
                competencies=await _check_competencies(data.competencies),
                starts_at=starts_at,
                ends_at=ends_at,
                location=cohort["location"]
                if data.location is None
                else optional_text(data.location, "location", 300),
                video_url=cohort["video_url"]
                if data.video_url is None
                else check_video_url(data.video_url),
                ical_uid=new_ical_uid(),
                extra=True,
                assignment_prompt=optional_text(
                    data.assignment_prompt, "assignment_prompt", 20_000
                ),
            )
        ).returning(Session.id)
        session_id = int(saved[0]["id"])
        await invites.send_schedule(
            cohort_id
        )  # only the new session: the others are queued already
        await audit.record(
            actor.person_id,
            "session.add",
            "session",
            session_id,
            cohort_id=cohort_id,
            summary=f"Added session {position}: {title}",
        )
    return session_id, (note,) if note else ()


# -- cloning --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloneInput:
    name: str
    term: str = ""
    schedule: ScheduleRule | None = None


async def clone_cohort(source_id: int, data: CloneInput, *, actor: CurrentUser) -> CreatedCohort:
    """A new cohort for a new term: same template, facilitators, settings and session plans
    (titles, competencies, lengths, prompts as edited; a session cancelled by a snow day is
    still part of the plan), new dates, nobody enrolled yet. Facilitators who have since been
    deactivated (or lost the role) are left out, and a note says so."""
    await require_cohort(actor, source_id, manage=True)
    if data.schedule is None:
        raise InvalidInput.single(
            "first_date", "give the new term's dates: a first date, or explicit dates"
        )
    source = await Cohort.select().where(Cohort.id == source_id).first()
    assert source is not None
    # The plan: every planned session (cancelled ones too), not the make-ups.
    source_sessions = sorted(
        (s for s in await cohort_sessions(source_id) if not s.extra), key=lambda s: s.position
    )
    plans = [
        SessionPlan(s.title, s.minutes, s.competencies, s.objectives, s.assignment_prompt)
        for s in source_sessions
    ]
    schedule = _generate(plans, data.schedule, source["timezone"])
    facilitators = (
        await CohortFacilitator.select(
            CohortFacilitator.person,
            CohortFacilitator.lead,
            CohortFacilitator.person.active.as_alias("active"),
            CohortFacilitator.person.name.as_alias("name"),
        )
        .where(CohortFacilitator.cohort == source_id)
        .order_by(CohortFacilitator.id)
    )
    holders = {
        row["person"]
        for row in await RoleGrant.select(RoleGrant.person).where(
            RoleGrant.role == Role.facilitator.value
        )
    }
    kept = [row for row in facilitators if row["active"] and row["person"] in holders]
    left_out = [row["name"] for row in facilitators if row not in kept]
    ids, lead = await _check_facilitators(
        tuple(row["person"] for row in kept),
        next((row["person"] for row in kept if row["lead"]), None),
        actor,
    )
    notes = schedule.notes
    if left_out:
        notes += (f"Not carried over (no longer an active facilitator): {', '.join(left_out)}",)
    name = required_text(data.name, "name", 200)
    async with Cohort._meta.db.transaction():
        copy = {
            key: source[key]
            for key in (
                "timezone",
                "modality",
                "location",
                "video_url",
                "capacity",
                "curriculum",
                "auto_promote",
                "completion_percent",
                "completion_requires_first_last",
                "late_counts",
                "left_early_counts",
                "review_mail",
                "organizer_name",
                "organizer_email",
            )
        }
        cohort = Cohort(name=name, term=optional_text(data.term, "term", 60), **copy)
        await cohort.save()
        await CohortFacilitator.insert(
            *[CohortFacilitator(cohort=cohort.id, person=p, lead=p == lead) for p in ids]
        )
        new_ids = await _insert_sessions(
            cohort.id, schedule.sessions, source["location"], source["video_url"]
        )
        mapping = {src.id: new for src, new in zip(source_sessions, new_ids, strict=True)}
        for hook in clone_hooks:
            await hook(mapping)
        await audit.record(
            actor.person_id,
            "cohort.clone",
            "cohort",
            cohort.id,
            cohort_id=cohort.id,
            summary=f"Cloned from cohort {source_id} ({source['name']!r}) with {len(new_ids)} sessions",
        )
    return CreatedCohort(int(cohort.id), notes)
