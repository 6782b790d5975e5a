"""Signing in by email: a one-time link, good for 15 minutes, that a mail scanner cannot use up;
rate limits kept in the database; the same answer for every address."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from email import message_from_bytes
from email.policy import default
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from facilitators import sign_in_links
from facilitators.tables import Account, SignInAttempt, SignInLink
from mail.tables import OutboxMessage
from tests.conftest import World, csrf_token, post_form, sign_in
from tests.smtp import SmtpServer

LINK = re.compile(r"http://testserver(/sign-in/link/[A-Za-z0-9_-]+)")
EXPIRED = "This sign-in link has expired or was already used: ask for a new one."


async def ask_for_link(
    client: httpx.AsyncClient, email: str, next_path: str | None = None
) -> httpx.Response:
    """Fill in "Email me a sign-in link" on the sign-in page."""
    form = {"email": email} if next_path is None else {"email": email, "next": next_path}
    return await post_form(client, "/sign-in/email", form, page="/sign-in")


def text_of(content: bytes) -> str:
    parsed: Any = message_from_bytes(content, policy=default)
    return str(parsed.get_body(preferencelist=("plain",)).get_content())


async def link_sent_to(email: str) -> str:
    """The path of the newest sign-in link queued for `email`, read from its message."""
    row = (
        await OutboxMessage.select(OutboxMessage.content)
        .where((OutboxMessage.recipient == email) & (OutboxMessage.kind == "sign_in"))
        .order_by(OutboxMessage.id, ascending=False)
        .first()
    )
    assert row is not None, f"no sign-in message for {email}"
    match = LINK.search(text_of(bytes(row["content"])))
    assert match, "no link in the message"
    return match.group(1)


async def press_sign_in(client: httpx.AsyncClient, path: str) -> httpx.Response:
    """Open the link's page and press its "Sign in" button."""
    token = await csrf_token(client, path)
    return await client.post(path, data={"_csrf_token": token})


async def new_participant(world: World, email: str = "new.mentor@example.edu") -> int:
    """A participant from a roster: enrolled in cohort A, no password."""
    from facilitators.services import CurrentUser, PersonInput
    from sessions.roster import add_participant

    admin = CurrentUser(world.admin.id, "Admin", world.admin.email, frozenset({"admin"}))
    await add_participant(
        world.cohort_a, email, PersonInput(name="New Mentor", email=email), actor=admin
    )
    account = await Account.select(Account.person, Account.password_hash).where(
        Account.person.email_key == email
    )
    assert account and account[0]["password_hash"] == ""
    return int(account[0]["person"])


async def test_a_participant_without_a_password_signs_in_from_the_mailed_link_and_lands_where_they_were_going(
    client: httpx.AsyncClient, make_client: Any, world: World, smtp_server: SmtpServer
) -> None:
    from mail.dispatcher import DispatchConfig, dispatch_due
    from mail.transports import SMTPConfig, SMTPTransport

    person_id = await new_participant(world)
    cohort_page = f"/cohorts/{world.cohort_a}"
    # An anonymous visitor is sent to sign in, and the email form carries where they were going.
    redirect = await client.get(cohort_page)
    assert redirect.status_code == 302
    sign_in_page = await client.get(redirect.headers["location"])
    hidden = re.findall(r'name="next" value="([^"]*)"', sign_in_page.text)
    assert hidden == [cohort_page, cohort_page]  # the password form and the email form
    sent = await ask_for_link(client, "New.Mentor@example.edu", hidden[1])
    assert sent.status_code == 200
    assert "If New.Mentor@example.edu has an account, a sign-in link is on its way." in sent.text
    assert "It works once, within 15 minutes." in sent.text

    transport = SMTPTransport(SMTPConfig.from_url(smtp_server.url), "mentorcircle@example.org")
    progress = await dispatch_due(transport, DispatchConfig(batch_size=10))
    assert progress.sent == 1
    (received,) = smtp_server.mailbox.received
    assert received.recipients == ["new.mentor@example.edu"]
    parsed: Any = message_from_bytes(received.content, policy=default)
    assert parsed["Subject"] == "Your sign-in link for mentorcircle"
    assert parsed["To"] == "New Mentor <new.mentor@example.edu>"
    text = text_of(received.content)
    assert "It works once, within 15 minutes." in text
    match = LINK.search(text)
    assert match, text
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert f'href="http://testserver{match.group(1)}"' in html

    browser = make_client()  # the link is opened in another browser, as from a mail app
    page = await browser.get(match.group(1))
    assert page.status_code == 200
    assert ">Sign in</button>" in page.text
    assert (await browser.get(match.group(1))).status_code == 200  # opening it uses nothing
    response = await press_sign_in(browser, match.group(1))
    assert response.status_code == 302
    assert response.headers["location"] == cohort_page
    assert (await browser.get(cohort_page)).status_code == 200
    assert (await browser.get("/")).status_code == 200

    again = await press_sign_in(make_client(), match.group(1))
    assert again.status_code == 410
    assert EXPIRED in again.text
    assert 'action="/sign-in/email"' in again.text  # ... with the form for a new one
    account = await Account.select(Account.last_sign_in_at).where(Account.person == person_id)
    assert account[0]["last_sign_in_at"] is not None
    from facilitators.audit import AuditFilter, list_entries

    summaries = [e.summary for e in await list_entries(AuditFilter(action="auth."))]
    assert summaries == [
        "Signed in with an emailed link",
        "Asked for a sign-in link; it was emailed",
    ]


