"""Calendar invites, checked byte by byte against INVITES.md and read back by two parsers
nobody here wrote (ical.js and vobject), which must agree with each other and with the API."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import vobject

from mail.tables import OutboxMessage
from tests.conftest import World, skip_or_fail

PARSER = Path(__file__).resolve().parents[1] / "tools" / "parse_ics.mjs"


def ical_js(ics: bytes) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (PARSER.parent / "node_modules" / "ical.js").exists():
        skip_or_fail("ical.js is not installed (npm ci --prefix tests/tools)")
        raise AssertionError("unreachable")
    done = subprocess.run(
        [node, str(PARSER)], input=ics, capture_output=True, check=True, timeout=30
    )
    return dict(json.loads(done.stdout))


def vobject_events(ics: bytes) -> list[Any]:
    calendar = vobject.readOne(ics.decode())
    return list(calendar.vevent_list)


async def messages(**where: Any) -> list[dict[str, Any]]:
    query = OutboxMessage.select()
    for key, value in where.items():
        query = query.where(getattr(OutboxMessage, key) == value)
    return await query.order_by(OutboxMessage.id)


def calendar_of(content: bytes) -> tuple[str, bytes, Any]:
    """The calendar part's METHOD parameter, its bytes, and the parsed message."""
    parsed: Any = message_from_bytes(content, policy=default)
    part = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    return part.get_param("method"), part.get_payload(decode=True), parsed


async def _publish(client: httpx.AsyncClient, world: World) -> list[dict[str, Any]]:
    response = await client.post(
        f"/api/cohorts/{world.cohort_a}/publish", headers=world.facilitator_a.auth
    )
    assert response.status_code == 200, response.text
    return (
        await client.get(f"/api/cohorts/{world.cohort_a}/sessions", headers=world.staff.auth)
    ).json()


async def test_publishing_queues_one_invite_per_person_and_session_still_to_come(
    client: httpx.AsyncClient, world: World
) -> None:
    assert await messages() == []  # nothing goes out while the schedule is a draft
    sessions = await _publish(client, world)
    future = [
        s for s in sessions if dt.datetime.fromisoformat(s["ends_at"]) > dt.datetime.now(dt.UTC)
    ]
    queued = await messages(cohort_id=world.cohort_a)
    # The lead facilitator organizes and is not invited; the one participant is.
    assert {m["recipient"] for m in queued} == {world.participant_a.email}
    assert len(queued) == len(future) == 7
    assert {m["kind"] for m in queued} == {"invite"}
    assert all(m["state"] == "queued" for m in queued)


async def test_an_invite_follows_invites_md_to_the_byte(
    client: httpx.AsyncClient, world: World
) -> None:
    sessions = await _publish(client, world)
    session = sessions[1]
    (row,) = await messages(session_id=session["id"])
    content = bytes(row["content"])
    method, ics, parsed = calendar_of(content)
    assert method == "REQUEST"
    assert parsed.get_content_type() == "multipart/mixed"
    alternative = parsed.get_payload()[0]
    assert [p.get_content_type() for p in alternative.get_payload()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    assert alternative.get_payload()[2].get_content_disposition() is None
    assert parsed.get_payload()[1].get_content_type() == "application/ics"
    assert parsed.get_payload()[1].get_payload(decode=True) == ics
    for header in ("From", "To", "Subject", "Date", "MIME-Version", "Message-ID", "Reply-To"):
        assert parsed[header], header
    assert parsed["Message-ID"] == row["message_id"]
    assert re.fullmatch(r"<[0-9a-f]{40}@example\.org>", row["message_id"])
    assert world.participant_a.email in parsed["To"]
    # iCalendar: CRLF only, lines folded at 75 octets, UTC times, METHOD equal to the MIME one.
    assert b"\n" not in ics.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in ics.split(b"\r\n"))
    assert b"METHOD:REQUEST\r\n" in ics and b"VERSION:2.0\r\n" in ics and b"PRODID:" in ics
    unfolded = ics.replace(b"\r\n ", b"").decode()
    assert f"UID:{session['ical_uid']}" in unfolded
    assert "SEQUENCE:0" in unfolded and "STATUS:CONFIRMED" in unfolded
    assert re.search(r"DTSTART:\d{8}T\d{6}Z", unfolded) and re.search(
        r"DTSTAMP:\d{8}T\d{6}Z", unfolded
    )
    assert "VTIMEZONE" not in unfolded and "RRULE" not in unfolded
    assert re.search(r"ORGANIZER;CN=\"?Fac A\"?:mailto:fac.a@example.org", unfolded)
    assert re.search(
        r"ATTENDEE;CN=\"?Part A\"?;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:part.a@example.edu",
        unfolded,
    )
    assert "Your time" not in parsed.get_body(("plain",)).get_content()
    assert "When: " in parsed.get_body(("plain",)).get_content()


