"""Hardening: security headers on every kind of response, cookie flags, password sign-in rate
limits kept in the database, secrets stored hashed, upload and body size limits, and the inputs
fuzzing found that used to end in a 500."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator
from email import message_from_bytes
from email import policy as email_policy
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, World, csrf_token, running, sign_in

# -- security headers -----------------------------------------------------------------------


def assert_hardened(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    csp = response.headers.get("content-security-policy", "")
    assert "default-src" in csp, where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert "frame-ancestors 'none'" in csp, where
    assert "script-src 'self'" in csp or "default-src 'none'" in csp, where
    assert response.headers.get("x-content-type-options") == "nosniff", where
    # Feeds, whose URL is their secret, say no-referrer; everything else same-origin.
    assert response.headers.get("referrer-policy") in {"same-origin", "no-referrer"}, where
    assert response.headers.get("x-frame-options") == "DENY", where


async def test_every_kind_of_response_carries_the_security_headers(
    client: httpx.AsyncClient, make_client: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessions.feeds import feed_name

    seen: set[int] = set()

    def check(response: httpx.Response, status: int) -> None:
        assert response.status_code == status, (response.request.url, response.text[:300])
        assert_hardened(response)
        seen.add(status)

    # Anonymous: pages, redirects, error pages, API problems, the schema, static files, feeds.
    check(await client.get("/sign-in"), 200)
    check(await client.get("/"), 302)
    check(await client.get("/no-such-page"), 404)
    check(await client.delete("/sign-in"), 405)
    check(await client.post("/sign-in", data={"email": "x@example.org"}), 403)  # no CSRF token
    check(await client.get("/api/me"), 401)
    check(await client.get("/api/nothing"), 404)
    check(await client.get("/health"), 200)
    check(await client.get("/schema/openapi.json"), 200)
    check(await client.get("/static/css/app.css"), 200)
    check(await client.get("/feeds/" + feed_name("p", world.participant_a.id, 0)), 200)
    check(await client.get("/feeds/p1-" + "A" * 32 + ".ics"), 404)

    # Signed in: pages and their error pages.
    browser = make_client()
    await sign_in(browser, world.staff.email)
    check(await browser.get("/"), 200)
    check(await browser.get(f"/cohorts/{world.cohort_a}"), 200)
    check(await browser.get("/cohorts/424242"), 404)
    check(await browser.get("/cohorts/99999999999999999999"), 404)
    account = await browser.get("/account")
    check(account, 200)
    assert account.headers["cache-control"] == "no-store"

    # The API with a token: answers, problems, validation errors, a body too large.
    auth = world.staff.auth
    check(await client.get("/api/cohorts", headers=auth), 200)
    check(await client.get("/api/cohorts/424242", headers=auth), 404)
    check(await client.post("/api/cohorts", json={"name": ""}, headers=auth), 422)
    check(await client.get("/api/outbox?limit=many", headers=auth), 422)
    big = b'{"name": "' + b"x" * 2_100_000 + b'"}'
    check(
        await client.post(
            "/api/cohorts", content=big, headers={**auth, "content-type": "application/json"}
        ),
        413,
    )

    # A failure on our side, as a page and as a problem.
    import facilitators.controllers
    import facilitators.pages

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(facilitators.pages, "_sign_in_page", broken)
    monkeypatch.setattr(facilitators.controllers, "MeOut", broken)
    check(await make_client().get("/sign-in"), 500)
    check(await client.get("/api/me", headers=auth), 500)
    assert {200, 302, 401, 403, 404, 405, 413, 422, 500} <= seen


async def test_the_message_preview_frame_allows_inline_styles_and_nothing_else(
    make_client: Any, world: World
) -> None:
    """The one exception: an email's HTML is shown as its reader will see it (inline styles),
    in a frame of our own page, with no script, no request and no form."""
    from sessions.tables import Session

    session = await Session.select(Session.id).where(Session.cohort == world.cohort_a).first()
    assert session is not None
    browser = make_client()
    await sign_in(browser, world.facilitator_a.email)
    response = await browser.get(f"/sessions/{session['id']}/preview.html")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "style-src 'unsafe-inline'" in csp and "frame-ancestors 'self'" in csp
    assert "form-action 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"


# -- cookies --------------------------------------------------------------------------------


def _cookie(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header.lower()
    raise AssertionError(f"no {name} cookie in {response.headers.get_list('set-cookie')}")


async def test_session_and_csrf_cookies_are_httponly_and_samesite(
    client: httpx.AsyncClient, world: World
) -> None:
    page = await client.get("/sign-in")
    csrf = _cookie(page, "mc_csrf")
    assert "httponly" in csrf and "samesite=lax" in csrf
    assert "secure" not in csrf  # BASE_URL is http:// in the tests
    session = _cookie(await sign_in(client, world.staff.email), "mc_session")
    assert "httponly" in session and "samesite=lax" in session and "secure" not in session


@pytest.fixture
async def https_app(database: Any) -> AsyncIterator[Any]:
    from app import create_app
    from settings import get_settings

    settings = dataclasses.replace(get_settings(), base_url="https://mentorcircle.example.org")
    assert settings.secure_cookies
    async with running(create_app(settings)) as application:
        yield application


async def test_cookies_are_secure_when_the_site_is_https(https_app: Any, world: World) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=https_app), base_url="https://testserver"
    ) as browser:
        page = await browser.get("/sign-in")
        csrf = _cookie(page, "mc_csrf")
        assert "secure" in csrf and "httponly" in csrf and "samesite=lax" in csrf
        signed_in = await sign_in(browser, world.staff.email)
        assert signed_in.status_code == 302
        session = _cookie(signed_in, "mc_session")
        assert "secure" in session and "httponly" in session and "samesite=lax" in session
        assert (await browser.get("/account")).status_code == 200


# -- password sign-in rate limits -----------------------------------------------------------


async def _attempt(
    browser: httpx.AsyncClient,
    email: str,
    password: str = "wrong password!",  # noqa: S107
) -> httpx.Response:
    token = await csrf_token(browser, "/sign-in")
    return await browser.post(
        "/sign-in", data={"email": email, "password": password, "_csrf_token": token}
    )


def _error_text(response: httpx.Response, email: str) -> str:
    """The page's message, with the address it repeats taken out."""
    start = response.text.index('role="alert"')
    return response.text[start : response.text.index("</div>", start)].replace(email, "EMAIL")


