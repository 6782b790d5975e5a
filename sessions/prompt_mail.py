"""The assignment prompt and reminder messages: who gets them, what they say, and the case
studies they list (the case-study app provides those; sessions never imports it)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email.utils import formataddr
from typing import Any

from mail import outbox
from mail.compose import Draft
from mail.render import render_message
from prose import markdown_html
from sessions import links
from sessions.invites import CohortMail, session_context
from sessions.prompt_rules import PROMPT, REMINDER
from sessions.tables import Enrollment, EnrollmentStatus, Session
from settings import get_settings

# The session columns a prompt or reminder is made from.
MAIL_COLUMNS = (
    Session.id,
    Session.cohort,
    Session.position,
    Session.title,
    Session.starts_at,
    Session.ends_at,
    Session.location,
    Session.video_url,
    Session.status,
    Session.assignment_prompt,
    Session.prompt_due_at,
    Session.prompt_lead_minutes,
    Session.reminder_minutes,
    Session.prompt_revision,
    Session.ical_sequence,
)


@dataclass(frozen=True)
class LinkedCase:
    """A case study on a session's agenda, as participants read it (never facilitator notes)."""

    title: str
    scenario: str  # Markdown
    questions: tuple[str, ...]
    path: str  # the case study's page on this site


# Called with session ids; returns the case studies each will discuss, in agenda order.
# create_app() plugs in the case-study library's lookup.
CaseLookup = Callable[[list[int]], Awaitable[dict[int, list[LinkedCase]]]]
case_lookups: list[CaseLookup] = []


async def linked_cases(session_ids: list[int]) -> dict[int, list[LinkedCase]]:
    found: dict[int, list[LinkedCase]] = defaultdict(list)
    for lookup in case_lookups:
        for session_id, cases in (await lookup(session_ids)).items():
            found[session_id].extend(cases)
    return dict(found)


@dataclass(frozen=True)
class Recipient:
    person_id: int
    name: str
    email: str
    timezone: str
    reminders_off: bool = False
    enrolled_at: dt.datetime | None = None


async def recipients(cohort_ids: Sequence[int]) -> dict[int, list[Recipient]]:
    """Enrolled, active participants of each cohort."""
    if not cohort_ids:
        return {}
    rows = (
        await Enrollment.select(
            Enrollment.cohort,
            Enrollment.person,
            Enrollment.enrolled_at,
            Enrollment.person.name.as_alias("name"),
            Enrollment.person.email.as_alias("email"),
            Enrollment.person.timezone.as_alias("timezone"),
            Enrollment.person.reminders_off.as_alias("reminders_off"),
        )
        .where(
            Enrollment.cohort.is_in(list(cohort_ids))
            & (Enrollment.status == EnrollmentStatus.enrolled.value)
            & (Enrollment.person.active == True)  # noqa: E712
        )
        .order_by(Enrollment.id)
    )
    found: dict[int, list[Recipient]] = defaultdict(list)
    for row in rows:
        found[row["cohort"]].append(
            Recipient(
                row["person"],
                row["name"],
                row["email"],
                row["timezone"],
                row["reminders_off"],
                row["enrolled_at"],
            )
        )
    return found


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


def render(
    kind: str,
    cohort: CohortMail,
    session: dict[str, Any],
    recipient: Recipient,
    cases: list[LinkedCase],
    *,
    updated: bool = False,
    sample: bool = False,
) -> Rendered:
    """The subject, text and HTML of a prompt or reminder. `sample` (previews, test copies)
    puts in links that open nothing instead of the recipient's own."""
    base = get_settings().base_url
    prompt = session["assignment_prompt"]
    unsubscribe = links.unsubscribe_url(recipient.person_id, sample=sample)
    context = {
        **session_context(cohort, session, recipient.name, recipient.timezone),
        "kind": kind,
        "prompt_text": prompt,
        "prompt_html": markdown_html(prompt),
        "due_at": session["prompt_due_at"],
        "cases": [
            {
                "title": c.title,
                "scenario": c.scenario,
                "scenario_html": markdown_html(c.scenario),
                "questions": c.questions,
                "url": base + c.path,
            }
            for c in cases
        ],
        "updated": updated,
        "absence_url": links.absence_url(session["id"], recipient.person_id, sample=sample),
        "unsubscribe_url": unsubscribe if kind == REMINDER else "",
    }
    text, html = render_message(kind, context)
    title = f"{cohort.name}, session {session['position']}: {session['title']}"
    if kind == PROMPT:
        subject = ("Updated assignment: " if updated else "Assignment: ") + title
    else:
        subject = f"Reminder: {title}"
    headers: dict[str, str] = {}
    if kind == REMINDER and not sample:
        # RFC 2369 and RFC 8058: mail clients offer "unsubscribe" and POST to it in one click.
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return Rendered(subject, text, html, headers)


def message(
    key: str,
    kind: str,
    cohort: CohortMail,
    session: dict[str, Any],
    recipient: Recipient,
    cases: list[LinkedCase],
    *,
    send_after: dt.datetime,
    updated: bool = False,
) -> outbox.NewMessage:
    """A prompt or reminder, ready to enqueue."""
    settings = get_settings()
    rendered = render(kind, cohort, session, recipient, cases, updated=updated)
    return outbox.composed(
        Draft(
            sender=formataddr((f"{cohort.organizer.name} via mentorcircle", settings.mail_from)),
            recipient=formataddr((recipient.name, recipient.email)),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            reply_to=cohort.organizer.email,
            headers=rendered.headers,
        ),
        key=key,
        kind=kind,
        domain=settings.mail_domain,
        send_after=send_after,
        # Nothing about a meeting goes out once it has begun (a held message released late).
        expires_at=session["starts_at"],
        held=cohort.review,
        cohort_id=cohort.id,
        session_id=session["id"],
        person_id=recipient.person_id,
    )
