"""People and access: people, accounts and roles, passwords, API tokens, who is signed in."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache

from piccolo.columns import Column
from piccolo.query import WhereRaw
from piccolo.querystring import QueryString

from database import Prepared, is_unique_violation
from errors import Conflict, Forbidden, InvalidInput, NotFound
from facilitators import audit, rate_limits
from facilitators.tables import (
    Account,
    ApiToken,
    CareerStage,
    Person,
    Role,
    RoleGrant,
    SignInLink,
)
from facilitators.validation import (
    check_timezone,
    normalize_email,
    optional_text,
    required_text,
)
from mail import outbox

ALL_ROLES = frozenset(role.value for role in Role)
OFFICE_ROLES = frozenset({Role.admin.value, Role.staff.value})
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "mc_"  # noqa: S105 (a label, not a secret)
# A token's last use is written at most this often, so API reads do not all become writes.
TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=10)


def _iterations() -> int:
    # OWASP's figure for PBKDF2-SHA256; tests lower it through the environment for speed.
    return int(os.environ.get("PASSWORD_ITERATIONS", "600000"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class CurrentUser:
    """Who is making a request, and what they may do by role."""

    person_id: int
    name: str
    email: str
    roles: frozenset[str] = field(default_factory=frozenset)
    via_token: bool = False
    timezone: str = ""

    @property
    def is_admin(self) -> bool:
        return Role.admin.value in self.roles

    @property
    def is_office(self) -> bool:
        """Admins and office staff see every cohort."""
        return bool(self.roles & OFFICE_ROLES)

    @property
    def can_create_cohorts(self) -> bool:
        return self.is_office or Role.facilitator.value in self.roles

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class PersonInput:
    name: str
    email: str
    department: str = ""
    career_stage: str = ""
    timezone: str = ""


@dataclass(frozen=True)
class PersonSummary:
    id: int
    name: str
    email: str
    department: str
    career_stage: str
    timezone: str
    active: bool
    roles: tuple[str, ...]
    has_password: bool
    reminders_off: bool = False


# -- passwords ------------------------------------------------------------------------------


def _hash_password_sync(password: str, iterations: int) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _verify_password_sync(password: str, stored: str) -> bool:
    try:
        algorithm, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if algorithm != "pbkdf2_sha256":
        return False
    candidate = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))


async def hash_password(password: str) -> str:
    """PBKDF2 takes a noticeable fraction of a second: it runs off the event loop."""
    return await asyncio.to_thread(_hash_password_sync, password, _iterations())


async def verify_password(password: str, stored: str) -> bool:
    return await asyncio.to_thread(_verify_password_sync, password, stored)


@lru_cache(maxsize=4)
def _dummy_hash(iterations: int) -> str:
    """A hash to check against when there is no account (or no password), as costly as a real
    one, so the time an answer takes does not tell whether an address has an account."""
    return _hash_password_sync("not a real password", iterations)


async def _waste_a_verification(password: str) -> None:
    await verify_password(password, await asyncio.to_thread(_dummy_hash, _iterations()))


def check_new_password(password: str, field_name: str = "password") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput.single(
            field_name, f"must be at least {MIN_PASSWORD_LENGTH} characters long"
        )
    if len(password) > 1024:
        raise InvalidInput.single(field_name, "is longer than 1024 characters")
    return password


# -- people ---------------------------------------------------------------------------------


def clean_person_input(data: PersonInput) -> PersonInput:
    stage = data.career_stage.strip()
    if stage not in {s.value for s in CareerStage}:
        choices = ", ".join(s.value for s in CareerStage if s.value)
        raise InvalidInput.single("career_stage", f"{stage!r} is not one of: {choices}")
    return PersonInput(
        name=required_text(data.name, "name", 200),
        email=normalize_email(data.email),
        department=optional_text(data.department, "department", 200),
        career_stage=stage,
        timezone=check_timezone(data.timezone, allow_empty=True),
    )


def email_key(email: str) -> str:
    """What makes two addresses the same person: case (in any script) and spaces do not count."""
    return email.strip().casefold()


async def find_person_id_by_email(email: str) -> int | None:
    row = await Person.select(Person.id).where(Person.email_key == email_key(email)).first()
    return None if row is None else int(row["id"])


async def create_person(
    data: PersonInput,
    roles: set[str],
    *,
    actor_id: int | None,
    password: str | None = None,
) -> int:
    """A new person with an account and roles. A duplicate email (any case) is a conflict."""
    data = clean_person_input(data)
    unknown = roles - ALL_ROLES
    if unknown:
        raise InvalidInput.single("roles", f"unknown role(s): {', '.join(sorted(unknown))}")
    password_hash = await hash_password(check_new_password(password)) if password else ""
    try:
        async with Person._meta.db.transaction():
            if await find_person_id_by_email(data.email) is not None:
                raise Conflict(f"a person with the email {data.email} already exists")
            person = Person(
                name=data.name,
                email=data.email,
                email_key=email_key(data.email),
                department=data.department,
                career_stage=data.career_stage,
                timezone=data.timezone,
            )
            await person.save()
            await Account(person=person.id, password_hash=password_hash).save()
            if roles:
                await RoleGrant.insert(
                    *[RoleGrant(person=person.id, role=role) for role in sorted(roles)]
                )
            await audit.record(
                actor_id,
                "person.create",
                "person",
                person.id,
                summary=f"Added {data.name} <{data.email}> as {', '.join(sorted(roles)) or 'no role'}",
            )
    except Exception as error:
        if is_unique_violation(error):
            raise Conflict(f"a person with the email {data.email} already exists") from error
        raise
    return int(person.id)


async def update_person(person_id: int, data: PersonInput, *, actor_id: int | None) -> None:
    data = clean_person_input(data)
    try:
        async with Person._meta.db.transaction():
            existing = await find_person_id_by_email(data.email)
            if existing is not None and existing != person_id:
                raise Conflict(f"a person with the email {data.email} already exists")
            updated = (
                await Person.update(
                    {
                        Person.name: data.name,
                        Person.email: data.email,
                        Person.email_key: email_key(data.email),
                        Person.department: data.department,
                        Person.career_stage: data.career_stage,
                        Person.timezone: data.timezone,
                    }
                )
                .where(Person.id == person_id)
                .returning(Person.id)
            )
            if not updated:
                raise NotFound(f"no person with id {person_id}")
            await audit.record(actor_id, "person.update", "person", person_id)
    except Exception as error:
        if is_unique_violation(error):
            raise Conflict(f"a person with the email {data.email} already exists") from error
        raise


async def set_roles(person_id: int, roles: set[str], *, actor_id: int | None) -> None:
    unknown = roles - ALL_ROLES
    if unknown:
        raise InvalidInput.single("roles", f"unknown role(s): {', '.join(sorted(unknown))}")
    if actor_id == person_id and Role.admin.value not in roles:
        raise InvalidInput.single("roles", "you cannot remove your own admin role")
    async with Person._meta.db.transaction():
        await _require_person(person_id)
        await RoleGrant.delete().where(RoleGrant.person == person_id)
        if roles:
            await RoleGrant.insert(
                *[RoleGrant(person=person_id, role=role) for role in sorted(roles)]
            )
        await audit.record(
            actor_id,
            "person.roles",
            "person",
            person_id,
            summary=f"Roles set to {', '.join(sorted(roles)) or 'none'}",
        )


async def set_own_timezone(person_id: int, timezone: str) -> str:
    """A person sets the timezone their pages show times in (besides each cohort's)."""
    zone = check_timezone(timezone, allow_empty=True)
    async with Person._meta.db.transaction():
        await Person.update({Person.timezone: zone}).where(Person.id == person_id)
        await audit.record(
            person_id,
            "person.timezone",
            "person",
            person_id,
            summary=f"Timezone set to {zone or 'none'}",
        )
    return zone


async def set_active(person_id: int, active: bool, *, actor_id: int | None) -> None:
    if actor_id == person_id and not active:
        raise InvalidInput.single("active", "you cannot deactivate yourself")
    async with Person._meta.db.transaction():
        await _require_person(person_id)
        await Person.update({Person.active: active}).where(Person.id == person_id)
        if not active:
            # A deactivated person loses every way in at once.
            await ApiToken.update({ApiToken.revoked_at: _now()}).where(
                (ApiToken.person == person_id) & ApiToken.revoked_at.is_null()
            )
            await Account.update(
                {Account.session_generation: Account.session_generation + 1}
            ).where(Account.person == person_id)
            # Sign-in links already emailed stop working too (also after a reactivation).
            await SignInLink.update({SignInLink.expires_at: _now()}).where(
                (SignInLink.person == person_id)
                & SignInLink.used_at.is_null()
                & (SignInLink.expires_at > _now())
            )
            # Nothing more is mailed to them: what waits in the outbox is cancelled.
            await outbox.cancel_waiting(person_id=person_id)
        await audit.record(
            actor_id,
            "person.activate" if active else "person.deactivate",
            "person",
            person_id,
            summary="Reactivated"
            if active
            else "Deactivated; tokens revoked, sign-in links voided, signed out everywhere, "
            "waiting mail cancelled",
        )


async def set_password(person_id: int, password: str, *, actor_id: int | None) -> int:
    """Set a password and sign the person out everywhere. Returns the new session generation."""
    password_hash = await hash_password(check_new_password(password))
    async with Person._meta.db.transaction():
        await _require_person(person_id)
        rows = (
            await Account.update(
                {
                    Account.password_hash: password_hash,
                    Account.session_generation: Account.session_generation + 1,
                }
            )
            .where(Account.person == person_id)
            .returning(Account.session_generation)
        )
        await audit.record(
            actor_id,
            "person.password",
            "person",
            person_id,
            summary="Password set; signed out everywhere",
        )
    return int(rows[0]["session_generation"])


async def password_matches(person_id: int, password: str) -> bool:
    """Whether `password` is the person's own (asked again before changing it). A wrong one is
    audited like a failed sign-in: someone may be trying passwords in a browser left open."""
    row = await Account.select(Account.password_hash).where(Account.person == person_id).first()
    if row is None or not row["password_hash"]:
        await _waste_a_verification(password)
        matches = False
    else:
        matches = await verify_password(password, row["password_hash"])
    if not matches:
        await audit.record(
            person_id,
            "auth.password_check_failed",
            "person",
            person_id,
            summary="Wrong current password when changing the password",
        )
    return matches


async def _require_person(person_id: int) -> None:
    if not await Person.exists().where(Person.id == person_id):
        raise NotFound(f"no person with id {person_id}")


async def list_people(
    search: str = "", role: str = "", ids: list[int] | None = None
) -> list[PersonSummary]:
    """People (all, matching a search, or by id) with their roles: three queries at most."""
    query = Person.select(
        Person.id,
        Person.name,
        Person.email,
        Person.department,
        Person.career_stage,
        Person.timezone,
        Person.active,
        Person.reminders_off,
    ).order_by(Person.name)
    if search.strip():
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            WhereRaw("(lower(name) LIKE {} OR lower(email) LIKE {})", pattern, pattern)
        )
    if ids is not None:
        if not ids:
            return []
        query = query.where(Person.id.is_in(ids))
    people = await query
    ids = [row["id"] for row in people]
    roles_by_person: dict[int, list[str]] = {}
    passwords: set[int] = set()
    if ids:
        for grant in await RoleGrant.select(RoleGrant.person, RoleGrant.role).where(
            RoleGrant.person.is_in(ids)
        ):
            roles_by_person.setdefault(grant["person"], []).append(grant["role"])
        for account in await Account.select(Account.person).where(
            Account.person.is_in(ids) & (Account.password_hash != "")
        ):
            passwords.add(account["person"])
    summaries = [
        PersonSummary(
            id=row["id"],
            name=row["name"],
            email=row["email"],
            department=row["department"],
            career_stage=row["career_stage"],
            timezone=row["timezone"],
            active=row["active"],
            roles=tuple(sorted(roles_by_person.get(row["id"], []))),
            has_password=row["id"] in passwords,
            reminders_off=row["reminders_off"],
        )
        for row in people
    ]
    if role:
        summaries = [s for s in summaries if role in s.roles]
    return summaries


