"""Editing a schedule: reschedules, cancellations, make-ups, publishing, the cohort lifecycle,
timezone and room changes, and cloning into a new term."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx

from tests.conftest import World, post_form, sign_in


async def _sessions(
    client: httpx.AsyncClient, world: World, cohort: int | None = None
) -> list[dict]:
    response = await client.get(
        f"/api/cohorts/{cohort or world.cohort_a}/sessions", headers=world.staff.auth
    )
    return response.json()


async def test_changes_in_a_draft_never_bump_the_sequence(
    client: httpx.AsyncClient, world: World
) -> None:
    first = (await _sessions(client, world))[0]
    moved = await client.patch(
        f"/api/sessions/{first['id']}",
        headers=world.facilitator_a.auth,
        json={"start_time": "16:30", "minutes": 90},
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["sequence_bumped"] is False
    assert body["session"]["ical_sequence"] == 0
    assert body["session"]["minutes"] == 90
    assert body["session"]["starts_at_local"][11:19] == "16:30:00"


async def test_after_publishing_calendar_changes_bump_the_sequence_and_titles_do_not(
    client: httpx.AsyncClient, world: World
) -> None:
    published = await client.post(
        f"/api/cohorts/{world.cohort_a}/publish", headers=world.facilitator_a.auth
    )
    assert published.status_code == 200
    assert published.json()["status"] == "scheduled" and published.json()["published_at"]
    session = (await _sessions(client, world))[1]
    url = f"/api/sessions/{session['id']}"
    auth = world.facilitator_a.auth
    retitled = (
        await client.patch(
            url, headers=auth, json={"title": "A new title", "assignment_prompt": "Read"}
        )
    ).json()
    assert (retitled["sequence_bumped"], retitled["session"]["ical_sequence"]) == (False, 0)
    moved = (await client.patch(url, headers=auth, json={"start_time": "14:00"})).json()
    assert (moved["sequence_bumped"], moved["session"]["ical_sequence"]) == (True, 1)
    assert moved["session"]["ical_uid"] == session["ical_uid"]
    relocated = (await client.patch(url, headers=auth, json={"location": "Room 9"})).json()
    assert relocated["session"]["ical_sequence"] == 2
    same = (await client.patch(url, headers=auth, json={"location": "Room 9"})).json()
    assert (same["sequence_bumped"], same["session"]["ical_sequence"]) == (False, 2)
    cancelled = (await client.post(f"{url}/cancel", headers=auth)).json()
    assert (cancelled["session"]["status"], cancelled["session"]["ical_sequence"]) == (
        "cancelled",
        3,
    )
    assert (await client.post(f"{url}/cancel", headers=auth)).status_code == 409
    restored = (await client.post(f"{url}/restore", headers=auth)).json()
    assert (restored["session"]["status"], restored["session"]["ical_sequence"]) == ("scheduled", 4)
    again = await client.post(f"/api/cohorts/{world.cohort_a}/publish", headers=auth)
    assert again.status_code == 409


async def test_a_reschedule_onto_another_session_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    first, second = (await _sessions(client, world))[:2]
    second_date = second["starts_at_local"][:10]
    response = await client.patch(
        f"/api/sessions/{first['id']}",
        headers=world.facilitator_a.auth,
        json={"date": second_date, "start_time": "15:30"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "start_time", "message": "overlaps session 2 of this cohort"}
    ]
    unchanged = (await _sessions(client, world))[0]
    assert unchanged["starts_at"] == first["starts_at"]


async def test_a_restored_session_whose_slot_was_taken_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    first = (await _sessions(client, world))[0]
    auth = world.facilitator_a.auth
    await client.post(f"/api/sessions/{first['id']}/cancel", headers=auth)
    makeup = await client.post(
        f"/api/cohorts/{world.cohort_a}/sessions",
        headers=auth,
        json={"title": "Make-up", "date": first["starts_at_local"][:10], "start_time": "15:00"},
    )
    assert makeup.status_code == 201, makeup.text
    assert makeup.json()["session"]["position"] == 9
    restore = await client.post(f"/api/sessions/{first['id']}/restore", headers=auth)
    assert restore.status_code == 409
    assert restore.json()["detail"] == "cannot restore: its time overlaps session 9 of this cohort"


async def test_a_make_up_session_gets_its_own_uid_and_the_cohort_room(
    client: httpx.AsyncClient, world: World
) -> None:
    await client.patch(
        f"/api/cohorts/{world.cohort_a}", headers=world.staff.auth, json={"location": "Hall 1"}
    )
    response = await client.post(
        f"/api/cohorts/{world.cohort_a}/sessions",
        headers=world.staff.auth,
        json={
            "title": "Extra",
            "date": "2031-03-04",
            "start_time": "09:00",
            "minutes": 120,
            "competencies": ["ethics"],
        },
    )
    session = response.json()["session"]
    assert session["location"] == "Hall 1"
    assert session["minutes"] == 120 and session["competencies"] == ["ethics"]
    assert session["ical_uid"] not in {s["ical_uid"] for s in (await _sessions(client, world))[:-1]}
    bad = await client.post(
        f"/api/cohorts/{world.cohort_a}/sessions",
        headers=world.staff.auth,
        json={
            "title": "Extra",
            "date": "2031-03-05",
            "start_time": "09:00",
            "competencies": ["telepathy"],
        },
    )
    assert bad.status_code == 422 and "telepathy" in bad.json()["detail"]


async def test_a_new_room_reaches_future_sessions_that_used_the_old_one(
    client: httpx.AsyncClient, world: World
) -> None:
    auth = world.staff.auth
    await client.patch(f"/api/cohorts/{world.cohort_a}", headers=auth, json={"location": "Room 1"})
    sessions = await _sessions(client, world)
    await client.patch(
        f"/api/sessions/{sessions[3]['id']}", headers=auth, json={"location": "Special room"}
    )
    await client.patch(f"/api/cohorts/{world.cohort_a}", headers=auth, json={"location": "Room 2"})
    rooms = [s["location"] for s in await _sessions(client, world)]
    # Session 1 met last week: its record keeps the room it had (none).
    assert rooms == ["", "Room 2", "Room 2", "Special room", "Room 2", "Room 2", "Room 2", "Room 2"]


async def test_a_new_timezone_keeps_future_sessions_at_their_local_time(
    client: httpx.AsyncClient, world: World
) -> None:
    before = await _sessions(client, world)
    response = await client.patch(
        f"/api/cohorts/{world.cohort_a}",
        headers=world.staff.auth,
        json={"timezone": "america/new_york"},
    )
    assert response.json()["timezone"] == "America/New_York"
    after = await _sessions(client, world)
    # Sessions still to come keep their wall time; the one that met keeps its instant.
    assert [s["starts_at_local"][11:16] for s in after[1:]] == ["15:00"] * 7
    assert [s["starts_at_local"][:10] for s in after] == [s["starts_at_local"][:10] for s in before]
    assert after[1]["starts_at"] != before[1]["starts_at"]
    assert after[0]["starts_at"] == before[0]["starts_at"]


async def test_the_cohort_lifecycle_allows_only_sensible_steps(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"/api/cohorts/{world.cohort_a}"
    auth = world.staff.auth
    early = await client.patch(url, headers=auth, json={"status": "completed"})
    assert early.status_code == 422
    assert "a draft cohort cannot become completed" in early.json()["detail"]
    skip = await client.patch(url, headers=auth, json={"status": "scheduled"})
    assert "publish the schedule" in skip.json()["detail"]
    await client.post(f"{url}/publish", headers=auth)
    for status in ("in_progress", "completed", "archived"):
        response = await client.patch(url, headers=auth, json={"status": status})
        assert response.json()["status"] == status
    unknown = await client.patch(url, headers=auth, json={"status": "paused"})
    assert unknown.status_code == 422


async def test_publishing_needs_sessions(client: httpx.AsyncClient, world: World) -> None:
    empty = await client.post(
        "/api/cohorts", headers=world.facilitator_a.auth, json={"name": "Empty", "timezone": "UTC"}
    )
    response = await client.post(
        f"/api/cohorts/{empty.json()['id']}/publish", headers=world.facilitator_a.auth
    )
    assert response.status_code == 422
    assert "add at least one session" in response.json()["detail"]


async def test_cloning_copies_plans_and_facilitators_with_new_dates_and_nobody_enrolled(
    client: httpx.AsyncClient, world: World
) -> None:
    auth = world.facilitator_a.auth
    first = (await _sessions(client, world))[0]
    await client.patch(
        f"/api/sessions/{first['id']}", headers=auth, json={"assignment_prompt": "Our own words"}
    )
    second = (await _sessions(client, world))[1]
    await client.post(f"/api/sessions/{second['id']}/cancel", headers=auth)
    response = await client.post(
        f"/api/cohorts/{world.cohort_a}/clone",
        headers=auth,
        json={
            "name": "Cohort A, next term",
            "term": "Fall 2031",
            "schedule": {"first_date": "2031-09-03", "start_time": "10:00"},
        },
    )
    assert response.status_code == 201, response.text
    clone = response.json()
    assert (clone["name"], clone["term"], clone["status"], clone["participant_count"]) == (
        "Cohort A, next term",
        "Fall 2031",
        "draft",
        0,
    )
    assert [f["person_id"] for f in clone["facilitators"]] == [world.facilitator_a.id]
    assert len(clone["sessions"]) == 8  # a cancelled session is still part of the plan
    assert clone["sessions"][0]["assignment_prompt"] == "Our own words"
    assert clone["sessions"][0]["starts_at_local"] == "2031-09-03T10:00:00-05:00"
    assert {s["ical_uid"] for s in clone["sessions"]}.isdisjoint(
        {s["ical_uid"] for s in await _sessions(client, world)}
    )


async def test_cloning_runs_the_registered_hooks_with_the_session_mapping(
    client: httpx.AsyncClient, world: World
) -> None:
    from sessions import services

    seen: list[dict[int, int]] = []

    async def hook(mapping: dict[int, int]) -> None:
        seen.append(mapping)

    services.clone_hooks.append(hook)
    try:
        response = await client.post(
            f"/api/cohorts/{world.cohort_a}/clone",
            headers=world.staff.auth,
            json={
                "name": "Hooked",
                "schedule": {"first_date": "2031-09-03", "start_time": "10:00"},
            },
        )
    finally:
        services.clone_hooks.remove(hook)
    source = [s["id"] for s in await _sessions(client, world)]
    target = [s["id"] for s in response.json()["sessions"]]
    assert seen == [dict(zip(source, target, strict=True))]


async def test_the_schedule_notes_a_repeated_local_time(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        "/api/cohorts",
        headers=world.staff.auth,
        json={
            "name": "Night owls",
            "timezone": "America/Chicago",
            "facilitator_ids": [world.facilitator_a.id],
            "schedule": {"first_date": "2031-10-26", "start_time": "01:30", "count": 2},
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["notes"] == [
        "2031-11-02 01:30 occurs twice in America/Chicago (clocks go back): the first occurrence was used"
    ]


async def test_explicit_slots_and_skip_dates_through_the_api(
    client: httpx.AsyncClient, world: World
) -> None:
    curricula = (await client.get("/api/curricula", headers=world.staff.auth)).json()
    workshop = next(c for c in curricula if c["slug"] == "one-day-workshop-8h")
    response = await client.post(
        "/api/cohorts",
        headers=world.staff.auth,
        json={
            "name": "Workshop",
            "timezone": "Europe/Berlin",
            "curriculum_id": workshop["id"],
            "facilitator_ids": [world.facilitator_a.id],
            "schedule": {
                "slots": [
                    {"date": "2031-06-10", "start_time": "09:00"},
                    {"date": "2031-06-10", "start_time": "11:00"},
                    {"date": "2031-06-11", "start_time": "09:00"},
                    {"date": "2031-06-11", "start_time": "11:00", "minutes": 90},
                ]
            },
        },
    )
    assert response.status_code == 201, response.text
    starts = [(s["starts_at"], s["minutes"]) for s in response.json()["sessions"]]
    assert starts == [
        ("2031-06-10T07:00:00Z", 120),
        ("2031-06-10T09:00:00Z", 120),
        ("2031-06-11T07:00:00Z", 120),
        ("2031-06-11T09:00:00Z", 90),
    ]
    skipped = await client.post(
        "/api/cohorts",
        headers=world.staff.auth,
        json={
            "name": "Spring",
            "timezone": "UTC",
            "facilitator_ids": [world.facilitator_a.id],
            "schedule": {
                "first_date": "2031-03-03",
                "start_time": "12:00",
                "count": 3,
                "skip_dates": ["2031-03-10"],
            },
        },
    )
    assert [s["starts_at"][:10] for s in skipped.json()["sessions"]] == [
        "2031-03-03",
        "2031-03-17",
        "2031-03-24",
    ]


async def test_pages_reschedule_cancel_and_restore_a_session(
    client: httpx.AsyncClient, world: World
) -> None:
    session = (await _sessions(client, world))[2]
    await sign_in(client, world.facilitator_a.email)
    page = f"/sessions/{session['id']}"
    text = (await client.get(page)).text
    assert session["title"] in text and "Assignment before this session" in text
    bad = await post_form(
        client,
        f"{page}/edit",
        {
            "title": "",
            "date": session["starts_at_local"][:10],
            "start_time": "25:00",
            "minutes": "60",
        },
        page=page,
    )
    assert bad.status_code == 422 and "is not a time like 15:00" in bad.text
    moved = await post_form(
        client,
        f"{page}/edit",
        {
            "title": "Moved",
            "date": session["starts_at_local"][:10],
            "start_time": "17:00",
            "minutes": "45",
        },
        page=page,
    )
    assert moved.status_code == 302
    shown = await client.get(page)
    assert "Session saved." in shown.text and "17:00–17:45" in shown.text
    await post_form(client, f"{page}/cancel", {}, page=page)
    assert "Session cancelled." in (await client.get(page)).text
    await post_form(client, f"{page}/restore", {}, page=page)
    assert "Session restored." in (await client.get(page)).text


async def test_a_viewer_in_another_timezone_sees_both_times(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.participant_a.email)
    page = f"/cohorts/{world.cohort_a}"
    assert "Your time" not in (await client.get(page)).text
    bad = await post_form(
        client, "/account/timezone", {"timezone": "Atlantis/Capital"}, page="/account"
    )
    assert bad.status_code == 422 and "is not an IANA timezone" in bad.text
    await post_form(client, "/account/timezone", {"timezone": "europe/berlin"}, page="/account")
    text = (await client.get(page)).text
    assert "Your time (Europe/Berlin)" in text
    first = (await _sessions(client, world))[0]
    berlin = dt.datetime.fromisoformat(first["starts_at"]).astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{berlin:%H:%M}–{berlin + dt.timedelta(hours=1):%H:%M} {berlin.tzname()}" in text
    assert "15:00–16:00 C" in text
