"""Cohorts through the API and the pages: who sees which cohort, creating and editing,
participants, and errors that name the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import World, make_person, post_form, sign_in


async def test_the_shipped_curricula_and_competencies_are_loaded(
    client: httpx.AsyncClient, world: World
) -> None:
    curricula = (await client.get("/api/curricula", headers=world.participant_a.auth)).json()
    by_slug = {c["slug"]: c for c in curricula}
    assert set(by_slug) >= {
        "entering-mentoring-8x60",
        "seven-modules-120-90",
        "three-by-two-hours",
        "one-day-workshop-8h",
    }
    default = by_slug["entering-mentoring-8x60"]
    main = [s for s in default["sessions"] if s["alternate_for"] is None]
    assert [s["minutes"] for s in main] == [60] * 8
    assert main[0]["competencies"] == []
    assert main[1]["competencies"] == ["communication"]
    assert main[-1]["competencies"] == ["philosophy_plan"]
    assert all(s["assignment_prompt"] for s in main)
    swaps = [s for s in default["sessions"] if s["alternate_for"] is not None]
    assert [(s["alternate_for"], s["competencies"]) for s in swaps] == [(7, ["ethics"])]
    seven = by_slug["seven-modules-120-90"]["sessions"]
    assert [s["minutes"] for s in seven] == [120] + [90] * 6
    assert [s["minutes"] for s in by_slug["three-by-two-hours"]["sessions"]] == [120] * 3

    competencies = (await client.get("/api/competencies", headers=world.staff.auth)).json()
    assert len(competencies) == 10
    assert sum(c["core"] for c in competencies) == 6
    equity = next(c for c in competencies if c["code"] == "equity_inclusion")
    assert "Addressing Diversity" in equity["aliases"]


async def test_loading_the_curricula_twice_adds_nothing(database: Any) -> None:
    from sessions.builtin_curricula import load_builtin_curricula
    from sessions.tables import SessionTemplate

    before = await SessionTemplate.count()
    assert await load_builtin_curricula() == 0
    assert await SessionTemplate.count() == before


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("participant_a", {"Cohort A"}),
        ("participant_b", {"Cohort B"}),
        ("facilitator_a", {"Cohort A"}),
        ("staff", {"Cohort A", "Cohort B"}),
        ("admin", {"Cohort A", "Cohort B"}),
    ],
)
async def test_each_role_sees_exactly_its_cohorts(
    client: httpx.AsyncClient, make_client: Any, world: World, role: str, visible: set[str]
) -> None:
    person = world.as_role(role)
    assert person is not None
    listed = (await client.get("/api/cohorts", headers=person.auth)).json()
    assert {c["name"] for c in listed} == visible
    browser = make_client()
    await sign_in(browser, person.email)
    page = (await browser.get("/cohorts")).text
    for name in ("Cohort A", "Cohort B"):
        assert (name in page) == (name in visible)


async def test_a_participant_of_cohort_a_gets_404_for_cohort_b(
    client: httpx.AsyncClient, world: World
) -> None:
    api = await client.get(f"/api/cohorts/{world.cohort_b}", headers=world.participant_a.auth)
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["detail"] == f"no cohort with id {world.cohort_b}"
    # The same answer as for a cohort that does not exist: existence is not disclosed.
    missing = await client.get("/api/cohorts/999999", headers=world.participant_a.auth)
    assert missing.status_code == 404
    await sign_in(client, world.participant_a.email)
    page = await client.get(f"/cohorts/{world.cohort_b}")
    assert page.status_code == 404
    assert "Cohort B" not in page.text
    assert (await client.get(f"/cohorts/{world.cohort_a}")).status_code == 200


async def test_participants_see_their_group_but_not_emails_or_the_roster_api(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.participant_a.email)
    page = await client.get(f"/cohorts/{world.cohort_a}")
    assert world.participant_a.name in page.text
    assert world.participant_a.email not in page.text
    assert "Add a participant" not in page.text
    roster = await client.get(
        f"/api/cohorts/{world.cohort_a}/participants", headers=world.participant_a.auth
    )
    assert roster.status_code == 403


async def test_cohort_detail_lists_sessions_in_utc_with_stable_calendar_uids(
    client: httpx.AsyncClient, world: World
) -> None:
    detail = (await client.get(f"/api/cohorts/{world.cohort_a}", headers=world.staff.auth)).json()
    assert len(detail["sessions"]) == 8
    assert all(
        s["starts_at"].endswith("Z") or s["starts_at"].endswith("+00:00")
        for s in detail["sessions"]
    )
    uids = [s["ical_uid"] for s in detail["sessions"]]
    assert len(set(uids)) == 8
    assert all(u.startswith("session-") and u.endswith("@example.org") for u in uids)
    assert all(s["ical_sequence"] == 0 for s in detail["sessions"])
    assert detail["facilitators"][0]["lead"] is True
    assert detail["participant_count"] == 1


async def test_creating_a_cohort_with_a_schedule_keeps_local_time_across_dst(
    client: httpx.AsyncClient, world: World
) -> None:
    curricula = (await client.get("/api/curricula", headers=world.staff.auth)).json()
    default = next(c for c in curricula if c["slug"] == "entering-mentoring-8x60")
    response = await client.post(
        "/api/cohorts",
        headers=world.staff.auth,
        json={
            "name": "Spring cohort",
            "term": "Spring 2027",
            "timezone": "America/Chicago",
            "curriculum_id": default["id"],
            "facilitator_ids": [world.facilitator_a.id],
            # Wednesdays at 15:00 from 24 Feb 2027; US clocks change on 14 March 2027.
            "schedule": {"first_date": "2027-02-24", "start_time": "15:00"},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/cohorts/{body['id']}"
    starts = [s["starts_at"] for s in body["sessions"]]
    assert starts[:4] == [
        "2027-02-24T21:00:00Z",
        "2027-03-03T21:00:00Z",
        "2027-03-10T21:00:00Z",
        "2027-03-17T20:00:00Z",  # CDT: 15:00 local is now 20:00 UTC
    ]
    assert body["sessions"][0]["ends_at"] == "2027-02-24T22:00:00Z"
    assert [s["title"] for s in body["sessions"]][0] == "Building our learning community"


async def test_a_local_time_that_does_not_exist_is_a_clear_error(
    client: httpx.AsyncClient, world: World
) -> None:
    curricula = (await client.get("/api/curricula", headers=world.staff.auth)).json()
    response = await client.post(
        "/api/cohorts",
        headers=world.staff.auth,
        json={
            "name": "Skipped hour",
            "timezone": "America/Chicago",
            "curriculum_id": curricula[0]["id"],
            "facilitator_ids": [world.facilitator_a.id],
            "schedule": {"first_date": "2027-02-28", "start_time": "02:30"},
        },
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"] == [
        {
            "field": "schedule.start_time",
            "message": "2027-03-14 02:30 does not exist in America/Chicago: the clocks skip "
            "that hour (daylight-saving change)",
        }
    ]
    listed = (await client.get("/api/cohorts", headers=world.staff.auth)).json()
    assert "Skipped hour" not in {c["name"] for c in listed}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "", "timezone": "UTC"}, 422, "name"),
        ({"name": "X", "timezone": "Mars/Olympus"}, 422, "timezone"),
        ({"name": "X", "timezone": "UTC", "capacity": 0}, 422, "capacity"),
        ({"name": "X", "timezone": "UTC", "modality": "carrier pigeon"}, 422, "modality"),
        ({"name": "X", "timezone": "UTC", "video_url": "javascript:alert(1)"}, 422, "video_url"),
        ({"name": "X", "timezone": "UTC", "facilitator_ids": [999999]}, 422, "facilitator_ids"),
        ({"name": "X", "timezone": "UTC", "curriculum_id": 999999}, 422, "curriculum_id"),
        ({"name": "X", "timezone": "UTC", "surprise": 1}, 422, "surprise"),
        ({"timezone": "UTC"}, 422, "name"),
    ],
)
async def test_bad_cohort_input_gets_problem_details_naming_the_field(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], status: int, field: str
) -> None:
    response = await client.post("/api/cohorts", headers=world.staff.auth, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    assert field in problem["detail"]


async def test_a_facilitator_who_creates_a_cohort_leads_it_and_others_must_hold_the_role(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await client.post(
        "/api/cohorts",
        headers=world.facilitator_b.auth,
        json={"name": "Fac B's own", "timezone": "Europe/Berlin"},
    )
    assert created.status_code == 201
    assert [(f["person_id"], f["lead"]) for f in created.json()["facilitators"]] == [
        (world.facilitator_b.id, True)
    ]
    not_a_facilitator = await client.post(
        "/api/cohorts",
        headers=world.staff.auth,
        json={"name": "Wrong", "timezone": "UTC", "facilitator_ids": [world.participant_a.id]},
    )
    assert not_a_facilitator.status_code == 422
    assert "does not hold the facilitator role" in not_a_facilitator.json()["detail"]
    participant = await client.post(
        "/api/cohorts", headers=world.participant_a.auth, json={"name": "Mine", "timezone": "UTC"}
    )
    assert participant.status_code == 403


async def test_patching_a_cohort_changes_only_what_is_sent_and_is_audited(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.audit import AuditFilter, list_entries

    response = await client.patch(
        f"/api/cohorts/{world.cohort_a}",
        headers=world.facilitator_a.auth,
        json={"location": "Library, Room 3", "capacity": 10},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["location"], body["capacity"]) == ("Cohort A", "Library, Room 3", 10)
    cleared = await client.patch(
        f"/api/cohorts/{world.cohort_a}", headers=world.facilitator_a.auth, json={"capacity": None}
    )
    assert cleared.json()["capacity"] is None
    entries = await list_entries(AuditFilter(action="cohort.update", cohort_id=world.cohort_a))
    assert entries[-1].actor_id == world.facilitator_a.id
    assert "capacity" in entries[-1].summary and "location" in entries[-1].summary


async def test_only_the_cohorts_facilitators_and_office_may_change_it(
    client: httpx.AsyncClient, world: World
) -> None:
    change = {"location": "Elsewhere"}
    url = f"/api/cohorts/{world.cohort_a}"
    assert (
        await client.patch(url, headers=world.participant_a.auth, json=change)
    ).status_code == 403
    assert (
        await client.patch(url, headers=world.participant_b.auth, json=change)
    ).status_code == 404
    assert (
        await client.patch(url, headers=world.facilitator_b.auth, json=change)
    ).status_code == 404
    assert (await client.patch(url, headers=world.staff.auth, json=change)).status_code == 200


async def test_adding_participants_enrolls_known_people_and_creates_new_ones(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"/api/cohorts/{world.cohort_a}/participants"
    new = await client.post(
        url,
        headers=world.facilitator_a.auth,
        json={"email": "New.Person@Example.edu", "name": "New Person", "department": "Physics"},
    )
    assert new.status_code == 201, new.text
    assert new.json()["created_person"] is True
    assert new.json()["participant"]["status"] == "enrolled"
    known = await client.post(
        url,
        headers=world.facilitator_a.auth,
        json={"email": "PART.B@example.edu", "name": "Ignored Name"},
    )
    assert known.status_code == 201
    assert known.json()["created_person"] is False
    assert known.json()["participant"]["person_id"] == world.participant_b.id
    again = await client.post(
        url, headers=world.facilitator_a.auth, json={"email": "new.person@example.edu", "name": "X"}
    )
    assert again.status_code == 409
    assert "already enrolled" in again.json()["detail"]
    roster = (await client.get(url, headers=world.facilitator_a.auth)).json()
    assert [p["email"] for p in roster] == [
        "part.a@example.edu",
        "New.Person@Example.edu",
        "part.b@example.edu",
    ]
    bad = await client.post(
        url, headers=world.facilitator_a.auth, json={"email": "not-an-email", "name": "X"}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "email"


async def test_beyond_capacity_participants_are_waitlisted_and_size_is_warned_not_forbidden(
    client: httpx.AsyncClient, world: World
) -> None:
    await client.patch(
        f"/api/cohorts/{world.cohort_a}", headers=world.staff.auth, json={"capacity": 2}
    )
    url = f"/api/cohorts/{world.cohort_a}/participants"
    second = await client.post(
        url, headers=world.staff.auth, json={"email": "two@example.edu", "name": "Two"}
    )
    third = await client.post(
        url, headers=world.staff.auth, json={"email": "three@example.edu", "name": "Three"}
    )
    assert second.json()["participant"]["status"] == "enrolled"
    assert third.json()["participant"]["status"] == "waitlisted"
    detail = (await client.get(f"/api/cohorts/{world.cohort_a}", headers=world.staff.auth)).json()
    assert (detail["participant_count"], detail["waitlist_count"]) == (2, 1)
    assert "8 to 12" in detail["size_warning"]


async def test_pages_create_a_cohort_and_show_errors_in_the_form(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.facilitator_a.email)
    bad = await post_form(
        client,
        "/cohorts/new",
        {"name": "Autumn group", "timezone": "Nowhere/Land", "modality": "virtual"},
        page="/cohorts/new",
    )
    assert bad.status_code == 422
    assert "is not an IANA timezone" in bad.text
    assert 'value="Autumn group"' in bad.text  # what was typed is kept
    good = await post_form(
        client,
        "/cohorts/new",
        {
            "name": "Autumn group",
            "timezone": "Europe/Berlin",
            "modality": "virtual",
            "video_url": "https://video.example.org/x",
        },
        page="/cohorts/new",
    )
    assert good.status_code == 302
    page = await client.get(good.headers["location"])
    assert page.status_code == 200
    assert "Autumn group" in page.text and "No sessions yet" in page.text


async def test_pages_add_a_participant_and_redirect_back(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.facilitator_a.email)
    page = f"/cohorts/{world.cohort_a}"
    response = await post_form(
        client,
        f"{page}/participants",
        {"name": "Page Person", "email": "page@example.edu"},
        page=page,
    )
    assert response.status_code == 302
    assert "Page Person" in (await client.get(page)).text
    duplicate = await post_form(
        client,
        f"{page}/participants",
        {"name": "Page Person", "email": "PAGE@example.edu"},
        page=page,
    )
    assert duplicate.status_code == 409
    assert "already enrolled" in duplicate.text


async def test_dashboard_shows_whats_next_and_empty_states(
    client: httpx.AsyncClient, make_client: Any, world: World
) -> None:
    await sign_in(client, world.participant_a.email)
    dashboard = (await client.get("/")).text
    assert "Communicating across differences" in dashboard  # session 1 met last week
    assert "Cohort A" in dashboard
    newcomer = await make_person("newcomer@example.org", {"facilitator"})
    fresh = make_client()
    await sign_in(fresh, newcomer.email)
    text = (await fresh.get("/")).text
    assert "You do not facilitate a cohort yet" in text


async def test_cohort_pages_answer_in_a_bounded_number_of_queries(
    client: httpx.AsyncClient, database: Any, world: World
) -> None:
    """The cohort page and list cost the same number of queries with 1 or 12 participants."""
    url = f"/api/cohorts/{world.cohort_a}/participants"

    async def cost() -> tuple[int, int]:
        with database.count_queries() as page:
            assert (await client.get(f"/cohorts/{world.cohort_a}")).status_code == 200
        with database.count_queries() as listing:
            assert (await client.get("/cohorts")).status_code == 200
        return page.count, listing.count

    await sign_in(client, world.staff.email)
    small = await cost()
    for n in range(11):
        added = await client.post(
            url, headers=world.staff.auth, json={"email": f"p{n}@example.edu", "name": f"P {n}"}
        )
        assert added.status_code == 201
    assert await cost() == small


async def test_editing_a_template_copy_keeps_the_original_and_renumbers_alternates(
    client: httpx.AsyncClient, world: World
) -> None:
    from sessions.curricula import get_curriculum, list_curricula

    default = next(c for c in await list_curricula() if c.slug == "entering-mentoring-8x60")
    await sign_in(client, world.facilitator_a.email)
    copied = await post_form(
        client,
        f"/curricula/{default.id}/copy",
        {"name": "Our version"},
        page=f"/curricula/{default.id}",
    )
    copy_id = int(copied.headers["location"].split("/")[2])
    form: dict[str, str] = {
        "name": "Our version",
        "description": "",
        "row_count": str(len(default.sessions)),
    }
    for i, s in enumerate(default.sessions):
        form |= {
            f"title_{i}": s.title,
            f"order_{i}": str(i + 1),
            f"minutes_{i}": str(s.minutes),
            f"prompt_{i}": s.assignment_prompt,
        }
        if s.alternate_for:
            form[f"alternate_{i}"] = str(s.alternate_for)
    form["remove_5"] = "on"  # drop session 6: the ethics alternate still swaps for session 7
    form["minutes_0"] = "90"
    saved = await post_form(
        client, f"/curricula/{copy_id}/edit", form, page=f"/curricula/{copy_id}/edit"
    )
    assert saved.status_code == 302, saved.text
    copy = await get_curriculum(copy_id)
    main = [s for s in copy.sessions if s.alternate_for is None]
    alternate = next(s for s in copy.sessions if s.alternate_for is not None)
    assert len(main) == 7 and main[0].minutes == 90
    assert (
        next(s for s in copy.sessions if s.position == alternate.alternate_for).title
        == default.sessions[6].title
    )
    assert (
        await get_curriculum(default.id)
    ).sessions == default.sessions  # the original is untouched
    form["remove_6"] = "on"  # now remove session 7 itself: its alternate has nothing to replace
    refused = await post_form(
        client, f"/curricula/{copy_id}/edit", form, page=f"/curricula/{copy_id}/edit"
    )
    assert refused.status_code == 422 and "session 7 is removed" in refused.text