async def get_person(person_id: int) -> PersonSummary:
    for person in await list_people(ids=[person_id]):
        return person
    raise NotFound(f"no person with id {person_id}")


async def people_with_role(role: str) -> list[PersonSummary]:
    """Active people holding a role (for pickers such as a cohort's facilitators)."""
    holders = RoleGrant.select(RoleGrant.person).where(RoleGrant.role == role)
    rows = await Person.select(Person.id).where(Person.active.eq(True) & Person.id.is_in(holders))
    return await list_people(ids=[row["id"] for row in rows])


async def grant_role(person_id: int, role: str) -> None:
    """Add one role if missing (inside the caller's transaction)."""
    exists = await RoleGrant.exists().where(
        (RoleGrant.person == person_id) & (RoleGrant.role == role)
    )
    if not exists:
        await RoleGrant.insert(RoleGrant(person=person_id, role=role))


# -- signing in -----------------------------------------------------------------------------

# Password sign-in: at most this many failed attempts per email address, and per client
# address, in PASSWORD_WINDOW (kept in the database: see rate_limits).
PASSWORD_WINDOW = rate_limits.WINDOW
PASSWORD_FAILURES_PER_ADDRESS = 10
PASSWORD_FAILURES_PER_CLIENT = 50


_ROLES_OF = {
    "sqlite": "(SELECT group_concat(role, ',') FROM role_grant WHERE role_grant.person = {})",
    "postgres": "(SELECT string_agg(role, ',') FROM role_grant WHERE role_grant.person = {})",
}


