"""The waitlist moving by itself: when a place frees up (someone withdraws, or the capacity is
raised) in a cohort that promotes automatically, the first people waiting move in."""

from __future__ import annotations

from facilitators import audit
from facilitators.services import CurrentUser
from sessions import invites
from sessions.tables import Cohort, Enrollment, EnrollmentStatus


async def fill_places(cohort_id: int, actor: CurrentUser) -> list[str]:
    """Promote waitlisted people, first come first served, while there are places. Runs in
    the caller's transaction; returns the emails of those promoted."""
    cohort = (
        await Cohort.select(Cohort.capacity, Cohort.auto_promote)
        .where(Cohort.id == cohort_id)
        .first()
    )
    if cohort is None or not cohort["auto_promote"]:
        return []
    enrolled = await Enrollment.count().where(
        (Enrollment.cohort == cohort_id) & (Enrollment.status == EnrollmentStatus.enrolled.value)
    )
    places = None if cohort["capacity"] is None else cohort["capacity"] - enrolled
    if places is not None and places <= 0:
        return []
    query = (
        Enrollment.select(
            Enrollment.id, Enrollment.person, Enrollment.person.email.as_alias("email")
        )
        .where(
            (Enrollment.cohort == cohort_id)
            & (Enrollment.status == EnrollmentStatus.waitlisted.value)
        )
        .order_by(Enrollment.enrolled_at)
        .order_by(Enrollment.id)
    )
    waiting = await (query.limit(places) if places is not None else query)
    for row in waiting:
        await Enrollment.update({Enrollment.status: EnrollmentStatus.enrolled.value}).where(
            Enrollment.id == row["id"]
        )
        await invites.send_schedule(cohort_id, person_ids=[row["person"]])
        await audit.record(
            actor.person_id,
            "enrollment.promote",
            "enrollment",
            row["id"],
            cohort_id=cohort_id,
            summary=f"{row['email']} promoted from the waitlist (automatically)",
        )
    return [str(row["email"]) for row in waiting]
