"""Rosters (one by one, CSV import with preview and all-or-nothing apply, the waitlist) and
attendance with completion."""

from __future__ import annotations

import csv
import datetime as dt
import io

import httpx

from tests.conftest import World, csrf_token, post_form, sign_in

GOOD = (
    "Email;Name;Department;Career stage;Time zone;Office\n"
    "ada@example.edu;Ada Lovelace;Mathematics;Faculty;Europe/London;B12\n"
    "PART.A@example.edu;Part A (renamed);Biology;postdoc;;\n"
    "grace@example.edu;Grace Hopper;Computer Science;;;\n"
).encode("utf-8-sig")


async def _import(
    client: httpx.AsyncClient, world: World, data: bytes, dry_run: bool
) -> httpx.Response:
    return await client.post(
        f"/api/cohorts/{world.cohort_a}/roster",
        params={"dry_run": "true" if dry_run else "false"},
        headers={**world.staff.auth, "Content-Type": "text/csv"},
        content=data,
    )


async def _roster(client: httpx.AsyncClient, world: World) -> list[dict]:
    return (
        await client.get(f"/api/cohorts/{world.cohort_a}/participants", headers=world.staff.auth)
    ).json()


async def test_a_preview_lists_each_row_and_changes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await _import(client, world, GOOD, dry_run=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["applied"], body["added"], body["updated"], body["rejected"]) == (False, 2, 1, 0)
    assert [(r["line"], r["action"], r["changes"]) for r in body["rows"]] == [
        (2, "add", []),
        (3, "update", ["career_stage", "department", "name"]),
        (4, "add", []),
    ]
    assert [p["email"] for p in await _roster(client, world)] == ["part.a@example.edu"]


async def test_applying_imports_everything_and_a_second_import_changes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    applied = (await _import(client, world, GOOD, dry_run=False)).json()
    assert (applied["applied"], applied["added"], applied["updated"]) == (True, 2, 1)
    roster = await _roster(client, world)
    assert [(p["email"], p["status"]) for p in roster] == [
        ("part.a@example.edu", "enrolled"),
        ("ada@example.edu", "enrolled"),
        ("grace@example.edu", "enrolled"),
    ]
    assert roster[0]["name"] == "Part A (renamed)" and roster[0]["department"] == "Biology"
    again = (await _import(client, world, GOOD, dry_run=False)).json()
    assert (again["added"], again["enrolled"], again["updated"], again["unchanged"]) == (0, 0, 0, 3)


