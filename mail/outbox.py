"""The outbox: enqueue frozen messages (a key can be enqueued once), hold and release them,
cancel what a change supersedes, and let dispatchers claim due messages under a lease.

Callers hand over finished content, a key and topic labels; this module imports no app.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from piccolo.query.functions.aggregate import Count

from database import Prepared, lock_for_update
from mail.compose import Draft, compose, message_id_for
from mail.tables import MessageState, OutboxMessage

QUEUED = MessageState.queued.value
HELD = MessageState.held.value
SENDING = MessageState.sending.value
SENT = MessageState.sent.value
FAILED = MessageState.failed.value
CANCELLED = MessageState.cancelled.value
WAITING = (HELD, QUEUED)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class NewMessage:
    key: str
    kind: str
    recipient: str
    subject: str
    content: bytes
    message_id: str
    send_after: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    held: bool = False
    confidential: bool = False
    cohort_id: int | None = None
    session_id: int | None = None
    person_id: int | None = None


def composed(
    draft: Draft,
    *,
    key: str,
    kind: str,
    domain: str,
    now: dt.datetime | None = None,
    **fields: Any,
) -> NewMessage:
    """A message ready to enqueue: `draft` composed once, under `key` (its Message-ID derives
    from the key). `fields` are the rest of NewMessage: send_after, labels, confidential..."""
    return NewMessage(
        key=key,
        kind=kind,
        recipient=parseaddr(draft.recipient)[1],
        subject=draft.subject,
        content=compose(draft, key=key, domain=domain, now=now),
        message_id=message_id_for(key, domain),
        **fields,
    )


async def enqueue(messages: list[NewMessage]) -> int:
    """Add messages; a key already in the outbox is left as it is (never a second email).
    Returns how many were added. Runs in the caller's transaction when there is one."""
    if not messages:
        return 0
    rows = (
        await OutboxMessage.insert(
            *[
                OutboxMessage(
                    key=m.key,
                    kind=m.kind,
                    recipient=m.recipient,
                    subject=m.subject[:300],
                    content=m.content,
                    message_id=m.message_id,
                    state=HELD if m.held and not m.confidential else QUEUED,
                    send_after=m.send_after or _now(),
                    expires_at=m.expires_at,
                    confidential=m.confidential,
                    cohort_id=m.cohort_id,
                    session_id=m.session_id,
                    person_id=m.person_id,
                )
                for m in messages
            ]
        )
        .on_conflict(target=OutboxMessage.key, action="DO NOTHING")
        .returning(OutboxMessage.id)
    )
    return len(rows)


async def cancel_waiting(
    *,
    session_id: int | None = None,
    person_id: int | None = None,
    cohort_id: int | None = None,
    kinds: tuple[str, ...] = (),
    except_keys: tuple[str, ...] = (),
    person_ids: list[int] | None = None,
) -> int:
    """Cancel held or queued messages about a session, a person (in a cohort), or a cohort:
    called in the same transaction as the change that supersedes them."""
    if session_id is None and person_id is None and cohort_id is None:
        raise ValueError("say which messages: by session, person or cohort")
    # A message being sent is superseded too: if it goes out, its outcome is not recorded,
    # and it is never put back in the queue behind the message that replaced it.
    where: Any = OutboxMessage.state.is_in([*WAITING, SENDING])
    if session_id is not None:
        where &= OutboxMessage.session_id == session_id
    if person_id is not None:
        where &= OutboxMessage.person_id == person_id
    if cohort_id is not None:
        where &= OutboxMessage.cohort_id == cohort_id
    if kinds:
        where &= OutboxMessage.kind.is_in(list(kinds))
    if person_ids is not None:
        if not person_ids:
            return 0
        where &= OutboxMessage.person_id.is_in(person_ids)
    if except_keys:
        where &= OutboxMessage.key.not_in(list(except_keys))
    rows = (
        await OutboxMessage.update({OutboxMessage.state: CANCELLED})
        .where(where)
        .returning(OutboxMessage.id)
    )
    return len(rows)


@dataclass(frozen=True)
class Claimed:
    id: int
    key: str
    recipient: str
    content: bytes
    attempts: int
    expires_at: dt.datetime | None
    token: str