async def test_two_parsers_agree_with_each_other_and_with_the_api(
    client: httpx.AsyncClient, world: World
) -> None:
    sessions = await _publish(client, world)
    by_id = {s["id"]: s for s in sessions}
    for row in await messages(cohort_id=world.cohort_a):
        _, ics, _ = calendar_of(bytes(row["content"]))
        api = by_id[row["session_id"]]
        mozilla = ical_js(ics)
        (event,) = mozilla["events"]
        (other,) = vobject_events(ics)
        assert mozilla["method"] == "REQUEST"
        assert event["start_is_utc"] is True
        api_start = dt.datetime.fromisoformat(api["starts_at"])
        api_end = dt.datetime.fromisoformat(api["ends_at"])
        assert dt.datetime.fromisoformat(event["start"]) == api_start == other.dtstart.value
        assert dt.datetime.fromisoformat(event["end"]) == api_end == other.dtend.value
        assert event["uid"] == other.uid.value == api["ical_uid"]
        assert event["sequence"] == int(other.sequence.value) == api["ical_sequence"]
        assert event["attendees"] == [
            {
                "value": "mailto:part.a@example.edu",
                "cn": "Part A",
                "role": "REQ-PARTICIPANT",
                "partstat": "NEEDS-ACTION",
                "rsvp": "TRUE",
            }
        ]


async def test_a_reschedule_updates_the_same_event_and_supersedes_what_has_not_gone_out(
    client: httpx.AsyncClient, world: World
) -> None:
    sessions = await _publish(client, world)
    session = sessions[2]
    moved = await client.patch(
        f"/api/sessions/{session['id']}",
        headers=world.facilitator_a.auth,
        json={"start_time": "17:00"},
    )
    assert moved.json()["sequence_bumped"] is True
    rows = await messages(session_id=session["id"])
    assert [(r["kind"], r["state"]) for r in rows] == [
        ("invite", "cancelled"),
        ("update", "queued"),
    ]
    method, ics, _ = calendar_of(bytes(rows[1]["content"]))
    (event,) = ical_js(ics)["events"]
    assert (method, event["uid"], event["sequence"]) == ("REQUEST", session["ical_uid"], 1)
    assert dt.datetime.fromisoformat(event["start"]) == dt.datetime.fromisoformat(
        moved.json()["session"]["starts_at"]
    )
    _, _, parsed = calendar_of(bytes(rows[1]["content"]))
    text = parsed.get_body(("plain",)).get_content()
    assert (
        "has changed" in text
        and "Previously: " in text
        and "15:00" in text.split("Previously: ")[1]
    )
    # A retitle changes no calendar: nothing new is queued.
    await client.patch(
        f"/api/sessions/{session['id']}",
        headers=world.facilitator_a.auth,
        json={"title": "New title"},
    )
    assert len(await messages(session_id=session["id"])) == 2


async def test_cancelling_sends_cancel_and_restoring_invites_again(
    client: httpx.AsyncClient, world: World
) -> None:
    sessions = await _publish(client, world)
    session = sessions[3]
    await client.post(f"/api/sessions/{session['id']}/cancel", headers=world.facilitator_a.auth)
    cancel = (await messages(session_id=session["id"]))[-1]
    method, ics, _ = calendar_of(bytes(cancel["content"]))
    (event,) = ical_js(ics)["events"]
    assert (cancel["kind"], method, event["status"], event["sequence"], event["alarms"]) == (
        "cancel",
        "CANCEL",
        "CANCELLED",
        1,
        0,
    )
    (other,) = vobject_events(ics)
    assert other.status.value == "CANCELLED"
    await client.post(f"/api/sessions/{session['id']}/restore", headers=world.facilitator_a.auth)
    restored = (await messages(session_id=session["id"]))[-1]
    method, ics, _ = calendar_of(bytes(restored["content"]))
    (event,) = ical_js(ics)["events"]
    assert (restored["kind"], method, event["status"], event["sequence"]) == (
        "update",
        "REQUEST",
        "CONFIRMED",
        2,
    )


