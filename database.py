"""Database engines: a SQLite engine that keeps its connections, pooled PostgreSQL, a query counter.

Piccolo's stock SQLiteEngine opens a new aiosqlite connection (and thread) for every query made
outside a transaction, about 1 ms each. `PersistentSQLiteEngine` keeps its connections: reads
outside a transaction run on one read-only connection in the event loop's own thread (in WAL mode
a read never waits for a writer, and handing it to a thread costs more than most reads take);
every write, and every transaction, goes through one writer connection in its own thread behind
an asyncio lock, so transactions never interleave inside a process and a write waiting for
another process's lock never blocks the loop. Across processes (the CLI dispatcher beside the
app) SQLite's busy timeout and IMMEDIATE transactions serialize writers.

`Prepared` keeps the SQL Piccolo builds for a query, for the queries every page runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import functools
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar, cast

import aiosqlite
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import (
    SQLiteEngine,
    SQLiteTransaction,
    TransactionType,
    dict_factory,
)
from piccolo.query.proxy import Proxy
from piccolo.querystring import QueryString
from piccolo.utils.encoding import load_json

from settings import Settings

# The largest id a row can have: ids are 32-bit integers on PostgreSQL (serial). A bigger number
# from a URL would overflow in the database driver (a 500) instead of finding nothing.
MAX_ID = 2**31 - 1

# Statements that can run on a read-only connection, outside any transaction.
_READ_PREFIXES = ("SELECT", "WITH", "EXPLAIN", "PRAGMA TABLE_INFO", "VALUES")


def _integer_out(value: bytes) -> int:
    try:
        return int(value)
    except ValueError:  # "1.0" or "1e3", as Piccolo's own converter allows
        return int(Decimal(value.decode()))


def _timestamptz_out(value: bytes) -> dt.datetime:
    return dt.datetime.fromisoformat(value.decode()).replace(tzinfo=dt.UTC)


def _boolean_out(value: bytes) -> bool:
    return value == b"1"


# Piccolo registers sqlite3 converters that give every INTEGER, BOOLEAN, TIMESTAMPTZ and ARRAY
# value three Python calls and a Decimal; they were most of the time a page spent reading its
# rows. These give the same values (sqlite3 converters are process-wide, so every SQLite
# connection gets them).
sqlite3.register_converter("INTEGER", _integer_out)
sqlite3.register_converter("TIMESTAMPTZ", _timestamptz_out)
sqlite3.register_converter("BOOLEAN", _boolean_out)
sqlite3.register_converter("ARRAY", load_json)


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
        self._loop_reader: sqlite3.Connection | None = None
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
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None
        for connection in connections:
            with contextlib.suppress(Exception):
                await connection.close()

    # -- running queries -----------------------------------------------------------------

    async def _run_read(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
        connection = self._loop_reader_connection()
        try:
            return cast(list[dict[str, Any]], connection.execute(sql, args).fetchall())
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
        # Busy: another process holds a lock readers must wait for (WAL recovery, a
        # checkpoint). Wait on a reader thread, not on the event loop.
        return await self._run_read_in_thread(sql, args)

    def _loop_reader_connection(self) -> sqlite3.Connection:
        """The connection for reads in the event loop's own thread. In WAL mode a read never
        waits for a writer, and most take less time than handing them to a thread (about
        0.1 ms, and the thread then competes for the GIL): reads run here, like template
        rendering. It does not wait on a lock (busy_timeout 0): see `_run_read`."""
        if self._loop_reader is None:
            connection = sqlite3.connect(**{**self.connection_kwargs, "check_same_thread": False})
            connection.row_factory = dict_factory
            connection.execute("PRAGMA busy_timeout = 0")
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA query_only = ON")
            self._loop_reader = connection
        return self._loop_reader

    async def _run_read_in_thread(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
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
        self._record(querystring.compile_string(engine_type=self.engine_type)[0])
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


class Param:
    """Stands for a value of a `Prepared` query: the `index`-th of a list, or a single one."""

    __slots__ = ("name", "index")

    def __init__(self, name: str, index: int | None = None) -> None:
        self.name = name
        self.index = index

    def __repr__(self) -> str:
        return f"Param({self.name!r}, {self.index!r})"


Q = TypeVar("Q")  # a Piccolo query, or a proxy of one such as `.first()`


@dataclass(frozen=True)
class _Kept(Generic[Q]):
    """A prepared query's SQL for one engine type and shape of values."""

    query: Q
    template: str  # Piccolo's form, "{}" for each value: what logs and counters print
    sql: str  # the engine's form, "?" or "$1"
    slots: tuple[Any, ...]  # each value: a constant of the query, or the Param to put there
    querystring: QueryString

    def bind(self, values: dict[str, Any]) -> Q:
        args = [_value_of(values, slot) if type(slot) is Param else slot for slot in self.slots]
        querystring = QueryString(
            self.template,
            *args,
            query_type=self.querystring.query_type,
            table=self.querystring.table,
        )
        querystring._frozen_compiled_strings = (self.sql, args)
        return cast(Q, _with_sql(self.query, querystring))


