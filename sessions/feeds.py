"""Calendar subscription feeds and single-session downloads.

A person's feed holds every session of their cohorts (cancelled ones stay, marked CANCELLED);
a cohort's feed (for staff) holds that cohort's. The secret in a feed URL is not stored: it is
an HMAC of SECRET_KEY, the person (or cohort) and a generation number that regenerating bumps,
so it can be shown to its owner at any time and revoked by one click. Feeds carry no METHOD
and no ATTENDEE, the same UIDs as the invites, and are deterministic: their ETag and
Last-Modified change only when a session in them does (or the set of sessions does).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from database import MAX_ID, Prepared
from errors import NotFound
from facilitators import audit
from facilitators.services import CurrentUser
from facilitators.tables import Person
from sessions.access import ACTIVE_ENROLLMENT
from sessions.invites import calendar_bytes, session_event
from sessions.tables import Cohort, CohortFacilitator, Enrollment, Session
from settings import get_settings, sign

_NAME = re.compile(r"^(?P<kind>[pc])(?P<id>\d{1,12})-(?P<secret>[A-Za-z0-9_-]{32})(?:\.ics)?$")
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _secret(kind: str, owner_id: int, generation: int) -> str:
    return sign("feed", f"{kind}:{owner_id}:{generation}")


def feed_name(kind: str, owner_id: int, generation: int) -> str:
    return f"{kind}{owner_id}-{_secret(kind, owner_id, generation)}.ics"


@dataclass(frozen=True)
class FeedLinks:
    https: str
    webcal: str


def links(name: str) -> FeedLinks:
    url = f"{get_settings().base_url}/feeds/{name}"
    return FeedLinks(https=url, webcal="webcal://" + url.split("://", 1)[1])


async def person_feed_links(person_id: int) -> FeedLinks:
    row = await Person.select(Person.feed_generation).where(Person.id == person_id).first()
    if row is None:
        raise NotFound(f"no person with id {person_id}")
    return links(feed_name("p", person_id, row["feed_generation"]))


async def cohort_feed_links(cohort_id: int) -> FeedLinks:
    row = await Cohort.select(Cohort.feed_generation).where(Cohort.id == cohort_id).first()
    if row is None:
        raise NotFound(f"no cohort with id {cohort_id}")
    return links(feed_name("c", cohort_id, row["feed_generation"]))


async def regenerate_person_feed(user: CurrentUser) -> FeedLinks:
    """A new secret URL; the old one stops working at once."""
    async with Person._meta.db.transaction():
        await Person.update({Person.feed_generation: Person.feed_generation + 1}).where(
            Person.id == user.person_id
        )
        await audit.record(user.person_id, "feed.regenerate", "person", user.person_id)
    return await person_feed_links(user.person_id)


async def regenerate_cohort_feed(cohort_id: int, *, actor: CurrentUser) -> FeedLinks:
    async with Cohort._meta.db.transaction():
        await Cohort.update({Cohort.feed_generation: Cohort.feed_generation + 1}).where(
            Cohort.id == cohort_id
        )
        await audit.record(
            actor.person_id, "feed.regenerate", "cohort", cohort_id, cohort_id=cohort_id
        )
    return await cohort_feed_links(cohort_id)


@dataclass(frozen=True)
class Feed:
    body: bytes
    etag: str
    last_modified: dt.datetime


# A feed reader polls every few minutes: the SQL of its queries is built once.
_PERSON = Prepared(
    lambda id: (
        Person.select(Person.feed_generation, Person.active, Person.calendar_changed_at)
        .where(Person.id == id)
        .first()
    )
)
_COHORT = Prepared(lambda id: Cohort.select(Cohort.feed_generation).where(Cohort.id == id).first())
_ENROLLMENTS = Prepared(
    lambda person: Enrollment.select(
        Enrollment.cohort, Enrollment.status, Enrollment.enrolled_at, Enrollment.withdrawn_at
    ).where(Enrollment.person == person)
)
_FACILITATED = Prepared(
    lambda person: CohortFacilitator.select(CohortFacilitator.cohort).where(
        CohortFacilitator.person == person
    )
)
_SESSIONS = Prepared(
    lambda ids: (
        Session.select(*Session.all_columns(), Session.cohort.name.as_alias("cohort_name"))
        # A draft schedule is not anyone's calendar yet.
        .where(Session.cohort.is_in(ids) & Session.cohort.published_at.is_not_null())
        .order_by(Session.starts_at)
    )
)
_COHORTS_CHANGED = Prepared(
    lambda ids: Cohort.select(Cohort.updated_at).where(Cohort.id.is_in(ids))
)


async def _person_cohorts(person_id: int, person: dict[str, Any]) -> tuple[list[int], dt.datetime]:
    """The cohorts a person's feed covers, and when that set last changed."""
    enrollments = await _ENROLLMENTS(person=person_id)
    cohorts = {e["cohort"] for e in enrollments if e["status"] in ACTIVE_ENROLLMENT}
    cohorts |= {f["cohort"] for f in await _FACILITATED(person=person_id)}
    # Joining or leaving changes the feed even when no session changed.
    changed = max(
        [EPOCH, person["calendar_changed_at"]]
        + [e["enrolled_at"] for e in enrollments]
        + [e["withdrawn_at"] for e in enrollments if e["withdrawn_at"] is not None]
    )
    return sorted(cohorts), changed