async def claim(
    batch: int,
    lease_seconds: float,
    now: dt.datetime | None = None,
    *,
    only: OutboxFilter | None = None,
) -> list[Claimed]:
    """Take up to `batch` messages due at `now` for sending, under a lease that starts now (in
    real time, whatever `now` says). A message is due when queued and its time has come, or
    when another dispatcher's lease on it ran out (that dispatcher died). PostgreSQL: FOR
    UPDATE SKIP LOCKED, so that dispatchers never claim the same message; SQLite: the
    IMMEDIATE transaction does the same. Each claim has its own token: only its holder may
    record an outcome."""
    due_at = now or _now()
    real_now = _now()
    due: Any = ((OutboxMessage.state == QUEUED) & (OutboxMessage.send_after <= due_at)) | (
        (OutboxMessage.state == SENDING) & (OutboxMessage.lease_until < real_now)
    )
    if only is not None:  # "send now" for the set a staff member filtered
        due = due & _where(
            OutboxFilter(only.cohort_id, only.session_id, only.kind, "", only.recipient)
        )
    token = uuid.uuid4().hex
    async with OutboxMessage._meta.db.transaction():
        query = OutboxMessage.select(
            OutboxMessage.id,
            OutboxMessage.key,
            OutboxMessage.recipient,
            OutboxMessage.content,
            OutboxMessage.attempts,
            OutboxMessage.expires_at,
        ).where(due)
        if query.engine_type == "postgres":
            query = query.lock_rows("UPDATE", skip_locked=True)
        else:
            query = lock_for_update(query)
        rows = (
            await query.order_by(OutboxMessage.send_after).order_by(OutboxMessage.id).limit(batch)
        )
        if not rows:
            return []
        await OutboxMessage.update(
            {
                OutboxMessage.state: SENDING,
                OutboxMessage.lease_until: real_now + dt.timedelta(seconds=lease_seconds),
                OutboxMessage.lease_token: token,
                OutboxMessage.attempts: OutboxMessage.attempts + 1,
            }
        ).where(OutboxMessage.id.is_in([row["id"] for row in rows]))
    return [
        Claimed(
            id=row["id"],
            key=row["key"],
            recipient=row["recipient"],
            content=bytes(row["content"]),
            attempts=row["attempts"] + 1,
            expires_at=row["expires_at"],
            token=token,
        )
        for row in rows
    ]


async def renew(token: str, lease_seconds: float) -> set[int]:
    """Extend this claim's lease on the messages it still holds; returns their ids. A message
    no longer held (its lease ran out and another dispatcher took it, or a change superseded
    it) must not be sent by this dispatcher."""
    rows = (
        await OutboxMessage.update(
            {OutboxMessage.lease_until: _now() + dt.timedelta(seconds=lease_seconds)}
        )
        .where((OutboxMessage.lease_token == token) & (OutboxMessage.state == SENDING))
        .returning(OutboxMessage.id)
    )
    return {row["id"] for row in rows}


def _held(message: Claimed) -> Any:
    return (
        (OutboxMessage.id == message.id)
        & (OutboxMessage.state == SENDING)
        & (OutboxMessage.lease_token == message.token)
    )


async def mark_sent(message: Claimed, code: int, reply: str) -> None:
    await OutboxMessage.update(
        {
            OutboxMessage.state: SENT,
            OutboxMessage.sent_at: _now(),
            OutboxMessage.last_code: code,
            OutboxMessage.last_error: "" if 200 <= code < 300 else reply[:2000],
            OutboxMessage.lease_until: None,
        }
    ).where(_held(message))


async def mark_retry(message: Claimed, code: int | None, reply: str, retry_at: dt.datetime) -> None:
    await OutboxMessage.update(
        {
            OutboxMessage.state: QUEUED,
            OutboxMessage.send_after: retry_at,
            OutboxMessage.last_code: code,
            OutboxMessage.last_error: reply[:2000],
            OutboxMessage.lease_until: None,
        }
    ).where(_held(message))


async def mark_failed(message: Claimed, code: int | None, reply: str) -> None:
    await OutboxMessage.update(
        {
            OutboxMessage.state: FAILED,
            OutboxMessage.last_code: code,
            OutboxMessage.last_error: reply[:2000],
            OutboxMessage.lease_until: None,
        }
    ).where(_held(message))


