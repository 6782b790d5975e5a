"""A participant's dilemma goes to the group's table: written and submitted, returned with a
comment, revised and resubmitted, published, put on a session's agenda, and seen in the
session's assignment prompt."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.conftest import Visit
from tests.e2e.test_semester import sign_in

TITLE = "The student who never says no (browser test)"


async def test_a_dilemma_goes_from_draft_to_the_prompt(browser: Any, live_server: str) -> None:
    participant = Visit(await (await browser.new_context()).new_page(), live_server)
    facilitator = Visit(await (await browser.new_context()).new_page(), live_server)
    hannah, amara = participant.page, facilitator.page

    # Hannah writes her dilemma and submits it to her cohort.
    await sign_in(participant, "hannah.brooks@example.edu")
    await participant.goto("/cases/new")
    assert await hannah.get_by_text("Before you write: keep it anonymous.").is_visible()
    await hannah.get_by_label("Title").fill(TITLE)
    await hannah.get_by_label("The dilemma").fill(
        "An undergraduate in Dr. Rivera's lab at Northfield takes on every task and is exhausted."
    )
    await hannah.get_by_label("Discussion questions").fill("How would you raise it?")
    await hannah.get_by_label("Undergraduate").check()
    await hannah.get_by_role("button", name="Save the draft").click()
    await hannah.wait_for_url(re.compile(r"/cases/\d+$"))
    await participant.check()
    case_path = hannah.url.removeprefix(live_server)
    for box in await hannah.get_by_role("checkbox").all():
        if await box.get_attribute("name") != "share_consent":
            await box.check()
    await hannah.get_by_role("button", name=re.compile("Submit to")).click()
    await participant.check()
    assert await hannah.get_by_text("Submitted: the facilitators").is_visible()

    # Amara takes the review and returns it: the names must go.
    await sign_in(facilitator, "amara.okafor@example.org")
    await facilitator.goto("/cases/review")
    await amara.get_by_role("link", name=TITLE).click()
    await facilitator.check()
    await amara.get_by_role("button", name="Take the review").click()
    await amara.get_by_label("What should the author change?").fill(
        "Please remove the name of the lab and of the university."
    )
    await amara.get_by_role("button", name="Return for changes").click()
    await facilitator.check()
    assert await amara.get_by_text("Returned to its author").is_visible()

    # Hannah sees the comment, revises, and submits again.
    await participant.goto(case_path)
    assert await hannah.get_by_text("Please remove the name of the lab").is_visible()
    await hannah.get_by_role("link", name="Edit").click()
    await participant.check()
    await hannah.get_by_label("The dilemma").fill(
        "An undergraduate in a colleague's group takes on every task and is exhausted."
    )
    await hannah.get_by_role("button", name="Save", exact=True).click()
    await participant.check()
    assert await hannah.get_by_text("Saved as a new revision.").is_visible()
    for box in await hannah.get_by_role("checkbox").all():
        if await box.get_attribute("name") != "share_consent":
            await box.check()
    await hannah.get_by_role("button", name=re.compile("Submit to")).click()

    # Amara publishes it to the cohort and puts it on the next session's agenda.
    await facilitator.goto(case_path)
    await amara.get_by_role("button", name="Take the review").click()
    await amara.get_by_role("button", name="Publish").click()
    await facilitator.check()
    assert await amara.get_by_text("Published.").is_visible()
    await facilitator.goto("/next")
    session_link = amara.get_by_role("link", name="Open the session").first
    session_path = await session_link.get_attribute("href")
    assert session_path
    await facilitator.goto(f"{session_path}/agenda?q=never+says+no")
    await amara.get_by_role("button", name=f"Add {TITLE}").click()
    await facilitator.check()
    assert await amara.get_by_text("Agenda saved").is_visible()

    # The prompt preview lists it, with its scenario and questions.
    await facilitator.goto(f"{session_path}/preview?kind=prompt")
    text = await amara.locator("pre.message-text").inner_text()
    assert TITLE in text and "How would you raise it?" in text
    assert "a colleague's group" in text and "Rivera" not in text

    # The group's notes on it, written after the meeting, and read by Hannah once final.
    await facilitator.goto(f"{session_path}/notes")
    assert await amara.get_by_role("heading", name=re.compile("Discussion notes")).is_visible()
