"""Who sees and changes which cohort.

Administrators and office staff see and change every cohort. A facilitator sees and changes the
cohorts they facilitate, while they hold the facilitator role. A participant sees the cohorts
they are enrolled (or waitlisted) in, while they hold the participant role. Any other cohort is
answered as if it did not exist (404); a cohort one sees but may not change is a 403.
"""

from __future__ import annotations

from database import Prepared
from errors import Forbidden, NotFound
from facilitators.services import CurrentUser
from facilitators.tables import Role
from sessions.tables import Cohort, CohortFacilitator, Enrollment, EnrollmentStatus, Session

ACTIVE_ENROLLMENT = (EnrollmentStatus.enrolled.value, EnrollmentStatus.waitlisted.value)


# Asked on nearly every request: built once (see `database.Prepared`).
_FACILITATED = Prepared(
    lambda person: CohortFacilitator.select(CohortFacilitator.cohort).where(
        CohortFacilitator.person == person
    )
)
_ENROLLED = Prepared(
    lambda person, statuses: Enrollment.select(Enrollment.cohort).where(
        (Enrollment.person == person) & Enrollment.status.is_in(statuses)
    )
)
_EXISTS = Prepared(lambda cohort: Cohort.exists().where(Cohort.id == cohort))


async def facilitated_cohort_ids(user: CurrentUser) -> set[int]:
    if not user.has_role(Role.facilitator.value):
        return set()
    return {row["cohort"] for row in await _FACILITATED(person=user.person_id)}


async def enrolled_cohort_ids(user: CurrentUser, *, waitlisted: bool = True) -> set[int]:
    if not user.has_role(Role.participant.value):
        return set()
    statuses = list(ACTIVE_ENROLLMENT) if waitlisted else [EnrollmentStatus.enrolled.value]
    return {row["cohort"] for row in await _ENROLLED(person=user.person_id, statuses=statuses)}


async def visible_cohort_ids(user: CurrentUser) -> set[int] | None:
    """The cohorts a user may see; None means all of them (administrators and office staff)."""
    if user.is_office:
        return None
    return await facilitated_cohort_ids(user) | await enrolled_cohort_ids(user)


async def can_manage_cohort(user: CurrentUser, cohort_id: int) -> bool:
    return user.is_office or cohort_id in await facilitated_cohort_ids(user)


async def require_visible(user: CurrentUser, cohort_id: int) -> None:
    """404 for a cohort the user may not see; for one they may see, the caller still finds
    whether it exists (a reader of the cohort's row needs no separate question)."""
    visible = await visible_cohort_ids(user)
    if visible is not None and cohort_id not in visible:
        raise NotFound(f"no cohort with id {cohort_id}")


async def require_cohort(user: CurrentUser, cohort_id: int, *, manage: bool = False) -> None:
    """404 for a cohort the user cannot see (its existence is not disclosed); 403 for one they
    see but may not change."""
    await require_visible(user, cohort_id)
    if not await _EXISTS(cohort=cohort_id):
        raise NotFound(f"no cohort with id {cohort_id}")
    if manage and not await can_manage_cohort(user, cohort_id):
        raise Forbidden("only the cohort's facilitators and office staff may do this")


async def require_session(user: CurrentUser, session_id: int, *, manage: bool = False) -> int:
    """The session's cohort id, with the same rules as `require_cohort` (404 for a session of
    a cohort one cannot see)."""
    row = await Session.select(Session.cohort).where(Session.id == session_id).first()
    if row is None:
        raise NotFound(f"no session with id {session_id}")
    try:
        await require_cohort(user, row["cohort"], manage=manage)
    except NotFound:
        raise NotFound(f"no session with id {session_id}") from None
    return int(row["cohort"])
