"""A cohort's roster: enrolling people one by one or from a CSV file, withdrawing them (their
history stays), and the waitlist that fills places as they free up."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from piccolo.query.methods.select import Select

from database import Prepared, is_unique_violation, lock_for_update
from errors import Conflict, FieldError, InvalidInput, NotFound
from facilitators import audit
from facilitators.services import (
    CurrentUser,
    PersonInput,
    clean_person_input,
    create_person,
    email_key,
    grant_role,
)
from facilitators.tables import Person, Role, RoleGrant
from facilitators.validation import normalize_email
from mail import outbox
from sessions import invites, waitlist
from sessions.access import require_cohort
from sessions.roster_csv import RosterRow, RowProblem, parse_roster
from sessions.services import require_open, size_warning
from sessions.tables import Cohort, CohortFacilitator, Enrollment, EnrollmentStatus

ENROLLED = EnrollmentStatus.enrolled.value
WAITLISTED = EnrollmentStatus.waitlisted.value
WITHDRAWN = EnrollmentStatus.withdrawn.value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ParticipantRow:
    enrollment_id: int
    person_id: int
    name: str
    email: str
    department: str
    career_stage: str
    timezone: str
    status: str
    enrolled_at: dt.datetime
    withdrawn_at: dt.datetime | None


def _roster_query(cohort: Any) -> Select:
    return (
        Enrollment.select(
            Enrollment.id,
            Enrollment.person,
            Enrollment.status,
            Enrollment.enrolled_at,
            Enrollment.withdrawn_at,
            Enrollment.person.name.as_alias("name"),
            Enrollment.person.email.as_alias("email"),
            Enrollment.person.department.as_alias("department"),
            Enrollment.person.career_stage.as_alias("career_stage"),
            Enrollment.person.timezone.as_alias("timezone"),
        )
        .where(Enrollment.cohort == cohort)
        .order_by(Enrollment.enrolled_at)
        .order_by(Enrollment.id)
    )


# Built once (see `database.Prepared`): every cohort page reads its roster.
_ROSTER = Prepared(_roster_query)
_ROSTER_WITHOUT = Prepared(
    lambda cohort, withdrawn: _roster_query(cohort).where(Enrollment.status != withdrawn)
)


async def list_participants(
    cohort_id: int, *, include_withdrawn: bool = True
) -> list[ParticipantRow]:
    """The roster in enrollment order (which is also the waitlist's order)."""
    rows = await (
        _ROSTER(cohort=cohort_id)
        if include_withdrawn
        else _ROSTER_WITHOUT(cohort=cohort_id, withdrawn=WITHDRAWN)
    )
    return [
        ParticipantRow(
            enrollment_id=row["id"],
            person_id=row["person"],
            name=row["name"],
            email=row["email"],
            department=row["department"],
            career_stage=row["career_stage"],
            timezone=row["timezone"],
            status=row["status"],
            enrolled_at=row["enrolled_at"],
            withdrawn_at=row["withdrawn_at"],
        )
        for row in rows
    ]


async def _lock_cohort(cohort_id: int) -> dict[str, Any]:
    """The cohort row, locked on PostgreSQL so that concurrent enrollments count places right."""
    row = await lock_for_update(
        Cohort.select(Cohort.id, Cohort.name, Cohort.capacity, Cohort.auto_promote).where(
            Cohort.id == cohort_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no cohort with id {cohort_id}")
    return row


async def _enrolled_count(cohort_id: int) -> int:
    return await Enrollment.count().where(
        (Enrollment.cohort == cohort_id) & (Enrollment.status == ENROLLED)
    )


async def _check_can_enroll(cohort_id: int, person_id: int, email: str) -> None:
    person = await Person.select(Person.active).where(Person.id == person_id).first()
    if person is not None and not person["active"]:
        raise InvalidInput.single("email", f"{email} is deactivated; reactivate them first")
    if await CohortFacilitator.exists().where(
        (CohortFacilitator.cohort == cohort_id) & (CohortFacilitator.person == person_id)
    ):
        raise InvalidInput.single("email", f"{email} facilitates this cohort")


async def _grant_participant_role(
    person_id: int, cohort: dict[str, Any], actor: CurrentUser
) -> None:
    if not await RoleGrant.exists().where(
        (RoleGrant.person == person_id) & (RoleGrant.role == Role.participant.value)
    ):
        await grant_role(person_id, Role.participant.value)
        await audit.record(
            actor.person_id,
            "person.roles",
            "person",
            person_id,
            summary=f"Granted the participant role (enrolled in {cohort['name']!r})",
        )


async def _enroll(
    cohort: dict[str, Any], person_id: int, email: str, actor: CurrentUser, enrolled_now: int
) -> tuple[int, str]:
    """Enroll (or re-enroll) one person; beyond capacity they are waitlisted. Returns the
    enrollment id and its status. Runs inside the caller's transaction."""
    cohort_id = cohort["id"]
    await _check_can_enroll(cohort_id, person_id, email)
    status = (
        WAITLISTED
        if cohort["capacity"] is not None and enrolled_now >= cohort["capacity"]
        else ENROLLED
    )
    existing = (
        await Enrollment.select(Enrollment.id, Enrollment.status)
        .where((Enrollment.cohort == cohort_id) & (Enrollment.person == person_id))
        .first()
    )
    if existing is not None and existing["status"] != WITHDRAWN:
        raise Conflict(f"{email} is already {existing['status']} in this cohort")
    if existing is not None:
        enrollment_id = int(existing["id"])
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
        enrollment_id = int(saved[0]["id"])
    await _grant_participant_role(person_id, cohort, actor)
    if status == ENROLLED:
        await invites.send_schedule(cohort_id, person_ids=[person_id])
    await audit.record(
        actor.person_id,
        "enrollment.add",
        "enrollment",
        enrollment_id,
        cohort_id=cohort_id,
        summary=f"{email} {status} in {cohort['name']!r}",
    )
    return enrollment_id, status


@dataclass(frozen=True)
class EnrollResult:
    enrollment_id: int
    person_id: int
    status: str
    created_person: bool
    warning: str | None


async def add_participant(
    cohort_id: int, email: str, details: PersonInput | None, *, actor: CurrentUser
) -> EnrollResult:
    """Enroll someone by email. Someone known is enrolled as they are; someone new needs a
    name (`details`) and is added to the people list. Beyond capacity: the waitlist."""
    await require_cohort(actor, cohort_id, manage=True)
    await require_open(cohort_id)
    email = normalize_email(email)
    try:
        async with Cohort._meta.db.transaction():
            cohort = await _lock_cohort(cohort_id)
            row = await Person.select(Person.id).where(Person.email_key == email_key(email)).first()
            created = row is None
            if row is None:
                if details is None or not details.name.strip():
                    raise InvalidInput.single("name", f"is required: {email} is not known yet")
                person_id = await create_person(
                    clean_person_input(
                        PersonInput(
                            name=details.name,
                            email=email,
                            department=details.department,
                            career_stage=details.career_stage,
                            timezone=details.timezone,
                        )
                    ),
                    set(),
                    actor_id=actor.person_id,
                )
            else:
                person_id = int(row["id"])
            enrolled = await _enrolled_count(cohort_id)
            enrollment_id, status = await _enroll(cohort, person_id, email, actor, enrolled)
    except Exception as error:
        if is_unique_violation(error):
            raise Conflict(f"{email} was added by someone else just now; try again") from error
        raise
    count = enrolled + (1 if status == ENROLLED else 0)
    return EnrollResult(enrollment_id, person_id, status, created, size_warning(count))


async def _enrollment_in(cohort_id: int, enrollment_id: int) -> dict[str, Any]:
    row = (
        await Enrollment.select(
            Enrollment.id,
            Enrollment.status,
            Enrollment.person,
            Enrollment.person.email.as_alias("email"),
        )
        .where((Enrollment.id == enrollment_id) & (Enrollment.cohort == cohort_id))
        .first()
    )
    if row is None:
        raise NotFound(f"no participant with enrollment id {enrollment_id} in this cohort")
    return row


async def withdraw(cohort_id: int, enrollment_id: int, *, actor: CurrentUser) -> str | None:
    """Withdraw a participant: they stay on the roster as withdrawn, with their attendance.
    With the cohort's automatic promotion on, the first waitlisted person takes the place.
    Returns the email of whoever was promoted."""
    await require_cohort(actor, cohort_id, manage=True)
    async with Cohort._meta.db.transaction():
        cohort = await _lock_cohort(cohort_id)
        row = await _enrollment_in(cohort_id, enrollment_id)
        if row["status"] == WITHDRAWN:
            raise Conflict(f"{row['email']} has already withdrawn")
        await Enrollment.update(
            {Enrollment.status: WITHDRAWN, Enrollment.withdrawn_at: _now()}
        ).where(Enrollment.id == enrollment_id)
        if row["status"] == ENROLLED:
            await invites.send_withdrawal(cohort_id, row["person"])
        else:  # waitlisted: nothing was ever sent to them but, perhaps, something queued
            await outbox.cancel_waiting(cohort_id=cohort_id, person_id=row["person"])
        await audit.record(
            actor.person_id,
            "enrollment.withdraw",
            "enrollment",
            enrollment_id,
            cohort_id=cohort_id,
            summary=f"{row['email']} withdrew",
        )
        promoted = None
        if row["status"] == ENROLLED and cohort["auto_promote"]:
            promoted = next(iter(await waitlist.fill_places(cohort_id, actor)), None)
    return promoted


async def promote(cohort_id: int, enrollment_id: int, *, actor: CurrentUser) -> None:
    """Staff move someone from the waitlist into the cohort (even past capacity: their call)."""
    await require_cohort(actor, cohort_id, manage=True)
    await require_open(cohort_id)
    async with Cohort._meta.db.transaction():
        await _lock_cohort(cohort_id)
        row = await _enrollment_in(cohort_id, enrollment_id)
        if row["status"] != WAITLISTED:
            raise Conflict(f"{row['email']} is {row['status']}, not on the waitlist")
        await Enrollment.update({Enrollment.status: ENROLLED}).where(Enrollment.id == enrollment_id)
        await invites.send_schedule(cohort_id, person_ids=[row["person"]])
        await audit.record(
            actor.person_id,
            "enrollment.promote",
            "enrollment",
            enrollment_id,
            cohort_id=cohort_id,
            summary=f"{row['email']} promoted from the waitlist",
        )


# -- CSV import -----------------------------------------------------------------------------


class RowAction(StrEnum):
    add = "add"  # someone new: added to the people list and enrolled
    enroll = "enroll"  # someone known: enrolled
    update = "update"  # already enrolled: their details change
    unchanged = "unchanged"  # already enrolled, nothing to change
    reject = "reject"


@dataclass(frozen=True)
class ImportRow:
    line: int
    email: str
    name: str
    action: RowAction
    status: str = ""  # enrolled or waitlisted, for rows that enroll
    changes: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class RosterImport:
    rows: tuple[ImportRow, ...]
    applied: bool
    warning: str | None = None  # the group-size warning, once applied

    def count(self, action: RowAction) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def rejected(self) -> tuple[ImportRow, ...]:
        return tuple(row for row in self.rows if row.action == RowAction.reject)


def _updates(row: RosterRow, person: dict[str, Any]) -> dict[str, str]:
    """What a file row changes about a known person. A timezone already set is never
    overwritten (people set their own); empty cells change nothing."""
    changes: dict[str, str] = {}
    if row.name and row.name != person["name"]:
        changes["name"] = row.name
    if row.department and row.department != person["department"]:
        changes["department"] = row.department
    if row.career_stage and row.career_stage != person["career_stage"]:
        changes["career_stage"] = row.career_stage
    if row.timezone and not person["timezone"]:
        changes["timezone"] = row.timezone
    return changes


@dataclass(frozen=True)
class PlannedRow:
    result: ImportRow
    row: RosterRow | None = None
    person: dict[str, Any] | None = None
    changes: dict[str, str] = field(default_factory=dict)


def _reject(row: RosterRow, reason: str) -> PlannedRow:
    return PlannedRow(
        ImportRow(row.line, row.email, row.name, RowAction.reject, reason=reason), row
    )


async def _plan_import(
    cohort_id: int,
    rows: tuple[RosterRow, ...],
    problems: tuple[RowProblem, ...],
    capacity: int | None,
) -> list[PlannedRow]:
    """What applying the file would do, row by row. A file can change the details only of
    people who are already in this cohort and are nothing but participants: an import is no
    way to rename a facilitator, an administrator, or someone else's participant."""
    keys = [email_key(row.email) for row in rows]
    people = (
        {p["email_key"]: p for p in await Person.select().where(Person.email_key.is_in(keys))}
        if keys
        else {}
    )
    ids = [p["id"] for p in people.values()]
    other_roles = (
        {
            g["person"]
            for g in await RoleGrant.select(RoleGrant.person).where(
                RoleGrant.person.is_in(ids) & (RoleGrant.role != Role.participant.value)
            )
        }
        if ids
        else set()
    )
    enrollments = {
        e["person"]: e["status"]
        for e in await Enrollment.select(Enrollment.person, Enrollment.status).where(
            Enrollment.cohort == cohort_id
        )
    }
    facilitators = {
        f["person"]
        for f in await CohortFacilitator.select(CohortFacilitator.person).where(
            CohortFacilitator.cohort == cohort_id
        )
    }
    places = None if capacity is None else capacity - await _enrolled_count(cohort_id)
    plan = [
        PlannedRow(ImportRow(p.line, p.email, "", RowAction.reject, reason=p.reason))
        for p in problems
    ]
    for row in rows:
        person = people.get(email_key(row.email))
        if person is None:
            status = ENROLLED if places is None or places > 0 else WAITLISTED
            places = None if places is None else places - 1
            plan.append(
                PlannedRow(ImportRow(row.line, row.email, row.name, RowAction.add, status), row)
            )
            continue
        if not person["active"]:
            plan.append(_reject(row, "this person is deactivated"))
            continue
        if person["id"] in facilitators:
            plan.append(_reject(row, "this person facilitates the cohort"))
            continue
        enrolled_as = enrollments.get(person["id"])
        if enrolled_as == WITHDRAWN:
            plan.append(
                PlannedRow(
                    ImportRow(
                        row.line,
                        row.email,
                        person["name"],
                        RowAction.unchanged,
                        WITHDRAWN,
                        reason="withdrew earlier: not re-enrolled by an import (add them on the roster page)",
                    ),
                    row,
                    person,
                )
            )
            continue
        if enrolled_as is not None:
            changes = {} if person["id"] in other_roles else _updates(row, person)
            action = RowAction.update if changes else RowAction.unchanged
            plan.append(
                PlannedRow(
                    ImportRow(
                        row.line, row.email, row.name, action, enrolled_as, tuple(sorted(changes))
                    ),
                    row,
                    person,
                    changes,
                )
            )
            continue
        status = ENROLLED if places is None or places > 0 else WAITLISTED
        places = None if places is None else places - 1
        plan.append(
            PlannedRow(
                ImportRow(row.line, row.email, person["name"], RowAction.enroll, status),
                row,
                person,
            )
        )
    plan.sort(key=lambda item: item.result.line)
    return plan


class RosterRejected(InvalidInput):
    """Applying a file with rejected rows: nothing changed; `preview` says row by row why."""

    def __init__(self, preview: RosterImport) -> None:
        self.preview = preview
        rejected = preview.rejected
        super().__init__(
            [
                FieldError(f"line {r.line}", f"{r.email or '(no email)'}: {r.reason}")
                for r in rejected
            ],
            detail=f"{len(rejected)} row(s) need fixing; nothing was imported",
        )


async def import_roster(
    cohort_id: int, data: bytes, *, dry_run: bool, actor: CurrentUser
) -> RosterImport:
    """Preview (dry run) or apply a roster file. Applying is all or nothing: with any rejected
    row nothing changes, and the error lists the rows to fix. Nobody missing from the file is
    removed; importing the same file again changes nothing."""
    await require_cohort(actor, cohort_id, manage=True)
    parsed = parse_roster(data)
    if not dry_run:
        await require_open(cohort_id)
    if dry_run:
        cohort = await Cohort.select(Cohort.capacity).where(Cohort.id == cohort_id).first()
        assert cohort is not None
        plan = await _plan_import(cohort_id, parsed.rows, parsed.problems, cohort["capacity"])
        return RosterImport(tuple(item.result for item in plan), applied=False)
    async with Cohort._meta.db.transaction():
        cohort = await _lock_cohort(cohort_id)
        plan = await _plan_import(cohort_id, parsed.rows, parsed.problems, cohort["capacity"])
        rejected = [item.result for item in plan if item.result.action == RowAction.reject]
        if rejected:
            raise RosterRejected(RosterImport(tuple(item.result for item in plan), applied=False))
        for item in plan:
            row, person, changes = item.row, item.person, item.changes
            assert row is not None
            if item.result.action == RowAction.unchanged:
                continue
            if person is None:
                person_id = await create_person(
                    PersonInput(
                        row.name, row.email, row.department, row.career_stage, row.timezone
                    ),
                    set(),
                    actor_id=actor.person_id,
                )
            else:
                person_id = int(person["id"])
            if changes:
                await Person.update({getattr(Person, k): v for k, v in changes.items()}).where(
                    Person.id == person_id
                )
                await audit.record(
                    actor.person_id,
                    "person.update",
                    "person",
                    person_id,
                    cohort_id=cohort_id,
                    summary="Roster import changed " + ", ".join(sorted(changes)),
                )
            if item.result.action in (RowAction.add, RowAction.enroll):
                await _enroll(cohort, person_id, row.email, actor, await _enrolled_count(cohort_id))
        result = RosterImport(
            tuple(item.result for item in plan),
            applied=True,
            warning=size_warning(await _enrolled_count(cohort_id)),
        )
        await audit.record(
            actor.person_id,
            "roster.import",
            "cohort",
            cohort_id,
            cohort_id=cohort_id,
            summary=(
                f"Roster import: {result.count(RowAction.add)} added, "
                f"{result.count(RowAction.enroll)} enrolled, "
                f"{result.count(RowAction.update)} updated, "
                f"{result.count(RowAction.unchanged)} unchanged"
            ),
        )
    return result