def _roles_column(person: Column) -> QueryString:
    """The roles of the person in the `person` column, comma-separated, as a column: a
    request learns who signs it in with one query."""
    return QueryString(_ROLES_OF[person._meta.engine_type], person).as_alias("roles")


def _roles(joined: str | None) -> frozenset[str]:
    return frozenset(joined.split(",")) if joined else frozenset()


# Every request reads who signs it in: their SQL is built once (see `database.Prepared`).
_ACCOUNT_HOLDER = Prepared(
    lambda person: (
        Account.select(
            Account.session_generation,
            Account.person.name.as_alias("name"),
            Account.person.email.as_alias("email"),
            Account.person.active.as_alias("active"),
            Account.person.timezone.as_alias("timezone"),
            _roles_column(Account.person),
        )
        .where(Account.person == person)
        .first()
    )
)
_TOKEN_HOLDER = Prepared(
    lambda token_hash: (
        ApiToken.select(
            ApiToken.id,
            ApiToken.person,
            ApiToken.revoked_at,
            ApiToken.last_used_at,
            ApiToken.person.name.as_alias("name"),
            ApiToken.person.email.as_alias("email"),
            ApiToken.person.active.as_alias("active"),
            _roles_column(ApiToken.person),
        )
        .where(ApiToken.token_hash == token_hash)
        .first()
    )
)
_ROLES = Prepared(lambda person: RoleGrant.select(RoleGrant.role).where(RoleGrant.person == person))


