"""The outbox page's counts and cost: exact counts for the few held, queued, sending or failed
messages, "1,000+" past the cap, and a page that reads what it shows (its newest 200, at most
the cap per state) however large the outbox grows. On SQLite and PostgreSQL alike."""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from typing import Any

import httpx
import pytest
from piccolo.engine import engine_finder

from mail import outbox
from mail.tables import OutboxMessage
from sessions import outbox_views
from tests.conftest import make_person, sign_in

_keys = itertools.count()


async def add_messages(
    n: int, state: str, cohort_id: int | None = None, kind: str = "invite"
) -> None:
    """`n` messages in `state`, 500 to an INSERT."""
    for start in range(0, n, 500):
        await OutboxMessage.insert(
            *[
                OutboxMessage(
                    key=f"k{(k := next(_keys))}",
                    kind=kind,
                    recipient=f"p{k}@example.edu",
                    subject=f"Message {k}",
                    content=b"Subject: s\r\n\r\nHello\r\n",
                    message_id=f"<{k}@example.org>",
                    state=state,
                    cohort_id=cohort_id,
                )
                for _ in range(min(500, n - start))
            ]
        )


def shown(counts: dict[str, outbox.StateCount]) -> dict[str, str]:
    return {state: str(count) for state, count in counts.items()}


async def test_counts_are_exact_for_few_messages_and_capped_past_the_cap(
    database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "COUNT_CAP", 5)
    await add_messages(2, "held", cohort_id=7)
    await add_messages(1, "held", cohort_id=8)
    await add_messages(2, "queued", cohort_id=8)
    await add_messages(1, "sending")
    await add_messages(5, "failed", cohort_id=7)
    await add_messages(6, "sent", cohort_id=7)
    await add_messages(3, "sent", cohort_id=8)

    assert shown(await outbox.capped_counts()) == {
        "held": "3",
        "queued": "2",
        "sending": "1",
        "sent": "5+",
        "failed": "5",
        "cancelled": "0",
    }
    in_seven = await outbox.capped_counts(7)
    assert shown(in_seven) == {
        "held": "2",
        "queued": "0",
        "sending": "0",
        "sent": "5+",
        "failed": "5",
        "cancelled": "0",
    }
    assert in_seven["held"] and not in_seven["queued"]
    assert (in_seven["sent"].n, in_seven["sent"].more) == (5, True)


async def test_the_page_shows_exact_counts_and_1000_plus_past_the_cap(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_views, "_current", {})  # no "send now" run in this process yet
    staff = await make_person("staff@example.org", {"staff"})
    await add_messages(3, "held", cohort_id=7)
    await add_messages(2, "failed", cohort_id=8)
    await add_messages(1_000, "cancelled", cohort_id=8)
    await add_messages(1_001, "sent", cohort_id=8)
    await sign_in(client, staff.email)

    page = (await client.get("/outbox")).text
    assert "Queued 0 · held 3 · sending 0 · sent 1,000+ · failed 2 · cancelled 1,000" in page, page
    assert "3 message(s) wait for review" in page
    assert len(re.findall(r'<a href="/outbox/\d+">', page)) == outbox.PAGE_SIZE
    assert "The newest 200 are shown" in page

    in_seven = (await client.get("/outbox?cohort=7")).text
    assert "Queued 0 · held 3 · sending 0 · sent 0 · failed 0 · cancelled 0" in in_seven
    assert "3 message(s) wait for review in cohort 7" in in_seven
    assert len(re.findall(r'<a href="/outbox/\d+">', in_seven)) == 3
    assert "The newest 200" not in in_seven

    progress = (await client.get("/outbox/progress")).text
    assert "sent 1,000+" in progress and "held 3" in progress


# -- what the page reads ---------------------------------------------------------------------

PAGES = (
    "/outbox",
    "/outbox?cohort=7",
    "/outbox?state=sent",
    "/outbox?state=sending",
    "/outbox?cohort=7&state=held",
    "/outbox?kind=notes",
    "/outbox/progress",
)


async def _rows_read(sql: str, args: list[Any]) -> int:
    """How much work the database does for a statement: on PostgreSQL the rows its scans of
    the outbox read (EXPLAIN ANALYZE), on SQLite its virtual machine's steps (it has no row
    counts), which grow with the rows it reads."""
    engine: Any = engine_finder()
    if engine.engine_type == "sqlite":
        steps = 0

        def step() -> int:
            nonlocal steps
            steps += 1
            return 0

        connection = sqlite3.connect(engine.path)
        try:
            connection.set_progress_handler(step, 1)
            connection.execute(sql, args).fetchall()
        finally:
            connection.close()
        return steps
    async with engine.pool.acquire() as connection:
        plan = json.loads(await connection.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args))
    return _scanned(plan[0]["Plan"])


def _scanned(node: dict[str, Any]) -> int:
    read = 0
    if node.get("Relation Name") == "outbox_message":
        rows = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        read = (rows + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
    return read + sum(_scanned(child) for child in node.get("Plans", []))


async def _work(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Each page's work on the outbox table, summed over the statements it runs."""
    engine: Any = engine_finder()
    if engine.engine_type == "postgres":  # statistics and visibility, as autovacuum keeps them
        await OutboxMessage.raw("VACUUM ANALYZE outbox_message")
    ran: list[Any] = []
    run = engine.run_querystring

    async def recording(querystring: Any, *args: Any, **kwargs: Any) -> Any:
        ran.append(querystring)
        return await run(querystring, *args, **kwargs)

    work = {}
    with monkeypatch.context() as patch:
        patch.setattr(engine, "run_querystring", recording)
        for path in PAGES:
            ran.clear()
            assert (await client.get(path)).status_code == 200, path
            statements = [q.compile_string(engine_type=engine.engine_type) for q in ran]
            work[path] = sum(
                [await _rows_read(sql, args) for sql, args in statements if "outbox_message" in sql]
            )
    return work


@pytest.mark.timeout(300)
async def test_the_outbox_page_reads_what_it_shows_however_large_the_outbox(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "COUNT_CAP", 50)  # so that both sizes are past it
    staff = await make_person("staff@example.org", {"staff"})
    await add_messages(300, "sent", cohort_id=7)
    await add_messages(3, "held", cohort_id=7)
    await add_messages(1, "sending", cohort_id=8)
    await add_messages(2, "queued", cohort_id=8)
    await add_messages(4, "failed", cohort_id=8)
    await add_messages(60, "cancelled", cohort_id=8)
    await add_messages(600, "sent", cohort_id=8)
    await add_messages(5, "sent", cohort_id=8, kind="notes")
    await sign_in(client, staff.email)
    small = await _work(client, monkeypatch)

    # Six times the outbox: other cohorts' messages, sent and cancelled, as the terms go by.
    await add_messages(600, "cancelled", cohort_id=9)
    await add_messages(5_000, "sent", cohort_id=9)
    large = await _work(client, monkeypatch)

    grown = {path: round(large[path] / small[path], 2) for path in PAGES}
    assert all(growth <= 1.25 for growth in grown.values()), (grown, small, large)
