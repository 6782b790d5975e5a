"""A real SMTP server (aiosmtpd) on a free loopback port, with recipients that misbehave on
purpose: `busy+...@` gets 450 at RCPT, `gone+...@` 550, `drop+...@` a 421 and a closed
connection at DATA, `stall+...@` no answer at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    sender: str
    recipients: list[str]
    content: bytes


@dataclass
class FaultyMailbox:
    received: list[Received] = field(default_factory=list)
    stall_seconds: float = 5.0
    # Addresses refused once with 450, then accepted (a greylisting server).
    refuse_once: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:  # noqa: N802
        if address in self.refuse_once:
            self.refuse_once.discard(address)
            return "450 4.7.1 Greylisted, try again later"
        if address.startswith("busy+"):
            return "450 4.2.1 Mailbox busy, try later"
        if address.startswith("gone+"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        recipient = envelope.rcpt_tos[0]
        if recipient.startswith("drop+"):
            assert server.transport is not None
            server.transport.close()
            return "421 4.3.2 Closing connection"
        if recipient.startswith("stall+"):
            await asyncio.sleep(self.stall_seconds)
        content = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 2.0.0 Accepted"


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: FaultyMailbox

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}?starttls=false&timeout=2"


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    mailbox = FaultyMailbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(mailbox, hostname="mail.test", decode_data=False), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield SmtpServer("127.0.0.1", port, mailbox)
    finally:
        server.close()
        await server.wait_closed()
