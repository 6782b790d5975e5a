"""Subscription feeds, .ics downloads, and the outbox as office staff see it."""

from __future__ import annotations

import re

import httpx

from mail import outbox
from tests.conftest import World, post_form, sign_in
from tests.sessions.test_invites import ical_js, vobject_events


async def _feed_url(client: httpx.AsyncClient, email: str, world: World | None = None) -> str:
    if world is not None:  # a draft schedule is in nobody's feed: publish it
        await client.post(
            f"/api/cohorts/{world.cohort_a}/publish", headers=world.facilitator_a.auth
        )
    await sign_in(client, email)
    page = (await client.get("/calendar")).text
    match = re.search(r'value="http://testserver(/feeds/[^"]+)"', page)
    assert match, "no feed address on the calendar page"
    assert "webcal://testserver/feeds/" in page
    return match.group(1)


async def test_a_persons_feed_lists_their_sessions_and_keeps_cancelled_ones(
    client: httpx.AsyncClient, make_client: object, world: World
) -> None:
    url = await _feed_url(client, world.participant_a.email, world)
    anonymous: httpx.AsyncClient = make_client()  # type: ignore[operator]
    response = await anonymous.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"].startswith("inline")
    assert response.headers["referrer-policy"] == "no-referrer"
    body = response.content
    assert b"METHOD" not in body and b"ATTENDEE" not in body
    assert (
        b"REFRESH-INTERVAL;VALUE=DURATION:PT12H\r\n" in body
        and b"X-PUBLISHED-TTL:PT12H\r\n" in body
    )
    sessions = (
        await anonymous.get(f"/api/cohorts/{world.cohort_a}/sessions", headers=world.staff.auth)
    ).json()
    events = ical_js(body)["events"]
    assert [e["uid"] for e in events] == [s["ical_uid"] for s in sessions]
    assert len(vobject_events(body)) == 8
    await anonymous.post(
        f"/api/sessions/{sessions[2]['id']}/cancel", headers=world.facilitator_a.auth
    )
    after = ical_js((await anonymous.get(url)).content)["events"]
    assert after[2]["status"] == "CANCELLED" and len(after) == 8


async def test_feeds_answer_304_until_something_changes(
    client: httpx.AsyncClient, make_client: object, world: World
) -> None:
    url = await _feed_url(client, world.participant_a.email, world)
    reader: httpx.AsyncClient = make_client()  # type: ignore[operator]
    first = await reader.get(url)
    again = await reader.get(url)
    assert first.headers["etag"] == again.headers["etag"] and first.content == again.content
    cached = await reader.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""
    since = await reader.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304
    sessions = (
        await reader.get(f"/api/cohorts/{world.cohort_a}/sessions", headers=world.staff.auth)
    ).json()
    await reader.patch(
        f"/api/sessions/{sessions[4]['id']}",
        headers=world.facilitator_a.auth,
        json={"start_time": "16:00"},
    )
    changed = await reader.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]
    # Leaving the cohort empties the feed, and that is a change too (no stale 304).
    eid = (
        await reader.get(f"/api/cohorts/{world.cohort_a}/participants", headers=world.staff.auth)
    ).json()[0]["enrollment_id"]
    await reader.post(
        f"/api/cohorts/{world.cohort_a}/participants/{eid}/withdraw", headers=world.staff.auth
    )
    empty = await reader.get(url, headers={"If-None-Match": changed.headers["etag"]})
    assert empty.status_code == 200 and b"BEGIN:VEVENT" not in empty.content


async def test_regenerating_a_feed_revokes_the_old_address_and_others_cannot_guess_it(
    client: httpx.AsyncClient, make_client: object, world: World
) -> None:
    old = await _feed_url(client, world.participant_a.email, world)
    reader: httpx.AsyncClient = make_client()  # type: ignore[operator]
    assert (await reader.get(old)).status_code == 200
    await post_form(client, "/calendar/regenerate", {}, page="/calendar")
    new = re.search(
        r'value="http://testserver(/feeds/[^"]+)"', (await client.get("/calendar")).text
    )
    assert new and new.group(1) != old
    assert (await reader.get(old)).status_code == 404
    assert (await reader.get(new.group(1))).status_code == 200
    # Person B's id with person A's secret opens nothing.
    secret = old.rsplit("-", 1)[1]
    assert (await reader.get(f"/feeds/p{world.participant_b.id}-{secret}")).status_code == 404
    assert (await reader.get("/feeds/not-a-feed.ics")).status_code == 404


