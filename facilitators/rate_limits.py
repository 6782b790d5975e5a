"""Rate limits kept in the database, so that every app instance counts the same requests: asking
for sign-in links (per address and per client) and password sign-in attempts (per account and
per client). One row of SignInAttempt per request and scope; rows older than the window go as
new requests come."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence

from database import take_turns
from errors import TooManyRequests
from facilitators.tables import SignInAttempt

# Every limit counts requests in the same window: rows older than it are pruned for all scopes.
WINDOW = dt.timedelta(minutes=15)
# A refusal's message, from the scope that is full and the minutes until there is room again.
Refusal = Callable[[str, int], str]


async def count(
    limits: Sequence[tuple[str, int]],
    *,
    now: dt.datetime,
    refusal: Refusal,
) -> list[int]:
    """Count one request against each (scope, limit), or refuse it with TooManyRequests when a
    scope already has `limit` requests in the window (saying when the oldest leaves it). Returns
    the ids of the rows written, for `forgive`. Runs in the caller's transaction, or its own."""
    since = now - WINDOW
    scopes = [scope for scope, _ in limits]
    async with SignInAttempt._meta.db.transaction():
        # Two instances counting the same scope at once would both see room for one more: the
        # second waits for the first.
        await take_turns(*scopes)
        await SignInAttempt.delete().where(SignInAttempt.at <= since)
        rows = (
            await SignInAttempt.select(SignInAttempt.scope, SignInAttempt.at)
            .where(SignInAttempt.scope.is_in(scopes) & (SignInAttempt.at > since))
            .order_by(SignInAttempt.at)
        )
        for scope, limit in limits:
            times = [row["at"] for row in rows if row["scope"] == scope]
            if len(times) >= limit:
                wait = times[len(times) - limit] + WINDOW - now
                seconds = max(1, math.ceil(wait.total_seconds()))
                raise TooManyRequests(refusal(scope, math.ceil(seconds / 60)), retry_after=seconds)
        saved = await SignInAttempt.insert(
            *[SignInAttempt(scope=scope, at=now) for scope in scopes]
        ).returning(SignInAttempt.id)
    return [int(row["id"]) for row in saved]


async def forgive(ids: Sequence[int], *, scopes: Sequence[str] = ()) -> None:
    """Take back what `count` wrote (the rows `ids`), and every request counted in `scopes`."""
    if ids:
        await SignInAttempt.delete().where(SignInAttempt.id.is_in(list(ids)))
    if scopes:
        await SignInAttempt.delete().where(SignInAttempt.scope.is_in(list(scopes)))


def minutes(count: int) -> str:
    return f"{count} minute{'s' if count != 1 else ''}"