async def test_links_are_stored_only_as_their_sha256(
    client: httpx.AsyncClient, world: World
) -> None:
    await ask_for_link(client, world.participant_a.email)
    token = (await link_sent_to(world.participant_a.email)).rsplit("/", 1)[1]
    rows = await SignInLink.select()
    assert len(rows) == 1
    assert token not in " ".join(str(value) for value in rows[0].values())
    import hashlib

    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    entries = await Account.raw("SELECT summary, detail FROM audit_entry")
    assert token not in str(entries)


async def test_an_expired_link_is_refused_with_a_form_for_a_new_one(
    client: httpx.AsyncClient, world: World
) -> None:
    await ask_for_link(client, world.participant_a.email)
    path = await link_sent_to(world.participant_a.email)
    await SignInLink.update(
        {SignInLink.expires_at: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)}
    ).where(SignInLink.id > 0)
    opened = await client.get(path)
    assert opened.status_code == 410
    assert EXPIRED in opened.text and "Email me a sign-in link" in opened.text
    pressed = await client.post(path, data={"_csrf_token": await csrf_token(client, "/sign-in")})
    assert pressed.status_code == 410
    assert (await client.get("/")).status_code == 302  # not signed in


async def test_unknown_and_malformed_tokens_get_the_same_refusal(client: httpx.AsyncClient) -> None:
    for token in ("not-a-real-token", "x" * 500):
        assert (await client.get(f"/sign-in/link/{token}")).status_code == 410
        pressed = await press_sign_in(client, f"/sign-in/link/{token}")
        assert pressed.status_code == 410 and EXPIRED in pressed.text


async def test_a_newer_link_voids_the_older_and_its_unsent_message(
    client: httpx.AsyncClient, world: World
) -> None:
    email = world.participant_a.email
    await ask_for_link(client, email)
    older = await link_sent_to(email)
    await ask_for_link(client, email)
    newer = await link_sent_to(email)
    assert older != newer
    assert (await client.get(older)).status_code == 410
    assert (await press_sign_in(client, older)).status_code == 410
    states = await OutboxMessage.select(OutboxMessage.state).order_by(OutboxMessage.id)
    assert [row["state"] for row in states] == ["cancelled", "queued"]
    assert (await press_sign_in(client, newer)).headers["location"] == "/"


async def test_of_two_redeems_at_once_only_one_signs_in(world: World) -> None:
    from errors import Gone

    await sign_in_links.request_link(world.staff.email, client="198.51.100.1")
    token = (await link_sent_to(world.staff.email)).rsplit("/", 1)[1]
    results = await asyncio.gather(
        *(sign_in_links.redeem(token) for _ in range(4)), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, sign_in_links.LinkSignIn)]
    assert len(winners) == 1 and winners[0].sign_in.user.person_id == world.staff.id
    assert all(isinstance(r, Gone) for r in results if r not in winners)


