"""Database engines: a SQLite engine that keeps its connections, pooled PostgreSQL, a query counter.

Piccolo's stock SQLiteEngine opens a new aiosqlite connection (and thread) for every query made
outside a transaction, about 1 ms each. `PersistentSQLiteEngine` keeps a small pool of read-only
connections and one writer connection. Every write, and every transaction, goes through the writer
behind an asyncio lock, so transactions never interleave inside a process; across processes
(the CLI dispatcher beside the app) SQLite's busy timeout and IMMEDIATE transactions serialize them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import aiosqlite
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import (
    SQLiteEngine,
    SQLiteTransaction,
    TransactionType,
    dict_factory,
)
from piccolo.querystring import QueryString

from settings import Settings

# The largest id a row can have: ids are 32-bit integers on PostgreSQL (serial). A bigger number
# from a URL would overflow in the database driver (a 500) instead of finding nothing.
MAX_ID = 2**31 - 1

# Statements that can run on a read-only connection, outside any transaction.
_READ_PREFIXES = ("SELECT", "WITH", "EXPLAIN", "PRAGMA TABLE_INFO", "VALUES")


@dataclass
class QueryCounter:
    """What a block of code asked the database: see `count_queries`."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


class _CountingMixin:
    """Lets a test count the SQL statements that a block of code runs."""

    _counters: list[QueryCounter]

    def _record(self, sql: str) -> None:
        for counter in self._counters:
            counter.statements.append(sql)

    @contextlib.contextmanager
    def count_queries(self) -> Iterator[QueryCounter]:
        counter = QueryCounter()
        self._counters.append(counter)
        try:
            yield counter
        finally:
            self._counters.remove(counter)


class _WriterTransaction(SQLiteTransaction):
    """A transaction on the engine's single writer connection, always BEGIN IMMEDIATE.

    The writer lock is held from BEGIN to COMMIT/ROLLBACK. A statement handed to aiosqlite runs
    to the end in its thread even when the awaiting task is cancelled, so the lock is released
    only once the connection is known to be outside any transaction again.
    """

    engine: PersistentSQLiteEngine

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.engine._acquire_writer()
        try:
            # IMMEDIATE takes SQLite's write lock up front: a DEFERRED read-then-write
            # transaction fails with "database is locked" when another process writes between.
            await _run_to_completion(self.connection.execute("BEGIN IMMEDIATE"))
        except BaseException:
            await self.engine._release_writer()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        try:
            self.engine.current_transaction.reset(self.context)
        finally:
            try:
                if exception is None and not self._committed and not self._rolled_back:
                    await _run_to_completion(self.connection.execute("COMMIT"))
                    self._committed = True
            finally:
                # Rolls back whatever is still open (an exception, a failed COMMIT).
                await self.engine._release_writer()
        return exception is None


async def _run_to_completion(statement: Any) -> Any:
    """Await a statement; if the awaiting task is cancelled, still wait for the statement to
    finish before the cancellation goes on, so that its effect is known."""
    task = asyncio.ensure_future(statement)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise


