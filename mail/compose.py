"""Building a message's bytes once, at enqueue time: MIME that calendar clients accept.

Layout (INVITES.md): multipart/mixed > multipart/alternative > text/plain, text/html and, for
invites, text/calendar with method= equal to the calendar's METHOD; the same calendar bytes as
an application/ics attachment. The calendar is given as bytes so its CRLF line ends survive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID derived from the outbox key: the same across retries, so that clients fold
    a message sent twice (the one at-least-once window) into one."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


@dataclass(frozen=True)
class Calendar:
    """An iCalendar object and the METHOD it carries (REQUEST, CANCEL)."""

    content: bytes
    method: str


@dataclass(frozen=True)
class Draft:
    sender: str
    recipient: str
    subject: str
    text: str
    html: str = ""
    reply_to: str = ""
    calendar: Calendar | None = None
    headers: dict[str, str] = field(default_factory=dict)


def compose(draft: Draft, *, key: str, domain: str, now: dt.datetime | None = None) -> bytes:
    """The message as bytes with CRLF line ends, ready for SMTP."""
    message = EmailMessage(policy=SMTP)
    message["From"] = draft.sender
    message["To"] = draft.recipient
    message["Subject"] = draft.subject
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    message["Message-ID"] = message_id_for(key, domain)
    if draft.reply_to:
        message["Reply-To"] = draft.reply_to
    for name, value in draft.headers.items():
        message[name] = value
    message.set_content(draft.text, subtype="plain", charset="utf-8")
    if draft.html:
        message.add_alternative(draft.html, subtype="html", charset="utf-8")
    if draft.calendar is not None:
        method = draft.calendar.method
        message.add_alternative(
            draft.calendar.content,
            maintype="text",
            subtype="calendar",
            params={"method": method, "charset": "utf-8"},
            cte="base64",
        )
        # multipart/mixed around the alternatives, with the same bytes as an attachment.
        message.make_mixed()
        message.add_attachment(
            draft.calendar.content,
            maintype="application",
            subtype="ics",
            filename="invite.ics",
            cte="base64",
        )
    return message.as_bytes(policy=SMTP)
