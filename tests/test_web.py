"""What every response carries: security headers, error pages and problem details, the schema."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import World, sign_in


@pytest.mark.parametrize(
    "path",
    [
        "/sign-in",
        "/",
        "/api/cohorts",
        "/static/css/app.css",
        "/no-such-page",
        "/api/nothing",
        "/health",
    ],
)
async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


async def test_pages_have_no_inline_script_or_style(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.admin.email)
    for path in ("/", "/cohorts", f"/cohorts/{world.cohort_a}", "/admin/people", "/account"):
        html = (await client.get(path)).text
        assert "<script>" not in html and "style=" not in html and "<style" not in html, path


async def test_session_and_csrf_cookies_are_flagged(
    client: httpx.AsyncClient, world: World
) -> None:
    page = await client.get("/sign-in")
    csrf = page.headers["set-cookie"].lower()
    assert "samesite=lax" in csrf
    response = await sign_in(client, world.staff.email)
    session_cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("mc_session=")
    )
    assert "HttpOnly" in session_cookie
    assert "SameSite=lax" in session_cookie or "samesite=lax" in session_cookie.lower()


async def test_unknown_pages_get_an_html_404_and_unknown_api_paths_a_problem(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Go to the dashboard" in page.text
    api = await client.get("/api/nothing")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["status"] == 404


async def test_a_wrong_method_is_405_in_the_same_layout(client: httpx.AsyncClient) -> None:
    response = await client.delete("/sign-in")
    assert response.status_code == 405
    assert "Method not allowed" in response.text


async def test_health_reports_the_database(client: httpx.AsyncClient, database: object) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["engine"] in {"sqlite", "postgres"}


async def test_the_openapi_schema_documents_the_api_and_leaves_pages_out(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    assert all(p.startswith(("/api/", "/health")) for p in paths), sorted(paths)
    assert {"/api/cohorts", "/api/cohorts/{cohort_id}", "/api/curricula", "/health"} <= set(paths)
    for path, operations in paths.items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if path.startswith("/api/"):
                assert "401" in codes, f"{method} {path} does not declare 401"
            if "requestBody" in operation:
                assert {"400", "422"} <= codes, f"{method} {path} does not declare 400 and 422"
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
