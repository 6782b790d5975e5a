"""Office staff review a cohort's invitations, release them, send them, and read one."""

from __future__ import annotations

import re

from tests.e2e.conftest import Visit
from tests.e2e.test_semester import sign_in


async def test_staff_release_held_invitations_and_watch_them_go(visit: Visit) -> None:
    page = visit.page
    await sign_in(visit, "priya.natarajan@example.org")
    await page.get_by_role("link", name="Cohorts", exact=True).click()
    await page.get_by_role("link", name="Postdoc mentors: compact format").click()
    cohort_url = page.url
    await page.get_by_role("link", name="Edit cohort").click()
    await page.get_by_label("Office staff review this cohort's messages before they go out").check()
    await page.get_by_role("button", name="Save changes").click()
    await page.wait_for_url(cohort_url)
    # Luis leads this cohort; one participant, so that there is someone to invite.
    await page.get_by_role("link", name="Manage the roster").click()
    await page.get_by_role("textbox", name="Email").fill("mei.chen@example.edu")
    await page.get_by_role("button", name="Add participant").click()
    await page.goto(cohort_url)
    await page.get_by_role("button", name="Publish the schedule").click()
    await visit.check()
    assert await page.get_by_text("The schedule is published").is_visible()

    await page.get_by_role("link", name="Outbox").click()
    await visit.check()
    assert await page.get_by_text("Mail is not leaving this machine").is_visible()
    await page.get_by_role("combobox", name="State").select_option("held")
    await page.get_by_role("button", name="Filter").click()
    await visit.check()
    held = page.get_by_role("table", name=re.compile("Outbox messages")).get_by_role("row")
    assert await held.count() == 4  # header + 3 sessions for Mei Chen
    await page.get_by_role("button", name="Release them").click()
    await visit.check()
    assert await page.get_by_text("Released 3 held message(s)").is_visible()

    await page.get_by_role("button", name="Send what is due now").click()
    await page.wait_for_selector("text=Last run finished.")
    await visit.check()
    assert await page.get_by_text(re.compile(r"Sent\s+\d+")).first.is_visible()

    await page.get_by_role("combobox", name="State").select_option("sent")
    await page.get_by_role("textbox", name="Recipient").fill("mei.chen")
    await page.get_by_role("button", name="Filter").click()
    await page.get_by_role("link", name=re.compile("Invitation: Postdoc mentors")).first.click()
    await visit.check()
    assert await page.get_by_role(
        "heading", name=re.compile("Calendar part \\(METHOD:REQUEST\\)")
    ).is_visible()
    assert await page.get_by_text("BEGIN:VEVENT").is_visible()
