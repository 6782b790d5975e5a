"""The outbox: one row per message and recipient, with its content frozen at enqueue time."""

from enum import StrEnum

from piccolo.columns import (
    Boolean,
    Bytea,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class MessageState(StrEnum):
    held = "held"  # waiting for staff review
    queued = "queued"
    sending = "sending"  # claimed by a dispatcher, under a lease
    sent = "sent"
    failed = "failed"  # permanently, with the reason
    cancelled = "cancelled"  # superseded (a cancelled session, a withdrawn participant)


class OutboxMessage(Table):
    """One message to one recipient. Topic labels (cohort, session, person) are plain values,
    not foreign keys: mail/ knows nothing of the apps that use it."""

    id: Serial
    key = Varchar(length=300, unique=True)
    kind = Varchar(length=40, index=True)
    recipient = Varchar(length=320)
    subject = Varchar(length=300)
    # The whole RFC 5322 message, CRLF line endings, exactly as it will be sent.
    content = Bytea()
    message_id = Varchar(length=300)
    state = Varchar(length=20, choices=MessageState, default=MessageState.queued.value)
    send_after = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    lease_until = Timestamptz(null=True, default=None)
    # Which claim holds the lease: outcomes are recorded only by the dispatcher that holds it.
    lease_token = Varchar(length=40, default="")
    last_code = Integer(null=True, default=None)
    last_error = Text(default="")
    sent_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    # Sign-in links and discussion notes: the outbox pages and API show metadata only.
    confidential = Boolean(default=False)
    cohort_id = Integer(null=True, default=None, index=True)
    session_id = Integer(null=True, default=None, index=True)
    person_id = Integer(null=True, default=None, index=True)
