"""People and access: persons, their accounts and roles, API tokens, sign-in links, credentials,
the audit log."""

from enum import StrEnum

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Role(StrEnum):
    admin = "admin"
    staff = "staff"
    facilitator = "facilitator"
    participant = "participant"


class CareerStage(StrEnum):
    unspecified = ""
    faculty = "faculty"
    postdoc = "postdoc"
    graduate_student = "graduate_student"
    staff_scientist = "staff_scientist"
    other = "other"


class CredentialLevel(StrEnum):
    trained = "trained"
    certified = "certified"


class Person(Table):
    """A facilitator, participant or member of office staff. Email is unique case-insensitively."""

    id: Serial

    name = Varchar(length=200)
    email = Varchar(length=320)
    # The email casefolded in Python: unique, and what every lookup compares. (SQLite's lower()
    # folds only ASCII, so lower(email) would let "Ødegaard@" and "ødegaard@" both in.)
    email_key = Varchar(length=320, unique=True)
    department = Varchar(length=200, default="")
    career_stage = Varchar(length=40, default="", choices=CareerStage)
    timezone = Varchar(length=64, default="")
    active = Boolean(default=True)
    # They switched reminders off (one-click unsubscribe); assignment prompts and invites still go.
    reminders_off = Boolean(default=False)
    # Bumped to revoke the person's calendar feed URL, which is derived, never stored.
    feed_generation = Integer(default=0)
    # When the set of cohorts they facilitate last changed (their feed's Last-Modified).
    calendar_changed_at = Timestamptz(default=TimestamptzNow())
    created_at = Timestamptz(default=TimestamptzNow())


class Account(Table):
    """How a person signs in. An empty password hash means: email sign-in only."""

    id: Serial

    person = ForeignKey(references=Person, null=False, unique=True, on_delete=OnDelete.cascade)
    password_hash = Text(default="")
    # Bumped by a password reset or "sign out everywhere": older cookies stop working.
    session_generation = Integer(default=0)
    last_sign_in_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class RoleGrant(Table):
    """One role held by one person; unique per (person, role) by a hand-written index."""

    id: Serial

    person = ForeignKey(references=Person, null=False, on_delete=OnDelete.cascade)
    role = Varchar(length=20, choices=Role)
    granted_at = Timestamptz(default=TimestamptzNow())


class ApiToken(Table):
    """A personal API token. Only its SHA-256 is stored; the token itself is shown once."""

    id: Serial

    person = ForeignKey(references=Person, null=False, on_delete=OnDelete.cascade)
    name = Varchar(length=100)
    token_hash = Varchar(length=64, unique=True)
    prefix = Varchar(length=16)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class FacilitatorCredential(Table):
    """A facilitator's recognition: Level 1 trained, Level 2 certified."""

    id: Serial

    person = ForeignKey(references=Person, null=False, on_delete=OnDelete.cascade)
    level = Varchar(length=20, choices=CredentialLevel)
    issuer = Varchar(length=200, default="")
    awarded_on = Date()


class AuditEntry(Table):
    """Who did what to which object, and when. Written only by `audit.record`."""

    id: Serial

    at = Timestamptz(default=TimestamptzNow())
    actor = ForeignKey(references=Person, null=True, on_delete=OnDelete.set_null)
    action = Varchar(length=80, index=True)
    object_type = Varchar(length=40)
    object_id = Varchar(length=40, default="")
    cohort_id = Integer(null=True, default=None, index=True)
    summary = Text(default="")
    detail = JSON(default="{}")


class SignInLink(Table):
    """A one-time sign-in link sent by email. Only the SHA-256 of its token is stored; a link
    works once, until `expires_at` (a newer link for the same person moves that to "now")."""

    id: Serial

    person = ForeignKey(references=Person, null=False, on_delete=OnDelete.cascade)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    # Where the person was going when they asked (a path on this site, checked twice).
    next_path = Varchar(length=2000, default="/")


class SignInAttempt(Table):
    """One request for a sign-in link, counted against one scope ("email:<sha256 of the
    address>" or "client:<address>") for rate limits. Kept in the database so that every app
    instance counts the same requests; rows older than the window are pruned as requests come."""

    id: Serial

    scope = Varchar(length=100)
    at = Timestamptz(default=TimestamptzNow(), index=True)