async def counts(cohort_id: int | None = None) -> dict[str, int]:
    """Messages per state (for progress displays), in one query."""
    query = OutboxMessage.select(OutboxMessage.state, Count(alias="n")).group_by(
        OutboxMessage.state
    )
    if cohort_id is not None:
        query = query.where(OutboxMessage.cohort_id == cohort_id)
    result: dict[str, int] = {state.value: 0 for state in MessageState}
    for row in await query:
        result[row["state"]] = row["n"]
    return result


# Past this many, the outbox page shows a state's count as "1,000+": counting on would read
# rows the page does not show (sent messages accumulate without end). Counting 1,000 costs
# about 0.15 ms on SQLite and 1 ms on PostgreSQL (index entries, heap rows).
COUNT_CAP = 1_000


@dataclass(frozen=True)
class StateCount:
    """How many messages are in one state: exact up to COUNT_CAP, else "more than n"."""

    n: int
    more: bool = False

    def __str__(self) -> str:
        return f"{self.n:,}+" if self.more else f"{self.n:,}"

    def __bool__(self) -> bool:
        return self.n > 0


async def capped_counts(cohort_id: int | None = None) -> dict[str, StateCount]:
    """Messages per state (for the outbox page), in one statement that reads at most
    COUNT_CAP + 1 index entries a state: exact for the few held, queued, sending or failed."""
    cap = COUNT_CAP
    only = "cohort_id = {} AND " if cohort_id is not None else ""
    # Each state is written into the SQL, not passed as a value, so that PostgreSQL plans for
    # it; and counted in the order of the index by state (or cohort and state), so that it
    # reads that index rather than the table up to wherever enough of a state turn up.
    counted = (
        f"(SELECT COUNT(*) FROM (SELECT 1 FROM outbox_message"  # noqa: S608 - states, a number
        f" WHERE {only}state = '{state.value}' ORDER BY id LIMIT {cap + 1}) AS m) AS {state.value}"
        for state in MessageState
    )
    sql = "SELECT " + ", ".join(counted)
    (row,) = await OutboxMessage.raw(sql, *([cohort_id] * len(MessageState) if only else []))
    return {
        state.value: StateCount(min(row[state.value], cap), row[state.value] > cap)
        for state in MessageState
    }


# -- reading and acting on messages (staff pages and API) ------------------------------------


@dataclass(frozen=True)
class MessageRow:
    id: int
    key: str
    kind: str
    recipient: str
    subject: str
    message_id: str
    state: str
    send_after: dt.datetime
    attempts: int
    last_code: int | None
    last_error: str
    sent_at: dt.datetime | None
    created_at: dt.datetime
    confidential: bool
    cohort_id: int | None
    session_id: int | None
    person_id: int | None


@dataclass(frozen=True)
class OutboxFilter:
    cohort_id: int | None = None
    session_id: int | None = None
    kind: str = ""
    state: str = ""
    recipient: str = ""
    limit: int = 100
    offset: int = 0


_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.key,
    OutboxMessage.kind,
    OutboxMessage.recipient,
    OutboxMessage.subject,
    OutboxMessage.message_id,
    OutboxMessage.state,
    OutboxMessage.send_after,
    OutboxMessage.attempts,
    OutboxMessage.last_code,
    OutboxMessage.last_error,
    OutboxMessage.sent_at,
    OutboxMessage.created_at,
    OutboxMessage.confidential,
    OutboxMessage.cohort_id,
    OutboxMessage.session_id,
    OutboxMessage.person_id,
)


def _filter_values(criteria: OutboxFilter) -> dict[str, Any]:
    """The criteria given, by name, as `_matching` takes them."""
    values: dict[str, Any] = {}
    if criteria.cohort_id is not None:
        values["cohort_id"] = criteria.cohort_id
    if criteria.session_id is not None:
        values["session_id"] = criteria.session_id
    if criteria.kind:
        values["kind"] = criteria.kind
    if criteria.state:
        values["state"] = criteria.state
    if criteria.recipient:
        # LIKE's wildcards in what staff type stand for one character (which matches the
        # character itself too): "first_last" finds first_last@..., the same on both engines.
        needle = criteria.recipient.strip().lower().replace("%", "_")
        values["recipient"] = f"%{needle}%"
    return values


