"""A facilitator's first minute: sign in, see the dashboard, open the cohort."""

from __future__ import annotations

import re

from tests.e2e.conftest import Visit


async def test_a_facilitator_signs_in_sees_the_dashboard_and_opens_the_cohort(visit: Visit) -> None:
    page = visit.page
    await visit.goto("/")
    assert "/sign-in" in page.url  # anonymous: sent to sign in, and back afterwards
    await page.get_by_label("Email").fill("amara.okafor@example.org")
    await page.get_by_label("Password").fill("mentorcircle-demo")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/$"))
    await visit.check()
    assert await page.get_by_role("heading", name="Welcome, Amara Okafor").is_visible()
    assert await page.get_by_role("heading", name="What is next").is_visible()

    await page.get_by_role("link", name="Entering Mentoring: Life Sciences").first.click()
    await page.wait_for_url(re.compile(r"/cohorts/\d+$"))
    await visit.check()
    assert await page.get_by_role("heading", name="Entering Mentoring: Life Sciences").is_visible()
    sessions = page.get_by_role("table", name=re.compile("Sessions of"))
    assert await sessions.get_by_role("row").count() == 9  # header + 8 sessions
    assert await page.get_by_text("Hannah Brooks").is_visible()
    await page.get_by_role("link", name="Roster and attendance").click()
    await visit.check()
    assert await page.get_by_role("cell", name="hannah.brooks@example.edu").is_visible()


async def test_a_participant_sees_their_group_without_emails(visit: Visit) -> None:
    page = visit.page
    await visit.goto("/sign-in")
    await page.get_by_label("Email").fill("hannah.brooks@example.edu")
    await page.get_by_label("Password").fill("mentorcircle-demo")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/$"))
    await visit.check()
    await page.get_by_role("link", name="Cohorts", exact=True).click()
    await visit.check()
    await page.get_by_role("link", name="Entering Mentoring: Life Sciences").click()
    await visit.check()
    assert await page.get_by_role("heading", name="Your group").is_visible()
    assert "@example.edu" not in await page.content()


async def test_an_admin_adds_a_person_and_sees_the_audit_log(visit: Visit) -> None:
    page = visit.page
    await visit.goto("/sign-in")
    await page.get_by_label("Email").fill("admin@example.org")
    await page.get_by_label("Password").fill("mentorcircle-demo")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/$"))
    await visit.goto("/admin/people")
    await page.get_by_role("textbox", name="Name", exact=True).fill("Jordan Rivers")
    await page.get_by_role("textbox", name="Email", exact=True).fill("jordan.rivers@example.org")
    await page.get_by_label("Facilitator").check()
    await page.get_by_role("button", name="Add person").click()
    await page.wait_for_url(re.compile(r"/admin/people/\d+$"))
    await visit.check()
    assert await page.get_by_role("heading", name="Jordan Rivers").is_visible()
    await visit.goto("/admin/audit")
    assert await page.get_by_text("Added Jordan Rivers").is_visible()
