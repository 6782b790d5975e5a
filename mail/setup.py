"""The transport and dispatcher configuration that the settings describe."""

from __future__ import annotations

from mail.dispatcher import DispatchConfig
from mail.transports import Transport, transport_for
from settings import Settings


def configured_transport(settings: Settings) -> Transport:
    """SMTP when SMTP_URL is set; otherwise .eml files under var/mail/."""
    return transport_for(settings.smtp_url, settings.mail_from, settings.mail_folder)


def dispatch_config(settings: Settings) -> DispatchConfig:
    return DispatchConfig(
        batch_size=settings.dispatch_batch,
        lease_seconds=settings.dispatch_lease,
        max_attempts=settings.dispatch_max_attempts,
        backoff_seconds=settings.dispatch_backoff,
        idle_seconds=settings.dispatch_idle,
    )


def mail_leaves_machine(settings: Settings) -> bool:
    return bool(settings.smtp_url)