async def test_a_session_downloads_as_publish_without_attendees(
    client: httpx.AsyncClient, world: World
) -> None:
    sessions = (
        await client.get(f"/api/cohorts/{world.cohort_a}/sessions", headers=world.staff.auth)
    ).json()
    response = await client.get(
        f"/api/sessions/{sessions[0]['id']}/invite.ics", headers=world.participant_a.auth
    )
    assert response.status_code == 200
    assert b"METHOD:PUBLISH\r\n" in response.content and b"ATTENDEE" not in response.content
    (event,) = ical_js(response.content)["events"]
    assert event["uid"] == sessions[0]["ical_uid"]
    assert (
        await client.get(
            f"/api/sessions/{sessions[0]['id']}/invite.ics", headers=world.participant_b.auth
        )
    ).status_code == 404


async def test_office_staff_read_the_outbox_but_never_a_confidential_body(
    client: httpx.AsyncClient, world: World
) -> None:
    await client.post(f"/api/cohorts/{world.cohort_a}/publish", headers=world.facilitator_a.auth)
    await outbox.enqueue(
        [
            outbox.NewMessage(
                "secret-link",
                "sign_in",
                "x@example.edu",
                "Your sign-in link",
                b"Subject: s\r\n\r\nhttp://secret-token\r\n",
                "<s@example.org>",
                confidential=True,
            )
        ]
    )
    listed = (await client.get("/api/outbox", headers=world.staff.auth)).json()
    assert {m["kind"] for m in listed} == {"invite", "sign_in"}
    secret = next(m for m in listed if m["kind"] == "sign_in")
    assert secret["subject"] == ""
    detail = (await client.get(f"/api/outbox/{secret['id']}", headers=world.staff.auth)).json()
    assert (detail["text"], detail["html"], detail["calendar"]) == (None, None, None)
    assert (
        await client.get(f"/api/outbox/{secret['id']}", headers=world.participant_a.auth)
    ).status_code == 403
    invite = next(m for m in listed if m["kind"] == "invite")
    shown = (await client.get(f"/api/outbox/{invite['id']}", headers=world.staff.auth)).json()
    assert "METHOD:REQUEST" in shown["calendar"] and "Dear Part A" in shown["text"]
    await sign_in(client, world.staff.email)
    page = await client.get(f"/outbox/{secret['id']}")
    assert "secret-token" not in page.text and "confidential" in page.text
    assert "secret-token" not in (await client.get("/outbox")).text


async def test_held_messages_are_released_and_messages_can_be_cancelled_and_retried(
    client: httpx.AsyncClient, world: World
) -> None:
    from sessions.tables import Cohort

    await Cohort.update({Cohort.review_mail: True}).where(Cohort.id == world.cohort_a)
    await client.post(f"/api/cohorts/{world.cohort_a}/publish", headers=world.facilitator_a.auth)
    listed = (
        await client.get("/api/outbox", params={"state": "held"}, headers=world.staff.auth)
    ).json()
    assert len(listed) == 7
    released = await client.post(
        "/api/outbox/release", headers=world.staff.auth, json={"cohort_id": world.cohort_a}
    )
    assert released.json() == {"released": 7}
    one = listed[0]["id"]
    cancelled = await client.post(f"/api/outbox/{one}/cancel", headers=world.staff.auth)
    assert cancelled.json()["state"] == "cancelled"
    assert (
        await client.post(f"/api/outbox/{one}/cancel", headers=world.staff.auth)
    ).status_code == 409
    # A cancelled message was superseded: it never goes out again.
    assert (
        await client.post(f"/api/outbox/{one}/retry", headers=world.staff.auth)
    ).status_code == 409
    from mail.tables import OutboxMessage

    await OutboxMessage.update({OutboxMessage.state: "failed"}).where(
        OutboxMessage.id == listed[1]["id"]
    )
    retried = await client.post(f"/api/outbox/{listed[1]['id']}/retry", headers=world.staff.auth)
    assert retried.json()["state"] == "queued"


