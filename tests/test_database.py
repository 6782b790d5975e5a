"""The database layer: persistent SQLite connections, serialized writers, the query counter,
prepared queries, the SQLite converters, and migrations that run forward on empty SQLite and
PostgreSQL databases."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


async def test_query_counter_counts_the_statements_a_block_runs(database: Any) -> None:
    from facilitators.tables import Person

    with database.count_queries() as counter:
        await Person.select().where(Person.id == 1)
        await Person.count()
    assert counter.count == 2
    assert all("person" in sql.lower() for sql in counter.statements)
    with database.count_queries() as nothing:
        pass
    assert nothing.count == 0


async def test_twenty_concurrent_writers_never_see_database_is_locked(database: Any) -> None:
    """Read-then-write transactions from 20 tasks at once: all succeed, none is lost."""
    from facilitators.services import PersonInput, create_person
    from facilitators.tables import Person

    counter_id = await create_person(
        PersonInput(name="Counter", email="counter@example.org", department="0"),
        set(),
        actor_id=None,
    )

    async def increment(n: int) -> None:
        async with Person._meta.db.transaction():
            row = await Person.select(Person.department).where(Person.id == counter_id).first()
            assert row is not None
            await asyncio.sleep(0)  # let the others try to interleave
            await Person.update({Person.department: str(int(row["department"]) + 1)}).where(
                Person.id == counter_id
            )
            await create_person(
                PersonInput(name=f"Writer {n}", email=f"writer{n}@example.org"),
                {"participant"},
                actor_id=None,
            )

    results = await asyncio.gather(*(increment(n) for n in range(20)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    if database.engine_type == "sqlite":
        # SQLite transactions are serialized (BEGIN IMMEDIATE on one writer): no lost update.
        # PostgreSQL's READ COMMITTED makes no such promise without row locks.
        row = await Person.select(Person.department).where(Person.id == counter_id).first()
        assert row is not None and row["department"] == "20"
    assert await Person.count().where(Person.email.like("writer%")) == 20


async def test_a_failed_transaction_leaves_nothing_behind(database: Any) -> None:
    from facilitators.tables import Person

    with pytest.raises(RuntimeError):
        async with Person._meta.db.transaction():
            await Person.insert(Person(name="Half", email="half@example.org", email_key="half@"))
            raise RuntimeError("boom")
    assert await Person.count().where(Person.email == "half@example.org") == 0


async def test_sqlite_engine_keeps_its_connections(database: Any) -> None:
    if database.engine_type != "sqlite":
        pytest.skip("SQLite engine only")
    from facilitators.tables import Person

    for _ in range(20):
        await Person.count()
    # Reads run on one connection in the loop's thread, kept; reader threads are opened only
    # when a read must wait for a lock (see the test below), never one per query.
    reader = database._loop_reader
    assert reader is not None
    for _ in range(5):
        await Person.count()
    assert database._loop_reader is reader
    assert len(database._all_readers) <= database._max_readers
    writer = database._writer
    await Person.insert(Person(name="W", email="w@example.org", email_key="w@example.org"))
    await Person.insert(Person(name="W2", email="w2@example.org", email_key="w2@example.org"))
    assert database._writer is writer


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(database: Any) -> None:
    if database.engine_type != "sqlite":
        pytest.skip("SQLite engine only")
    from facilitators.tables import Person

    mode = await Person.raw("PRAGMA journal_mode")
    keys = await Person.raw("PRAGMA foreign_keys")
    assert list(mode[0].values())[0] == "wal"
    assert list(keys[0].values())[0] == 1


def _migrate(database_url: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "MENTORCIRCLE_VAR_DIR": str(var_dir)}
    return subprocess.run(
        [sys.executable, "-m", "cli", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrations_run_forward_on_an_empty_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    first = _migrate(url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "migration(s) applied" in first.stdout
    again = _migrate(url, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "(0 migration(s) applied now)" in again.stdout


def test_migrations_run_forward_on_an_empty_postgresql_database(
    tmp_path: Path, empty_pg_database: str
) -> None:
    first = _migrate(empty_pg_database, tmp_path)
    assert first.returncode == 0, first.stderr
    again = _migrate(empty_pg_database, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "(0 migration(s) applied now)" in again.stdout


_WRITER_SCRIPT = """
import asyncio, sys
from facilitators.tables import Person
from cli import migrate