async def test_a_deactivated_person_gets_no_link_and_loses_the_ones_sent(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.services import set_active

    email = world.participant_a.email
    await ask_for_link(client, email)
    path = await link_sent_to(email)
    await set_active(world.participant_a.id, False, actor_id=world.admin.id)
    assert (await press_sign_in(client, path)).status_code == 410
    await ask_for_link(client, email)
    assert await OutboxMessage.count().where(OutboxMessage.kind == "sign_in") == 1
    await set_active(world.participant_a.id, True, actor_id=world.admin.id)
    assert (await press_sign_in(client, path)).status_code == 410  # still void after


async def test_every_address_gets_the_same_answer(make_client: Any, world: World, app: Any) -> None:
    from facilitators.services import set_active

    no_password = "roster.only@example.edu"
    await new_participant(world, no_password)
    await set_active(world.participant_b.id, False, actor_id=world.admin.id)
    answers = {}
    for email in (
        world.staff.email,  # has a password
        no_password,  # email sign-in only
        "nobody.here@example.org",  # unknown
        world.participant_b.email,  # deactivated
    ):
        response = await ask_for_link(make_client(), email, "/calendar")
        answers[email] = (
            response.status_code,
            response.text.replace(email, "ADDRESS"),
            tuple(sorted(name for name in response.headers if name != "content-length")),
        )
    assert len(set(answers.values())) == 1, answers
    recipients = await OutboxMessage.select(OutboxMessage.recipient)
    assert sorted(r["recipient"] for r in recipients) == [no_password, world.staff.email]


async def test_a_malformed_address_is_shown_again_with_the_reason(
    client: httpx.AsyncClient,
) -> None:
    for typed, reason in (("not an address", "is not an email address"), ("", "is required")):
        response = await ask_for_link(client, typed, "/calendar")
        assert response.status_code == 400
        assert reason in response.text
        assert 'aria-invalid="true"' in response.text
        assert 'name="next" value="/calendar"' in response.text
    assert await SignInAttempt.count() == 0  # not counted against any limit


async def test_five_links_per_address_in_15_minutes_then_429_with_retry_after(
    client: httpx.AsyncClient, world: World
) -> None:
    for attempt in range(5):
        # The same address in any case counts once.
        email = world.staff.email.upper() if attempt % 2 else world.staff.email
        assert (await ask_for_link(client, email)).status_code == 200
    refused = await ask_for_link(client, world.staff.email)
    assert refused.status_code == 429
    assert "Too many sign-in links were asked for this address" in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    # Unknown addresses are counted the same way, so a limit says nothing about an account.
    for _ in range(5):
        await ask_for_link(client, "ghost@example.org")
    assert (await ask_for_link(client, "ghost@example.org")).status_code == 429
    assert await OutboxMessage.count() == 5
    # A quarter of an hour later (the rows are moved back), the address may ask again.
    await SignInAttempt.update(
        {SignInAttempt.at: dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)}
    ).where(SignInAttempt.id > 0)
    assert (await ask_for_link(client, world.staff.email)).status_code == 200
    # Old rows are pruned as requests come: only the new request's two remain.
    assert await SignInAttempt.count() == 2


async def test_thirty_links_per_client_address_in_15_minutes(app: Any, world: World) -> None:
    async def from_address(host: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(host, 4321)),
            base_url="http://testserver",
        )

    async with (
        await from_address("203.0.113.7") as busy,
        await from_address("203.0.113.8") as other,
    ):
        for n in range(30):
            assert (await ask_for_link(busy, f"person{n}@example.org")).status_code == 200
        refused = await ask_for_link(busy, world.staff.email)
        assert refused.status_code == 429
        assert "Too many sign-in links were asked for your network" in refused.text
        assert "retry-after" in refused.headers
        assert (await ask_for_link(other, world.staff.email)).status_code == 200


