"""Messages of the review: a submitted case to the cohort's facilitators, a returned or
published one to its author. Queued in the outbox in the caller's transaction; each keyed so
that the same event never makes a second email."""

from __future__ import annotations

from email.utils import formataddr
from typing import Any

from facilitators.services import CurrentUser
from facilitators.tables import Person
from mail import outbox
from mail.compose import Draft
from mail.render import render_message
from sessions.tables import CohortFacilitator
from settings import get_settings

KIND = "case_review"
# Keys: case-submitted:<thread entry>:<facilitator>, case-returned:<entry>, case-published:<entry>.


def _message(
    key: str, event: str, case: dict[str, Any], name: str, email: str, person_id: int, note: str
) -> outbox.NewMessage:
    settings = get_settings()
    # Subjects say no more than that something happened: a case in review may still identify
    # someone, and the message itself is confidential (staff see its metadata only).
    subject = {
        "submitted": "A case study was submitted for your review",
        "returned": "Your case study came back with comments",
        "published": "Your case study is published",
    }[event]
    text, html = render_message(
        "case_review",
        {
            "event": event,
            "name": name,
            "title": case["title"],
            "cohort": case.get("cohort_name") or "",
            "note": note,
            "page": f"{settings.base_url}/cases/{case['id']}",
        },
    )
    return outbox.composed(
        Draft(
            sender=formataddr(("mentorcircle", settings.mail_from)),
            recipient=formataddr((name, email)),
            subject=subject,
            text=text,
            html=html,
        ),
        key=key,
        kind=KIND,
        domain=settings.mail_domain,
        confidential=True,
        cohort_id=case["cohort"],
        person_id=person_id,
    )


async def tell_facilitators(case: dict[str, Any], author: CurrentUser, event_id: int) -> int:
    """A case was submitted: each active facilitator of its cohort hears of it, once per
    submission (`event_id`: the submission's entry in the case's thread)."""
    rows = await CohortFacilitator.select(
        CohortFacilitator.person,
        CohortFacilitator.person.name.as_alias("name"),
        CohortFacilitator.person.email.as_alias("email"),
    ).where(
        (CohortFacilitator.cohort == case["cohort"]) & (CohortFacilitator.person.active == True)  # noqa: E712
    )
    return await outbox.enqueue(
        [
            _message(
                f"case-submitted:{event_id}:{r['person']}",
                "submitted",
                case,
                r["name"],
                r["email"],
                r["person"],
                f"{author.name} submitted it",
            )
            for r in rows
        ]
    )


async def tell_author(case: dict[str, Any], event: str, note: str, event_id: int) -> int:
    """Its author hears that it was returned or published, once per event (`event_id`)."""
    if case["author"] is None:
        return 0
    person = (
        await Person.select(Person.name, Person.email, Person.active)
        .where(Person.id == case["author"])
        .first()
    )
    if person is None or not person["active"]:
        return 0
    return await outbox.enqueue(
        [
            _message(
                f"case-{event}:{event_id}",
                event,
                case,
                person["name"],
                person["email"],
                case["author"],
                note,
            )
        ]
    )
