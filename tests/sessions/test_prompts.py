"""Assignment prompts and reminders: time moves with the scheduler's `now`, as
`mentorcircle dispatch --now` moves it; messages are counted in the real outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import os
import subprocess
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import PASSWORD, World, make_person, post_form, sign_in

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


def acting(world: World) -> Any:
    from facilitators.services import CurrentUser

    return CurrentUser(
        world.facilitator_a.id, "Fac A", world.facilitator_a.email, frozenset({"facilitator"})
    )


@dataclass
class Semester:
    cohort: int
    sessions: list[dict[str, Any]]
    participants: list[int]  # person ids


@pytest.fixture
async def semester(world: World) -> Semester:
    """Cohort A again, but all in the future: four fortnightly sessions from three weeks on, with
    prompts, three participants, published."""
    from sessions.roster import add_participant
    from sessions.schedule import ScheduleRule
    from sessions.services import CohortInput, create_cohort, publish_schedule
    from sessions.tables import Session

    actor = acting(world)
    created = await create_cohort(
        CohortInput(
            name="Spring mentors",
            timezone="America/Chicago",
            facilitator_ids=(world.facilitator_a.id,),
            schedule=ScheduleRule(
                first_date=dt.date.today() + dt.timedelta(days=21),
                start_time=dt.time(15, 0),
                interval_weeks=2,  # one session's messages never overlap the next one's
                count=4,
            ),
        ),
        actor=actor,
    )
    await Session.update({Session.assignment_prompt: "Read **Aligning expectations**."}).where(
        Session.cohort == created.id
    )
    people = [world.participant_a.id]
    await add_participant(created.id, world.participant_a.email, None, actor=actor)
    for name in ("Ada Lovelace", "Grace Hopper"):
        from facilitators.services import PersonInput

        address = name.split()[0].lower() + "@example.edu"
        result = await add_participant(created.id, address, PersonInput(name, address), actor=actor)
        people.append(result.person_id)
    await publish_schedule(created.id, actor=actor)
    sessions = await Session.select().where(Session.cohort == created.id).order_by(Session.position)
    return Semester(created.id, sessions, people)


async def tick(now: dt.datetime) -> int:
    """One scheduler round at `now` (what the dispatcher runs before sending)."""
    from sessions.prompts import enqueue_due

    return await enqueue_due(now)


async def outbox(**where: Any) -> list[dict[str, Any]]:
    from mail.tables import OutboxMessage

    query = OutboxMessage.select()
    for name, value in where.items():
        column = getattr(OutboxMessage, name)
        query = query.where(column.is_in(value) if isinstance(value, list) else column == value)
    return await query.order_by(OutboxMessage.id)


def parsed(row: dict[str, Any]) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(bytes(row["content"]), policy=default))


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


async def test_nothing_before_the_lead_then_exactly_one_prompt_each(semester: Semester) -> None:
    first = semester.sessions[0]
    lead = first["starts_at"] - 7 * DAY
    assert await tick(lead - MINUTE) == 0
    assert await tick(lead + MINUTE) == 3
    for _ in range(3):
        assert await tick(lead + 2 * MINUTE) == 0
    prompts = await outbox(kind="prompt")
    assert sorted(r["person_id"] for r in prompts) == sorted(semester.participants)
    assert {r["session_id"] for r in prompts} == {first["id"]}
    message = parsed(prompts[0])
    assert message["Subject"].startswith("Assignment: Spring mentors, session 1")
    assert "List-Unsubscribe" not in message
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    html = body(message, "html")
    assert "<strong>Aligning expectations</strong>" in html
    text = body(message, "plain")
    assert "/cant-attend/" in text and "Read **Aligning expectations**." in text
    # A prompt does not outlive its meeting.
    assert prompts[0]["expires_at"] == first["starts_at"]


async def test_reminders_go_at_their_offsets_with_list_unsubscribe(semester: Semester) -> None:
    start = semester.sessions[0]["starts_at"]
    await tick(start - 7 * DAY + MINUTE)
    assert await tick(start - 48 * HOUR - MINUTE) == 0
    assert await tick(start - 48 * HOUR + MINUTE) == 3
    assert await tick(start - 3 * HOUR) == 0
    assert await tick(start - 2 * HOUR + MINUTE) == 3
    assert await tick(start - MINUTE) == 0
    assert await tick(start + MINUTE) == 0  # it has begun: nothing more
    reminders = await outbox(kind="reminder")
    assert len(reminders) == 6
    message = parsed(reminders[-1])
    assert message["Subject"].startswith("Reminder: Spring mentors, session 1")
    assert message["List-Unsubscribe"].strip().startswith("<http://testserver/reminders/off/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert all(part.get_content_type() != "text/calendar" for part in message.walk())


async def test_a_missed_reminder_is_superseded_by_the_next_not_sent_late(
    semester: Semester,
) -> None:
    start = semester.sessions[0]["starts_at"]
    await tick(start - 7 * DAY + MINUTE)
    # No dispatcher ran between the 48-hour and the 2-hour mark: one reminder, the 2-hour one.
    assert await tick(start - 90 * MINUTE) == 3
    assert {r["key"].split(":")[3] for r in await outbox(kind="reminder")} == {"120m"}


async def test_nothing_for_a_cancelled_session_or_a_withdrawn_participant(
    semester: Semester, world: World
) -> None:
    from sessions.roster import withdraw
    from sessions.services import set_session_status
    from sessions.tables import Enrollment

    first, second = semester.sessions[0], semester.sessions[1]
    await tick(first["starts_at"] - 7 * DAY + MINUTE)  # prompts for session 1 are queued
    await set_session_status(first["id"], "cancelled", actor=acting(world))
    assert {r["state"] for r in await outbox(kind="prompt", session_id=first["id"])} == {
        "cancelled"
    }
    assert await tick(first["starts_at"] - HOUR) == 0
    leaving = semester.participants[2]
    enrollment = (
        await Enrollment.select(Enrollment.id)
        .where((Enrollment.cohort == semester.cohort) & (Enrollment.person == leaving))
        .first()
    )
    assert enrollment is not None
    await withdraw(semester.cohort, enrollment["id"], actor=acting(world))
    assert await tick(second["starts_at"] - 7 * DAY + MINUTE) == 2
    assert leaving not in {
        r["person_id"] for r in await outbox(session_id=second["id"], kind="prompt")
    }


async def test_a_rescheduled_session_reminds_at_its_new_time(
    semester: Semester, world: World
) -> None:
    from mail.tables import OutboxMessage
    from sessions.services import SessionChanges, update_session

    first = semester.sessions[0]
    old_start = first["starts_at"]
    await tick(old_start - 7 * DAY + MINUTE)
    # The prompts went out; then the meeting moves three days later.
    await OutboxMessage.update({OutboxMessage.state: "sent"}).where(OutboxMessage.kind == "prompt")
    chicago = ZoneInfo("America/Chicago")
    new_day = old_start.astimezone(chicago).date() + 3 * DAY
    await update_session(first["id"], SessionChanges(date=new_day), actor=acting(world))
    local = dt.datetime.combine(new_day, dt.time(15, 0), chicago).astimezone(dt.UTC)
    from sessions.tables import Session

    moved = await Session.select(Session.starts_at).where(Session.id == first["id"]).first()
    assert moved is not None and moved["starts_at"] == local
    assert await tick(old_start - 48 * HOUR + MINUTE) == 0  # the old time means nothing now
    assert await tick(local - 48 * HOUR + MINUTE) == 3
    reminders = await outbox(kind="reminder")
    assert all(local.strftime("%Y%m%dT%H%MZ") in r["key"] for r in reminders)
    # The prompt went out already: moving the meeting does not send it again.
    assert len(await outbox(kind="prompt")) == 3


async def test_a_waiting_prompt_is_replaced_after_a_reschedule(
    semester: Semester, world: World
) -> None:
    from sessions.services import SessionChanges, update_session

    first = semester.sessions[0]
    await tick(first["starts_at"] - 7 * DAY + MINUTE)  # queued, not sent yet
    await update_session(first["id"], SessionChanges(location="Room 101"), actor=acting(world))
    assert {r["state"] for r in await outbox(kind="prompt")} == {"cancelled"}
    assert await tick(first["starts_at"] - 7 * DAY + 2 * MINUTE) == 3
    fresh = [r for r in await outbox(kind="prompt") if r["state"] == "queued"]
    assert len(fresh) == 3 and all(r["key"].endswith(":1") for r in fresh)
    assert "Room 101" in body(parsed(fresh[0]), "plain")


async def test_each_message_once_when_schedulers_race(semester: Semester) -> None:
    lead = semester.sessions[0]["starts_at"] - 7 * DAY + MINUTE
    await asyncio.gather(*(tick(lead) for _ in range(5)))
    assert len(await outbox(kind="prompt")) == 3


def dispatch_command(now: dt.datetime) -> subprocess.Popen[str]:
    env = {**os.environ, "SMTP_URL": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "dispatch", "--once", "--now", now.isoformat()],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def test_mentorcircle_dispatch_now_in_two_processes_sends_each_prompt_once(
    semester: Semester,
) -> None:
    lead = semester.sessions[0]["starts_at"] - 7 * DAY + MINUTE
    first, second = dispatch_command(lead), dispatch_command(lead)
    outputs = await asyncio.gather(
        asyncio.to_thread(first.communicate, timeout=120),
        asyncio.to_thread(second.communicate, timeout=120),
    )
    assert first.returncode == 0 and second.returncode == 0, outputs
    prompts = await outbox(kind="prompt")
    assert len(prompts) == 3 and {r["state"] for r in prompts} == {"sent"}
    # Before the lead, the command queues nothing.
    early = dispatch_command(lead - 2 * MINUTE)
    await asyncio.to_thread(early.communicate, timeout=120)
    assert len(await outbox(kind="prompt")) == 3


async def test_someone_who_joins_after_the_lead_gets_the_prompt_at_once(
    semester: Semester, world: World
) -> None:
    from facilitators.services import PersonInput
    from sessions.roster import add_participant
    from sessions.tables import Enrollment

    start = semester.sessions[0]["starts_at"]
    await tick(start - 7 * DAY + MINUTE)
    await tick(start - 48 * HOUR + MINUTE)
    late = await add_participant(
        semester.cohort,
        "late@example.edu",
        PersonInput("Late Comer", "late@example.edu"),
        actor=acting(world),
    )
    # They joined after the 48-hour mark (time here is the scheduler's, so say when).
    await Enrollment.update({Enrollment.enrolled_at: start - 47 * HOUR - MINUTE}).where(
        Enrollment.id == late.enrollment_id
    )
    assert await tick(start - 47 * HOUR) == 1
    mine = await outbox(person_id=late.person_id, kind=["prompt", "reminder"])
    # The prompt; not the 48-hour reminder whose time passed before they joined.
    assert [r["kind"] for r in mine] == ["prompt"]


async def test_an_edited_prompt_goes_again_only_when_asked_once_per_revision(
    semester: Semester, world: World
) -> None:
    from errors import Conflict
    from mail.tables import OutboxMessage
    from sessions.prompts import send_updated_prompt, session_schedule
    from sessions.services import SessionChanges, update_session

    first = semester.sessions[0]
    await tick(first["starts_at"] - 7 * DAY + MINUTE)
    await OutboxMessage.update({OutboxMessage.state: "sent"}).where(OutboxMessage.kind == "prompt")
    actor = acting(world)
    await update_session(
        first["id"], SessionChanges(assignment_prompt="Read chapter 2 instead."), actor=actor
    )
    assert (await session_schedule(actor, first["id"])).outdated == 3
    assert await tick(first["starts_at"] - 6 * DAY) == 0  # not re-sent by itself
    assert await send_updated_prompt(first["id"], actor=actor) == 3
    with pytest.raises(Conflict):
        await send_updated_prompt(first["id"], actor=actor)
    updated = [r for r in await outbox(kind="prompt") if "updated" in r["key"]]
    assert len(updated) == 3
    message = parsed(updated[0])
    assert message["Subject"].startswith("Updated assignment:")
    assert "Read chapter 2 instead." in body(message, "plain")
    assert (await session_schedule(actor, first["id"])).outdated == 0


async def test_markdown_from_the_author_cannot_carry_script(
    client: httpx.AsyncClient, semester: Semester, world: World
) -> None:
    from sessions.services import SessionChanges, update_session

    first = semester.sessions[0]
    hostile = (
        "<script>alert('x')</script>\n\n[click](javascript:alert(1)) "
        '<img src=x onerror="alert(2)"> [fine](https://example.org/reading)'
    )
    await update_session(
        first["id"], SessionChanges(assignment_prompt=hostile), actor=acting(world)
    )
    await tick(first["starts_at"] - 7 * DAY + MINUTE)
    html = body(parsed((await outbox(kind="prompt"))[0]), "html")
    await sign_in(client, world.participant_a.email)
    page = (await client.get(f"/sessions/{first['id']}")).text
    for rendered in (html, page):
        assert "<script>alert" not in rendered
        assert 'href="javascript:' not in rendered.lower()
        assert "<img" not in rendered
        assert "&lt;script&gt;" in rendered  # shown as text, not run
        assert 'href="https://example.org/reading"' in rendered


def test_an_unknown_template_variable_is_an_error_not_blank_text() -> None:
    from jinja2 import UndefinedError

    from mail.render import render_message

    with pytest.raises(UndefinedError):
        render_message("prompt", {"name": "Ada"})


async def test_i_cant_attend_excuses_and_tells_the_facilitators_once(
    make_client: Any, semester: Semester, world: World
) -> None:
    from sessions.links import absence_token
    from sessions.tables import Attendance

    first = semester.sessions[0]
    person = semester.participants[1]
    link = f"/sessions/{first['id']}/cant-attend/{absence_token(first['id'], person)}"
    browser = make_client()  # not signed in: the link is enough
    form = await browser.get(link)
    assert form.status_code == 200 and "Tell my facilitators" in form.text
    done = await post_form(browser, link, {"message": "Teaching a lab that day."}, page=link)
    assert done.status_code == 200 and "Your facilitators have been told" in done.text
    again = await post_form(browser, link, {"message": "Lab moved, still away."}, page=link)
    assert "Your message is updated" in again.text
    records = await Attendance.select(Attendance.status, Attendance.note).where(
        Attendance.session == first["id"]
    )
    assert records == [{"status": "excused", "note": "Lab moved, still away."}]
    told = await outbox(kind="absence")
    assert [r["recipient"] for r in told] == [world.facilitator_a.email]
    assert told[0]["confidential"] is True
    # A link for another session, or a forged one, opens nothing.
    other = semester.sessions[1]["id"]
    assert (
        await browser.get(f"/sessions/{other}/cant-attend/{absence_token(first['id'], person)}")
    ).status_code == 404
    assert (
        await browser.get(f"/sessions/{first['id']}/cant-attend/{person}-forged")
    ).status_code == 404


async def test_a_signed_in_participant_says_it_from_the_session_page(
    client: httpx.AsyncClient, semester: Semester, world: World
) -> None:
    first = semester.sessions[0]
    await sign_in(client, world.participant_a.email)
    page = await client.get(f"/sessions/{first['id']}")
    assert f'href="/sessions/{first["id"]}/cant-attend"' in page.text
    path = f"/sessions/{first['id']}/cant-attend"
    done = await post_form(client, path, {"message": ""}, page=path)
    assert "Your facilitators have been told" in done.text
    assert (
        "You told your facilitators you cannot attend"
        in (await client.get(f"/sessions/{first['id']}")).text
    )


async def test_one_click_unsubscribe_stops_reminders_not_prompts(
    make_client: Any, semester: Semester
) -> None:
    from sessions.links import unsubscribe_token

    start = semester.sessions[0]["starts_at"]
    person = semester.participants[0]
    await tick(start - 7 * DAY + MINUTE)
    await tick(start - 48 * HOUR + MINUTE)  # a reminder waits for each participant
    mail_client = make_client()
    url = f"/reminders/off/{unsubscribe_token(person)}"
    assert "Switch reminders off" in (await mail_client.get(url)).text  # a GET changes nothing
    # RFC 8058: the mail client POSTs this body, with no cookie and no CSRF token.
    response = await mail_client.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and "Reminders are <strong>off</strong>" in response.text
    assert {r["state"] for r in await outbox(kind="reminder", person_id=person)} == {"cancelled"}
    await tick(start - 2 * HOUR + MINUTE)
    assert {r["state"] for r in await outbox(kind="reminder", person_id=person)} == {"cancelled"}
    # Prompts still come: the next session's.
    await tick(semester.sessions[1]["starts_at"] - 7 * DAY + MINUTE)
    assert await outbox(kind="prompt", person_id=person, session_id=semester.sessions[1]["id"])
    assert (await mail_client.post(f"/reminders/off/{person}-forged")).status_code == 404


async def test_facilitators_preview_any_participants_message_and_get_a_test_copy(
    client: httpx.AsyncClient, semester: Semester, world: World
) -> None:
    first = semester.sessions[0]
    grace = semester.participants[2]
    await sign_in(client, world.facilitator_a.email)
    preview = await client.get(f"/sessions/{first['id']}/preview?kind=reminder&person={grace}")
    assert preview.status_code == 200
    assert "Reminder: Spring mentors, session 1" in preview.text and "Grace Hopper" in preview.text
    html = await client.get(f"/sessions/{first['id']}/preview.html?kind=prompt&person={grace}")
    assert html.status_code == 200 and "Dear Grace Hopper" in html.text
    invite = await client.get(f"/sessions/{first['id']}/preview?kind=invite&person={grace}")
    assert invite.status_code == 200 and "Invitation: Spring mentors, session 1" in invite.text
    unknown = await client.get(f"/sessions/{first['id']}/preview?kind=bogus")
    assert unknown.status_code == 422 and "preview one of prompt, reminder, invite" in unknown.text
    assert "default-src 'none'" in html.headers["content-security-policy"]
    sent = await post_form(
        client,
        f"/sessions/{first['id']}/preview/send-test",
        {"kind": "prompt", "person": str(grace)},
    )
    assert sent.status_code in (302, 303)
    test = await outbox(kind="test")
    assert [r["recipient"] for r in test] == [world.facilitator_a.email]
    assert test[0]["subject"].startswith("[Test for Grace Hopper] Assignment:")
    # Nobody outside the cohort is previewed; a participant previews nothing.
    outsider = await make_person("outsider@example.edu", {"participant"})
    missing = await client.get(f"/sessions/{first['id']}/preview?person={outsider.id}")
    assert missing.status_code == 404
    participant = await client.post("/sign-out", data={})
    del participant
    await sign_in(client, world.participant_a.email, PASSWORD)
    assert (await client.get(f"/sessions/{first['id']}/preview")).status_code == 403


async def test_the_session_page_shows_the_planned_messages_and_what_went(
    client: httpx.AsyncClient, semester: Semester, world: World
) -> None:
    first = semester.sessions[0]
    await sign_in(client, world.facilitator_a.email)
    page = (await client.get(f"/sessions/{first['id']}")).text
    assert "Assignment prompt, 7 days before" in page
    assert "Reminder, 2 days before" in page and "Reminder, 2 hours before" in page
    assert page.count(">planned<") == 3
    await tick(first["starts_at"] - 7 * DAY + MINUTE)
    page = (await client.get(f"/sessions/{first['id']}")).text
    assert page.count(">planned<") == 2 and "badge-queued" in page


async def test_cohort_and_session_timing_are_set_in_words(
    client: httpx.AsyncClient, semester: Semester, world: World
) -> None:
    from sessions.tables import Cohort, Session

    await sign_in(client, world.facilitator_a.email)
    first = semester.sessions[0]
    form = await client.get(f"/cohorts/{semester.cohort}/edit")
    assert 'value="7 days"' in form.text and 'value="2 days, 2 hours"' in form.text
    path = f"/sessions/{first['id']}/timing"
    await post_form(client, path, {"prompt_lead_minutes": "3 days", "reminder_minutes": "1 day"})
    row = (
        await Session.select(Session.prompt_lead_minutes, Session.reminder_minutes)
        .where(Session.id == first["id"])
        .first()
    )
    assert row == {"prompt_lead_minutes": 3 * 24 * 60, "reminder_minutes": [24 * 60]}
    assert await tick(first["starts_at"] - 4 * DAY) == 0
    assert await tick(first["starts_at"] - 3 * DAY + MINUTE) == 3
    bad = await post_form(client, path, {"prompt_lead_minutes": "soon", "reminder_minutes": "1h"})
    assert bad.status_code == 422
    assert "is not a length of time" in bad.text
    assert 'value="soon"' in bad.text  # what was typed stays
    early = await post_form(
        client, path, {"prompt_lead_minutes": "2 hours", "reminder_minutes": "3 hours"}
    )
    assert early.status_code == 422 and "would go before the prompt" in early.text
    cohort = (
        await Cohort.select(Cohort.prompt_lead_minutes).where(Cohort.id == semester.cohort).first()
    )
    assert cohort == {"prompt_lead_minutes": 7 * 24 * 60}


async def test_the_api_sets_and_shows_timing_with_clear_errors(
    client: httpx.AsyncClient, semester: Semester, world: World
) -> None:
    headers = world.facilitator_a.auth
    changed = await client.patch(
        f"/api/cohorts/{semester.cohort}",
        headers=headers,
        json={"prompt_lead_minutes": 4320, "reminder_minutes": [1440, 60]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["prompt_lead_minutes"] == 4320
    assert changed.json()["reminder_minutes"] == [1440, 60]
    refused = await client.patch(
        f"/api/cohorts/{semester.cohort}", headers=headers, json={"reminder_minutes": [1]}
    )
    assert refused.status_code == 422 and "reminder_minutes" in refused.text
    first = semester.sessions[0]
    session = await client.patch(
        f"/api/sessions/{first['id']}",
        headers=headers,
        json={"prompt_lead_minutes": 600, "reminder_minutes": [60]},
    )
    assert session.status_code == 200, session.text
    body = session.json()["session"]
    assert body["prompt_lead_minutes"] == 600 and body["reminder_minutes"] == [60]
    after = await client.patch(
        f"/api/sessions/{first['id']}",
        headers=headers,
        json={"prompt_due_at": "2031-01-01T12:00:00Z"},
    )
    assert after.status_code == 422 and "due before it ends" in after.text
    due = first["starts_at"] - DAY
    dated = await client.patch(
        f"/api/sessions/{first['id']}", headers=headers, json={"prompt_due_at": due.isoformat()}
    )
    assert dated.status_code == 200 and dated.json()["session"]["prompt_revision"] == 1
    naive = await client.patch(
        f"/api/sessions/{first['id']}", headers=headers, json={"prompt_due_at": "2031-01-01T12:00"}
    )
    assert naive.status_code == 422


async def test_my_next_session_shows_the_prompt(
    client: httpx.AsyncClient, semester: Semester, world: World
) -> None:
    await sign_in(client, world.participant_a.email)
    page = await client.get("/next")
    assert page.status_code == 200
    assert "Spring mentors" in page.text and "<strong>Aligning expectations</strong>" in page.text


async def test_reminders_switch_off_and_on_from_the_account_page(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.tables import Person

    await sign_in(client, world.participant_a.email)
    assert "Reminders are <strong>on</strong>" in (await client.get("/account")).text
    await post_form(client, "/reminders/mine", {"on": "no"}, page="/account")
    assert "Reminders are <strong>off</strong>" in (await client.get("/account")).text
    row = await Person.select(Person.reminders_off).where(Person.id == world.participant_a.id)
    assert row == [{"reminders_off": True}]
    await post_form(client, "/reminders/mine", {"on": "yes"}, page="/account")
    assert "Reminders are <strong>on</strong>" in (await client.get("/account")).text


async def test_a_message_that_failed_is_not_queued_again(semester: Semester) -> None:
    from mail.tables import OutboxMessage

    lead = semester.sessions[0]["starts_at"] - 7 * DAY + MINUTE
    await tick(lead)
    await OutboxMessage.update({OutboxMessage.state: "failed"}).where(
        OutboxMessage.kind == "prompt"
    )
    for minutes in range(2, 5):
        assert await tick(lead + minutes * MINUTE) == 0
    assert len(await outbox(kind="prompt")) == 3


async def test_nothing_reminds_someone_who_said_they_cannot_come(semester: Semester) -> None:
    from sessions.absence import report_absence

    first = semester.sessions[0]
    away = semester.participants[1]
    await tick(first["starts_at"] - 7 * DAY + MINUTE)
    assert await report_absence(first["id"], away, "Conference") is True
    assert await report_absence(first["id"], away, "Conference, sorry") is False
    assert await tick(first["starts_at"] - 48 * HOUR + MINUTE) == 2
    assert away not in {r["person_id"] for r in await outbox(kind="reminder")}


async def test_test_copies_carry_no_working_personal_link(
    client: httpx.AsyncClient, semester: Semester, world: World
) -> None:
    from sessions.links import unsubscribe_token

    first = semester.sessions[0]
    grace = semester.participants[2]
    await sign_in(client, world.facilitator_a.email)
    await post_form(
        client,
        f"/sessions/{first['id']}/preview/send-test",
        {"kind": "reminder", "person": str(grace)},
    )
    copy = parsed((await outbox(kind="test"))[0])
    assert copy["List-Unsubscribe"] is None and copy["List-Unsubscribe-Post"] is None
    text = body(copy, "plain")
    assert unsubscribe_token(grace) not in text and "sample-link" in text
    assert (await client.get(f"/sessions/{first['id']}/cant-attend/sample-link")).status_code == 404


async def test_a_late_joiner_with_the_new_text_leaves_the_others_outdated(
    semester: Semester, world: World
) -> None:
    from facilitators.services import PersonInput
    from mail.tables import OutboxMessage
    from sessions.prompts import send_updated_prompt, session_schedule
    from sessions.roster import add_participant
    from sessions.services import SessionChanges, update_session

    first = semester.sessions[0]
    actor = acting(world)
    await tick(first["starts_at"] - 7 * DAY + MINUTE)
    await OutboxMessage.update({OutboxMessage.state: "sent"}).where(OutboxMessage.kind == "prompt")
    await update_session(first["id"], SessionChanges(assignment_prompt="New text."), actor=actor)
    await add_participant(
        semester.cohort, "late@example.edu", PersonInput("Late", "late@example.edu"), actor=actor
    )
    assert await tick(first["starts_at"] - 6 * DAY) == 1  # the newcomer gets the new text
    assert (await session_schedule(actor, first["id"])).outdated == 3
    assert await send_updated_prompt(first["id"], actor=actor) == 3


def test_a_lead_in_days_keeps_the_wall_clock_across_a_clock_change() -> None:
    from sessions.prompt_rules import Timing, plan

    # Thursday 5 November 2026, 15:00 in Chicago (CST, after the clocks went back on 1 November).
    starts_at = dt.datetime(2026, 11, 5, 21, 0, tzinfo=dt.UTC)
    prompt, two_days, two_hours = plan(
        starts_at, Timing(7 * 24 * 60, (48 * 60, 120)), "America/Chicago"
    )
    # 15:00 a week earlier is 15:00 CDT, 20:00 UTC (not 16:00 local, as 168 hours would give).
    assert prompt.due_at == dt.datetime(2026, 10, 29, 20, 0, tzinfo=dt.UTC)
    assert two_days.due_at == dt.datetime(2026, 11, 3, 21, 0, tzinfo=dt.UTC)
    assert two_hours.due_at == dt.datetime(2026, 11, 5, 19, 0, tzinfo=dt.UTC)


async def test_deactivating_someone_cancels_what_waits_for_them(semester: Semester) -> None:
    from facilitators.services import set_active

    await tick(semester.sessions[0]["starts_at"] - 7 * DAY + MINUTE)
    gone = semester.participants[2]
    await set_active(gone, False, actor_id=None)
    assert {r["state"] for r in await outbox(person_id=gone)} == {"cancelled"}
