"""The authorization matrix: every route of the app, called as every kind of visitor, against an
explicit table of expected status codes. A route with no row fails; so does a row with no route.

API routes are called with the person's Bearer token; pages with a signed-in browser (a form
post carries a valid CSRF token, so what is tested is the permission, not the CSRF check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute

from tests.conftest import World, csrf_token, sign_in

ROLES = ("anonymous", "participant_a", "participant_b", "facilitator_a", "staff", "admin")


@dataclass(frozen=True)
class Row:
    """Expected status per role, in the order of ROLES."""

    statuses: tuple[int, int, int, int, int, int]
    path: Callable[[World, dict[str, int]], str] | None = None
    json: dict[str, Any] | Callable[[World], dict[str, Any]] | None = None
    form: dict[str, Any] | Callable[[World], dict[str, Any]] = field(default_factory=dict)


def person_a(w: World) -> str:
    return f"/admin/people/{w.participant_a.id}"


ALL_200 = (200, 200, 200, 200, 200, 200)
SIGNED_IN_API = (401, 200, 200, 200, 200, 200)
SIGNED_IN_PAGE = (302, 200, 200, 200, 200, 200)
ADMIN_PAGE = (302, 403, 403, 403, 403, 200)
ADMIN_FORM = (302, 403, 403, 403, 403, 302)
COHORT_A_READ_API = (401, 200, 404, 200, 200, 200)
COHORT_A_MANAGE_API = (401, 403, 404, 200, 200, 200)
COHORT_A_READ_PAGE = (302, 200, 404, 200, 200, 200)
COHORT_A_MANAGE_PAGE = (302, 403, 404, 200, 200, 200)
COHORT_A_MANAGE_FORM = (302, 403, 404, 302, 302, 302)

NEW_PERSON = {"email": "someone.new@example.edu", "name": "Someone New"}

MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/health"): Row(ALL_200),
    ("GET", "/schema"): Row(ALL_200),
    ("GET", "/schema/openapi.json"): Row(ALL_200),
    ("GET", "/schema/{path:str}"): Row((404,) * 6, path=lambda w, ids: "/schema/nothing-here"),
    ("GET", "/static/{file_path:path}"): Row(ALL_200, path=lambda w, ids: "/static/css/app.css"),
    # JSON API
    ("GET", "/api/me"): Row(SIGNED_IN_API),
    ("GET", "/api/competencies"): Row(SIGNED_IN_API),
    ("GET", "/api/curricula"): Row(SIGNED_IN_API),
    ("GET", "/api/cohorts"): Row(SIGNED_IN_API),
    ("POST", "/api/cohorts"): Row(
        (401, 403, 403, 201, 201, 201),
        json=lambda w: {
            "name": "Matrix cohort",
            "timezone": "UTC",
            "facilitator_ids": [w.facilitator_a.id],
        },
    ),
    ("GET", "/api/cohorts/{cohort_id:int}"): Row(COHORT_A_READ_API),
    ("PATCH", "/api/cohorts/{cohort_id:int}"): Row(
        COHORT_A_MANAGE_API, json={"location": "Room 1"}
    ),
    ("GET", "/api/cohorts/{cohort_id:int}/participants"): Row(COHORT_A_MANAGE_API),
    ("POST", "/api/cohorts/{cohort_id:int}/participants"): Row(
        (401, 403, 404, 201, 201, 201), json=NEW_PERSON
    ),
    # Pages: signing in and one's own account
    ("GET", "/sign-in"): Row((200, 302, 302, 302, 302, 302)),
    ("POST", "/sign-in"): Row(
        (400,) * 6, form={"email": "nobody@example.org", "password": "wrong password"}
    ),
    ("POST", "/sign-out"): Row((302,) * 6),
    ("GET", "/"): Row(SIGNED_IN_PAGE),
    ("GET", "/account"): Row(SIGNED_IN_PAGE),
    ("POST", "/account/tokens"): Row(SIGNED_IN_PAGE, form={"name": "matrix"}),
    ("POST", "/account/password"): Row(
        (302, 422, 422, 422, 422, 422),
        form={"current_password": "wrong", "new_password": "x" * 12, "confirm_password": "x" * 12},
    ),
    # Revoking participant A's token: only participant A may, from their own account.
    ("POST", "/account/tokens/{token_id:int}/revoke"): Row(
        (302, 302, 404, 404, 404, 404),
        path=lambda w, ids: f"/account/tokens/{ids['token_a']}/revoke",
    ),
    # Administration
    ("GET", "/admin/people"): Row(ADMIN_PAGE),
    ("POST", "/admin/people"): Row(ADMIN_FORM, form={**NEW_PERSON, "roles": "participant"}),
    ("GET", "/admin/audit"): Row(ADMIN_PAGE),
    ("GET", "/admin/people/{person_id:int}"): Row(ADMIN_PAGE, path=lambda w, ids: person_a(w)),
    ("POST", "/admin/people/{person_id:int}"): Row(
        ADMIN_FORM,
        path=lambda w, ids: person_a(w),
        form={"name": "Part A", "email": "part.a@example.edu"},
    ),
    ("POST", "/admin/people/{person_id:int}/roles"): Row(
        ADMIN_FORM, path=lambda w, ids: person_a(w) + "/roles", form={"roles": "participant"}
    ),
    ("POST", "/admin/people/{person_id:int}/active"): Row(
        ADMIN_FORM, path=lambda w, ids: person_a(w) + "/active", form={"active": "1"}
    ),
    ("POST", "/admin/people/{person_id:int}/password"): Row(
        ADMIN_PAGE,
        path=lambda w, ids: person_a(w) + "/password",
        form={"password": "a long new password"},
    ),
    ("POST", "/admin/people/{person_id:int}/tokens/{token_id:int}/revoke"): Row(
        ADMIN_FORM, path=lambda w, ids: person_a(w) + f"/tokens/{ids['token_a']}/revoke"
    ),
    # Cohort pages
    ("GET", "/cohorts"): Row(SIGNED_IN_PAGE),
    ("GET", "/cohorts/new"): Row((302, 403, 403, 200, 200, 200)),
    ("POST", "/cohorts/new"): Row(
        (302, 403, 403, 302, 302, 302),
        form=lambda w: {
            "name": "Matrix page cohort",
            "timezone": "UTC",
            "facilitator_ids": str(w.facilitator_a.id),
        },
    ),
    ("GET", "/cohorts/{cohort_id:int}"): Row(COHORT_A_READ_PAGE),
    ("GET", "/cohorts/{cohort_id:int}/edit"): Row(COHORT_A_MANAGE_PAGE),
    ("POST", "/cohorts/{cohort_id:int}/edit"): Row(
        COHORT_A_MANAGE_FORM,
        form=lambda w: {
            "name": "Cohort A",
            "timezone": "America/Chicago",
            "modality": "in_person",
            "facilitator_ids": str(w.facilitator_a.id),
        },
    ),
    ("POST", "/cohorts/{cohort_id:int}/participants"): Row(COHORT_A_MANAGE_FORM, form=NEW_PERSON),
}


def _per_role(body: dict[str, Any], role: str) -> dict[str, Any]:
    """Each role adds a different new person, so that a second add is not a duplicate."""
    if "@example.edu" in str(body.get("email", "")) and body.get("name") == NEW_PERSON["name"]:
        return {**body, "email": body["email"].replace("@", f".{role}@")}
    return body


def app_routes() -> list[tuple[str, str]]:
    from app import create_app

    routes = set()
    for route in create_app().routes:
        if isinstance(route, HTTPRoute):
            for method in route.methods - {"HEAD", "OPTIONS"}:
                routes.add((method, route.path))
    return sorted(routes, key=lambda r: (r[1], r[0]))


def test_every_route_has_a_row_and_every_row_a_route() -> None:
    routes = set(app_routes())
    assert sorted(routes - MATRIX.keys()) == [], "routes without a row in the matrix"
    assert sorted(MATRIX.keys() - routes) == [], "rows for routes that no longer exist"


def concrete_path(template: str, row: Row, world: World, ids: dict[str, int]) -> str:
    """The row's own path when it has one; otherwise the template with cohort A's id."""
    if row.path is not None:
        return row.path(world, ids)
    return template.replace("{cohort_id:int}", str(world.cohort_a))


@pytest.mark.parametrize(("method", "template"), app_routes())
async def test_route_answers_each_role_as_the_matrix_says(
    method: str, template: str, make_client: Any, world: World
) -> None:
    from facilitators.services import list_tokens

    row = MATRIX.get((method, template))
    assert row is not None, f"{method} {template} has no row in the authorization matrix"
    ids = {"token_a": (await list_tokens(world.participant_a.id))[0].id}
    is_api = template.startswith("/api/")
    observed = []
    for role in ROLES:
        person = world.as_role(role)
        client: httpx.AsyncClient = make_client()
        headers: dict[str, str] = {}
        if person is not None:
            if is_api:
                headers = person.auth
            else:
                await sign_in(client, person.email)
        path = concrete_path(template, row, world, ids)
        if method == "GET":
            response = await client.get(path, headers=headers)
        elif is_api:
            body = row.json(world) if callable(row.json) else row.json or {}
            response = await client.request(
                method, path, headers=headers, json=_per_role(body, role)
            )
        else:
            token = await csrf_token(client, "/sign-in")
            fields = row.form(world) if callable(row.form) else row.form
            form = {**_per_role(fields, role), "_csrf_token": token}
            response = await client.post(path, headers=headers, data=form)
        observed.append(response.status_code)
    expected = row.statuses
    assert tuple(observed) == expected, f"{method} {template}: " + ", ".join(
        f"{r}={o}" + ("" if o == e else f" (expected {e})")
        for r, o, e in zip(ROLES, observed, expected, strict=True)
    )