async def test_co_facilitators_are_chairs_and_the_organizer_is_not_invited(
    client: httpx.AsyncClient, world: World
) -> None:
    await client.patch(
        f"/api/cohorts/{world.cohort_a}",
        headers=world.staff.auth,
        json={
            "facilitator_ids": [world.facilitator_a.id, world.facilitator_b.id],
            "lead_facilitator_id": world.facilitator_a.id,
        },
    )
    await _publish(client, world)
    rows = await messages(cohort_id=world.cohort_a, person_id=world.facilitator_b.id)
    assert rows and not await messages(cohort_id=world.cohort_a, person_id=world.facilitator_a.id)
    _, ics, _ = calendar_of(bytes(rows[0]["content"]))
    (event,) = ical_js(ics)["events"]
    assert event["attendees"][0]["role"] == "CHAIR"
    assert event["organizer"] == {"value": "mailto:fac.a@example.org", "cn": "Fac A"}


async def test_joining_late_invites_to_what_is_left_and_leaving_cancels(
    client: httpx.AsyncClient, world: World
) -> None:
    from mail.tables import OutboxMessage as Row

    sessions = await _publish(client, world)
    added = await client.post(
        f"/api/cohorts/{world.cohort_a}/participants",
        headers=world.staff.auth,
        json={"email": "late@example.edu", "name": "Late Comer"},
    )
    person_id = added.json()["participant"]["person_id"]
    enrollment_id = added.json()["participant"]["enrollment_id"]
    invites = await messages(person_id=person_id)
    assert len(invites) == 7 and {r["kind"] for r in invites} == {"invite"}
    # Two of the invitations went out; the others still wait.
    await Row.update({Row.state: "sent"}).where(Row.id.is_in([invites[0]["id"], invites[1]["id"]]))
    await client.post(
        f"/api/cohorts/{world.cohort_a}/participants/{enrollment_id}/withdraw",
        headers=world.staff.auth,
    )
    after = await messages(person_id=person_id)
    waiting = [
        r
        for r in after
        if r["kind"] == "invite" and r["id"] not in (invites[0]["id"], invites[1]["id"])
    ]
    assert {r["state"] for r in waiting} == {"cancelled"}
    cancels = [r for r in after if r["kind"] == "cancel"]
    # A CANCEL only for the events they hold.
    assert sorted(r["session_id"] for r in cancels) == sorted(
        [invites[0]["session_id"], invites[1]["session_id"]]
    )
    method, ics, _ = calendar_of(bytes(cancels[0]["content"]))
    (event,) = ical_js(ics)["events"]
    assert method == "CANCEL" and event["sequence"] == sessions[1]["ical_sequence"] + 1


async def test_a_review_first_cohort_holds_its_messages(
    client: httpx.AsyncClient, world: World
) -> None:
    from sessions.tables import Cohort

    await Cohort.update({Cohort.review_mail: True}).where(Cohort.id == world.cohort_a)
    await _publish(client, world)
    assert {r["state"] for r in await messages(cohort_id=world.cohort_a)} == {"held"}


async def test_invites_reach_a_real_smtp_server_and_parse_the_same(
    client: httpx.AsyncClient, world: World, smtp_server: Any
) -> None:
    from mail.dispatcher import DispatchConfig, dispatch_due
    from mail.transports import SMTPConfig, SMTPTransport

    await _publish(client, world)
    progress = await dispatch_due(
        SMTPTransport(SMTPConfig.from_url(smtp_server.url), "mentorcircle@example.org"),
        DispatchConfig(),
    )
    assert progress.sent == 7
    received = smtp_server.mailbox.received
    assert len(received) == 7
    method, ics, parsed = calendar_of(received[0].content)
    assert method == "REQUEST" and parsed["Message-ID"].endswith("@example.org>")
    assert ical_js(ics)["events"][0]["start_is_utc"] is True


async def test_a_waitlisted_person_who_leaves_gets_no_cancellation(
    client: httpx.AsyncClient, world: World
) -> None:
    await _publish(client, world)
    await client.patch(
        f"/api/cohorts/{world.cohort_a}", headers=world.staff.auth, json={"capacity": 1}
    )
    added = await client.post(
        f"/api/cohorts/{world.cohort_a}/participants",
        headers=world.staff.auth,
        json={"email": "wait@example.edu", "name": "Wait"},
    )
    participant = added.json()["participant"]
    assert participant["status"] == "waitlisted"
    await client.post(
        f"/api/cohorts/{world.cohort_a}/participants/{participant['enrollment_id']}/withdraw",
        headers=world.staff.auth,
    )
    assert await messages(person_id=participant["person_id"]) == []


