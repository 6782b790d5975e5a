"""Signing in and out, CSRF, sessions that end, and API tokens."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import PASSWORD, World, csrf_token, post_form, sign_in


async def test_sign_in_with_the_right_password_opens_the_dashboard(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await sign_in(client, "FAC.A@example.org")  # email matched in any case
    assert response.status_code == 302
    assert response.headers["location"] == "/"
    dashboard = await client.get("/")
    assert dashboard.status_code == 200
    assert "Cohort A" in dashboard.text
    assert "Cohort B" not in dashboard.text


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient, world: World
) -> None:
    wrong = await sign_in(client, world.facilitator_a.email, "not the password")
    unknown = await sign_in(client, "nobody@example.org", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "do not match an account" in response.text
    assert (await client.get("/")).status_code == 302


async def test_failed_and_successful_sign_ins_are_audited(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.audit import AuditFilter, list_entries

    await sign_in(client, world.staff.email, "wrong password!")
    await sign_in(client, world.staff.email)
    actions = [e.action for e in await list_entries(AuditFilter(action="auth."))]
    assert actions == ["auth.sign_in", "auth.sign_in_failed"]


async def test_pages_send_anonymous_visitors_to_sign_in_and_back(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(f"/cohorts/{world.cohort_a}")
    assert response.status_code == 302
    assert response.headers["location"] == f"/sign-in?next=%2Fcohorts%2F{world.cohort_a}"
    token = await csrf_token(client)
    back = await client.post(
        "/sign-in",
        data={
            "email": world.facilitator_a.email,
            "password": PASSWORD,
            "next": f"/cohorts/{world.cohort_a}",
            "_csrf_token": token,
        },
    )
    assert back.headers["location"] == f"/cohorts/{world.cohort_a}"


async def test_sign_in_never_redirects_to_another_site(
    client: httpx.AsyncClient, world: World
) -> None:
    token = await csrf_token(client)
    for target in ("https://evil.example", "//evil.example", "/\\evil.example"):
        response = await client.post(
            "/sign-in",
            data={
                "email": world.staff.email,
                "password": PASSWORD,
                "next": target,
                "_csrf_token": token,
            },
        )
        assert response.headers["location"] == "/"


async def test_a_form_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.admin.email)
    response = await client.post(
        "/admin/people",
        data={"name": "Sneaky", "email": "sneaky@example.org", "roles": "admin"},
    )
    assert response.status_code == 403
    assert "expired or came from another site" in response.text
    forged = await client.post(
        "/admin/people",
        data={"name": "Sneaky", "email": "sneaky@example.org", "_csrf_token": "forged"},
    )
    assert forged.status_code == 403
    from facilitators.services import find_person_id_by_email

    assert await find_person_id_by_email("sneaky@example.org") is None


async def test_sign_out_ends_the_session(client: httpx.AsyncClient, world: World) -> None:
    await sign_in(client, world.staff.email)
    assert (await client.get("/")).status_code == 200
    response = await post_form(client, "/sign-out", {})
    assert response.status_code == 302
    assert (await client.get("/")).status_code == 302


async def test_deactivating_a_person_ends_their_session_and_tokens(
    client: httpx.AsyncClient, make_client: Any, world: World
) -> None:
    from facilitators.services import set_active

    await sign_in(client, world.participant_a.email)
    assert (await client.get("/")).status_code == 200
    await set_active(world.participant_a.id, False, actor_id=world.admin.id)
    assert (await client.get("/")).status_code == 302
    api = await make_client().get("/api/me", headers=world.participant_a.auth)
    assert api.status_code == 401
    again = await sign_in(make_client(), world.participant_a.email)
    assert again.status_code == 403
    assert "deactivated" in again.text  # they know the password: tell them why
    wrong = await sign_in(make_client(), world.participant_a.email, "not the password")
    assert wrong.status_code == 400 and "deactivated" not in wrong.text
    from facilitators.services import set_active as reactivate

    await reactivate(world.participant_a.id, True, actor_id=world.admin.id)
    # Old cookies and tokens stay dead after reactivation.
    assert (await client.get("/")).status_code == 302
    assert (await make_client().get("/api/me", headers=world.participant_a.auth)).status_code == 401


async def test_a_password_reset_signs_the_person_out_everywhere(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.services import set_password

    await sign_in(client, world.facilitator_a.email)
    await set_password(world.facilitator_a.id, "a brand new password", actor_id=world.admin.id)
    assert (await client.get("/")).status_code == 302
    assert (await sign_in(client, world.facilitator_a.email)).status_code == 400
    assert (
        await sign_in(client, world.facilitator_a.email, "a brand new password")
    ).status_code == 302


async def test_changing_ones_own_password_keeps_this_browser_signed_in(
    client: httpx.AsyncClient, make_client: Any, world: World
) -> None:
    other_browser = make_client()
    await sign_in(other_browser, world.staff.email)
    await sign_in(client, world.staff.email)
    wrong = await post_form(
        client,
        "/account/password",
        {
            "current_password": "nope",
            "new_password": "another password 1",
            "confirm_password": "another password 1",
        },
        page="/account",
    )
    assert wrong.status_code == 422
    assert "is not your current password" in wrong.text
    response = await post_form(
        client,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "another password 1",
            "confirm_password": "another password 1",
        },
        page="/account",
    )
    assert response.status_code == 302
    assert (await client.get("/account")).status_code == 200
    assert (await other_browser.get("/account")).status_code == 302


async def test_api_accepts_a_bearer_token_and_nothing_else(
    client: httpx.AsyncClient, world: World
) -> None:
    me = await client.get("/api/me", headers=world.staff.auth)
    assert me.status_code == 200
    assert me.json() == {
        "person_id": world.staff.id,
        "name": world.staff.name,
        "email": world.staff.email,
        "roles": ["staff"],
    }
    anonymous = await client.get("/api/me")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    bad = await client.get("/api/me", headers={"Authorization": "Bearer mc_not-a-real-token"})
    assert bad.status_code == 401
    assert bad.json()["detail"] == "the API token is unknown or revoked"
    basic = await client.get("/api/me", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401


async def test_a_signed_in_browser_cookie_does_not_open_the_api(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.admin.email)
    assert (await client.get("/")).status_code == 200
    assert (await client.get("/api/cohorts")).status_code == 401


async def test_revoked_tokens_stop_working_at_once(client: httpx.AsyncClient, world: World) -> None:
    from facilitators.services import list_tokens

    await sign_in(client, world.facilitator_a.email)
    created = await post_form(client, "/account/tokens", {"name": "roster script"}, page="/account")
    assert created.status_code == 302  # a redirect: reloading the page makes no second token
    shown = await client.get("/account")
    assert "shown only once" in shown.text
    token = shown.text.split('<code class="token">')[1].split("</code>")[0]
    assert "shown only once" not in (await client.get("/account")).text
    assert (
        await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    tokens = await list_tokens(world.facilitator_a.id)
    new = next(t for t in tokens if t.name == "roster script")
    assert token.startswith(new.prefix)
    revoked = await post_form(client, f"/account/tokens/{new.id}/revoke", {}, page="/account")
    assert revoked.status_code == 302
    assert (
        await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401
    # The other token of the same person still works.
    assert (await client.get("/api/me", headers=world.facilitator_a.auth)).status_code == 200


async def test_nobody_revokes_another_persons_token_from_their_account(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.services import list_tokens

    victim = (await list_tokens(world.staff.id))[0]
    await sign_in(client, world.participant_a.email)
    response = await post_form(client, f"/account/tokens/{victim.id}/revoke", {}, page="/account")
    assert response.status_code == 404
    assert (await client.get("/api/me", headers=world.staff.auth)).status_code == 200


async def test_tokens_are_stored_hashed(world: World) -> None:
    from facilitators.tables import ApiToken

    rows = await ApiToken.select(ApiToken.token_hash, ApiToken.prefix)
    assert rows
    stored = " ".join(str(value) for row in rows for value in row.values())
    for person in (world.admin, world.staff, world.participant_a):
        assert person.token not in stored
        assert person.token[20:] not in stored


async def test_passwords_are_stored_as_salted_pbkdf2(world: World) -> None:
    from facilitators.tables import Account

    hashes = [row["password_hash"] for row in await Account.select(Account.password_hash)]
    assert all(h.startswith("pbkdf2_sha256$") for h in hashes)
    assert len(set(hashes)) == len(hashes)  # same password, different salts
    assert PASSWORD not in " ".join(hashes)


async def test_a_person_without_a_password_cannot_sign_in_with_an_empty_one(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.services import PersonInput, create_person

    await create_person(
        PersonInput(name="No Pass", email="nopass@example.edu"), {"participant"}, actor_id=None
    )
    assert (await sign_in(client, "nopass@example.edu", "")).status_code == 400