async def roles_of(person_id: int) -> frozenset[str]:
    """The roles a person holds."""
    rows = await _ROLES(person=person_id)
    return frozenset(row["role"] for row in rows)


@dataclass(frozen=True)
class SignIn:
    user: CurrentUser
    session_generation: int


def _password_refusal(scope: str, wait_minutes: int) -> str:
    source = "for this email address" if scope.startswith("password:") else "from your network"
    return (
        f"Too many failed sign-in attempts {source}: try again in "
        f"{rate_limits.minutes(wait_minutes)}, or email yourself a sign-in link."
    )


async def authenticate_password(
    email: str, password: str, *, client: str = "", now: dt.datetime | None = None
) -> SignIn | None:
    """The signed-in user, or None: wrong email and wrong password look the same.

    Rate limited per address (whether or not it has an account) and per client address:
    every attempt is counted before the password is checked, and a success takes its count
    back and clears the address's failures. Past a limit, TooManyRequests, right password or
    not, until the oldest failure leaves the window."""
    address_scope = "password:" + hashlib.sha256(email_key(email).encode()).hexdigest()
    client_scope = f"password-client:{client[:80] or 'unknown'}"
    counted = await rate_limits.count(
        [
            (address_scope, PASSWORD_FAILURES_PER_ADDRESS),
            (client_scope, PASSWORD_FAILURES_PER_CLIENT),
        ],
        now=now or _now(),
        refusal=_password_refusal,
    )
    try:
        result = await _check_password(email, password)
    except Forbidden:
        # The right password for a deactivated account: not a guess that failed.
        await rate_limits.forgive(counted)
        raise
    if result is not None:
        await rate_limits.forgive(counted, scopes=[address_scope])
    return result


