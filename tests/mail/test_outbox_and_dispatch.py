"""The outbox and the dispatcher against a real SMTP server: each message ends sent or failed
with the server's reason, none is sent twice, and a crashed dispatcher's messages come back."""

from __future__ import annotations

import asyncio
import datetime as dt
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

from mail import outbox
from mail.compose import Calendar, Draft, compose, message_id_for
from mail.dispatcher import DispatchConfig, dispatch_due
from mail.tables import OutboxMessage
from mail.transports import FolderTransport, SMTPConfig, SMTPTransport
from tests.smtp import SmtpServer

FAST = DispatchConfig(batch_size=10, lease_seconds=60, max_attempts=3, backoff_seconds=10)
DOMAIN = "example.org"


def message(key: str, recipient: str, **labels: object) -> outbox.NewMessage:
    content = compose(
        Draft(
            sender="Office <office@example.org>",
            recipient=recipient,
            subject=f"About {key}",
            text="Hello",
        ),
        key=key,
        domain=DOMAIN,
    )
    return outbox.NewMessage(
        key=key,
        kind="test",
        recipient=recipient,
        subject=f"About {key}",
        content=content,
        message_id=message_id_for(key, DOMAIN),
        **labels,  # type: ignore[arg-type]
    )


def transport(server: SmtpServer) -> SMTPTransport:
    return SMTPTransport(SMTPConfig.from_url(server.url), "office@example.org")


async def states() -> dict[str, tuple[str, int | None, str]]:
    rows = await OutboxMessage.select(
        OutboxMessage.key, OutboxMessage.state, OutboxMessage.last_code, OutboxMessage.last_error
    )
    return {r["key"]: (r["state"], r["last_code"], r["last_error"]) for r in rows}


async def test_enqueuing_a_key_twice_makes_one_message(database: object) -> None:
    assert await outbox.enqueue([message("k1", "a@example.edu")]) == 1
    assert (
        await outbox.enqueue([message("k1", "a@example.edu"), message("k2", "b@example.edu")]) == 1
    )
    assert await OutboxMessage.count() == 2


async def test_messages_reach_a_real_smtp_server_byte_for_byte(smtp_server: SmtpServer) -> None:
    await outbox.enqueue(
        [message("hello", "ada@example.edu"), message("hello-2", "bob@example.edu")]
    )
    progress = await dispatch_due(transport(smtp_server), FAST)
    assert (progress.sent, progress.failed) == (2, 0)
    received = {r.recipients[0]: r for r in smtp_server.mailbox.received}
    assert set(received) == {"ada@example.edu", "bob@example.edu"}
    stored = (
        await OutboxMessage.select(OutboxMessage.content)
        .where(OutboxMessage.key == "hello")
        .first()
    )
    assert stored is not None
    assert received["ada@example.edu"].content.rstrip(b"\r\n") == bytes(stored["content"]).rstrip(
        b"\r\n"
    )
    parsed = message_from_bytes(received["ada@example.edu"].content, policy=default)
    assert parsed["Message-ID"] == message_id_for("hello", DOMAIN)
    assert received["ada@example.edu"].sender == "office@example.org"
    assert (await states())["hello"][0] == "sent"
    # Nothing is sent twice.
    again = await dispatch_due(transport(smtp_server), FAST)
    assert again.handled == 0 and len(smtp_server.mailbox.received) == 2


async def test_each_fault_ends_in_the_right_state_with_the_servers_reason(
    smtp_server: SmtpServer,
) -> None:
    await outbox.enqueue(
        [
            message("ok-1", "ok1@example.edu"),
            message("busy", "busy+1@example.edu"),
            message("gone", "gone+1@example.edu"),
            message("drop", "drop+1@example.edu"),
            message("ok-2", "ok2@example.edu"),
        ]
    )
    progress = await dispatch_due(transport(smtp_server), FAST)
    assert (progress.sent, progress.failed, progress.retried) == (2, 1, 2)
    now = await states()
    assert now["ok-1"][0] == now["ok-2"][0] == "sent"  # the dropped connection was reopened
    assert now["gone"] == ("failed", 550, "5.1.1 No such user here")
    assert now["busy"][:2] == ("queued", 450)
    assert now["drop"][0] == "queued"
    # Retries wait for their backoff, then give up after max_attempts.
    later = dt.datetime.now(dt.UTC)
    for _attempt in range(2, FAST.max_attempts + 1):
        later += dt.timedelta(hours=2)
        await dispatch_due(transport(smtp_server), FAST, now=later)
    final = await states()
    assert final["busy"][0] == "failed" and "gave up after 3 attempts" in final["busy"][2]
    assert final["drop"][0] == "failed"
    assert sorted(r.recipients[0] for r in smtp_server.mailbox.received) == [
        "ok1@example.edu",
        "ok2@example.edu",
    ]