async def test_a_rate_limit_refusal_writes_nothing(world: World) -> None:
    from errors import TooManyRequests

    for _ in range(5):
        await sign_in_links.request_link(world.staff.email, client="192.0.2.1")
    with pytest.raises(TooManyRequests) as refused:
        await sign_in_links.request_link(world.staff.email, client="192.0.2.1")
    assert 14 * 60 < refused.value.retry_after <= 15 * 60
    assert await SignInAttempt.count() == 10
    assert await SignInLink.count() == 5


async def test_the_limit_holds_when_requests_arrive_at_once(world: World) -> None:
    from errors import TooManyRequests

    results = await asyncio.gather(
        *(sign_in_links.request_link(world.staff.email, client="192.0.2.2") for _ in range(12)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 5
    assert sum(isinstance(r, TooManyRequests) for r in results) == 7
    assert await SignInLink.count() == 5


async def test_the_message_is_confidential_and_its_link_is_never_shown_to_staff(
    client: httpx.AsyncClient, world: World
) -> None:
    before = dt.datetime.now(dt.UTC)
    await ask_for_link(client, world.participant_a.email)
    path = await link_sent_to(world.participant_a.email)
    token = path.rsplit("/", 1)[1]
    row = await OutboxMessage.select().where(OutboxMessage.kind == "sign_in").first()
    assert row is not None
    assert row["confidential"] is True and row["state"] == "queued"
    assert row["key"].startswith("sign_in:") and row["person_id"] == world.participant_a.id
    lifetime = row["expires_at"] - row["created_at"]
    assert dt.timedelta(minutes=14) < lifetime <= dt.timedelta(minutes=15, seconds=1)
    assert row["expires_at"] > before + dt.timedelta(minutes=14)

    listed = await client.get("/api/outbox", headers=world.staff.auth)
    detail = await client.get(f"/api/outbox/{row['id']}", headers=world.staff.auth)
    assert detail.status_code == 200
    assert (detail.json()["text"], detail.json()["html"]) == (None, None)
    await sign_in(client, world.staff.email)
    pages = [await client.get("/outbox"), await client.get(f"/outbox/{row['id']}")]
    for response in (listed, detail, *pages):
        assert response.status_code == 200
        assert token not in response.text
    assert "confidential" in pages[1].text


async def test_next_never_leads_to_another_site(make_client: Any, world: World) -> None:
    for target in ("//evil.example", "https://evil.example", "/\\evil.example"):
        browser = make_client()
        await ask_for_link(browser, world.staff.email, target)
        path = await link_sent_to(world.staff.email)
        assert (await press_sign_in(browser, path)).headers["location"] == "/"


async def test_signing_in_by_link_replaces_who_was_signed_in(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.staff.email)
    await ask_for_link(client, world.participant_a.email)
    await press_sign_in(client, await link_sent_to(world.participant_a.email))
    me = await client.get("/account")
    assert world.participant_a.name in me.text and world.staff.name not in me.text


def test_link_tokens_never_reach_a_log() -> None:
    import logging

    from web import RedactFeedSecrets, loggable

    assert loggable("/sign-in/link/AbC-def_123") == "/sign-in/link/[secret]"
    record = logging.LogRecord(
        "uvicorn.access",
        20,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4", "POST", "/sign-in/link/Top-Secret_token", "1.1", 302),
        None,
    )
    RedactFeedSecrets().filter(record)
    assert "Top-Secret" not in record.getMessage()
    assert unquote(loggable("/sign-in/email")) == "/sign-in/email"


async def test_known_and_unknown_addresses_take_the_same_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import time

    from settings import get_settings

    slow = dataclasses.replace(get_settings(), sign_in_response_seconds=0.3)
    monkeypatch.setattr(sign_in_links, "get_settings", lambda: slow)
    for address in (world.participant_a.email, "nobody@example.edu"):
        started = time.monotonic()
        await sign_in_links.request_link(address, client="203.0.113.9")
        assert time.monotonic() - started >= 0.3