async def test_send_now_from_the_outbox_page_shows_its_progress(
    client: httpx.AsyncClient, world: World
) -> None:
    import asyncio

    from sessions import outbox_views

    await client.post(f"/api/cohorts/{world.cohort_a}/publish", headers=world.facilitator_a.auth)
    await sign_in(client, world.staff.email)
    page = await client.get("/outbox")
    assert "Mail is not leaving this machine" in page.text
    await post_form(client, "/outbox/send-now", {}, page="/outbox")
    for _ in range(50):
        run = outbox_views.current_run()
        if run is not None and not run.running:
            break
        await asyncio.sleep(0.1)
    progress = (await client.get("/outbox/progress")).text
    assert "Last run finished." in progress and "Sent <strong>7</strong>" in progress
    timeline = await client.get(
        f"/sessions/{(await client.get(f'/api/cohorts/{world.cohort_a}/sessions', headers=world.staff.auth)).json()[1]['id']}/messages"
    )
    assert "invite" in timeline.text and "sent" in timeline.text


async def test_send_now_for_one_cohort_leaves_the_others_queued(
    client: httpx.AsyncClient, world: World
) -> None:
    import asyncio

    from facilitators.services import CurrentUser
    from sessions import outbox_views

    await client.post(f"/api/cohorts/{world.cohort_a}/publish", headers=world.facilitator_a.auth)
    await client.post(f"/api/cohorts/{world.cohort_b}/publish", headers=world.facilitator_b.auth)
    staff = CurrentUser(world.staff.id, "Staff", world.staff.email, frozenset({"staff"}))
    run = await outbox_views.send_now(staff, outbox.OutboxFilter(cohort_id=world.cohort_a))
    for _ in range(50):
        if not run.running:
            break
        await asyncio.sleep(0.1)
    assert (await outbox.counts(world.cohort_a))["sent"] == 7
    assert (await outbox.counts(world.cohort_b))["queued"] == 7


async def test_a_draft_schedule_is_in_nobodys_feed(
    client: httpx.AsyncClient, make_client: object, world: World
) -> None:
    url = await _feed_url(client, world.participant_a.email)
    reader: httpx.AsyncClient = make_client()  # type: ignore[operator]
    assert b"BEGIN:VEVENT" not in (await reader.get(url)).content
    await reader.post(f"/api/cohorts/{world.cohort_a}/publish", headers=world.facilitator_a.auth)
    assert (await reader.get(url)).content.count(b"BEGIN:VEVENT") == 8


def test_feed_secrets_never_reach_a_log() -> None:
    import logging

    from web import RedactFeedSecrets, loggable

    assert loggable("/feeds/p12-abcdefghijklmnopqrstuvwxyz012345.ics") == "/feeds/[secret]"
    record = logging.LogRecord(
        "uvicorn.access",
        20,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4", "GET", "/feeds/p1-secret.ics?x=1", "1.1", 200),
        None,
    )
    RedactFeedSecrets().filter(record)
    assert "secret" not in record.getMessage().replace("[secret]", "")


async def test_if_modified_since_sees_a_removal_and_a_rename(
    client: httpx.AsyncClient, make_client: object, world: World
) -> None:
    import asyncio

    await client.patch(
        f"/api/cohorts/{world.cohort_a}",
        headers=world.staff.auth,
        json={"facilitator_ids": [world.facilitator_a.id, world.facilitator_b.id]},
    )
    url = await _feed_url(client, world.facilitator_b.email, world)
    reader: httpx.AsyncClient = make_client()  # type: ignore[operator]
    first = await reader.get(url)
    assert first.content.count(b"BEGIN:VEVENT") == 8
    await asyncio.sleep(1.1)  # Last-Modified has one-second resolution
    await reader.patch(
        f"/api/cohorts/{world.cohort_a}",
        headers=world.staff.auth,
        json={"name": "Cohort A, renamed"},
    )
    renamed = await reader.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert renamed.status_code == 200 and b"renamed" in renamed.content
    await asyncio.sleep(1.1)
    await reader.patch(
        f"/api/cohorts/{world.cohort_a}",
        headers=world.staff.auth,
        json={"facilitator_ids": [world.facilitator_a.id]},
    )
    removed = await reader.get(url, headers={"If-Modified-Since": renamed.headers["last-modified"]})
    assert removed.status_code == 200 and b"BEGIN:VEVENT" not in removed.content


async def test_the_recipient_filter_finds_addresses_with_underscores(
    client: httpx.AsyncClient, world: World
) -> None:
    await outbox.enqueue(
        [
            outbox.NewMessage(
                "u1",
                "test",
                "first_last@example.edu",
                "Hi",
                b"Subject: Hi\r\n\r\nx\r\n",
                "<u1@example.org>",
            )
        ]
    )
    found = (
        await client.get(
            "/api/outbox", params={"recipient": "first_last"}, headers=world.staff.auth
        )
    ).json()
    assert [m["recipient"] for m in found] == ["first_last@example.edu"]
