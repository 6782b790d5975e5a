"""Signing in by email: one-time links that work once, within 15 minutes, and the rate limits on
asking for them (kept in the database, so that every app instance counts the same requests)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass
from email.utils import formataddr

from errors import Forbidden, Gone
from facilitators import audit, rate_limits
from facilitators.services import SignIn, account_holder, email_key
from facilitators.tables import Account, SignInLink
from facilitators.validation import normalize_email
from mail import outbox
from mail.compose import Draft
from mail.render import render_message
from settings import get_settings

LINK_LIFETIME = dt.timedelta(minutes=15)
LINK_PATH = "/sign-in/link/"
# At most this many links asked for per address, and per client address, in RATE_WINDOW.
RATE_WINDOW = rate_limits.WINDOW
PER_ADDRESS = 5
PER_CLIENT = 30
# Used and expired links stay a day (for whoever looks into a sign-in), then go.
KEEP_OLD_LINKS = dt.timedelta(days=1)
MAX_NEXT_PATH = 2000
EXPIRED = "This sign-in link has expired or was already used: ask for a new one"


@dataclass(frozen=True)
class LinkSignIn:
    """A redeemed link: who signed in, and the page they were going to."""

    sign_in: SignIn
    next_path: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def link_path(token: str) -> str:
    return LINK_PATH + token


async def request_link(
    email: str, *, client: str, next_path: str = "/", now: dt.datetime | None = None
) -> None:
    """`_request_link`, taking at least SIGN_IN_RESPONSE_SECONDS however it ends: an address
    with an account (a link made, a message composed) takes no longer to answer than one
    without, so the response time tells nobody who has an account."""
    started = time.monotonic()
    try:
        await _request_link(email, client=client, next_path=next_path, now=now)
    finally:
        floor = get_settings().sign_in_response_seconds
        await asyncio.sleep(max(0.0, floor - (time.monotonic() - started)))


async def _request_link(
    email: str, *, client: str, next_path: str = "/", now: dt.datetime | None = None
) -> None:
    """Email a sign-in link to `email` if it belongs to an active person with an account.

    The caller learns nothing about that: for any well-formed address under the rate limits the
    outcome is the same. Raises InvalidInput for a malformed address and TooManyRequests past a
    limit (per address, per client address). One transaction: the count, the link, the message
    and the audit entry are written together or not at all."""
    address = normalize_email(email)
    now = now or _now()
    async with SignInLink._meta.db.transaction():
        await _count_request(
            [
                (f"email:{_digest(email_key(address))}", PER_ADDRESS),
                (f"client:{client[:90] or 'unknown'}", PER_CLIENT),
            ],
            now,
        )
        account = (
            await Account.select(
                Account.person,
                Account.person.name.as_alias("name"),
                Account.person.email.as_alias("email"),
                Account.person.active.as_alias("active"),
            )
            .where(Account.person.email_key == email_key(address))
            .first()
        )
        if account is None or not account["active"]:
            return
        await _send_link(
            person_id=account["person"],
            name=account["name"],
            email=account["email"],
            next_path=next_path if len(next_path) <= MAX_NEXT_PATH else "/",
            client=client,
            now=now,
        )


async def _count_request(limits: list[tuple[str, int]], now: dt.datetime) -> None:
    """Count one request for a link against each (scope, limit), or refuse it."""

    def refusal(scope: str, wait_minutes: int) -> str:
        source = "this address" if scope.startswith("email:") else "your network"
        return (
            f"Too many sign-in links were asked for {source}: try again in "
            f"{rate_limits.minutes(wait_minutes)}."
        )

    await rate_limits.count(limits, now=now, refusal=refusal)


async def _send_link(
    *, person_id: int, name: str, email: str, next_path: str, client: str, now: dt.datetime
) -> None:
    """A new link for the person (their earlier ones stop working) and its message, queued."""
    await SignInLink.update({SignInLink.expires_at: now}).where(
        (SignInLink.person == person_id)
        & SignInLink.used_at.is_null()
        & (SignInLink.expires_at > now)
    )
    # An earlier link's message that has not gone out yet would only bring a dead link.
    await outbox.cancel_waiting(person_id=person_id, kinds=("sign_in",))
    await SignInLink.delete().where(SignInLink.expires_at < now - KEEP_OLD_LINKS)
    token = secrets.token_urlsafe(32)
    saved = await SignInLink.insert(
        SignInLink(
            person=person_id,
            token_hash=_digest(token),
            created_at=now,
            expires_at=now + LINK_LIFETIME,
            next_path=next_path,
        )
    ).returning(SignInLink.id)
    link_id = saved[0]["id"]
    await outbox.enqueue([_message(link_id, token, person_id, name, email, now)])
    await audit.record(
        person_id,
        "auth.sign_in_link",
        "person",
        person_id,
        summary="Asked for a sign-in link; it was emailed",
        detail={"client": client[:90]},
    )


def _message(
    link_id: int, token: str, person_id: int, name: str, email: str, now: dt.datetime
) -> outbox.NewMessage:
    settings = get_settings()
    key = f"sign_in:{link_id}"
    subject = "Your sign-in link for mentorcircle"
    text, html = render_message(
        "sign_in",
        {
            "name": name,
            "link": settings.base_url + link_path(token),
            "minutes": int(LINK_LIFETIME.total_seconds() // 60),
        },
    )
    return outbox.composed(
        Draft(
            sender=formataddr(("mentorcircle", settings.mail_from)),
            recipient=formataddr((name, email)),
            subject=subject,
            text=text,
            html=html,
            headers={"Auto-Submitted": "auto-generated"},
        ),
        key=key,
        kind="sign_in",
        domain=settings.mail_domain,
        now=now,
        send_after=now,
        # Never held for review, never shown on the outbox pages, never sent late.
        confidential=True,
        expires_at=now + LINK_LIFETIME,
        person_id=person_id,
    )


async def is_usable(token: str, *, now: dt.datetime | None = None) -> bool:
    """Whether a link would sign in now. Reading it does not use it up: mail scanners open the
    links in messages before their reader does."""
    if not token or len(token) > 200:
        return False
    return await SignInLink.exists().where(
        (SignInLink.token_hash == _digest(token))
        & SignInLink.used_at.is_null()
        & (SignInLink.expires_at > (now or _now()))
    )


async def redeem(token: str, *, now: dt.datetime | None = None) -> LinkSignIn:
    """Use a link: the person it signs in and where they were going. One UPDATE marks it used
    only if it is unused and unexpired, so of two redeems at once only one wins. Raises Gone
    for an unknown, used, voided or expired link, Forbidden for a deactivated person."""
    now = now or _now()
    if not token or len(token) > 200:
        raise Gone(EXPIRED)
    async with SignInLink._meta.db.transaction():
        used = (
            await SignInLink.update({SignInLink.used_at: now})
            .where(
                (SignInLink.token_hash == _digest(token))
                & SignInLink.used_at.is_null()
                & (SignInLink.expires_at > now)
            )
            .returning(SignInLink.person, SignInLink.next_path)
        )
        if not used:
            raise Gone(EXPIRED)
        person_id = int(used[0]["person"])
        holder = await account_holder(person_id)
        if holder is None:
            raise Gone(EXPIRED)
        if not holder.active:
            raise Forbidden("this account is deactivated: ask your office to reactivate it")
        await Account.update({Account.last_sign_in_at: now}).where(Account.person == person_id)
        await audit.record(
            person_id,
            "auth.sign_in",
            "person",
            person_id,
            summary="Signed in with an emailed link",
        )
    return LinkSignIn(sign_in=holder.sign_in, next_path=used[0]["next_path"])
