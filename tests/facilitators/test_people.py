"""Administrators manage people and accounts, and read the audit log."""

from __future__ import annotations

import re

import httpx

from tests.conftest import World, post_form, sign_in


async def test_an_admin_adds_a_person_and_a_duplicate_email_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.admin.email)
    added = await post_form(
        client,
        "/admin/people",
        {
            "name": "Jordan Rivers",
            "email": "Jordan.Rivers@example.org",
            "roles": "facilitator",
            "password": "a long password",
        },
        page="/admin/people",
    )
    assert added.status_code == 302
    person_page = await client.get(added.headers["location"])
    assert "Person added." in person_page.text and "Jordan Rivers" in person_page.text
    duplicate = await post_form(
        client,
        "/admin/people",
        {"name": "J R", "email": "jordan.rivers@EXAMPLE.org", "password": "another secret!"},
        page="/admin/people",
    )
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.text
    assert "another secret!" not in duplicate.text  # a typed password is never sent back
    bad = await post_form(
        client,
        "/admin/people",
        {"name": "", "email": "nope", "career_stage": "wizard"},
        page="/admin/people",
    )
    assert bad.status_code == 422


async def test_roles_deactivation_and_password_reset_from_the_person_page(
    client: httpx.AsyncClient, make_client: object, world: World
) -> None:
    await sign_in(client, world.admin.email)
    page = f"/admin/people/{world.staff.id}"
    await post_form(client, f"{page}/roles", {"roles": ["staff", "facilitator"]}, page=page)
    assert "Office staff" in (await client.get(page)).text
    from facilitators.services import get_person

    assert (await get_person(world.staff.id)).roles == ("facilitator", "staff")
    own = await post_form(
        client, f"/admin/people/{world.admin.id}/roles", {"roles": "staff"}, page=page
    )
    assert own.status_code == 422 and "cannot remove your own admin role" in own.text
    reset = await post_form(client, f"{page}/password", {"password": "short"}, page=page)
    assert reset.status_code == 422 and "at least 10 characters" in reset.text
    reset = await post_form(client, f"{page}/password", {"password": "a fresh password"}, page=page)
    assert "signed out of every browser" in reset.text
    await post_form(client, f"{page}/active", {"active": "0"}, page=page)
    assert "deactivated" in (await client.get(page)).text


async def test_the_audit_log_lists_and_filters_what_happened(
    client: httpx.AsyncClient, world: World
) -> None:
    await client.patch(
        f"/api/cohorts/{world.cohort_a}",
        headers=world.facilitator_a.auth,
        json={"location": "Hall"},
    )
    await sign_in(client, world.admin.email)
    everything = (await client.get("/admin/audit")).text
    for action in (
        "cohort.create",
        "enrollment.add",
        "cohort.update",
        "auth.sign_in",
        "token.create",
    ):
        assert action in everything
    only_updates = (await client.get("/admin/audit", params={"action": "cohort.update"})).text
    assert "<code>cohort.update</code>" in only_updates
    assert "<code>enrollment.add</code>" not in only_updates
    cohort_b = (await client.get("/admin/audit", params={"cohort": str(world.cohort_b)})).text
    assert re.search(rf'href="/cohorts/{world.cohort_b}"', cohort_b)
    assert f'href="/cohorts/{world.cohort_a}"' not in cohort_b
    junk = await client.get("/admin/audit", params={"cohort": "abc", "page_number": "x"})
    assert junk.status_code == 200