async def test_one_bad_row_means_nothing_changes_and_the_rows_to_fix_are_named(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.audit import AuditFilter, list_entries

    bad = (
        GOOD
        + b"not-an-email;Nobody;;;;\ndup@example.edu;One;;;;\nDUP@example.edu;Two;;;Mars/Base;\n"
    )
    response = await _import(client, world, bad, dry_run=False)
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == "2 row(s) need fixing; nothing was imported"
    assert [e["field"] for e in problem["errors"]] == ["line 5", "line 7"]
    assert "bad email" in problem["errors"][0]["message"]
    assert "duplicate in the file: same email as line 6" in problem["errors"][1]["message"]
    assert [p["email"] for p in await _roster(client, world)] == ["part.a@example.edu"]
    assert not await list_entries(AuditFilter(action="roster.import"))


async def test_an_import_never_overwrites_a_timezone_a_person_set(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.tables import Person

    await Person.update({Person.timezone: "Asia/Tokyo"}).where(Person.id == world.participant_a.id)
    data = b"email,name,timezone\npart.a@example.edu,Part A,America/Denver\n"
    body = (await _import(client, world, data, dry_run=False)).json()
    assert body["unchanged"] == 1
    person = await Person.select(Person.timezone).where(Person.id == world.participant_a.id).first()
    assert person is not None and person["timezone"] == "Asia/Tokyo"


async def test_beyond_capacity_the_import_waitlists_in_file_order(
    client: httpx.AsyncClient, world: World
) -> None:
    await client.patch(
        f"/api/cohorts/{world.cohort_a}", headers=world.staff.auth, json={"capacity": 2}
    )
    data = b"email,name\nw1@example.edu,W1\nw2@example.edu,W2\nw3@example.edu,W3\n"
    preview = (await _import(client, world, data, dry_run=True)).json()
    assert [r["status"] for r in preview["rows"]] == ["enrolled", "waitlisted", "waitlisted"]
    await _import(client, world, data, dry_run=False)
    assert [(p["email"], p["status"]) for p in await _roster(client, world)] == [
        ("part.a@example.edu", "enrolled"),
        ("w1@example.edu", "enrolled"),
        ("w2@example.edu", "waitlisted"),
        ("w3@example.edu", "waitlisted"),
    ]


async def test_withdrawing_keeps_history_and_staff_promote_or_the_cohort_promotes_itself(
    client: httpx.AsyncClient, world: World
) -> None:
    auth = world.staff.auth
    url = f"/api/cohorts/{world.cohort_a}"
    await client.patch(url, headers=auth, json={"capacity": 1})
    for n in (1, 2):
        await client.post(
            f"{url}/participants",
            headers=auth,
            json={"email": f"wait{n}@example.edu", "name": f"Wait {n}"},
        )
    roster = await _roster(client, world)
    part_a, wait1, wait2 = roster
    assert (wait1["status"], wait2["status"]) == ("waitlisted", "waitlisted")
    withdrawn = (
        await client.post(f"{url}/participants/{part_a['enrollment_id']}/withdraw", headers=auth)
    ).json()
    assert [p["status"] for p in withdrawn] == ["withdrawn", "waitlisted", "waitlisted"]
    assert withdrawn[0]["withdrawn_at"] is not None
    promoted = (
        await client.post(f"{url}/participants/{wait1['enrollment_id']}/promote", headers=auth)
    ).json()
    assert [p["status"] for p in promoted] == ["withdrawn", "enrolled", "waitlisted"]
    await client.patch(url, headers=auth, json={"auto_promote": True})
    after = (
        await client.post(f"{url}/participants/{wait1['enrollment_id']}/withdraw", headers=auth)
    ).json()
    assert [p["status"] for p in after] == ["withdrawn", "withdrawn", "enrolled"]
    # A withdrawn participant no longer sees the cohort.
    assert (await client.get(url, headers=world.participant_a.auth)).status_code == 404


async def test_enrolling_checks_who_is_added(client: httpx.AsyncClient, world: World) -> None:
    from facilitators.audit import AuditFilter, list_entries
    from facilitators.services import set_active

    url = f"/api/cohorts/{world.cohort_a}/participants"
    auth = world.staff.auth
    known = await client.post(url, headers=auth, json={"email": "PART.B@example.edu"})
    assert known.status_code == 201 and known.json()["participant"]["name"] == "Part B"
    unknown = await client.post(url, headers=auth, json={"email": "stranger@example.edu"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"field": "name", "message": "is required: stranger@example.edu is not known yet"}
    ]
    facilitator = await client.post(url, headers=auth, json={"email": world.facilitator_a.email})
    assert (
        facilitator.status_code == 422 and "facilitates this cohort" in facilitator.json()["detail"]
    )
    await set_active(world.facilitator_b.id, False, actor_id=world.admin.id)
    inactive = await client.post(url, headers=auth, json={"email": world.facilitator_b.email})
    assert inactive.status_code == 422 and "deactivated" in inactive.json()["detail"]
    staff = await client.post(url, headers=auth, json={"email": world.staff.email})
    assert staff.status_code == 201
    grants = await list_entries(AuditFilter(action="person.roles"))
    assert grants[0].object_id == str(world.staff.id)
    assert "participant role" in grants[0].summary


async def test_non_ascii_emails_are_one_person_whatever_the_case(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"/api/cohorts/{world.cohort_a}/participants"
    first = await client.post(
        url, headers=world.staff.auth, json={"email": "Ødegaard@example.no", "name": "Ø"}
    )
    assert first.status_code == 201
    again = await client.post(url, headers=world.staff.auth, json={"email": "ødegaard@EXAMPLE.no"})
    assert again.status_code == 409


async def _attendance(
    client: httpx.AsyncClient, world: World, session_id: int, marks: list[dict]
) -> httpx.Response:
    return await client.put(
        f"/api/sessions/{session_id}/attendance",
        headers=world.facilitator_a.auth,
        json={"marks": marks},
    )


async def test_attendance_is_recorded_corrected_and_checked(
    client: httpx.AsyncClient, world: World
) -> None:
    sessions = (
        await client.get(f"/api/cohorts/{world.cohort_a}/sessions", headers=world.staff.auth)
    ).json()
    enrollment = (
        await client.get(f"/api/cohorts/{world.cohort_a}/participants", headers=world.staff.auth)
    ).json()[0]
    eid = enrollment["enrollment_id"]
    first = sessions[0]["id"]
    recorded = await _attendance(
        client, world, first, [{"enrollment_id": eid, "status": "late", "note": "10 min"}]
    )
    assert recorded.status_code == 200
    assert recorded.json() == [
        {
            "enrollment_id": eid,
            "person_id": world.participant_a.id,
            "name": "Part A",
            "status": "late",
            "note": "10 min",
        }
    ]
    corrected = await _attendance(
        client, world, first, [{"enrollment_id": eid, "status": "present"}]
    )
    assert corrected.json()[0]["status"] == "present"
    bad = await _attendance(client, world, first, [{"enrollment_id": eid, "status": "asleep"}])
    assert bad.status_code == 422
    other_cohort = await client.get(
        f"/api/cohorts/{world.cohort_b}/participants", headers=world.staff.auth
    )
    foreign = await _attendance(
        client,
        world,
        first,
        [{"enrollment_id": other_cohort.json()[0]["enrollment_id"], "status": "present"}],
    )
    assert foreign.status_code == 422 and "no participant" in foreign.json()["detail"]
    await client.post(f"/api/sessions/{sessions[1]['id']}/cancel", headers=world.facilitator_a.auth)
    cancelled = await _attendance(
        client, world, sessions[1]["id"], [{"enrollment_id": eid, "status": "present"}]
    )
    assert cancelled.status_code == 422 and "cancelled" in cancelled.json()["detail"]


async def test_completion_follows_the_rule_and_participants_see_only_their_own(
    client: httpx.AsyncClient, world: World
) -> None:
    auth = world.staff.auth
    curricula = (await client.get("/api/curricula", headers=auth)).json()
    default = next(c for c in curricula if c["slug"] == "entering-mentoring-8x60")
    start = (dt.date.today() - dt.timedelta(weeks=10)).isoformat()
    created = await client.post(
        "/api/cohorts",
        headers=auth,
        json={
            "name": "Last term",
            "timezone": "UTC",
            "curriculum_id": default["id"],
            "facilitator_ids": [world.facilitator_a.id],
            "schedule": {"first_date": start, "start_time": "10:00"},
        },
    )
    url = f"/api/cohorts/{created.json()['id']}"
    for email, name in ((world.participant_a.email, "Part A"), ("other@example.edu", "Other")):
        await client.post(f"{url}/participants", headers=auth, json={"email": email, "name": name})
    sessions = (await client.get(f"{url}/sessions", headers=auth)).json()
    roster = (await client.get(f"{url}/participants", headers=auth)).json()
    a, other = roster[0]["enrollment_id"], roster[1]["enrollment_id"]
    pattern = ["present", "present", "absent", "present", "excused", "present", "late", "present"]
    for session, status in zip(sessions, pattern, strict=True):
        marks = [{"enrollment_id": a, "status": status}]
        if session["position"] <= 2:
            marks.append({"enrollment_id": other, "status": "present"})
        response = await client.put(
            f"/api/sessions/{session['id']}/attendance", headers=auth, json={"marks": marks}
        )
        assert response.status_code == 200, response.text
    completion = (await client.get(f"{url}/completion", headers=auth)).json()
    assert completion["rule"] == {
        "percent": 75,
        "requires_first_last": True,
        "late_counts": True,
        "left_early_counts": True,
    }
    by_name = {p["name"]: p for p in completion["participants"]}
    assert (
        by_name["Part A"]["completion"],
        by_name["Part A"]["attended"],
        by_name["Part A"]["required"],
    ) == ("complete", 6, 6)
    # The cohort is over: sessions with nothing recorded count as missed, so the result is final.
    assert (by_name["Other"]["completion"], by_name["Other"]["reason"]) == (
        "not_completed",
        "missed the last session",
    )
    await client.patch(url, headers=auth, json={"late_counts": False})
    stricter = (await client.get(f"{url}/completion", headers=auth)).json()
    assert (
        next(p for p in stricter["participants"] if p["name"] == "Part A")["completion"]
        == "not_completed"
    )
    own = (await client.get(f"{url}/completion", headers=world.participant_a.auth)).json()
    assert [p["name"] for p in own["participants"]] == ["Part A"]


async def test_a_make_up_session_counts_when_attended_but_is_never_required(
    client: httpx.AsyncClient, world: World
) -> None:
    auth = world.staff.auth
    url = f"/api/cohorts/{world.cohort_a}"
    before = (await client.get(f"{url}/completion", headers=auth)).json()
    makeup_day = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    made = await client.post(
        f"{url}/sessions",
        headers=auth,
        json={"title": "Make-up", "date": makeup_day, "start_time": "12:00"},
    )
    assert made.status_code == 201, made.text
    eid = (await client.get(f"{url}/participants", headers=auth)).json()[0]["enrollment_id"]
    marked = await client.put(
        f"/api/sessions/{made.json()['session']['id']}/attendance",
        headers=auth,
        json={"marks": [{"enrollment_id": eid, "status": "present"}]},
    )
    assert marked.status_code == 200, marked.text
    after = (await client.get(f"{url}/completion", headers=auth)).json()
    assert after["participants"][0]["required"] == before["participants"][0]["required"] == 6
    assert after["participants"][0]["attended"] == 1
    clone = await client.post(
        f"{url}/clone",
        headers=auth,
        json={"name": "Next", "schedule": {"first_date": "2031-01-06", "start_time": "09:00"}},
    )
    assert "Make-up" not in [s["title"] for s in clone.json()["sessions"]]


async def test_attendance_before_a_session_starts_can_only_be_excused(
    client: httpx.AsyncClient, world: World
) -> None:
    sessions = (
        await client.get(f"/api/cohorts/{world.cohort_a}/sessions", headers=world.staff.auth)
    ).json()
    eid = (
        await client.get(f"/api/cohorts/{world.cohort_a}/participants", headers=world.staff.auth)
    ).json()[0]["enrollment_id"]
    later = sessions[3]["id"]
    present = await _attendance(client, world, later, [{"enrollment_id": eid, "status": "present"}])
    assert present.status_code == 422 and "has not started" in present.json()["detail"]
    excused = await _attendance(
        client, world, later, [{"enrollment_id": eid, "status": "excused", "note": "conference"}]
    )
    assert excused.status_code == 200
    # A mark without a note keeps the note.
    await _attendance(
        client,
        world,
        sessions[0]["id"],
        [{"enrollment_id": eid, "status": "late", "note": "train"}],
    )
    again = await _attendance(
        client, world, sessions[0]["id"], [{"enrollment_id": eid, "status": "present"}]
    )
    assert again.json()[0]["note"] == "train"


async def test_the_roster_exports_as_csv_with_attendance(
    client: httpx.AsyncClient, world: World
) -> None:
    sessions = (
        await client.get(f"/api/cohorts/{world.cohort_a}/sessions", headers=world.staff.auth)
    ).json()
    eid = (
        await client.get(f"/api/cohorts/{world.cohort_a}/participants", headers=world.staff.auth)
    ).json()[0]["enrollment_id"]
    await _attendance(
        client, world, sessions[0]["id"], [{"enrollment_id": eid, "status": "present"}]
    )
    await client.post(
        f"/api/cohorts/{world.cohort_a}/participants",
        headers=world.staff.auth,
        json={"email": "formula@example.edu", "name": '=HYPERLINK("http://evil")'},
    )
    await sign_in(client, world.facilitator_a.email)
    response = await client.get(f"/cohorts/{world.cohort_a}/roster.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())  # Excel reads UTF-8 with a BOM
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["name", "email", "department", "enrollment"]
    assert rows[0][4] == f"session 1 ({sessions[0]['starts_at_local'][:10]})"
    assert rows[1][0] == "Part A" and rows[1][4] == "Present"
    assert rows[2][0].startswith("'=")  # no formula reaches a spreadsheet


async def test_pages_import_preview_then_apply(client: httpx.AsyncClient, world: World) -> None:
    await sign_in(client, world.facilitator_a.email)
    page = f"/cohorts/{world.cohort_a}/roster"
    token = await csrf_token(client, page)
    bad_file = b"email,name\nnot-an-email,X\nok@example.edu,OK\n"
    preview = await client.post(
        f"{page}/import",
        data={"_csrf_token": token, "action": "preview"},
        files={"file": ("roster.csv", bad_file, "text/csv")},
    )
    assert preview.status_code == 200
    assert "Fix these rows" in preview.text and "bad email" in preview.text
    good_file = b"email,name\nok@example.edu,OK\n"
    preview = await client.post(
        f"{page}/import",
        data={"_csrf_token": token, "action": "preview"},
        files={"file": ("roster.csv", good_file, "text/csv")},
    )
    assert "Import these 1 rows" in preview.text
    applied = await client.post(
        f"{page}/import",
        data={"_csrf_token": token, "action": "apply", "csv_text": good_file.decode()},
    )
    assert applied.status_code == 302
    assert "Roster imported: 1 added" in (await client.get(page)).text


async def test_pages_one_click_attendance(client: httpx.AsyncClient, world: World) -> None:
    sessions = (
        await client.get(f"/api/cohorts/{world.cohort_a}/sessions", headers=world.staff.auth)
    ).json()
    eid = (
        await client.get(f"/api/cohorts/{world.cohort_a}/participants", headers=world.staff.auth)
    ).json()[0]["enrollment_id"]
    await sign_in(client, world.facilitator_a.email)
    sheet = f"/sessions/{sessions[0]['id']}/attendance"
    assert "not recorded" in (await client.get(sheet)).text
    plain = await post_form(
        client, sheet, {"enrollment_id": str(eid), "status": "present"}, page=sheet
    )
    assert plain.status_code == 302
    token = await csrf_token(client, sheet)
    partial = await client.post(
        sheet,
        data={"enrollment_id": str(eid), "status": "excused", "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<li class="attendance-row"')
    assert 'aria-pressed="true" aria-label="Excused: Part A"' in partial.text
    printable = await client.get(f"/sessions/{sessions[0]['id']}/sign-in-sheet")
    assert "Signature" in printable.text and "Part A" in printable.text


async def test_an_import_cannot_rename_facilitators_or_administrators(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.services import get_person

    data = (
        f"email,name,department\n{world.admin.email},Pwned Admin,Nowhere\n"
        f"{world.participant_a.email},Part A Renamed,Biology\n"
    ).encode()
    response = await client.post(
        f"/api/cohorts/{world.cohort_a}/roster",
        headers={**world.facilitator_a.auth, "Content-Type": "text/csv"},
        content=data,
    )
    body = response.json()
    assert [(r["action"], r["changes"]) for r in body["rows"]] == [
        ("enroll", []),
        ("update", ["department", "name"]),
    ]
    assert (await get_person(world.admin.id)).name == "Admin"
    assert (await get_person(world.participant_a.id)).name == "Part A Renamed"


async def test_reimporting_after_a_withdrawal_does_not_enroll_again(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"/api/cohorts/{world.cohort_a}"
    eid = (await client.get(f"{url}/participants", headers=world.staff.auth)).json()[0][
        "enrollment_id"
    ]
    await client.post(f"{url}/participants/{eid}/withdraw", headers=world.staff.auth)
    response = await _import(
        client, world, b"email,name\npart.a@example.edu,Part A\n", dry_run=False
    )
    (row,) = response.json()["rows"]
    assert (row["action"], row["status"]) == ("unchanged", "withdrawn")
    assert "not re-enrolled" in row["reason"]


async def test_raising_the_capacity_moves_people_in_when_the_cohort_promotes_by_itself(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"/api/cohorts/{world.cohort_a}"
    await client.patch(url, headers=world.staff.auth, json={"capacity": 1})
    for n in (1, 2, 3):
        await client.post(
            f"{url}/participants",
            headers=world.staff.auth,
            json={"email": f"w{n}@example.edu", "name": f"W{n}"},
        )
    await client.patch(url, headers=world.staff.auth, json={"capacity": 3})
    assert [p["status"] for p in await _roster(client, world)] == [
        "enrolled",
        "waitlisted",
        "waitlisted",
        "waitlisted",
    ]
    await client.patch(url, headers=world.staff.auth, json={"auto_promote": True})
    assert [p["status"] for p in await _roster(client, world)] == [
        "enrolled",
        "enrolled",
        "enrolled",
        "waitlisted",
    ]