async def _check_password(email: str, password: str) -> SignIn | None:
    if "\x00" in email:  # no address holds one (and PostgreSQL cannot compare it)
        await _waste_a_verification(password)
        return None
    row = (
        await Account.select(
            Account.person,
            Account.password_hash,
            Account.session_generation,
            Account.person.name.as_alias("name"),
            Account.person.email.as_alias("email"),
            Account.person.active.as_alias("active"),
            Account.person.timezone.as_alias("timezone"),
        )
        .where(Account.person.email_key == email_key(email))
        .first()
    )
    if row is not None and row["password_hash"] and not row["active"]:
        # Only someone who knows the password learns that the account is deactivated.
        right = await verify_password(password, row["password_hash"])
        await audit.record(
            row["person"],
            "auth.sign_in_failed",
            "person",
            row["person"],
            summary="Deactivated account" + ("" if right else "; wrong password"),
        )
        if right:
            raise Forbidden("this account is deactivated: ask your office to reactivate it")
        return None
    if row is None or not row["password_hash"]:
        await _waste_a_verification(password)
        await audit.record(
            None,
            "auth.sign_in_failed",
            "person",
            summary=f"Failed sign-in for {email.strip()[:320]}",
        )
        return None
    if not await verify_password(password, row["password_hash"]):
        await audit.record(
            row["person"], "auth.sign_in_failed", "person", row["person"], summary="Wrong password"
        )
        return None
    async with Account._meta.db.transaction():
        await Account.update({Account.last_sign_in_at: _now()}).where(
            Account.person == row["person"]
        )
        await audit.record(
            row["person"],
            "auth.sign_in",
            "person",
            row["person"],
            summary="Signed in with a password",
        )
    user = CurrentUser(
        person_id=row["person"],
        name=row["name"],
        email=row["email"],
        roles=await roles_of(row["person"]),
        timezone=row["timezone"],
    )
    return SignIn(user=user, session_generation=row["session_generation"])


@dataclass(frozen=True)
class AccountHolder:
    """A person with an account, as they would be signed in, and whether they may be."""

    sign_in: SignIn
    active: bool


async def account_holder(person_id: int) -> AccountHolder | None:
    row = await _ACCOUNT_HOLDER(person=person_id)
    if row is None:
        return None
    user = CurrentUser(
        person_id=person_id,
        name=row["name"],
        email=row["email"],
        roles=_roles(row["roles"]),
        timezone=row["timezone"],
    )
    return AccountHolder(SignIn(user, row["session_generation"]), row["active"])


async def user_for_session(person_id: int, generation: int) -> CurrentUser | None:
    """The user a session cookie names, unless deactivated or signed out everywhere since."""
    holder = await account_holder(person_id)
    if holder is None or not holder.active or holder.sign_in.session_generation != generation:
        return None
    return holder.sign_in.user


# -- API tokens -----------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenSummary:
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


async def create_token(person_id: int, name: str, *, actor_id: int | None) -> str:
    """A new token for a person; the plain token is returned once and never stored."""
    name = required_text(name, "name", 100)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with Person._meta.db.transaction():
        person = await Person.select(Person.active).where(Person.id == person_id).first()
        if person is None:
            raise NotFound(f"no person with id {person_id}")
        if not person["active"]:
            raise InvalidInput.single("person", "is deactivated: a token would not work")
        saved = await ApiToken.insert(
            ApiToken(person=person_id, name=name, token_hash=_token_hash(token), prefix=token[:10])
        ).returning(ApiToken.id)
        await audit.record(
            actor_id,
            "token.create",
            "api_token",
            saved[0]["id"],
            summary=f"Token {name!r} for person {person_id}",
        )
    return token


async def revoke_token(token_id: int, *, owner_id: int | None, actor_id: int | None) -> None:
    """Revoke a token. With owner_id, only that person's token (a 404 for anyone else's)."""
    async with Person._meta.db.transaction():
        query = ApiToken.select(ApiToken.id).where(ApiToken.id == token_id)
        if owner_id is not None:
            query = query.where(ApiToken.person == owner_id)
        if await query.first() is None:
            raise NotFound(f"no API token with id {token_id}")
        await ApiToken.update({ApiToken.revoked_at: _now()}).where(
            (ApiToken.id == token_id) & ApiToken.revoked_at.is_null()
        )
        await audit.record(actor_id, "token.revoke", "api_token", token_id)


async def list_tokens(person_id: int) -> list[TokenSummary]:
    rows = (
        await ApiToken.select(
            ApiToken.id,
            ApiToken.name,
            ApiToken.prefix,
            ApiToken.created_at,
            ApiToken.last_used_at,
            ApiToken.revoked_at,
        )
        .where(ApiToken.person == person_id)
        .order_by(ApiToken.id, ascending=False)
    )
    return [TokenSummary(**row) for row in rows]


async def user_for_token(token: str) -> CurrentUser | None:
    """The owner of a live token; the lookup is by hash, so no plain token is ever compared."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = await _TOKEN_HOLDER(token_hash=_token_hash(token))
    if row is None or row["revoked_at"] is not None or not row["active"]:
        return None
    now = _now()
    if row["last_used_at"] is None or now - row["last_used_at"] > TOKEN_TOUCH_INTERVAL:
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"])
    return CurrentUser(
        person_id=row["person"],
        name=row["name"],
        email=row["email"],
        roles=_roles(row["roles"]),
        via_token=True,
    )
