"""A demo organization for trying mentorcircle: people, two cohorts, ten participants.

Every name and address is invented (example.org / example.edu). Loading is idempotent: what
exists already is left as it is.
"""

from __future__ import annotations

import datetime as dt

from facilitators.services import (
    CurrentUser,
    PersonInput,
    create_person,
    find_person_id_by_email,
)
from facilitators.tables import Role
from sessions.roster import add_participant
from sessions.schedule import ScheduleRule
from sessions.services import CohortInput, create_cohort, publish_schedule
from sessions.tables import Cohort, CurriculumTemplate

DEMO_PASSWORD = "mentorcircle-demo"  # noqa: S105 - printed by `mentorcircle demo` on purpose

STAFF = (
    ("Morgan Lee", "admin@example.org", "Graduate School", {"admin"}),
    ("Priya Natarajan", "priya.natarajan@example.org", "Graduate School", {"staff"}),
    ("Amara Okafor", "amara.okafor@example.org", "Microbiology", {"facilitator"}),
    ("Luis Ferreira", "luis.ferreira@example.org", "Chemical Engineering", {"facilitator"}),
)

PARTICIPANTS = (
    ("Hannah Brooks", "hannah.brooks@example.edu", "Biochemistry"),
    ("Tomasz Nowak", "tomasz.nowak@example.edu", "Physics"),
    ("Aisha Rahman", "aisha.rahman@example.edu", "Neuroscience"),
    ("Daniel Kim", "daniel.kim@example.edu", "Computer Science"),
    ("Sofia Alvarez", "sofia.alvarez@example.edu", "Ecology"),
    ("Kwame Mensah", "kwame.mensah@example.edu", "Public Health"),
    ("Elena Petrova", "elena.petrova@example.edu", "Mathematics"),
    ("Marcus Johnson", "marcus.johnson@example.edu", "Genetics"),
    ("Mei Chen", "mei.chen@example.edu", "Chemistry"),
    ("Rafael Souza", "rafael.souza@example.edu", "Psychology"),
)


async def _person(name: str, email: str, department: str, roles: set[str]) -> int:
    existing = await find_person_id_by_email(email)
    if existing is not None:
        return existing
    return await create_person(
        PersonInput(name=name, email=email, department=department, career_stage="faculty"),
        roles,
        actor_id=None,
        password=DEMO_PASSWORD,
    )


async def _curriculum_id(slug: str) -> int:
    row = (
        await CurriculumTemplate.select(CurriculumTemplate.id)
        .where(CurriculumTemplate.slug == slug)
        .first()
    )
    if row is None:
        raise RuntimeError(f"curriculum {slug!r} is missing: run `mentorcircle migrate` first")
    return int(row["id"])


def _this_weeks(weekday: int, today: dt.date) -> dt.date:
    return today - dt.timedelta(days=(today.weekday() - weekday) % 7)


async def load_demo(today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    ids = {email: await _person(name, email, dept, roles) for name, email, dept, roles in STAFF}
    amara, luis = ids["amara.okafor@example.org"], ids["luis.ferreira@example.org"]
    # The demo's changes are made, and audited, as the demo administrator.
    admin = CurrentUser(
        person_id=ids["admin@example.org"],
        name="Morgan Lee",
        email="admin@example.org",
        roles=frozenset({Role.admin.value}),
    )
    added = []
    name = "Entering Mentoring: Life Sciences"
    if not await Cohort.exists().where(Cohort.name == name):
        # One transaction per cohort: a failed load leaves no half-made cohort behind.
        async with Cohort._meta.db.transaction():
            created = await create_cohort(
                CohortInput(
                    name=name,
                    term="Demo term",
                    timezone="America/Chicago",
                    modality="in_person",
                    location="Biology Building, Room 214",
                    capacity=12,
                    curriculum_id=await _curriculum_id("entering-mentoring-8x60"),
                    facilitator_ids=(amara, luis),
                    lead_facilitator_id=amara,
                    # Started two weeks ago on a Wednesday at 15:00: "what is next" has content.
                    schedule=ScheduleRule(
                        first_date=_this_weeks(2, today) - dt.timedelta(weeks=2),
                        start_time=dt.time(15, 0),
                    ),
                ),
                actor=admin,
            )
            await publish_schedule(created.id, actor=admin)
            for person_name, email, department in PARTICIPANTS:
                await _person(person_name, email, department, {Role.participant.value})
                await add_participant(created.id, email, None, actor=admin)
        added.append(name)
    name = "Postdoc mentors: compact format"
    if not await Cohort.exists().where(Cohort.name == name):
        await create_cohort(
            CohortInput(
                name=name,
                term="Demo term",
                timezone="Europe/Berlin",
                modality="virtual",
                video_url="https://video.example.org/j/postdoc-mentors",
                curriculum_id=await _curriculum_id("three-by-two-hours"),
                facilitator_ids=(luis,),
                schedule=ScheduleRule(
                    first_date=_this_weeks(1, today) + dt.timedelta(weeks=1),
                    start_time=dt.time(10, 0),
                    interval_weeks=2,
                ),
            ),
            actor=admin,
        )
        added.append(name)
    if not added:
        return "The demo organization is already loaded."
    return f"Loaded the demo organization: {', '.join(added)}."
