"""`mentorcircle backup PATH`: a consistent copy of a SQLite database that is being written to,
made with SQLite's online backup API; on PostgreSQL, advice to use pg_dump."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cli
import settings as settings_module


def _settings_for(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    configured = dataclasses.replace(settings_module.get_settings(), database_url=database_url)
    monkeypatch.setattr(settings_module, "get_settings", lambda: configured)


@pytest.fixture
def busy_database(tmp_path: Path) -> Iterator[tuple[Path, threading.Event, list[int]]]:
    """A WAL-mode SQLite file with rows, and a thread that keeps writing to it: each transaction
    adds one row to `a` and its twin to `b`, so a consistent copy has as many of each."""
    path = tmp_path / "live.sqlite3"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute("CREATE TABLE a (n INTEGER PRIMARY KEY, text TEXT)")
        setup.execute("CREATE TABLE b (n INTEGER PRIMARY KEY)")
        setup.executemany("INSERT INTO a VALUES (?, ?)", ((n, "x" * 200) for n in range(1, 20_001)))
        setup.executemany("INSERT INTO b VALUES (?)", ((n,) for n in range(1, 20_001)))
    stop = threading.Event()
    written = [20_000]

    def write() -> None:
        connection = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            n = written[0]
            while not stop.is_set():
                n += 1
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("INSERT INTO a VALUES (?, ?)", (n, "y" * 200))
                connection.execute("INSERT INTO b VALUES (?)", (n,))
                connection.execute("COMMIT")
                written[0] = n
        finally:
            connection.close()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield path, stop, written
    finally:
        stop.set()
        writer.join(timeout=10)


def _check_copy(copy: Path) -> tuple[int, int]:
    with sqlite3.connect(copy) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        a_count, a_max = connection.execute("SELECT count(*), max(n) FROM a").fetchone()
        (b_count,) = connection.execute("SELECT count(*) FROM b").fetchone()
    assert a_max == a_count, "rows are missing in the middle"
    return a_count, b_count


def test_backups_while_another_connection_writes_are_consistent(
    busy_database: tuple[Path, threading.Event, list[int]], tmp_path: Path
) -> None:
    source, stop, written = busy_database
    counts = []
    for number in range(5):
        target = tmp_path / f"copy-{number}.sqlite3"
        size = cli.backup_sqlite(source, target)
        assert size == target.stat().st_size > 0
        a_count, b_count = _check_copy(target)
        # Every transaction whole or absent: as many rows in a as in b, numbered without gaps.
        assert a_count == b_count >= 20_000
        counts.append(a_count)
    stop.set()
    assert written[0] > 20_000, "the writer never wrote during the backups"
    assert counts == sorted(counts)
    assert not list(tmp_path.glob(".*.partial")), "a partial file was left behind"


def test_the_command_refuses_to_overwrite_unless_forced(
    busy_database: tuple[Path, threading.Event, list[int]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, _, _ = busy_database
    _settings_for(monkeypatch, f"sqlite:///{source}")
    target = tmp_path / "backup.sqlite3"

    assert cli.main(["backup", str(target)]) == 0
    assert "integrity check ok" in capsys.readouterr().out
    first = _check_copy(target)

    assert cli.main(["backup", str(target)]) == 2
    assert "exists: add --force" in capsys.readouterr().err
    assert _check_copy(target) == first  # untouched

    assert cli.main(["backup", "--force", str(target)]) == 0
    assert _check_copy(target)[0] >= first[0]

    assert cli.main(["backup", str(source)]) == 2
    assert "the database itself" in capsys.readouterr().err
    assert cli.main(["backup", str(tmp_path / "no-such-folder" / "b.sqlite3")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_on_postgresql_it_explains_pg_dump(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _settings_for(monkeypatch, "postgresql://postgres@127.0.0.1:5432/mentorcircle")
    assert cli.main(["backup", str(tmp_path / "b.sqlite3")]) == 2
    err = capsys.readouterr().err
    assert "pg_dump --format=custom" in err and "pg_restore" in err
    assert not (tmp_path / "b.sqlite3").exists()


async def test_a_backup_of_the_apps_own_database_while_the_app_writes(
    database: Any, tmp_path: Path
) -> None:
    """The app's engine (its persistent writer connection) keeps writing people while the
    command copies the database; the copy opens and holds what was committed before it."""
    if database.engine_type != "sqlite":
        pytest.skip("the app's database is PostgreSQL here: see the pg_dump test")
    from facilitators.tables import Person

    await Person.insert(
        *[
            Person(
                name=f"Before {n}",
                email=f"before{n}@example.org",
                email_key=f"before{n}@example.org",
            )
            for n in range(200)
        ]
    )
    stop = asyncio.Event()

    async def keep_writing() -> int:
        n = 0
        while not stop.is_set():
            async with Person._meta.db.transaction():
                await Person.insert(
                    Person(
                        name=f"During {n}", email=f"d{n}@example.org", email_key=f"d{n}@example.org"
                    )
                )
            n += 1
            await asyncio.sleep(0)
        return n

    writer = asyncio.create_task(keep_writing())
    target = tmp_path / "app.sqlite3"
    try:
        code = await asyncio.to_thread(cli.main, ["backup", str(target)])
    finally:
        stop.set()
        during = await writer
    assert code == 0 and during > 0
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = [row[0] for row in copy.execute("SELECT name FROM person")]
    assert sum(name.startswith("Before ") for name in names) == 200
    assert sum(name.startswith("During ") for name in names) <= during
