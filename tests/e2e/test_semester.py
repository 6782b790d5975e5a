"""A facilitator sets up a semester: a cohort from the default template, a roster imported from
a spreadsheet (one bad row first), then attendance for the first session."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import Visit


async def sign_in(visit: Visit, email: str) -> None:
    page = visit.page
    await visit.goto("/sign-in")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("mentorcircle-demo")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/$"))


async def test_a_facilitator_sets_up_a_semester_cohort(visit: Visit, tmp_path: Path) -> None:
    page = visit.page
    await sign_in(visit, "amara.okafor@example.org")

    await visit.goto("/cohorts/new")
    await page.get_by_role("textbox", name="Name").fill("Spring mentors (browser test)")
    await page.get_by_label("Term").fill("Spring 2026")
    # Dates that have passed: attendance is recorded for sessions that took place.
    await page.get_by_label("First session date").fill("2026-02-25")
    await page.get_by_label("Local start time").fill("15:00")
    await page.get_by_role("button", name="Create cohort").click()
    await page.wait_for_url(re.compile(r"/cohorts/\d+$"))
    await visit.check()
    assert await page.get_by_text("Cohort created.").is_visible()
    sessions = page.get_by_role("table", name=re.compile("Sessions of"))
    assert await sessions.get_by_role("row").count() == 9
    # 15:00 in Chicago before and after the March change.
    assert await sessions.get_by_text("Wed 25 Feb 2026, 15:00–16:00 CST").is_visible()
    assert await sessions.get_by_text("Wed 15 Apr 2026, 15:00–16:00 CDT").is_visible()

    await page.get_by_role("link", name="Roster and attendance").click()
    await visit.check()
    bad = tmp_path / "roster.csv"
    bad.write_text(
        "Email,Name,Department\n"
        "lena.fischer@example.edu,Lena Fischer,Physics\n"
        "omar.haddad@example,Omar Haddad,Chemistry\n"
        "yuki.tanaka@example.edu,Yuki Tanaka,Biology\n",
        encoding="utf-8",
    )
    await page.get_by_label("Roster file", exact=True).set_input_files(str(bad))
    await page.get_by_role("button", name="Preview the import").click()
    await visit.check()
    assert await page.get_by_role("heading", name="Fix these rows, then import again").is_visible()
    assert await page.get_by_text(re.compile("Rejected: bad email")).is_visible()
    assert await page.get_by_role("button", name=re.compile("Import these")).count() == 0

    fixed = tmp_path / "roster-fixed.csv"
    fixed.write_text(
        bad.read_text().replace("omar.haddad@example,", "omar.haddad@example.edu,"),
        encoding="utf-8",
    )
    await page.get_by_label("Roster file", exact=True).set_input_files(str(fixed))
    await page.get_by_role("button", name="Preview the import").click()
    await visit.check()
    await page.get_by_role("button", name="Import these 3 rows").click()
    await page.wait_for_url(re.compile(r"/roster$"))
    await visit.check()
    assert await page.get_by_text("Roster imported: 3 added").is_visible()
    assert await page.get_by_role("cell", name="omar.haddad@example.edu").is_visible()

    await page.get_by_role("link", name="Attendance for session 1").click()
    await visit.check()
    await page.get_by_role("button", name="Present: Lena Fischer").click()
    await page.wait_for_selector('button[aria-label="Present: Lena Fischer"][aria-pressed="true"]')
    await page.get_by_role("button", name="Late: Yuki Tanaka").click()
    await page.wait_for_selector('button[aria-label="Late: Yuki Tanaka"][aria-pressed="true"]')
    await visit.check()
    await page.reload()
    assert (
        await page.locator('button[aria-label="Present: Lena Fischer"]').get_attribute(
            "aria-pressed"
        )
        == "true"
    )


async def test_the_schedule_reads_well_on_a_phone(visit: Visit) -> None:
    page = visit.page
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(visit, "hannah.brooks@example.edu")
    await page.get_by_role("link", name="Cohorts", exact=True).click()
    await page.get_by_role("link", name="Entering Mentoring: Life Sciences").click()
    await visit.check()
    first_when = (
        page.get_by_role("table", name=re.compile("Sessions of"))
        .locator("td[data-label=When]")
        .first
    )
    box = await first_when.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390  # nothing cut off to the right