def _with_sql(query: Any, querystring: QueryString) -> Any:
    """A copy of `query` (or of the query a proxy such as `.first()` wraps) that runs
    `querystring` instead of building its own."""
    if isinstance(query, Proxy):
        proxy = object.__new__(type(query))  # copy.copy would recurse in Proxy.__getattr__
        proxy.__dict__.update(query.__dict__)
        proxy.query = _with_sql(query.query, querystring)
        return proxy
    ready = copy.copy(query)
    ready._frozen_querystrings = [querystring]
    return ready


@functools.cache
def _engine_type() -> str:
    """The engine type of piccolo_conf's engine, which the tables' queries run on (looking it up
    imports piccolo_conf again each time)."""
    engine = engine_finder()
    assert engine is not None
    return str(engine.engine_type)


class Prepared(Generic[Q]):
    """A Piccolo query whose SQL is built once, then run with new values.

    Piccolo builds a query's SQL anew on every run, 0.2 to 1 ms of Python for a select with a
    join: more than SQLite takes to answer it, and most of a page's time. `build` is called
    with `Param` placeholders once per engine type and per length of each list value (for
    `is_in`); the SQL it makes is kept, and each call returns that query with the values in
    their places, to await like any other (transactions, counting, `.first()`, `.output()`).

        _ROLES = Prepared(lambda person: RoleGrant.select(RoleGrant.role).where(
            RoleGrant.person == person))
        rows = await _ROLES(person=person_id)

    A value may not be None (Piccolo writes `IS NULL` for None, which kept SQL cannot) and a
    list may not be empty (`is_in` refuses one).
    """

    _KEEP = 64  # shapes kept per query; list lengths vary with the viewer

    def __init__(self, build: Callable[..., Q]) -> None:
        self._build = build
        self._kept: dict[tuple[Any, ...], _Kept[Q]] = {}

    def __call__(self, **values: Any) -> Q:
        for name, value in values.items():
            if value is None or (isinstance(value, list | tuple) and not value):
                raise ValueError(f"prepared query: {name} may not be None or empty")
        shape = (
            _engine_type(),
            *((name, len(v) if isinstance(v, list | tuple) else -1) for name, v in values.items()),
        )
        kept = self._kept.get(shape)
        if kept is None:
            kept = self._keep(shape, values)
        return kept.bind(values)

    def _keep(self, shape: tuple[Any, ...], values: dict[str, Any]) -> _Kept[Q]:
        placeholders = {
            name: [Param(name, i) for i in range(len(v))]
            if isinstance(v, list | tuple)
            else Param(name)
            for name, v in values.items()
        }
        query: Any = self._build(**placeholders)
        querystrings = query.querystrings
        if len(querystrings) != 1:
            raise TypeError("a prepared query must be one SQL statement")
        (querystring,) = querystrings
        sql, args = querystring.compile_string(engine_type=query.engine_type)
        used = {arg.name for arg in args if isinstance(arg, Param)}
        if unused := set(values) - used:
            raise TypeError(f"the prepared query does not use {', '.join(sorted(unused))}")
        _, fragments, _ = querystring.bundle(start_index=1, bundled=[], combined_args=[])
        kept = _Kept(
            query=query,
            template="".join(f.prefix + ("" if f.no_arg else "{}") for f in fragments),
            sql=sql,
            slots=tuple(args),
            querystring=querystring,
        )
        if len(self._kept) >= self._KEEP:
            self._kept.clear()
        self._kept[shape] = kept
        return kept


def _value_of(values: dict[str, Any], param: Param) -> Any:
    value = values[param.name] if param.index is None else values[param.name][param.index]
    return value.value if isinstance(value, Enum) else value


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