def _matching(
    cohort_id: Any = None,
    session_id: Any = None,
    kind: Any = None,
    state: Any = None,
    recipient: Any = None,
) -> Any:
    """The WHERE clause for these criteria: values, or a `Prepared` query's placeholders."""
    where: Any = OutboxMessage.id > 0
    if cohort_id is not None:
        where &= OutboxMessage.cohort_id == cohort_id
    if session_id is not None:
        where &= OutboxMessage.session_id == session_id
    if kind is not None:
        where &= OutboxMessage.kind == kind
    if state is not None:
        where &= OutboxMessage.state == state
    if recipient is not None:
        column = OutboxMessage.recipient
        # SQLite's LIKE ignores ASCII case already; PostgreSQL needs ILIKE.
        match = column.ilike if OutboxMessage._meta.db.engine_type == "postgres" else column.like
        where &= match(recipient)
    return where


def _where(criteria: OutboxFilter) -> Any:
    return _matching(**_filter_values(criteria))


async def list_messages(criteria: OutboxFilter) -> list[MessageRow]:
    """Newest first: metadata only, never a body."""
    rows = (
        await OutboxMessage.select(*_COLUMNS)
        .where(_where(criteria))
        .order_by(OutboxMessage.id, ascending=False)
        .limit(min(max(criteria.limit, 1), 500))
        .offset(max(criteria.offset, 0))
    )
    return [MessageRow(**row) for row in rows]


# The outbox page shows this many, the newest that match, read from an index in that order for
# each filter but the recipient's (a substring search). A cohort's messages are few: PostgreSQL
# sorts them.
PAGE_SIZE = 200

_NEWEST = Prepared(
    lambda **criteria: (
        OutboxMessage.select(*_COLUMNS)
        .where(_matching(**criteria))
        .order_by(OutboxMessage.id, ascending=False)
        .limit(PAGE_SIZE)
    )
)


async def newest_messages(criteria: OutboxFilter) -> list[MessageRow]:
    """The outbox page's messages: the newest PAGE_SIZE that match, metadata only (its limit
    and offset are not used)."""
    return [MessageRow(**row) for row in await _NEWEST(**_filter_values(criteria))]


async def get_message(message_id: int) -> tuple[MessageRow, bytes | None] | None:
    """A message and its bytes; the bytes of a confidential message are never handed out."""
    row = (
        await OutboxMessage.select(*_COLUMNS, OutboxMessage.content)
        .where(OutboxMessage.id == message_id)
        .first()
    )
    if row is None:
        return None
    content = None if row["confidential"] else bytes(row.pop("content"))
    row.pop("content", None)
    return MessageRow(**row), content


async def release(criteria: OutboxFilter) -> int:
    """Held messages (a "review first" cohort's) go to the queue, each at its own time (a
    message meant for later still waits for it)."""
    where = _where(
        OutboxFilter(
            cohort_id=criteria.cohort_id, session_id=criteria.session_id, kind=criteria.kind
        )
    ) & (OutboxMessage.state == HELD)
    rows = (
        await OutboxMessage.update({OutboxMessage.state: QUEUED})
        .where(where)
        .returning(OutboxMessage.id)
    )
    return len(rows)


async def retry(message_id: int) -> bool:
    """Send a failed message again, now. False in any other state: a cancelled message was
    superseded (a newer one replaced it) and must not go out after its replacement."""
    rows = (
        await OutboxMessage.update(
            {
                OutboxMessage.state: QUEUED,
                OutboxMessage.send_after: _now(),
                OutboxMessage.attempts: 0,
            }
        )
        .where((OutboxMessage.id == message_id) & (OutboxMessage.state == FAILED))
        .returning(OutboxMessage.id)
    )
    return bool(rows)


async def cancel(message_id: int) -> bool:
    """Stop a message that has not gone out. False when it is no longer waiting."""
    rows = (
        await OutboxMessage.update({OutboxMessage.state: CANCELLED})
        .where((OutboxMessage.id == message_id) & OutboxMessage.state.is_in(list(WAITING)))
        .returning(OutboxMessage.id)
    )
    return bool(rows)
