"""A large office, for benchmarks and for trying mentorcircle at size: `mentorcircle demo --large`.

At scale 1: 50 cohorts of 12 participants with 8 sessions each (some finished, some under way,
some still to come, a few drafts), 600 participants, 25 facilitators and 5 office staff, 1,000
case studies with 2 or 3 revisions each, agendas of two cases per session, attendance and
discussion notes for the sessions that met, and 20,000 outbox messages in every state (held,
queued, sending, sent, failed, cancelled) with the keys, kinds and topic labels the apps give
them. `scale` multiplies every count; `only` limits it to some parts (the others stay at 1×):

    await load_large(10)                              # 500 cohorts, 10,000 cases, 200,000 messages
    await load_large(100, only={"cases", "outbox"})   # 100,000 cases, 2,000,000 messages

Rows go in with multi-row INSERTs of complete rows (ids included), a few thousand values per
statement, all in one transaction: a failed load leaves nothing behind. Message bodies are
composed once per kind with mail.compose and copied with each message's own Message-ID and
recipient, so that 2,000,000 messages take minutes, not hours. The office loads once per
database: run again, it says so and adds nothing.

Every person, place and dilemma is invented (example.org / example.edu).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.columns.defaults.base import Default
from piccolo.table import Table

from case_studies.tables import (
    AgendaItem,
    CaseRevision,
    CaseStudy,
    DiscussionNote,
    NoteRevision,
)
from facilitators.services import hash_password
from facilitators.tables import Account, Person, RoleGrant
from mail.compose import Calendar, Draft, compose, message_id_for
from mail.tables import OutboxMessage
from sessions.invites import Attendee, Organizer, calendar_bytes, session_event
from sessions.prompt_rules import prompt_key, reminder_slot
from sessions.tables import (
    Attendance,
    Cohort,
    CohortFacilitator,
    Enrollment,
    Session,
    SessionTemplate,
)
from settings import get_settings

PARTS = frozenset({"cohorts", "cases", "outbox"})
COHORTS = 50
PARTICIPANTS_PER_COHORT = 12
FACILITATORS = 25
STAFF = 5
CASES = 1_000
MESSAGES = 20_000
SESSIONS_PER_COHORT = 8  # the default curriculum's
MARKER_EMAIL = "office.lead@large.example.org"  # the first person loaded: "already loaded"
PASSWORD = "mentorcircle-demo"  # noqa: S105 - the demo's, printed by `mentorcircle demo`
# At most this many values per INSERT: under SQLite's 32,766 and asyncpg's 32,767 arguments.
MAX_VALUES = 30_000

_FIRST_NAMES = (
    "Ada Ahmed Alicia Amir Ana Anders Aroha Ben Bianca Carlos Chen Chiara Dana Deepa "
    "Diego Elif Emeka Eva Farah Felix Grace Hamid Hana Ines Ivan Jae Jonas Julia Kai "
    "Kamala Karin Kenji Lars Layla Lena Leon Lucia Malik Maya Mateo Mei Mira Nadia Nikhil "
    "Noor Olga Omar Paolo Priya Quinn Rosa Ruth Sam Sana Sofia Tariq Thea Tomas Uma Vera "
    "Wei Yara Yusuf Zoe"
)
FIRST_NAMES = tuple(_FIRST_NAMES.split())
_LAST_NAMES = (
    "Abbott Adeyemi Alvarez Bauer Bergstrom Castillo Chowdhury Costa Dubois Eriksen "
    "Fischer Garcia Haddad Hansen Ibrahim Ito Jensen Kaur Kowalski Larsen Lindqvist Lopez "
    "Mbeki Moreau Nakamura Novak Okafor Olsen Park Patel Quispe Rahman Rossi Sato Schmidt "
    "Silva Singh Tanaka Torres Ueda Varga Weber Wong Yamada Yilmaz Zhang Zielinski"
)
LAST_NAMES = tuple(_LAST_NAMES.split())
DEPARTMENTS = (
    "Biochemistry",
    "Chemistry",
    "Civil Engineering",
    "Computer Science",
    "Ecology",
    "Epidemiology",
    "Genetics",
    "Mathematics",
    "Microbiology",
    "Neuroscience",
    "Nursing",
    "Pharmacology",
    "Physics",
    "Psychology",
    "Public Health",
    "Sociology",
)
ZONES = ("America/Chicago", "America/New_York", "America/Los_Angeles", "Europe/Berlin")
COMPETENCIES = (
    "communication",
    "expectations",
    "understanding",
    "independence",
    "equity_inclusion",
    "professional_development",
    "ethics",
    "work_life",
    "self_efficacy",
    "philosophy_plan",
)
AUDIENCES = ("undergraduate", "graduate", "postdoc", "junior_faculty", "peer")
DISCIPLINES = (
    "biology",
    "chemistry",
    "computer science",
    "engineering",
    "mathematics",
    "medicine",
    "physics",
    "psychology",
    "public health",
    "social science",
)

# (title words, theme words that the scenario repeats, competency): searchable topics.
THEMES = (
    ("Who is first author?", "authorship credit paper order contribution", "ethics"),
    ("The silent lab meeting", "meeting silence questions participation", "communication"),
    ("Deadline drift", "deadline draft schedule milestone", "expectations"),
    ("A second opinion on the data", "data analysis replication figure", "understanding"),
    ("Leaving for industry", "career industry job plans", "professional_development"),
    ("Weekend emails", "weekend email hours boundaries", "work_life"),
    ("The borrowed protocol", "protocol credit collaborator permission", "ethics"),
    ("Not a good fit", "fit project change lab", "independence"),
    ("Accent and assumptions", "accent bias assumptions belonging", "equity_inclusion"),
    ("Impostor at the podium", "talk confidence conference impostor", "self_efficacy"),
    ("The mentoring compact", "compact agreement expectations review", "philosophy_plan"),
    ("Two advisors, two answers", "advisors conflict direction committee", "communication"),
    ("The grant that went elsewhere", "grant funding rejection resubmission", "self_efficacy"),
    ("Caring for a parent", "caregiving leave family flexibility", "work_life"),
    ("A quiet complaint", "harassment report complaint safety", "ethics"),
    ("Writing it up alone", "writing manuscript feedback revision", "independence"),
    ("First-generation questions", "first-generation belonging norms hidden", "equity_inclusion"),
    ("The stalled thesis", "thesis progress motivation committee", "understanding"),
    (
        "A request for a letter",
        "recommendation letter honesty reference",
        "professional_development",
    ),
    ("Teaching versus research", "teaching research time priorities", "work_life"),
)
SENTENCES = (
    "{mentee}, a {stage} in {discipline}, has worked with {mentor} for {months} months.",
    "At the last check-in {mentor} mentioned the {a} only in passing.",
    "{mentee} has started to worry about the {a} and the {b}, but has said nothing.",
    "A colleague of {mentor} asks over coffee how the {b} is going.",
    "The group's shared calendar shows no time set aside to talk about the {c}.",
    "{mentor} remembers a similar situation from their own training and how badly it went.",
    "Two weeks later the {a} comes up again, this time in front of the whole group.",
    "{mentee} writes a long message about the {c} and then deletes it without sending it.",
    "Nobody in the lab has written down what is expected about the {b}.",
    "The department's handbook says little about the {a}.",
    "{mentor} believes things are going well; {mentee} does not.",
    "A visiting scholar offers {mentee} advice about the {c} that contradicts {mentor}'s.",
)
QUESTIONS = (
    "What does each person believe about the {a}?",
    "What could {mentor} say in the next meeting?",
    "Which expectations about the {b} were never said out loud?",
    "What would you do in {mentor}'s place, and what would you avoid?",
    "How could the group make it easier to raise the {c} earlier?",
)
NOTE_LINES = (
    "- Say expectations about the {a} out loud, early, and write them down.\n"
    "- Check how a short reply lands before assuming it was read as intended.",
    "- Schedule a regular conversation about the {b}, not only when something goes wrong.\n"
    "- Ask the mentee what support they want before offering a solution.",
    "- Name the power difference and invite disagreement explicitly.\n"
    "- Revisit the agreement about the {c} at set points in the year.",
)


@dataclass(frozen=True)
class Sizes:
    cohorts: int
    facilitators: int
    staff: int
    cases: int
    messages: int

    @classmethod
    def at(cls, scale: float, only: Collection[str]) -> Sizes:
        def n(base: int, part: str) -> int:
            return max(1, round(base * (scale if part in only else 1.0)))

        return cls(
            cohorts=n(COHORTS, "cohorts"),
            facilitators=n(FACILITATORS, "cohorts"),
            staff=STAFF,
            cases=n(CASES, "cases"),
            messages=n(MESSAGES, "outbox"),
        )


# -- writing rows -----------------------------------------------------------------------------


def _default(column: Any) -> Any:
    value = column.get_default_value()
    return value.python() if isinstance(value, Default) else value


class Writer:
    """Multi-row INSERTs of complete rows, ids included, in the caller's transaction.

    Ids come from the table itself: SQLite hands out max(id) + 1 onwards (the IMMEDIATE
    transaction keeps everyone else out); PostgreSQL reserves a range of the table's sequence
    under a table lock, so that rows inserted later by the app get ids after ours."""

    def __init__(self) -> None:
        self.postgres = Person._meta.db.engine_type == "postgres"
        self._next: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    async def ids(self, table: type[Table], n: int) -> range:
        name = table._meta.tablename
        if self.postgres:
            await table.raw(f"LOCK TABLE {name} IN EXCLUSIVE MODE")
            sequence = f"pg_get_serial_sequence('{name}', 'id')"
            rows = await table.raw(f"SELECT nextval({sequence}) AS first")
            first = int(rows[0]["first"])
            if n > 1:
                await table.raw(f"SELECT setval({sequence}, {first + n - 1})")
            return range(first, first + n)
        if name not in self._next:
            rows = await table.raw(f"SELECT coalesce(max(id), 0) AS top FROM {name}")  # noqa: S608
            self._next[name] = int(rows[0]["top"]) + 1
        first = self._next[name]
        self._next[name] = first + n
        return range(first, first + n)

    async def insert(self, table: type[Table], rows: Iterable[dict[str, Any]]) -> None:
        """Rows as {column name: value}, each with its id; a missing column gets its default."""
        columns = table._meta.columns
        names = [column._meta.db_column_name for column in columns]
        defaults = [_default(column) for column in columns]
        per_statement = max(1, MAX_VALUES // len(columns))
        quoted = ", ".join(f'"{name}"' for name in names)
        head = f"INSERT INTO {table._meta.tablename} ({quoted}) VALUES "  # noqa: S608
        one = "(" + ", ".join("{}" for _ in columns) + ")"
        batch: list[dict[str, Any]] = []

        async def flush() -> None:
            values = [
                row.get(name, default)
                for row in batch
                for name, default in zip(names, defaults, strict=True)
            ]
            await table.raw(head + ", ".join(one for _ in batch), *values)
            self.counts[table._meta.tablename] = self.counts.get(table._meta.tablename, 0) + len(
                batch
            )
            batch.clear()

        for row in rows:
            batch.append(row)
            if len(batch) == per_statement:
                await flush()
        if batch:
            await flush()


# -- what the office looks like -----------------------------------------------------------------


@dataclass
class PersonRow:
    id: int
    name: str
    email: str


@dataclass
class SessionPlan:
    id: int
    cohort_id: int
    position: int
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    ical_uid: str
    location: str
    cases: list[int] = field(default_factory=list)


@dataclass
class CohortPlan:
    id: int
    name: str
    timezone: str
    published_at: dt.datetime | None
    review: bool
    facilitators: list[PersonRow]
    participants: list[PersonRow]
    sessions: list[SessionPlan] = field(default_factory=list)
    enrollments: dict[int, int] = field(default_factory=dict)  # person id -> enrollment id


def _names(rng: random.Random, n: int, domain: str, prefix: str) -> Iterator[tuple[str, str]]:
    for index in range(n):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        yield f"{first} {last}", f"{first.lower()}.{last.lower()}.{prefix}{index + 1}@{domain}"


async def _people(
    w: Writer,
    rng: random.Random,
    people: list[tuple[str, str, str, str]],
    now: dt.datetime,
    password_hash: str,
) -> list[PersonRow]:
    """people: (name, email, department, role); staff and facilitators get the demo password."""
    ids = await w.ids(Person, len(people))
    await w.insert(
        Person,
        (
            {
                "id": pid,
                "name": name,
                "email": email,
                "email_key": email.casefold(),
                "department": department,
                "career_stage": "faculty" if role == "participant" else "",
                "timezone": "" if rng.random() < 0.8 else rng.choice(ZONES),
                "calendar_changed_at": now,
                "created_at": now,
            }
            for pid, (name, email, department, role) in zip(ids, people, strict=True)
        ),
    )
    account_ids = await w.ids(Account, len(people))
    await w.insert(
        Account,
        (
            {
                "id": aid,
                "person": pid,
                "password_hash": "" if role == "participant" else password_hash,
                "created_at": now,
            }
            for aid, pid, (_, _, _, role) in zip(account_ids, ids, people, strict=True)
        ),
    )
    grant_ids = await w.ids(RoleGrant, len(people))
    await w.insert(
        RoleGrant,
        (
            {"id": gid, "person": pid, "role": role, "granted_at": now}
            for gid, pid, (_, _, _, role) in zip(grant_ids, ids, people, strict=True)
        ),
    )
    return [
        PersonRow(pid, name, email) for pid, (name, email, _, _) in zip(ids, people, strict=True)
    ]


async def _templates() -> list[dict[str, Any]]:
    from sessions.tables import CurriculumTemplate

    curriculum = (
        await CurriculumTemplate.select(CurriculumTemplate.id)
        .where(CurriculumTemplate.slug == "entering-mentoring-8x60")
        .first()
    )
    if curriculum is None:
        raise RuntimeError("the shipped curricula are missing: run `mentorcircle migrate` first")
    rows = (
        await SessionTemplate.select()
        .where(
            (SessionTemplate.curriculum == curriculum["id"])
            & SessionTemplate.alternate_for.is_null()
        )
        .order_by(SessionTemplate.position)
    )
    return [{**row, "curriculum": curriculum["id"]} for row in rows]


def _local(day: dt.date, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(15, 0), tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


async def _cohorts(
    w: Writer,
    rng: random.Random,
    sizes: Sizes,
    facilitators: list[PersonRow],
    participants: list[PersonRow],
    now: dt.datetime,
) -> list[CohortPlan]:
    templates = await _templates()
    domain = get_settings().mail_domain
    ids = await w.ids(Cohort, sizes.cohorts)
    today = now.date()
    plans: list[CohortPlan] = []
    cohort_rows: list[dict[str, Any]] = []
    for index, cid in enumerate(ids):
        zone = ZONES[index % len(ZONES)]
        # First meetings spread from ten weeks ago to four weeks ahead: finished, under way,
        # and not yet started cohorts; every tenth is a draft nobody was invited to yet.
        first = today + dt.timedelta(weeks=index % 15 - 10, days=index % 5 - today.weekday())
        published = index % 10 != 9
        starts = [_local(first + dt.timedelta(weeks=k), zone) for k in range(len(templates))]
        status = (
            "draft"
            if not published
            else "completed"
            if starts[-1] < now
            else "in_progress"
            if starts[0] < now
            else "scheduled"
        )
        department = DEPARTMENTS[index % len(DEPARTMENTS)]
        name = f"Entering Mentoring: {department} {index // len(DEPARTMENTS) + 1}"
        room = f"{department} Building, Room {100 + index % 300}"
        lead = facilitators[index % len(facilitators)]
        team = [lead]
        if index % 2 == 0 and len(facilitators) > 1:
            team.append(facilitators[(index + 1) % len(facilitators)])
        group = participants[
            index * PARTICIPANTS_PER_COHORT : (index + 1) * PARTICIPANTS_PER_COHORT
        ]
        # Published three weeks before the first meeting (or yesterday, if that is later).
        published_at = min(starts[0] - dt.timedelta(weeks=3), now - dt.timedelta(days=1))
        created = published_at - dt.timedelta(days=2)
        plan = CohortPlan(
            cid, name, zone, published_at if published else None, index % 8 == 3, team, group
        )
        plans.append(plan)
        cohort_rows.append(
            {
                "id": cid,
                "name": name,
                "term": "Large office term",
                "timezone": zone,
                "modality": "in_person",
                "location": room,
                "capacity": PARTICIPANTS_PER_COHORT,
                "status": status,
                "curriculum": templates[0]["curriculum"],
                "created_at": created,
                "updated_at": created,
                "published_at": plan.published_at,
                "review_mail": plan.review,
            }
        )
        for template, start in zip(templates, starts, strict=True):
            plan.sessions.append(
                SessionPlan(
                    0,
                    cid,
                    template["position"],
                    template["title"],
                    start,
                    start + dt.timedelta(minutes=template["minutes"]),
                    f"session-{uuid.UUID(int=rng.getrandbits(128), version=4)}@{domain}",
                    room,
                )
            )
    await w.insert(Cohort, cohort_rows)

    team_rows = [(p.id, f.id, k == 0) for p in plans for k, f in enumerate(p.facilitators)]
    team_ids = await w.ids(CohortFacilitator, len(team_rows))
    await w.insert(
        CohortFacilitator,
        (
            {"id": tid, "cohort": cohort, "person": person, "lead": lead}
            for tid, (cohort, person, lead) in zip(team_ids, team_rows, strict=True)
        ),
    )

    by_position = {t["position"]: t for t in templates}
    sessions = [(p, s) for p in plans for s in p.sessions]
    for sid, (_, session) in zip(await w.ids(Session, len(sessions)), sessions, strict=True):
        session.id = sid
    await w.insert(
        Session,
        (
            {
                "id": s.id,
                "cohort": s.cohort_id,
                "position": s.position,
                "title": s.title,
                "competencies": list(by_position[s.position]["competencies"] or []),
                "starts_at": s.starts_at,
                "ends_at": s.ends_at,
                "location": s.location,
                "ical_uid": s.ical_uid,
                "objectives": by_position[s.position]["objectives"],
                "assignment_prompt": by_position[s.position]["assignment_prompt"],
                "updated_at": (p.published_at or now) - dt.timedelta(days=1),
            }
            for p, s in sessions
        ),
    )

    pairs = [(p, person) for p in plans for person in p.participants]
    enrollment_ids = await w.ids(Enrollment, len(pairs))
    for eid, (plan, person) in zip(enrollment_ids, pairs, strict=True):
        plan.enrollments[person.id] = eid
    await w.insert(
        Enrollment,
        (
            {
                "id": eid,
                "cohort": plan.id,
                "person": person.id,
                "status": "enrolled",
                "enrolled_at": (plan.published_at or now) - dt.timedelta(hours=12),
            }
            for eid, (plan, person) in zip(enrollment_ids, pairs, strict=True)
        ),
    )

    marks = ("present",) * 16 + ("late", "left_early", "excused", "absent")
    attended = [
        (s, plan.facilitators[0].id, eid)
        for plan in plans
        for s in plan.sessions
        if s.ends_at < now and plan.published_at is not None
        for eid in plan.enrollments.values()
    ]
    attendance_ids = await w.ids(Attendance, len(attended))
    await w.insert(
        Attendance,
        (
            {
                "id": aid,
                "session": s.id,
                "enrollment": eid,
                "status": rng.choice(marks),
                "recorded_by": facilitator,
                "recorded_at": s.ends_at,
            }
            for aid, (s, facilitator, eid) in zip(attendance_ids, attended, strict=True)
        ),
    )
    return plans


# -- the case library ---------------------------------------------------------------------------


def _words(rng: random.Random, theme: str) -> dict[str, str]:
    words = theme.split()
    a, (b, c) = words[0], rng.sample(words[1:], 2)  # the first word is in every case
    mentee, mentor = rng.choice(FIRST_NAMES), f"Dr. {rng.choice(LAST_NAMES)}"
    return {
        "a": a,
        "b": b,
        "c": c,
        "mentee": mentee,
        "mentor": mentor,
        "stage": rng.choice(("graduate student", "postdoc", "undergraduate", "junior colleague")),
        "discipline": rng.choice(DISCIPLINES),
        "months": str(rng.randint(2, 30)),
    }


def _case_text(rng: random.Random, theme: tuple[str, str, str]) -> tuple[str, list[str], str]:
    fill = _words(rng, theme[1])
    paragraphs = [
        " ".join(s.format(**fill) for s in rng.sample(SENTENCES, 4)),
        " ".join(s.format(**fill) for s in rng.sample(SENTENCES, 3)),
    ]
    questions = [q.format(**fill) for q in rng.sample(QUESTIONS, 3)]
    notes = f"Surface what each side assumes about the {fill['a']}. Probe: who raised it first?"
    return "\n\n".join(paragraphs), questions, notes


async def _cases(
    w: Writer,
    rng: random.Random,
    sizes: Sizes,
    authors: list[PersonRow],
    plans: list[CohortPlan],
    now: dt.datetime,
) -> list[int]:
    """The library; returns the ids of the published library cases (for agendas)."""
    ids = await w.ids(CaseStudy, sizes.cases)
    published: list[int] = []
    cases: list[dict[str, Any]] = []
    revisions: list[dict[str, Any]] = []
    for index, cid in enumerate(ids):
        theme = THEMES[index % len(THEMES)]
        title = f"{theme[0]} ({index + 1})"
        kind = index % 20
        created = now - dt.timedelta(days=400) + dt.timedelta(minutes=index * 7)
        row: dict[str, Any] = {
            "id": cid,
            "primary_competency": theme[2],
            "competencies": rng.sample([c for c in COMPETENCIES if c != theme[2]], 2),
            "audiences": rng.sample(AUDIENCES, rng.randint(1, 2)),
            "disciplines": rng.sample(DISCIPLINES, rng.randint(1, 2)),
            "attribution": "mentorcircle large demo",
            "licence": "CC BY 4.0",
            "status": "published",
            "scope": "library",
            "created_at": created,
            "published_at": created + dt.timedelta(days=1),
        }
        if kind < 16:  # licensed curriculum material and facilitators' cases
            author = authors[index % len(authors)]
            row["provenance"] = "curriculum" if kind < 10 else "facilitator"
            row["author"] = author.id
        else:  # participants' dilemmas, at every step of the review
            plan = plans[index % len(plans)]
            author = plan.participants[index % len(plan.participants)]
            status = ("draft", "submitted", "in_review", "returned")[kind - 16]
            row.update(
                provenance="participant",
                author=author.id,
                cohort=plan.id,
                scope="cohort",
                status=status,
                published_at=None,
                share_consent=index % 3 == 0,
                reviewer=plan.facilitators[0].id if status in {"in_review", "returned"} else None,
            )
            if index % 40 == 19:
                row.update(status="published", published_at=created + dt.timedelta(days=3))
        if index % 50 == 49:
            row.update(status="retired", retired_at=now - dt.timedelta(days=30))
        count = 2 + index % 2
        for number in range(1, count + 1):
            scenario, questions, notes = _case_text(rng, theme)
            revisions.append(
                {
                    "case": cid,
                    "number": number,
                    "title": title,
                    "scenario": scenario,
                    "questions": questions,
                    "facilitator_notes": notes,
                    "author": author.id,
                    "created_at": created + dt.timedelta(hours=number),
                }
            )
        row.update(
            title=title,
            scenario=scenario,
            questions=questions,
            facilitator_notes=notes,
            revision=count,
            updated_at=created + dt.timedelta(hours=count),
        )
        cases.append(row)
        if row["status"] == "published" and row["scope"] == "library":
            published.append(cid)
    await w.insert(CaseStudy, cases)
    revision_ids = await w.ids(CaseRevision, len(revisions))
    await w.insert(
        CaseRevision, ({**r, "id": i} for i, r in zip(revision_ids, revisions, strict=True))
    )
    # The search index, for the new cases at once (search.index_case does one case).
    low, high = ids[0], ids[-1]
    if w.postgres:
        await CaseStudy.raw(
            "UPDATE case_study SET search_vector = "
            "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
            "setweight(to_tsvector('english', coalesce(scenario, '') || ' ' || "
            "coalesce(array_to_string(questions, ' '), '')), 'B') "
            "WHERE id BETWEEN {} AND {}",
            low,
            high,
        )
    else:
        await CaseStudy.raw(
            "INSERT INTO case_study_fts (rowid, title, scenario, questions) "
            "SELECT id, title, scenario, coalesce((SELECT group_concat(value, char(10)) "
            "FROM json_each(case_study.questions)), '') FROM case_study "
            "WHERE id BETWEEN {} AND {}",
            low,
            high,
        )
    return published


async def _agendas_and_notes(
    w: Writer,
    rng: random.Random,
    plans: list[CohortPlan],
    library: list[int],
    now: dt.datetime,
) -> None:
    items: list[tuple[int, int, int]] = []
    for plan in plans:
        for session in plan.sessions:
            session.cases = rng.sample(library, min(2, len(library)))
            items += [(session.id, case, k) for k, case in enumerate(session.cases, start=1)]
    item_ids = await w.ids(AgendaItem, len(items))
    await w.insert(
        AgendaItem,
        (
            {"id": i, "session": s, "case": c, "position": k}
            for i, (s, c, k) in zip(item_ids, items, strict=True)
        ),
    )
    # Notes of the sessions that met: one per case and one for the whole session (final), and
    # the facilitators' private note (a draft).
    notes: list[dict[str, Any]] = []
    for plan in plans:
        for session in plan.sessions:
            if session.ends_at >= now or plan.published_at is None:
                continue
            author = plan.facilitators[0].id
            for case, private in [(c, False) for c in session.cases] + [
                (None, False),
                (None, True),
            ]:
                fill = _words(rng, THEMES[session.position % len(THEMES)][1])
                notes.append(
                    {
                        "session": session.id,
                        "case": case,
                        "private": private,
                        "key_issues": rng.choice(NOTE_LINES).format(**fill),
                        "strategies": rng.choice(NOTE_LINES).format(**fill),
                        "open_questions": f"How do we know when the {fill['b']} is settled?",
                        "resources": "- The mentoring compact template from session 2",
                        "status": "draft" if private else "final",
                        "revision": 1 + len(notes) % 2,
                        "updated_by": author,
                        "created_at": session.ends_at,
                        "updated_at": session.ends_at + dt.timedelta(hours=2),
                        "finalized_at": None
                        if private
                        else session.ends_at + dt.timedelta(hours=2),
                    }
                )
    note_ids = await w.ids(DiscussionNote, len(notes))
    revisions: list[dict[str, Any]] = []
    for nid, note in zip(note_ids, notes, strict=True):
        note["id"] = nid
        for number in range(1, note["revision"] + 1):
            revisions.append(
                {
                    "note": nid,
                    "number": number,
                    "key_issues": note["key_issues"],
                    "strategies": note["strategies"],
                    "open_questions": note["open_questions"],
                    "resources": note["resources"],
                    "author": note["updated_by"],
                    "created_at": note["created_at"] + dt.timedelta(hours=number),
                }
            )
    await w.insert(DiscussionNote, notes)
    revision_ids = await w.ids(NoteRevision, len(revisions))
    await w.insert(
        NoteRevision, ({**r, "id": i} for i, r in zip(revision_ids, revisions, strict=True))
    )


# -- the outbox -----------------------------------------------------------------------------


PLACEHOLDER = "recipient.placeholder@example.edu"
TEMPLATE_KEY = "large:template"


@dataclass(frozen=True)
class Body:
    """A composed message with its Message-ID and recipient to swap for each copy."""

    content: bytes
    subject: str
    confidential: bool = False

    def copy(self, key: str, recipient: str, domain: str) -> bytes:
        return self.content.replace(
            message_id_for(TEMPLATE_KEY, domain).encode(), message_id_for(key, domain).encode()
        ).replace(PLACEHOLDER.encode(), recipient.encode())


def _bodies(domain: str, sender: str, now: dt.datetime) -> dict[str, Body]:
    """One composed message per kind, as the apps would make it (text, HTML, calendar)."""
    start = now.replace(microsecond=0)
    session = {
        "ical_uid": f"session-template@{domain}",
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=1),
        "position": 3,
        "title": "Fostering independence",
        "video_url": "",
        "location": "Chemistry Building, Room 214",
    }
    text = (
        "Dear colleague,\n\nOur next session of Entering Mentoring meets on Wednesday at 15:00 "
        "in the Chemistry Building, Room 214. Before we meet, please read the case study below "
        "and note one question you would like the group to discuss.\n\n"
    ) * 3
    html = "<p>" + text.replace("\n\n", "</p><p>") + "</p>"
    organizer = Organizer("Amara Okafor", f"amara.okafor@{domain}")
    attendee = Attendee(1, "Participant", PLACEHOLDER, "", False)

    def body(subject: str, *, method: str | None = None, confidential: bool = False) -> Body:
        calendar = None
        if method is not None:
            event = session_event(
                session,
                "Entering Mentoring: Chemistry",
                sequence=0,
                stamp=start,
                cancelled=method == "CANCEL",
                organizer=organizer,
                attendee=attendee,
            )
            calendar = Calendar(calendar_bytes([event], method=method), method)
        draft = Draft(sender, PLACEHOLDER, subject, text, html, f"amara.okafor@{domain}", calendar)
        return Body(
            compose(draft, key=TEMPLATE_KEY, domain=domain, now=start), subject, confidential
        )

    return {
        "invite": body("Invitation: Fostering independence (Wed 15:00)", method="REQUEST"),
        "update": body("Updated: Fostering independence (Wed 15:00)", method="REQUEST"),
        "cancel": body("Cancelled: Fostering independence", method="CANCEL"),
        "prompt": body("Before Wednesday's session: Fostering independence"),
        "reminder": body("Reminder: Fostering independence, Wednesday 15:00"),
        "notes": body("Notes from Fostering independence", confidential=True),
        "case_review": body("A case study is waiting for your review", confidential=True),
        "sign_in": body("Your sign-in link for mentorcircle", confidential=True),
        "absence": body("A participant cannot attend Wednesday's session", confidential=True),
    }


@dataclass(frozen=True)
class Planned:
    key: str
    kind: str
    recipient: PersonRow
    send_after: dt.datetime
    cohort: CohortPlan | None = None
    session: SessionPlan | None = None
    starts_at: dt.datetime | None = None  # the meeting's, in the message's term
    expires_at: dt.datetime | None = None


def _term(
    plans: list[CohortPlan], facilitators: list[PersonRow], now: dt.datetime, term: int
) -> Iterator[Planned]:
    """The messages of one term: this one (term 0) as its dates make it, and earlier terms
    (term n: every date n × 16 weeks back, keys marked :t<n>) as history."""
    back = dt.timedelta(weeks=16 * term)
    mark = f":t{term}" if term else ""
    for plan in plans:
        if plan.published_at is None:
            continue
        published = plan.published_at - back
        for s in plan.sessions:
            starts = s.starts_at - back
            for person in plan.participants:
                key = f"invite:{s.id}:{person.id}:0{mark}"
                yield Planned(key, "invite", person, published, plan, s, starts)
                # Prompts and reminders are queued once due: none yet for later meetings.
                prompt_at = starts - dt.timedelta(days=7)
                if prompt_at < now:
                    key = prompt_key(s.id, person.id, 0, "0") + mark
                    yield Planned(key, "prompt", person, prompt_at, plan, s, starts, starts)
                for minutes in (48 * 60, 2 * 60):
                    due = starts - dt.timedelta(minutes=minutes)
                    if due < now:
                        key = f"{reminder_slot(s.id, person.id, minutes, starts)}:0{mark}"
                        yield Planned(key, "reminder", person, due, plan, s, starts, starts)
            if starts + dt.timedelta(days=1) < now:  # the final notes, the day after
                for person in plan.participants + plan.facilitators:
                    key = f"notes:{s.id}:1:{person.id}{mark}"
                    due = starts + dt.timedelta(days=1)
                    yield Planned(key, "notes", person, due, plan, s, starts)
        fourth = plan.sessions[3]
        lead = plan.facilitators[0]
        for k, person in enumerate(plan.participants[:2]):
            key = f"absence:{fourth.id}:{person.id}:{lead.id}{mark}"
            due = min(fourth.starts_at - back - dt.timedelta(days=1 + k), now)
            yield Planned(key, "absence", lead, due, plan, fourth, fourth.starts_at - back)
        key = f"case_review:{plan.id}:{plan.participants[0].id}{mark}"
        yield Planned(key, "case_review", lead, published + dt.timedelta(days=9), plan)
    for k, person in enumerate(facilitators):
        due = now - back - dt.timedelta(days=k % 20, hours=3)
        key = f"sign_in:{person.id}:{uuid.UUID(int=k + term * 1_000_003).hex}"
        yield Planned(key, "sign_in", person, due, expires_at=due + dt.timedelta(minutes=15))


def _planned(
    plans: list[CohortPlan], facilitators: list[PersonRow], now: dt.datetime, total: int
) -> Iterator[Planned]:
    """Exactly `total` messages: this term's, then earlier terms' until there are enough."""
    made = 0
    term = 0
    while made < total:
        before = made
        for planned in _term(plans, facilitators, now, term):
            if planned.send_after > now:
                continue
            yield planned
            made += 1
            if made == total:
                return
        if made == before:
            return
        term += 1


CONFIDENTIAL_KINDS = frozenset({"sign_in", "notes", "case_review", "absence"})


def _state(p: Planned, rng: random.Random, now: dt.datetime) -> dict[str, Any]:
    """What became of a message by now. Sent mostly; some failed (a refused address, or too
    many retries), some cancelled (superseded); the last six hours' still waiting (a dispatcher
    was down): queued, a few being sent right now, a few back in the queue for a retry; held in
    "review first" cohorts until staff release them."""
    roll = rng.random()
    review = p.cohort is not None and p.cohort.review and p.kind not in CONFIDENTIAL_KINDS
    upcoming = p.starts_at is not None and p.starts_at > now
    if review and upcoming and roll < 0.5:
        return {"state": "held"}
    if p.kind == "sign_in" and p.expires_at is not None and p.expires_at < now and roll < 0.1:
        return {"state": "failed", "attempts": 1, "last_error": "expired before it was sent"}
    if now - p.send_after < dt.timedelta(hours=6):
        if roll < 0.05:
            return {
                "state": "sending",
                "attempts": 1,
                "lease_until": now + dt.timedelta(minutes=4),
                "lease_token": uuid.UUID(int=rng.getrandbits(128)).hex,
            }
        if roll < 0.15:
            return {
                "state": "queued",
                "attempts": 1,
                "last_code": 421,
                "last_error": "421 4.7.0 try again later",
                "send_after": now + dt.timedelta(minutes=2),
            }
        return {"state": "queued"}
    if roll < 0.015:
        return {
            "state": "failed",
            "attempts": 1,
            "last_code": 550,
            "last_error": "550 5.1.1 mailbox unavailable",
        }
    if roll < 0.02:
        return {
            "state": "failed",
            "attempts": 6,
            "last_code": 451,
            "last_error": "451 4.3.0 try again later",
        }
    if roll < 0.05:
        return {"state": "cancelled"}
    return {
        "state": "sent",
        "attempts": 1 if roll > 0.06 else 2,
        "last_code": 250,
        "sent_at": p.send_after + dt.timedelta(seconds=5 + int(roll * 200)),
    }


async def _outbox(
    w: Writer,
    rng: random.Random,
    sizes: Sizes,
    plans: list[CohortPlan],
    facilitators: list[PersonRow],
    now: dt.datetime,
) -> None:
    settings = get_settings()
    domain = settings.mail_domain
    bodies = _bodies(domain, f"Entering Mentoring via mentorcircle <{settings.mail_from}>", now)
    chunk: list[dict[str, Any]] = []

    async def flush() -> None:
        for mid, row in zip(await w.ids(OutboxMessage, len(chunk)), chunk, strict=True):
            row["id"] = mid
        await w.insert(OutboxMessage, chunk)
        chunk.clear()

    for p in _planned(plans, facilitators, now, sizes.messages):
        body = bodies[p.kind]
        chunk.append(
            {
                "key": p.key,
                "kind": p.kind,
                "recipient": p.recipient.email,
                "subject": body.subject,
                "content": body.copy(p.key, p.recipient.email, domain),
                "message_id": message_id_for(p.key, domain),
                "send_after": p.send_after,
                "expires_at": p.expires_at,
                "created_at": min(p.send_after, now),
                "confidential": body.confidential,
                "cohort_id": p.cohort.id if p.cohort else None,
                "session_id": p.session.id if p.session else None,
                "person_id": p.recipient.id,
                **_state(p, rng, now),
            }
        )
        if len(chunk) == 5_000:
            await flush()
    if chunk:
        await flush()


# -- loading ------------------------------------------------------------------------------------


async def is_loaded() -> bool:
    return bool(await Person.exists().where(Person.email_key == MARKER_EMAIL))


async def load_large(scale: float = 1.0, *, only: Collection[str] = PARTS) -> str:
    """Load the large office (see the module's docstring) in one transaction; a summary.
    Refuses (and says so) when this database holds it already."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    unknown = set(only) - PARTS
    if unknown:
        raise ValueError(f"unknown part(s) {sorted(unknown)}: choose from {sorted(PARTS)}")
    if await is_loaded():
        return (
            "The large office is already loaded in this database: nothing was added. "
            "Load another size into a fresh database (DATABASE_URL)."
        )
    return await load_office(Sizes.at(scale, only), f"scale {scale:g}")


async def load_office(sizes: Sizes, label: str = "") -> str:
    """Load an office of these sizes (load_large's work; tests use small ones)."""
    if await is_loaded():
        return "The large office is already loaded in this database: nothing was added."
    rng = random.Random(7)  # the same office every time
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    password_hash = await hash_password(PASSWORD)
    w = Writer()
    async with Person._meta.db.transaction():
        staff = [("Office Lead", MARKER_EMAIL, "Graduate School", "staff")] + [
            (name, email, "Graduate School", "staff")
            for name, email in _names(rng, sizes.staff - 1, "large.example.org", "staff")
        ]
        facilitators = [
            (name, email, DEPARTMENTS[k % len(DEPARTMENTS)], "facilitator")
            for k, (name, email) in enumerate(
                _names(rng, sizes.facilitators, "large.example.org", "f")
            )
        ]
        participants = [
            (name, email, DEPARTMENTS[k % len(DEPARTMENTS)], "participant")
            for k, (name, email) in enumerate(
                _names(rng, sizes.cohorts * PARTICIPANTS_PER_COHORT, "large.example.edu", "p")
            )
        ]
        people = await _people(w, rng, staff + facilitators + participants, now, password_hash)
        facilitator_rows = people[len(staff) : len(staff) + len(facilitators)]
        participant_rows = people[len(staff) + len(facilitators) :]
        plans = await _cohorts(w, rng, sizes, facilitator_rows, participant_rows, now)
        library = await _cases(w, rng, sizes, facilitator_rows + people[:1], plans, now)
        await _agendas_and_notes(w, rng, plans, library, now)
        await _outbox(w, rng, sizes, plans, facilitator_rows, now)
    if w.postgres:  # fresh statistics, so that the planner uses the indexes at this size
        await Person.raw("ANALYZE")
    counts = ", ".join(f"{n:,} {table}" for table, n in w.counts.items())
    return f"Loaded the large office ({label or sizes}): {counts}."
