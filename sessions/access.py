"""Who sees and changes which cohort.

Administrators and office staff see and change every cohort. A facilitator sees and changes the
cohorts they facilitate, while they hold the facilitator role. A participant sees the cohorts
they are enrolled (or waitlisted) in, while they hold the participant role. Any other cohort is
answered as if it did not exist (404); a cohort one sees but may not change is a 403.
"""

from __future__ import annotations

from errors import Forbidden, NotFound
from facilitators.services import CurrentUser
from facilitators.tables import Role
from sessions.tables import Cohort, CohortFacilitator, Enrollment, EnrollmentStatus, Session

ACTIVE_ENROLLMENT = (EnrollmentStatus.enrolled.value, EnrollmentStatus.waitlisted.value)


async def facilitated_cohort_ids(user: CurrentUser) -> set[int]:
    if not user.has_role(Role.facilitator.value):
        return set()
    rows = await CohortFacilitator.select(CohortFacilitator.cohort).where(
        CohortFacilitator.person == user.person_id
    )
    return {row["cohort"] for row in rows}


async def enrolled_cohort_ids(user: CurrentUser, *, waitlisted: bool = True) -> set[int]:
    if not user.has_role(Role.participant.value):
        return set()
    statuses = list(ACTIVE_ENROLLMENT) if waitlisted else [EnrollmentStatus.enrolled.value]
    rows = await Enrollment.select(Enrollment.cohort).where(
        (Enrollment.person == user.person_id) & Enrollment.status.is_in(statuses)
    )
    return {row["cohort"] for row in rows}


async def visible_cohort_ids(user: CurrentUser) -> set[int] | None:
    """The cohorts a user may see; None means all of them (administrators and office staff)."""
    if user.is_office:
        return None
    return await facilitated_cohort_ids(user) | await enrolled_cohort_ids(user)


async def can_manage_cohort(user: CurrentUser, cohort_id: int) -> bool:
    return user.is_office or cohort_id in await facilitated_cohort_ids(user)


async def require_cohort(user: CurrentUser, cohort_id: int, *, manage: bool = False) -> None:
    """404 for a cohort the user cannot see (its existence is not disclosed); 403 for one they
    see but may not change."""
    visible = await visible_cohort_ids(user)
    if (visible is not None and cohort_id not in visible) or not await Cohort.exists().where(
        Cohort.id == cohort_id
    ):
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