async def feed_for(name: str) -> Feed:
    """The feed a URL names. Any mismatch (a wrong, old or foreign secret) is a plain 404, and
    so is a deactivated person's feed."""
    match = _NAME.match(name)
    if match is None:
        raise NotFound("no such feed")
    kind, owner_id = match["kind"], int(match["id"])
    if owner_id > MAX_ID:  # no row has it, and PostgreSQL's integer ids could not hold it
        raise NotFound("no such feed")
    owner: Any = await (_PERSON if kind == "p" else _COHORT)(id=owner_id)
    if owner is None or not hmac.compare_digest(
        match["secret"], _secret(kind, owner_id, owner["feed_generation"])
    ):
        raise NotFound("no such feed")
    if kind == "c":
        cohort_ids, membership_changed = [owner_id], EPOCH
    elif not owner["active"]:
        raise NotFound("no such feed")
    else:
        cohort_ids, membership_changed = await _person_cohorts(owner_id, owner)
    sessions = await _SESSIONS(ids=cohort_ids) if cohort_ids else []
    events = [
        session_event(
            s,
            s["cohort_name"],
            sequence=s["ical_sequence"],
            stamp=s["updated_at"],
            cancelled=s["status"] == "cancelled",
        )
        for s in sessions
    ]
    body = calendar_bytes(events, method=None, feed=True)
    cohorts_changed = (
        [c["updated_at"] for c in await _COHORTS_CHANGED(ids=cohort_ids)] if cohort_ids else []
    )
    # Every input of the body counts, so that If-Modified-Since is as safe as the ETag: a
    # renamed cohort, a session moved, a cohort joined or left.
    last = max([membership_changed, *cohorts_changed] + [s["updated_at"] for s in sessions])
    return Feed(
        body=body,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        last_modified=last.replace(microsecond=0),
    )


async def session_download(session_id: int) -> bytes:
    """One session as an .ics file to add by hand: METHOD:PUBLISH, no attendee, same UID."""
    session = (
        await Session.select(*Session.all_columns(), Session.cohort.name.as_alias("cohort_name"))
        .where(Session.id == session_id)
        .first()
    )
    if session is None:
        raise NotFound(f"no session with id {session_id}")
    event = session_event(
        session,
        session["cohort_name"],
        sequence=session["ical_sequence"],
        stamp=session["updated_at"],
        cancelled=session["status"] == "cancelled",
    )
    return calendar_bytes([event], method="PUBLISH")
