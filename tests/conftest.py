"""Test set-up: a real database (SQLite by default, PostgreSQL with TEST_DATABASE_URL), the app
with its lifespan entered in the test's own event loop, and people in every role.

Environment is set before any project module is imported, because piccolo_conf reads it once.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_VAR = Path(tempfile.mkdtemp(prefix="mentorcircle-tests-"))
os.environ["MENTORCIRCLE_VAR_DIR"] = str(_VAR)
os.environ["DATABASE_URL"] = (
    os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{_VAR / 'test.sqlite3'}"
)
os.environ["SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ["PASSWORD_ITERATIONS"] = "1000"
os.environ["BASE_URL"] = "http://testserver"
os.environ["MAIL_FROM"] = "mentorcircle@example.org"
# Tests dispatch the outbox themselves, when and as they choose.
os.environ["DISPATCH_IN_APP"] = "false"
# Sign-in link requests answer in constant time; tests need not wait for it (one test does).
os.environ["SIGN_IN_RESPONSE_SECONDS"] = "0.02"

import httpx  # noqa: E402
from piccolo.engine import engine_finder  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# The suite's pass on PostgreSQL (TEST_DATABASE_URL): tests of several processes sharing a
# PostgreSQL database run in that pass only, whichever database they make.
ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
PASSWORD = "correct horse battery"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def skip_or_fail(reason: str) -> None:
    """On a laptop a missing PostgreSQL or browser skips with the reason; in CI it fails."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must not be skipped)")
    pytest.skip(reason)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_VAR, ignore_errors=True)


# -- database -------------------------------------------------------------------------------

# Deleted between tests, children first. The shipped curricula and competencies stay.
_TABLES = (
    "note_revision",
    "discussion_note",
    "scribe",
    "agenda_item",
    "case_comment",
    "case_revision",
    "case_study",
    "outbox_message",
    "audit_entry",
    "attendance",
    "enrollment",
    "session",
    "cohort_facilitator",
    "cohort",
    "sign_in_attempt",
    "sign_in_link",
    "api_token",
    "role_grant",
    "account",
    "facilitator_credential",
    "person",
)


async def _reset_postgres() -> None:
    from facilitators.tables import Person

    await Person.raw("DROP SCHEMA public CASCADE")
    await Person.raw("CREATE SCHEMA public")


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[Any]:
    """A freshly migrated database for the whole run."""
    import cli
    from database import pool_is_running

    engine = engine_finder()
    assert engine is not None
    if engine.engine_type == "postgres":
        try:
            await engine.start_connection_pool()
            await _reset_postgres()
        except OSError as error:
            skip_or_fail(f"PostgreSQL at TEST_DATABASE_URL is not reachable: {error}")
    await cli.migrate()
    yield engine
    if pool_is_running(engine):
        await engine.close_connection_pool()