async def test_a_reschedule_keeps_a_leavers_pending_cancellation(
    client: httpx.AsyncClient, world: World
) -> None:
    from mail.tables import OutboxMessage as Row

    sessions = await _publish(client, world)
    added = await client.post(
        f"/api/cohorts/{world.cohort_a}/participants",
        headers=world.staff.auth,
        json={"email": "leaver@example.edu", "name": "Leaver"},
    )
    person = added.json()["participant"]
    await Row.update({Row.state: "sent"}).where(Row.person_id == person["person_id"])
    await client.post(
        f"/api/cohorts/{world.cohort_a}/participants/{person['enrollment_id']}/withdraw",
        headers=world.staff.auth,
    )
    target = sessions[3]
    await client.patch(
        f"/api/sessions/{target['id']}",
        headers=world.facilitator_a.auth,
        json={"start_time": "18:00"},
    )
    leaver = await messages(person_id=person["person_id"], session_id=target["id"])
    assert [(r["kind"], r["state"]) for r in leaver] == [("invite", "sent"), ("cancel", "queued")]


async def test_names_with_commas_are_one_quoted_address(
    client: httpx.AsyncClient, world: World
) -> None:
    from email.utils import getaddresses

    added = await client.post(
        f"/api/cohorts/{world.cohort_a}/participants",
        headers=world.staff.auth,
        json={"email": "jane@example.edu", "name": "Smith, Jane"},
    )
    assert added.status_code == 201
    await _publish(client, world)
    row = (await messages(person_id=added.json()["participant"]["person_id"]))[0]
    _, _, parsed = calendar_of(bytes(row["content"]))
    assert getaddresses([parsed["To"]]) == [("Smith, Jane", "jane@example.edu")]
    bad = await client.post(
        f"/api/cohorts/{world.cohort_a}/participants",
        headers=world.staff.auth,
        json={"email": "evil@example.edu", "name": "Evil\r\nBcc: everyone@example.org"},
    )
    assert bad.status_code == 422 and "single line" in bad.json()["detail"]


async def test_co_facilitators_added_or_removed_after_publishing_are_told(
    client: httpx.AsyncClient, world: World
) -> None:
    from mail.tables import OutboxMessage as Row

    await _publish(client, world)
    url = f"/api/cohorts/{world.cohort_a}"
    both = [world.facilitator_a.id, world.facilitator_b.id]
    await client.patch(
        url,
        headers=world.staff.auth,
        json={"facilitator_ids": both, "lead_facilitator_id": world.facilitator_a.id},
    )
    added = await messages(person_id=world.facilitator_b.id, cohort_id=world.cohort_a)
    assert len(added) == 7 and {r["kind"] for r in added} == {"invite"}
    await Row.update({Row.state: "sent"}).where(Row.person_id == world.facilitator_b.id)
    await client.patch(
        url, headers=world.staff.auth, json={"facilitator_ids": [world.facilitator_a.id]}
    )
    cancels = [
        r
        for r in await messages(person_id=world.facilitator_b.id, cohort_id=world.cohort_a)
        if r["kind"] == "cancel"
    ]
    assert len(cancels) == 7


async def test_coming_back_after_leaving_brings_the_sessions_back(
    client: httpx.AsyncClient, world: World
) -> None:
    from mail.tables import OutboxMessage as Row

    await _publish(client, world)
    url = f"/api/cohorts/{world.cohort_a}/participants"
    added = (
        await client.post(
            url, headers=world.staff.auth, json={"email": "back@example.edu", "name": "Back"}
        )
    ).json()
    person, enrollment = added["participant"]["person_id"], added["participant"]["enrollment_id"]
    await Row.update({Row.state: "sent"}).where(Row.person_id == person)
    await client.post(f"{url}/{enrollment}/withdraw", headers=world.staff.auth)
    await Row.update({Row.state: "sent"}).where(Row.person_id == person)
    again = await client.post(url, headers=world.staff.auth, json={"email": "back@example.edu"})
    assert again.status_code == 201
    rows = await messages(person_id=person)
    invites = [r for r in rows if r["kind"] == "invite" and r["state"] == "queued"]
    assert len(invites) == 7, "the sessions come back"
    _, ics, _ = calendar_of(bytes(invites[0]["content"]))
    (event,) = ical_js(ics)["events"]
    cancel = next(
        r for r in rows if r["kind"] == "cancel" and r["session_id"] == invites[0]["session_id"]
    )
    _, cancel_ics, _ = calendar_of(bytes(cancel["content"]))
    (cancelled,) = ical_js(cancel_ics)["events"]
    assert event["sequence"] >= cancelled["sequence"]