async def test_ten_failed_passwords_lock_an_address_for_a_while(
    make_client: Any, world: World
) -> None:
    from facilitators.services import PASSWORD_FAILURES_PER_ADDRESS

    browser = make_client()
    email = world.staff.email
    for _ in range(PASSWORD_FAILURES_PER_ADDRESS):
        assert (await _attempt(browser, email)).status_code == 400
    refused = await _attempt(browser, email)
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts for this email address" in refused.text
    assert "email yourself a sign-in link" in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    assert_hardened(refused)
    # The right password is refused too while the address is locked: no guessing through it.
    assert (await _attempt(browser, email, PASSWORD)).status_code == 429
    # Another account from the same browser is not locked.
    assert (await _attempt(browser, world.facilitator_a.email, PASSWORD)).status_code == 302


async def test_a_locked_unknown_address_looks_like_a_locked_account(
    make_client: Any, world: World
) -> None:
    from facilitators.services import PASSWORD_FAILURES_PER_ADDRESS

    answers = {}
    for email in (world.staff.email, "nobody.here@example.org"):
        browser = make_client()
        first = await _attempt(browser, email)
        for _ in range(PASSWORD_FAILURES_PER_ADDRESS - 1):
            await _attempt(browser, email)
        last = await _attempt(browser, email)
        answers[email] = (
            first.status_code,
            _error_text(first, email),
            last.status_code,
            _error_text(last, email),
        )
    known, unknown = answers.values()
    assert known == unknown
    assert known[0] == 400 and known[2] == 429