async def test_a_retried_message_keeps_its_message_id_and_bytes(smtp_server: SmtpServer) -> None:
    smtp_server.mailbox.refuse_once.add("grey@example.edu")
    await outbox.enqueue([message("grey", "grey@example.edu")])
    first = await dispatch_due(transport(smtp_server), FAST)
    assert first.retried == 1 and smtp_server.mailbox.received == []
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    second = await dispatch_due(transport(smtp_server), FAST, now=later)
    assert second.sent == 1
    (received,) = smtp_server.mailbox.received
    parsed = message_from_bytes(received.content, policy=default)
    assert parsed["Message-ID"] == message_id_for("grey", DOMAIN)
    row = (
        await OutboxMessage.select(OutboxMessage.attempts, OutboxMessage.last_code)
        .where(OutboxMessage.key == "grey")
        .first()
    )
    assert row == {"attempts": 2, "last_code": 250}


async def test_a_stalled_server_times_out_and_the_message_is_retried(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.mailbox.stall_seconds = 4  # the transport's timeout is 2 s
    await outbox.enqueue([message("stall", "stall+1@example.edu")])
    progress = await dispatch_due(transport(smtp_server), FAST)
    assert progress.retried == 1
    assert (await states())["stall"][0] == "queued"
    # The stalled server took the message in the end; the retry sends it again, with the
    # same Message-ID, so the recipient's client shows it once (the at-least-once window).
    await asyncio.sleep(2.5)
    smtp_server.mailbox.stall_seconds = 0
    await dispatch_due(
        transport(smtp_server), FAST, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    assert (await states())["stall"][0] == "sent"
    ids = {
        message_from_bytes(r.content, policy=default)["Message-ID"]
        for r in smtp_server.mailbox.received
    }
    assert ids == {message_id_for("stall", DOMAIN)}


async def test_a_crashed_dispatchers_messages_return_after_the_lease(
    smtp_server: SmtpServer,
) -> None:
    await outbox.enqueue([message("lease", "lease@example.edu")])
    now = dt.datetime.now(dt.UTC)
    claimed = await outbox.claim(10, lease_seconds=60, now=now)  # ... and the dispatcher dies
    assert [c.key for c in claimed] == ["lease"]
    assert await outbox.claim(10, lease_seconds=60, now=now + dt.timedelta(seconds=30)) == []
    # The lease runs out (in real time, whatever "now" a dispatcher is asked to use).
    await OutboxMessage.update(
        {OutboxMessage.lease_until: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)}
    ).where(OutboxMessage.key == "lease")
    progress = await dispatch_due(transport(smtp_server), FAST, now=now + dt.timedelta(seconds=61))
    assert progress.sent == 1
    row = (
        await OutboxMessage.select(OutboxMessage.attempts)
        .where(OutboxMessage.key == "lease")
        .first()
    )
    assert row is not None and row["attempts"] == 2


async def test_expired_messages_fail_instead_of_going_out_late(smtp_server: SmtpServer) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    await outbox.enqueue([message("link", "late@example.edu", expires_at=past, confidential=True)])
    await dispatch_due(transport(smtp_server), FAST)
    assert (await states())["link"][:3] == ("failed", None, "expired before it could be sent")
    assert smtp_server.mailbox.received == []


async def test_a_message_is_not_retried_past_its_expiry(smtp_server: SmtpServer) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)  # the first retry waits 10 s
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    await outbox.enqueue(
        [
            message("soon", "busy+soon@example.edu", expires_at=soon, confidential=True),
            message("later", "busy+later@example.edu", expires_at=later, confidential=True),
        ]
    )
    progress = await dispatch_due(transport(smtp_server), FAST)
    assert (progress.failed, progress.retried) == (1, 1)
    final = await states()
    assert final["soon"] == (
        "failed",
        450,
        "expired before it could be sent: 4.2.1 Mailbox busy, try later",
    )
    assert final["later"][:2] == ("queued", 450)