class PersistentSQLiteEngine(_CountingMixin, SQLiteEngine):
    """SQLite with persistent connections: N readers, one writer behind a lock, WAL mode."""

    def __init__(self, path: str, readers: int = 4, busy_timeout_ms: int = 10_000) -> None:
        super().__init__(path=path, timeout=busy_timeout_ms / 1000)
        self._counters = []
        self._busy_timeout_ms = busy_timeout_ms
        self._max_readers = readers
        self._writer: aiosqlite.Connection | None = None
        self._idle_readers: list[aiosqlite.Connection] = []
        self._all_readers: list[aiosqlite.Connection] = []
        # asyncio primitives belong to one event loop; the CLI runs several loops in turn.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._reader_slots: asyncio.Semaphore | None = None

    # -- connections ---------------------------------------------------------------------

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._lock = asyncio.Lock()
            self._reader_slots = asyncio.Semaphore(self._max_readers)

    def _writer_lock(self) -> asyncio.Lock:
        self._bind_loop()
        assert self._lock is not None
        return self._lock

    async def _open(self, *, read_only: bool) -> aiosqlite.Connection:
        pending = aiosqlite.connect(**self.connection_kwargs)
        # A forgotten connection must not keep the interpreter alive at exit.
        pending._thread.daemon = True
        connection = await pending
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        await connection.execute("PRAGMA foreign_keys = ON")
        if read_only:
            await connection.execute("PRAGMA query_only = ON")
        else:
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    async def _writer_connection(self) -> aiosqlite.Connection:
        if self._writer is None:
            self._writer = await self._open(read_only=False)
        return self._writer

    async def _acquire_writer(self) -> aiosqlite.Connection:
        """Take the writer lock and the writer connection, outside any transaction."""
        lock = self._writer_lock()
        await lock.acquire()
        try:
            connection = await self._writer_connection()
            if connection.in_transaction:  # left behind by a crash in a previous holder
                await _run_to_completion(connection.execute("ROLLBACK"))
            return connection
        except BaseException:
            lock.release()
            raise

    async def _release_writer(self) -> None:
        """Roll back anything still open on the writer, then let the next writer in."""
        try:
            writer = self._writer
            if writer is not None and writer.in_transaction:
                with contextlib.suppress(Exception):
                    await _run_to_completion(writer.execute("ROLLBACK"))
        finally:
            self._writer_lock().release()

    async def get_connection(self) -> aiosqlite.Connection:
        """A fresh connection (Piccolo's batch() uses it); the caller closes it."""
        return await self._open(read_only=False)

    async def start_connection_pool(self, **kwargs: Any) -> None:
        await self._acquire_writer()
        await self._release_writer()

    async def close_connection_pool(self) -> None:
        connections = [*self._all_readers]
        if self._writer is not None:
            connections.append(self._writer)
        self._writer = None
        self._idle_readers.clear()
        self._all_readers.clear()
        for connection in connections:
            with contextlib.suppress(Exception):
                await connection.close()

    # -- running queries -----------------------------------------------------------------

    async def _run_read(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
        self._bind_loop()
        assert self._reader_slots is not None
        async with self._reader_slots:
            connection = (
                self._idle_readers.pop() if self._idle_readers else await self._open_reader()
            )
            try:
                return await self._fetch(connection, sql, args)
            finally:
                self._idle_readers.append(connection)

    async def _open_reader(self) -> aiosqlite.Connection:
        connection = await self._open(read_only=True)
        self._all_readers.append(connection)
        return connection

    async def _run_write(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
        connection = await self._acquire_writer()
        try:
            return await _run_to_completion(self._fetch(connection, sql, args))
        finally:
            await self._release_writer()

    @staticmethod
    async def _fetch(
        connection: aiosqlite.Connection, sql: str, args: list[Any]
    ) -> list[dict[str, Any]]:
        # One trip to the connection's thread (execute, fetch and close would be three).
        return cast(list[dict[str, Any]], list(await connection.execute_fetchall(sql, args)))

    async def _run(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
        self._record(sql)
        transaction = self.current_transaction.get()
        if transaction is not None:
            return await self._fetch(transaction.connection, sql, args)
        if sql.lstrip().upper().startswith(_READ_PREFIXES):
            return await self._run_read(sql, args)
        return await self._run_write(sql, args)

    async def run_querystring(self, querystring: QueryString, in_pool: bool = False) -> Any:
        query_id = self.get_query_id()
        if self.log_queries:
            self.print_query(query_id=query_id, query=str(querystring))
        sql, args = querystring.compile_string(engine_type=self.engine_type)
        response = await self._run(sql, args)
        if self.log_responses:
            self.print_response(query_id=query_id, response=response)
        return response

    async def run_ddl(self, ddl: str, in_pool: bool = False) -> Any:
        if self.log_queries:
            self.print_query(query_id=self.get_query_id(), query=ddl)
        return await self._run(ddl, [])

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.immediate,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return _WriterTransaction(
            engine=self, transaction_type=TransactionType.immediate, allow_nested=allow_nested
        )


class CountingPostgresEngine(_CountingMixin, PostgresEngine):
    """Piccolo's pooled PostgreSQL engine, with the same query counter as SQLite."""

    def __init__(self, config: dict[str, Any], pool_min: int, pool_max: int) -> None:
        super().__init__(config=config, extra_nodes={})
        self._counters = []
        self._pool_sizes = {"min_size": pool_min, "max_size": pool_max}

    async def start_connection_pool(self, **kwargs: Any) -> None:
        await super().start_connection_pool(**{**self._pool_sizes, **kwargs})

    async def run_querystring(self, querystring: QueryString, in_pool: bool = True) -> Any:
        self._record(str(querystring))
        return await super().run_querystring(querystring, in_pool=in_pool)

    async def run_ddl(self, ddl: str, in_pool: bool = True) -> Any:
        self._record(ddl)
        return await super().run_ddl(ddl, in_pool=in_pool)


Engine = PersistentSQLiteEngine | CountingPostgresEngine


def make_engine(settings: Settings) -> Engine:
    """The engine DATABASE_URL names: a SQLite file (default) or a PostgreSQL pool."""
    if settings.is_postgres:
        return CountingPostgresEngine(
            config={"dsn": settings.database_url},
            pool_min=settings.pg_pool_min,
            pool_max=settings.pg_pool_max,
        )
    path = settings.sqlite_path
    path.parent.mkdir(parents=True, exist_ok=True)
    return PersistentSQLiteEngine(
        path=str(path),
        readers=settings.sqlite_readers,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )


def lock_for_update(query: Any) -> Any:
    """SELECT ... FOR UPDATE on PostgreSQL. SQLite needs none: its writes and transactions are
    already serialized (one writer, BEGIN IMMEDIATE) and it has no row locks."""
    return query.lock_rows("UPDATE") if query.engine_type == "postgres" else query


async def take_turns(*names: str) -> None:
    """In the caller's transaction: wait until no other transaction holds any of these names
    (PostgreSQL advisory locks, released at commit). For work that has no row to lock, such as
    counting requests or checking that a title is new. SQLite needs none (one writer)."""
    engine = engine_finder()
    if engine is None or engine.engine_type != "postgres":
        return
    for name in sorted(set(names)):
        await engine.run_querystring(
            QueryString("SELECT pg_advisory_xact_lock(hashtext({}))", name)
        )


def pool_is_running(engine: Any) -> bool:
    """Whether an engine's connections (SQLite writer, PostgreSQL pool) are open."""
    if isinstance(engine, PersistentSQLiteEngine):
        return engine._writer is not None
    return getattr(engine, "pool", None) is not None


def is_unique_violation(error: BaseException) -> bool:
    """True when a write failed on a UNIQUE constraint, on either engine."""
    if isinstance(error, sqlite3.IntegrityError):
        return "UNIQUE" in str(error)
    return type(error).__name__ == "UniqueViolationError"