async def test_a_successful_sign_in_does_not_count_and_clears_the_address(
    make_client: Any, world: World
) -> None:
    from facilitators.services import PASSWORD_FAILURES_PER_ADDRESS
    from facilitators.tables import SignInAttempt

    email = world.staff.email
    for _ in range(PASSWORD_FAILURES_PER_ADDRESS - 1):
        assert (await _attempt(make_client(), email)).status_code == 400
    assert (await _attempt(make_client(), email, PASSWORD)).status_code == 302
    address_rows = await SignInAttempt.count().where(SignInAttempt.scope.like("password:%"))
    assert address_rows == 0
    # The client keeps its failures, not the success.
    client_rows = await SignInAttempt.count().where(SignInAttempt.scope.like("password-client:%"))
    assert client_rows == PASSWORD_FAILURES_PER_ADDRESS - 1
    for _ in range(PASSWORD_FAILURES_PER_ADDRESS):
        assert (await _attempt(make_client(), email)).status_code == 400
    assert (await _attempt(make_client(), email)).status_code == 429


async def test_fifty_failures_from_one_client_lock_that_client_only(app: Any, world: World) -> None:
    from facilitators.services import PASSWORD_FAILURES_PER_ADDRESS, PASSWORD_FAILURES_PER_CLIENT

    def browser_at(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with browser_at("203.0.113.7") as attacker, browser_at("198.51.100.2") as colleague:
        tried = 0
        for n in range(PASSWORD_FAILURES_PER_CLIENT // PASSWORD_FAILURES_PER_ADDRESS + 1):
            for _ in range(PASSWORD_FAILURES_PER_ADDRESS):
                if tried == PASSWORD_FAILURES_PER_CLIENT:
                    break
                response = await _attempt(attacker, f"guess{n}@example.org")
                assert response.status_code == 400
                tried += 1
        refused = await _attempt(attacker, world.staff.email, PASSWORD)
        assert refused.status_code == 429
        assert "from your network" in refused.text and "retry-after" in refused.headers
        # Someone elsewhere signs in as usual, to the same accounts.
        assert (await _attempt(colleague, world.staff.email, PASSWORD)).status_code == 302


async def test_the_limits_hold_across_app_instances_and_end_with_the_window(
    database: Any, world: World
) -> None:
    """Two app instances on one database count the same attempts; moving them out of the
    window (as 15 minutes would) lets the address in again."""
    from app import create_app
    from facilitators.services import PASSWORD_FAILURES_PER_ADDRESS
    from facilitators.tables import SignInAttempt

    email = world.staff.email
    async with running(create_app()) as one, running(create_app()) as two:
        browsers = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://testserver")
            for a in (one, two)
        ]
        for attempt in range(PASSWORD_FAILURES_PER_ADDRESS):
            assert (await _attempt(browsers[attempt % 2], email)).status_code == 400
        assert (await _attempt(browsers[0], email, PASSWORD)).status_code == 429
        assert (await _attempt(browsers[1], email, PASSWORD)).status_code == 429
        await SignInAttempt.update(
            {SignInAttempt.at: SignInAttempt.at - dt.timedelta(minutes=16)}
        ).where(SignInAttempt.id > 0)
        assert (await _attempt(browsers[1], email, PASSWORD)).status_code == 302
        for browser in browsers:
            await browser.aclose()


async def test_sign_in_links_and_passwords_are_counted_apart(
    make_client: Any, world: World
) -> None:
    """Locking the password form does not stop the emailed link, the way back in."""
    from facilitators.services import PASSWORD_FAILURES_PER_ADDRESS

    browser = make_client()
    email = world.participant_a.email
    for _ in range(PASSWORD_FAILURES_PER_ADDRESS):
        await _attempt(browser, email)
    assert (await _attempt(browser, email)).status_code == 429
    token = await csrf_token(browser, "/sign-in")
    sent = await browser.post("/sign-in/email", data={"email": email, "_csrf_token": token})
    assert sent.status_code == 200


# -- secrets stored hashed, compared in constant time -----------------------------------------


async def test_tokens_and_sign_in_links_are_stored_only_as_hashes(world: World) -> None:
    from facilitators.services import user_for_token
    from facilitators.sign_in_links import is_usable, request_link
    from facilitators.tables import ApiToken, SignInLink
    from mail.tables import OutboxMessage

    token = world.staff.token
    rows = await ApiToken.select().where(ApiToken.person == world.staff.id)
    assert [row["token_hash"] for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in repr(rows)
    assert (await user_for_token(token)) is not None
    assert (await user_for_token(token[:-1] + ("A" if token[-1] != "A" else "B"))) is None

    await request_link(world.participant_a.email, client="127.0.0.1")
    message = (
        await OutboxMessage.select(OutboxMessage.content)
        .where(OutboxMessage.kind == "sign_in")
        .first()
    )
    assert message is not None
    mail = message_from_bytes(bytes(message["content"]), policy=email_policy.default)
    body = mail.get_body(("plain",))
    assert body is not None
    found = re.search(r"/sign-in/link/([A-Za-z0-9_-]+)", body.get_content())
    assert found is not None
    link = found[1]
    links = await SignInLink.select().where(SignInLink.person == world.participant_a.id)
    assert [row["token_hash"] for row in links] == [hashlib.sha256(link.encode()).hexdigest()]
    assert link not in repr(links)
    assert await is_usable(link)
    assert not await is_usable(links[0]["token_hash"]), "the stored hash is not a working link"


def test_derived_secrets_are_hmacs_compared_in_constant_time() -> None:
    """Feed URLs and signed links are HMACs of SECRET_KEY (derived, never stored) and are
    checked with hmac.compare_digest; stored secrets (API tokens, sign-in links) are looked up
    by their SHA-256 in SQL, so no plain secret is compared in Python at all."""
    import inspect

    import facilitators.services
    import facilitators.sign_in_links
    import sessions.feeds
    import settings
    from sessions.feeds import feed_name

    assert "compare_digest" in inspect.getsource(sessions.feeds.feed_for)
    assert "compare_digest" in inspect.getsource(settings.signature_matches)
    assert "_TOKEN_HOLDER(token_hash=_token_hash(token))" in inspect.getsource(
        facilitators.services.user_for_token
    )
    assert ".where(ApiToken.token_hash == token_hash)" in inspect.getsource(facilitators.services)
    assert "token_hash == _digest(token)" in inspect.getsource(facilitators.sign_in_links.redeem)
    one, regenerated = feed_name("p", 7, 0), feed_name("p", 7, 1)
    assert one != regenerated and one.startswith("p7-") and len(one) == len("p7-.ics") + 32
    assert settings.sign("feed", "p:7:0") in one


# -- upload and body size limits ------------------------------------------------------------


async def test_oversized_bodies_get_413_or_a_clear_error_never_a_500(
    client: httpx.AsyncClient, make_client: Any, world: World
) -> None:
    from case_studies.imports import MAX_BYTES as CASE_MAX
    from sessions.roster_csv import MAX_BYTES as ROSTER_MAX

    auth = world.staff.auth
    roster_api = f"/api/cohorts/{world.cohort_a}/roster?dry_run=true"
    csv_header = b"email,name\n"
    # The API roster import: past its 1 MB, 413 as a problem.
    too_big = await client.post(
        roster_api,
        content=csv_header + b"a" * ROSTER_MAX,
        headers={**auth, "content-type": "text/csv"},
    )
    assert too_big.status_code == 413
    assert too_big.headers["content-type"].startswith("application/problem+json")
    assert too_big.json()["title"] == "Too large"

    # Without a Content-Length (chunked), the same.
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(12):
            yield csv_header + b"a" * 100_000

    chunked = await client.post(
        roster_api, content=chunks(), headers={**auth, "content-type": "text/csv"}
    )
    assert chunked.status_code == 413

    staff = make_client()
    await sign_in(staff, world.staff.email)
    token = await csrf_token(staff, f"/cohorts/{world.cohort_a}/roster")
    roster_page = f"/cohorts/{world.cohort_a}/roster/import"
    # A file a little over the limit: the page says so, by the field.
    over = await staff.post(
        roster_page,
        data={"_csrf_token": token},
        files={"file": ("roster.csv", csv_header + b"a" * ROSTER_MAX, "text/csv")},
    )
    assert over.status_code == 422 and "larger than 1 MB" in over.text
    # Far over: 413, on the error page.
    far_over = await staff.post(
        roster_page,
        data={"_csrf_token": token},
        files={"file": ("roster.csv", b"a" * (3 * ROSTER_MAX + 1), "text/csv")},
    )
    assert far_over.status_code == 413
    assert far_over.headers["content-type"].startswith("text/html")

    token = await csrf_token(staff, "/cases/import")
    over = await staff.post(
        "/cases/import/preview",
        data={"_csrf_token": token},
        files={"case_file": ("cases.csv", b"title,scenario\n" + b"a" * CASE_MAX, "text/csv")},
    )
    assert over.status_code == 422 and "larger than 2 MB" in over.text
    far_over = await staff.post(
        "/cases/import/preview",
        data={"_csrf_token": token},
        files={"case_file": ("cases.csv", b"a" * (3 * CASE_MAX + 1), "text/csv")},
    )
    assert far_over.status_code == 413

    # Any other form or JSON body past the app's limit.
    from app import MAX_BODY_BYTES

    huge_form = await staff.post(
        "/account/timezone", data={"_csrf_token": token, "timezone": "x" * MAX_BODY_BYTES}
    )
    assert huge_form.status_code == 413 and "Too large" in huge_form.text
    huge_json = await client.post(
        "/api/sessions/1/notes",
        content=b'{"key_issues": "' + b"x" * MAX_BODY_BYTES + b'"}',
        headers={**auth, "content-type": "application/json"},
    )
    assert huge_json.status_code == 413


# -- inputs the fuzzers found ---------------------------------------------------------------


async def test_numbers_no_row_can_have_are_not_found_not_a_crash(
    client: httpx.AsyncClient, make_client: Any, world: World
) -> None:
    """Ids past what the database's integer columns hold used to overflow in the driver."""
    from sessions.tables import Session

    auth = world.staff.auth
    huge = "99999999999999999999"
    for path in (
        f"/api/cohorts/{huge}",
        f"/api/cohorts/{huge}/roster",
        f"/api/sessions/{2**31}/attendance",
        f"/api/case-studies/-{huge}",
    ):
        method = "POST" if path.endswith("roster") else "GET"
        response = await client.request(method, path, headers=auth)
        assert response.status_code == 404, path
    assert (await client.get(f"/api/outbox?cohort_id={huge}", headers=auth)).status_code == 422
    assert (await client.get("/api/outbox?offset=-1", headers=auth)).status_code == 422
    assert (await client.get("/api/case-studies?offset=" + huge, headers=auth)).status_code == 422
    diff = await client.get(
        f"/api/case-studies/1/revisions/diff?older=1&newer={huge}", headers=auth
    )
    assert diff.status_code == 422
    assert (await client.get(f"/feeds/p999999999999-{'A' * 32}.ics")).status_code == 404
    browser = make_client()
    await sign_in(browser, world.staff.email)
    assert (await browser.get(f"/cohorts/{huge}")).status_code == 404
    assert (await browser.get(f"/cases?page_number={huge}")).status_code == 200
    assert (await browser.get(f"/cases/1/diff?older=1&newer={huge}")).status_code == 400
    session = await Session.select(Session.id).where(Session.cohort == world.cohort_a).first()
    assert session is not None
    preview = await browser.get(f"/sessions/{session['id']}/preview?person={huge}")
    assert preview.status_code == 400


async def test_a_nul_character_is_refused_by_name_not_a_crash(
    client: httpx.AsyncClient, make_client: Any, world: World
) -> None:
    """PostgreSQL cannot compare or keep text holding NUL: schemathesis sent one in a filter."""
    from errors import InvalidInput
    from sessions.roster_csv import parse_roster
    from sessions.tables import Session

    auth = world.staff.auth
    listed = await client.get("/api/case-studies?competency=ab%00c&q=x", headers=auth)
    assert listed.status_code == 422
    assert [e["field"] for e in listed.json()["errors"]] == ["competency"]
    outbox = await client.get("/api/outbox?recipient=%00", headers=auth)
    assert outbox.status_code == 422 and "recipient" in outbox.text
    case = {
        "title": "Nul",
        "scenario": "A scenario\x00 with a NUL.",
        "questions": ["Why\x00?"],
        "primary_competency": "communication",
        "disciplines": ["chem\x00istry"],
    }
    written = await client.post("/api/case-studies", headers=world.facilitator_a.auth, json=case)
    assert written.status_code == 422
    assert {e["field"] for e in written.json()["errors"]} == {
        "scenario",
        "questions",
        "disciplines",
    }
    named = await client.get("/api/case-studies?comp%00etency=x", headers=auth)
    assert named.status_code == 422 and named.json()["errors"][0]["field"] == "comp\\x00etency"
    # An address: refused when written, never a crash when someone signs in with it.
    people = f"/api/cohorts/{world.cohort_a}/participants"
    added = await client.post(people, headers=auth, json={"email": "a\x00b@example.org"})
    assert added.status_code == 422 and added.json()["errors"][0]["field"] == "email"
    session = await Session.select(Session.id).where(Session.cohort == world.cohort_a).first()
    assert session is not None
    marks = [{"enrollment_id": 1, "status": "present", "note": "late\x00"}]
    marked = await client.put(
        f"/api/sessions/{session['id']}/attendance", headers=auth, json={"marks": marks}
    )
    assert marked.status_code == 422
    with pytest.raises(InvalidInput, match="NUL"):
        parse_roster(b"email,name\nkim@example.edu,Kim\x00\n")
    browser = make_client()
    refused = await sign_in(browser, "a\x00b@example.org")
    assert refused.status_code == 400 and "do not match an account" in refused.text
    await sign_in(browser, world.staff.email)
    page = await browser.get("/cases?discipline=%00")
    assert page.status_code == 400 and "NUL character" in page.text
    assert (await browser.get("/cases?discipline=chemistry")).status_code == 200


def test_a_nul_character_no_check_caught_is_a_clear_refusal_not_a_500() -> None:
    """The last line: PostgreSQL's refusal of NUL (SQLSTATE 22021) answered as bad input."""
    import asyncpg
    from litestar import Request

    from web import handle_server_error

    error = asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence: 0x00")
    for path, status in (("/api/cohorts", 422), ("/cohorts", 400)):
        scope: dict[str, Any] = {
            "type": "http",
            "method": "POST",
            "path": path,
            "query_string": b"",
            "headers": [],
            "app": None,
            "scheme": "http",
            "server": ("t", 80),
        }
        response = handle_server_error(Request(scope), error)  # type: ignore[arg-type]
        assert response.status_code == status


async def test_schedules_at_the_ends_of_the_calendar_are_refused_by_name(
    client: httpx.AsyncClient, world: World
) -> None:
    """Year 9999 used to overflow while stepping weeks or converting to UTC."""
    for schedule in (
        {"first_date": "9999-12-25", "start_time": "15:00", "count": 8},
        {"slots": [{"date": "9999-12-31", "start_time": "23:30"}]},
        {"first_date": "0001-01-01", "start_time": "00:10", "count": 2},
    ):
        response = await client.post(
            "/api/cohorts",
            json={
                "name": "Far future",
                "timezone": "America/Chicago",
                "facilitator_ids": [world.facilitator_a.id],
                "schedule": schedule,
            },
            headers=world.staff.auth,
        )
        assert response.status_code == 422, response.text
        assert "out of range" in response.text
