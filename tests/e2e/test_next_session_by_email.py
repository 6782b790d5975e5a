"""A participant with no password signs in by email: the link arrives at a real SMTP server
(aiosmtpd), sent by the app's own dispatcher, and opens their next session with its prompt."""

from __future__ import annotations

import email
import re
import time
from collections.abc import Iterator
from email.policy import default
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller

from tests.e2e.conftest import Visit, serve_demo
from tests.test_cli import free_port

PARTICIPANT = "hannah.brooks@example.edu"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or b""))
        return "250 2.0.0 Accepted"

    def wait_for(
        self, recipient: str, subject_part: str, timeout: float = 30
    ) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for recipients, content in self.messages:
                message = email.message_from_bytes(content, policy=default)
                if recipient in recipients and subject_part in str(message["Subject"]):
                    return cast(email.message.EmailMessage, message)
            time.sleep(0.2)
        raise AssertionError(f"no message to {recipient} about {subject_part!r} arrived")


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    # The Controller runs the server in a thread of its own; it needs a port chosen beforehand.
    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def mailing_server(tmp_path_factory: pytest.TempPathFactory, inbox: Inbox) -> Iterator[str]:
    """The demo served with its dispatcher running in the app, sending to `inbox`."""
    yield from serve_demo(
        tmp_path_factory.mktemp("e2e-mail"),
        SMTP_URL=f"smtp://127.0.0.1:{inbox.port}?starttls=false&timeout=5",
        DISPATCH_IN_APP="true",
        DISPATCH_IDLE_SECONDS="0.3",
    )


@pytest.fixture
async def tab(browser: Any, mailing_server: str) -> Any:
    context = await browser.new_context()
    page = await context.new_page()
    yield Visit(page, mailing_server)
    await context.close()


async def test_a_participant_signs_in_from_the_mailed_link_and_sees_the_prompt(
    tab: Visit, inbox: Inbox
) -> None:
    page = tab.page
    # The assignment link leads to the next session: signing in is offered on the way.
    await tab.goto("/next")
    assert "/sign-in" in page.url
    await page.get_by_label("Send the link to").fill(PARTICIPANT)
    await page.get_by_role("button", name="Email me a sign-in link").click()
    await tab.check()
    assert "sign-in link is on its way" in await page.content()

    message = inbox.wait_for(PARTICIPANT, "sign-in link")
    part = message.get_body(("plain",))
    assert part is not None
    text = str(part.get_content())
    link = re.search(r"https?://\S+/sign-in/link/\S+", text)
    assert link, text
    await page.goto(link.group(0))
    await tab.check()
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/next")
    await tab.check()
    content = await page.content()
    assert "My next session" in content and "Assignment" in content
    assert "Entering Mentoring: Life Sciences" in content
    # The link works once: opened again, it offers a new one.
    await page.goto(link.group(0))
    await tab.check()
    assert await page.get_by_role("heading", name="This link no longer works").is_visible()