async def test_held_messages_wait_and_cancelling_a_session_cancels_only_what_waits(
    smtp_server: SmtpServer,
) -> None:
    await outbox.enqueue(
        [
            message("held", "h@example.edu", held=True, session_id=7),
            message("queued", "q@example.edu", session_id=7),
            message("other", "o@example.edu", session_id=8),
        ]
    )
    assert (await states())["held"][0] == "held"
    cancelled = await outbox.cancel_waiting(session_id=7)
    assert cancelled == 2
    await dispatch_due(transport(smtp_server), FAST)
    final = await states()
    assert (final["held"][0], final["queued"][0], final["other"][0]) == (
        "cancelled",
        "cancelled",
        "sent",
    )


async def test_without_smtp_the_folder_transport_keeps_every_message(tmp_path: Path) -> None:
    await outbox.enqueue([message("folder", "f@example.edu")])
    progress = await dispatch_due(FolderTransport(tmp_path / "mail"), FAST)
    assert progress.sent == 1
    (written,) = list((tmp_path / "mail").glob("*.eml"))
    assert b"Subject: About folder" in written.read_bytes()


def test_a_calendar_part_keeps_its_crlf_and_its_method() -> None:
    calendar = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    content = compose(
        Draft(
            "o@example.org",
            "p@example.edu",
            "Invite",
            "Text",
            "<p>HTML</p>",
            calendar=Calendar(calendar, "REQUEST"),
        ),
        key="invite:1",
        domain=DOMAIN,
    )
    parsed: Any = message_from_bytes(content, policy=default)
    assert parsed.get_content_type() == "multipart/mixed"
    alternative = parsed.get_payload()[0]
    assert [p.get_content_type() for p in alternative.get_payload()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    part = alternative.get_payload()[2]
    assert part.get_param("method") == "REQUEST"
    assert part.get_content_disposition() is None
    assert part.get_payload(decode=True) == calendar
    attachment = parsed.get_payload()[1]
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_payload(decode=True) == calendar
    assert b"\r\n" in content and b"\n\n" not in content.replace(b"\r\n", b"")


def test_smtp_urls_are_read_with_their_options() -> None:
    config = SMTPConfig.from_url(
        "smtp://user%40x:p%3Ass@mail.example.org:2525?starttls=true&timeout=7"
    )
    assert (
        config.host,
        config.port,
        config.username,
        config.password,
        config.starttls,
        config.timeout,
    ) == (
        "mail.example.org",
        2525,
        "user@x",
        "p:ss",
        True,
        7.0,
    )
    assert SMTPConfig.from_url("smtps://mail.example.org").port == 465


async def test_a_message_whose_lease_another_dispatcher_took_is_not_recorded_twice(
    smtp_server: SmtpServer,
) -> None:
    await outbox.enqueue([message(f"m{n}", f"m{n}@example.edu") for n in range(3)])
    first = await outbox.claim(10, lease_seconds=60)
    # The first dispatcher stalls past its lease; a second one takes the messages over.
    await OutboxMessage.update(
        {OutboxMessage.lease_until: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)}
    ).where(OutboxMessage.id > 0)
    second = await outbox.claim(10, lease_seconds=60)
    assert {c.id for c in second} == {c.id for c in first}
    assert await outbox.renew(first[0].token, 60) == set()  # the first claim holds nothing now
    await outbox.mark_sent(first[0], 250, "late")  # ... and cannot record an outcome
    assert (await states())["m0"][0] == "sending"


async def test_a_bad_smtp_login_is_retried_not_failed(smtp_server: SmtpServer) -> None:
    await outbox.enqueue([message("login", "l@example.edu")])
    wrong = SMTPTransport(
        SMTPConfig.from_url(
            f"smtp://user:pw@127.0.0.1:{smtp_server.port}?starttls=false&timeout=2"
        ),
        "office@example.org",
    )
    progress = await dispatch_due(wrong, FAST)
    assert (progress.retried, progress.failed) == (1, 0)
    assert "cannot use the SMTP server" in (await states())["login"][2]


async def test_progress_adds_up_across_batches(smtp_server: SmtpServer) -> None:
    await outbox.enqueue([message(f"p{n}", f"p{n}@example.edu") for n in range(5)])
    seen: list[int] = []
    small = DispatchConfig(batch_size=2)
    total = await dispatch_due(
        transport(smtp_server), small, on_progress=lambda p: seen.append(p.sent)
    )
    assert total.sent == 5 and seen == [1, 2, 3, 4, 5]