@pytest.fixture(autouse=True)
async def clean_database(database: Any) -> AsyncIterator[None]:
    yield
    from facilitators.tables import Person
    from sessions.tables import CurriculumTemplate

    async with Person._meta.db.transaction():
        for table in _TABLES:
            await Person.raw(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        if Person._meta.db.engine_type == "sqlite":  # the case search index (PostgreSQL: a column)
            await Person.raw("DELETE FROM case_study_fts")
        await CurriculumTemplate.delete().where(CurriculumTemplate.builtin == False)  # noqa: E712


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test (its URL), dropped afterwards."""
    import asyncio
    import uuid

    name = f"mc_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError) as error:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {error}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# -- the app --------------------------------------------------------------------------------


@asynccontextmanager
async def running(application: Any) -> AsyncIterator[Any]:
    """Run an ASGI app's lifespan in one task of its own, as a server would: startup and
    shutdown happen in the same task even when a fixture's teardown runs in another."""
    import asyncio

    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def send(message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            started.set_result(None)
        elif kind == "lifespan.startup.failed":
            started.set_exception(RuntimeError(message.get("message", "startup failed")))
        elif kind == "lifespan.shutdown.complete":
            stopped.set_result(None)
        elif kind == "lifespan.shutdown.failed":
            stopped.set_exception(RuntimeError(message.get("message", "shutdown failed")))

    task = asyncio.create_task(
        application({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, send)
    )
    await inbox.put({"type": "lifespan.startup"})
    await started
    try:
        yield application
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await stopped
        await task


_BUILT: list[Any] = []


@pytest.fixture
async def app(database: Any) -> AsyncIterator[Any]:
    """The app, started for each test. It is built once for the run (registering its routes
    takes most of a second): what it keeps lives in the database, which each test starts
    empty, and in signed cookies. Tests of other settings build their own."""
    from app import create_app

    if not _BUILT:
        _BUILT.append(create_app())
    async with running(_BUILT[0]) as application:
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as test_client:
        yield test_client


@pytest.fixture
def make_client(app: Any) -> Iterator[Any]:
    """More clients on the same app: one browser each."""
    clients: list[httpx.AsyncClient] = []

    def factory() -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(c)
        return c

    yield factory


_CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def csrf_token(client: httpx.AsyncClient, path: str = "/sign-in") -> str:
    """The token a form on `path` carries (the double-submit value of the mc_csrf cookie)."""
    response = await client.get(path)
    match = _CSRF_FIELD.search(response.text)
    if match:
        return match.group(1)
    cookie = client.cookies.get("mc_csrf")
    assert cookie, f"no CSRF field or cookie after GET {path} (status {response.status_code})"
    return cookie


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, Any], *, page: str = "/"
) -> httpx.Response:
    """Submit a form as a browser would: with the CSRF token from a page it loaded."""
    token = await csrf_token(client, page)
    return await client.post(path, data={**data, "_csrf_token": token})


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    token = await csrf_token(client, "/sign-in")
    return await client.post(
        "/sign-in", data={"email": email, "password": password, "_csrf_token": token}
    )


# -- people and cohorts ---------------------------------------------------------------------


@dataclass
class Person:
    id: int
    email: str
    name: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_person(email: str, roles: set[str], name: str | None = None) -> Person:
    from facilitators.services import PersonInput, create_person, create_token

    name = name or email.split("@")[0].replace(".", " ").title()
    person_id = await create_person(
        PersonInput(name=name, email=email),
        roles,
        actor_id=None,
        password=PASSWORD,
    )
    token = await create_token(person_id, "tests", actor_id=None)
    return Person(person_id, email, name, token)


@dataclass
class World:
    """Two cohorts and someone in every position the authorization rules distinguish."""

    admin: Person
    staff: Person
    facilitator_a: Person
    facilitator_b: Person
    participant_a: Person
    participant_b: Person
    cohort_a: int
    cohort_b: int

    def as_role(self, role: str) -> Person | None:
        return {
            "anonymous": None,
            "participant_a": self.participant_a,
            "participant_b": self.participant_b,
            "facilitator_a": self.facilitator_a,
            "facilitator_b": self.facilitator_b,
            "staff": self.staff,
            "admin": self.admin,
        }[role]


@pytest.fixture
async def world(database: Any) -> World:
    import datetime as dt

    from facilitators.services import CurrentUser
    from sessions.roster import add_participant
    from sessions.schedule import ScheduleRule
    from sessions.services import CohortInput, create_cohort
    from sessions.tables import CurriculumTemplate

    admin = await make_person("admin@example.org", {"admin"})
    staff = await make_person("staff@example.org", {"staff"})
    fac_a = await make_person("fac.a@example.org", {"facilitator"})
    fac_b = await make_person("fac.b@example.org", {"facilitator"})
    part_a = await make_person("part.a@example.edu", {"participant"})
    part_b = await make_person("part.b@example.edu", {"participant"})
    acting = CurrentUser(admin.id, "Admin", admin.email, frozenset({"admin"}))
    curriculum = (
        await CurriculumTemplate.select(CurriculumTemplate.id)
        .where(CurriculumTemplate.slug == "entering-mentoring-8x60")
        .first()
    )
    assert curriculum is not None
    # The first session met a week ago; the other seven are still to come.
    start = dt.date.today() - dt.timedelta(days=7)
    cohorts = []
    for name, facilitator, participant in (
        ("Cohort A", fac_a, part_a),
        ("Cohort B", fac_b, part_b),
    ):
        created = await create_cohort(
            CohortInput(
                name=name,
                timezone="America/Chicago",
                curriculum_id=curriculum["id"],
                facilitator_ids=(facilitator.id,),
                schedule=ScheduleRule(first_date=start, start_time=dt.time(15, 0)),
            ),
            actor=acting,
        )
        await add_participant(created.id, participant.email, None, actor=acting)
        cohorts.append(created.id)
    return World(admin, staff, fac_a, fac_b, part_a, part_b, cohorts[0], cohorts[1])


# A real SMTP server for the tests that send mail (fixture `smtp_server`).
from tests.smtp import smtp_server  # noqa: E402, F401
