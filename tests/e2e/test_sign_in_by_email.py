"""Signing in by email in a browser: both forms on the sign-in page, the answer after asking for a
link, and a link that no longer works; each page passes the accessibility and CSP checks."""

from __future__ import annotations

import re

from tests.e2e.conftest import Visit


async def test_a_participant_asks_for_a_link_and_an_old_link_offers_a_new_one(
    visit: Visit,
) -> None:
    page = visit.page
    await visit.goto("/cohorts")
    assert "/sign-in" in page.url  # anonymous: sent to sign in
    await page.get_by_label("Send the link to").fill("hannah.brooks@example.edu")
    await page.get_by_role("button", name="Email me a sign-in link").click()
    await page.wait_for_url(re.compile(r"/sign-in/email$"))
    await visit.check()
    assert await page.get_by_role("heading", name="Check your email").is_visible()
    assert await page.get_by_text(
        "If hannah.brooks@example.edu has an account, a sign-in link is on its way."
    ).is_visible()

    await visit.goto("/sign-in/link/an-old-link")
    assert await page.get_by_role("heading", name="This link no longer works").is_visible()
    assert await page.get_by_role("button", name="Email me a sign-in link").is_visible()