async def main(worker):
    await migrate()
    engine = Person._meta.db
    for n in range(25):
        async with engine.transaction():
            row = await Person.select(Person.department).where(Person.email_key == "counter@example.org").first()
            await asyncio.sleep(0.001)
            await Person.update({Person.department: str(int(row["department"]) + 1)}).where(
                Person.email_key == "counter@example.org"
            )
    await engine.close_connection_pool()

asyncio.run(main(sys.argv[1]))
"""


def test_two_processes_writing_one_sqlite_file_never_see_database_is_locked(tmp_path: Path) -> None:
    """Read-then-write transactions from two processes at once (the app and a CLI worker, say):
    BEGIN IMMEDIATE and the busy timeout serialize them; no update is lost."""
    import sqlite3

    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        "MENTORCIRCLE_VAR_DIR": str(tmp_path),
    }
    assert _migrate(env["DATABASE_URL"], tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "shared.sqlite3") as connection:
        connection.execute(
            "INSERT INTO person (name, email, email_key, department, career_stage, timezone, active, created_at)"
            " VALUES ('Counter', 'counter@example.org', 'counter@example.org', '0', '', '', 1, '2026-01-01')"
        )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER_SCRIPT, str(n)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    errors = [w.communicate(timeout=120)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], errors
    with sqlite3.connect(tmp_path / "shared.sqlite3") as connection:
        (value,) = connection.execute(
            "SELECT department FROM person WHERE email_key = 'counter@example.org'"
        ).fetchone()
    assert value == "50"


async def test_a_transaction_cancelled_while_waiting_leaves_the_writer_usable(
    database: Any,
) -> None:
    """A client that disconnects while its transaction waits for another process's write lock
    must not leave the shared writer connection inside a transaction."""
    if database.engine_type != "sqlite":
        pytest.skip("SQLite engine only")
    import sqlite3

    from facilitators.tables import Person

    other_process = sqlite3.connect(database.path, timeout=1, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")  # holds SQLite's write lock, as another process would

    async def write() -> None:
        async with Person._meta.db.transaction():
            await Person.insert(
                Person(name="Ghost", email="ghost@example.org", email_key="ghost@example.org")
            )

    task = asyncio.create_task(write())
    await asyncio.sleep(0.3)  # the task is now waiting in BEGIN IMMEDIATE (busy timeout)
    task.cancel()
    await asyncio.sleep(0.1)
    other_process.execute("ROLLBACK")
    other_process.close()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with Person._meta.db.transaction():
        await Person.insert(
            Person(name="Real", email="real@example.org", email_key="real@example.org")
        )
    await Person.insert(Person(name="Auto", email="auto@example.org", email_key="auto@example.org"))
    emails = {row["email"] for row in await Person.select(Person.email)}
    assert {"real@example.org", "auto@example.org"} <= emails
    assert "ghost@example.org" not in emails
    fresh = sqlite3.connect(database.path)
    try:
        seen = {row[0] for row in fresh.execute("SELECT email FROM person")}
    finally:
        fresh.close()
    assert {"real@example.org", "auto@example.org"} <= seen  # committed, visible to others


async def test_a_read_that_must_wait_for_a_lock_waits_off_the_event_loop(tmp_path: Path) -> None:
    """Reads run in the loop's thread and never wait there: when another connection holds a
    lock that readers must wait for, the read waits in a reader thread while the loop runs on,
    and answers once the lock is gone. (In WAL mode, which the engine's writer sets, readers
    wait only in rare moments; a file still in rollback-journal mode shows the same path.)"""
    import sqlite3

    from database import PersistentSQLiteEngine

    path = tmp_path / "locked.sqlite3"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("CREATE TABLE t (n INTEGER)")
    setup.execute("INSERT INTO t VALUES (1), (2)")
    setup.close()
    engine = PersistentSQLiteEngine(path=str(path), busy_timeout_ms=10_000)
    assert await engine._run("SELECT count(*) AS n FROM t", []) == [{"n": 2}]
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # no one may read until it ends
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        read = asyncio.create_task(engine._run("SELECT count(*) AS n FROM t", []))
        await asyncio.sleep(0.3)
        assert not read.done()
        assert ticks >= 10  # the loop kept running while the read waited
        blocker.execute("INSERT INTO t VALUES (3)")
        blocker.execute("COMMIT")
        assert await asyncio.wait_for(read, 10) == [{"n": 3}]
        assert len(engine._all_readers) == 1  # the reader thread it waited on
    finally:
        ticker.cancel()
        blocker.close()
        await engine.close_connection_pool()


async def test_prepared_queries_answer_like_the_queries_they_keep(database: Any) -> None:
    from database import Prepared
    from facilitators.services import PersonInput, create_person
    from facilitators.tables import Person

    ids = [
        await create_person(
            PersonInput(name=f"Prepared {n}", email=f"prepared{n}@example.org"),
            {"participant"},
            actor_id=None,
        )
        for n in range(4)
    ]
    by_ids = Prepared(
        lambda ids, name: (
            Person.select(Person.id, Person.name)
            .where(Person.id.is_in(ids) & (Person.name != name))
            .order_by(Person.id)
        )
    )
    one = Prepared(lambda id: Person.select(Person.name).where(Person.id == id).first())
    for chosen in (ids[:1], ids[:3], ids, ids[1:3], ids[:1]):  # shapes kept and reused
        plain = (
            await Person.select(Person.id, Person.name)
            .where(Person.id.is_in(chosen) & (Person.name != "Prepared 1"))
            .order_by(Person.id)
        )
        assert await by_ids(ids=chosen, name="Prepared 1") == plain
    assert await one(id=ids[2]) == {"name": "Prepared 2"}
    assert await one(id=10**6) is None
    with database.count_queries() as counter:
        await one(id=ids[0])
    assert counter.count == 1
    # Inside a transaction it reads what the transaction wrote.
    async with Person._meta.db.transaction():
        await Person.update({Person.name: "Renamed"}).where(Person.id == ids[0])
        assert await one(id=ids[0]) == {"name": "Renamed"}


async def test_prepared_queries_refuse_what_kept_sql_cannot_mean(database: Any) -> None:
    from database import Prepared
    from facilitators.tables import Person

    by_name = Prepared(lambda name: Person.select(Person.id).where(Person.name == name))
    with pytest.raises(ValueError, match="name may not be None"):
        by_name(name=None)  # Piccolo writes IS NULL for None: a kept "= ?" would match nothing
    by_ids = Prepared(lambda ids: Person.select(Person.id).where(Person.id.is_in(ids)))
    with pytest.raises(ValueError, match="ids may not be None or empty"):
        by_ids(ids=[])
    # A value Piccolo writes into the SQL text (LIMIT) cannot be kept as a placeholder.
    limited = Prepared(lambda n: Person.select(Person.id).limit(n))
    with pytest.raises(TypeError):
        limited(n=3)


def test_sqlite_converters_give_what_piccolos_give() -> None:
    """database.py replaces Piccolo's sqlite3 converters with faster ones: same values."""
    from piccolo.engine import sqlite as piccolo_sqlite

    import database

    for raw in (b"0", b"42", b"-7", b"9007199254740993", b"1.0", b"1e3", b"2.9"):
        assert database._integer_out(raw) == piccolo_sqlite.convert_int_out(raw), raw
    for raw in (b"2026-03-08 08:00:00+00:00", b"2026-11-01 06:30:00.123456", b"2026-01-01"):
        assert database._timestamptz_out(raw) == piccolo_sqlite.convert_timestamptz_out(raw), raw
    for raw in (b"1", b"0"):
        assert database._boolean_out(raw) == piccolo_sqlite.convert_boolean_out(raw)
    for raw in (b"[]", b'["a", "b"]', b"[1, 2, 3]"):
        assert database.load_json(raw) == piccolo_sqlite.convert_array_out(raw)
