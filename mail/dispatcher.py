"""The dispatcher: claim due messages, send them through one transport connection per batch,
record each outcome. It renders nothing: content was frozen at enqueue.

2xx: sent. 4xx, dropped connections, timeouts: retried with exponential backoff, then failed
after `max_attempts`. 5xx: failed at once with the server's reply. A message past its
`expires_at` (a sign-in link) fails instead of going out late.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from mail import outbox
from mail.transports import Outcome, Result, Transport

log = logging.getLogger("mentorcircle.mail")


@dataclass(frozen=True)
class DispatchConfig:
    batch_size: int = 50
    lease_seconds: float = 300.0
    max_attempts: int = 6
    backoff_seconds: float = 60.0
    backoff_max_seconds: float = 3600.0
    idle_seconds: float = 5.0

    def retry_delay(self, attempts: int) -> dt.timedelta:
        return dt.timedelta(
            seconds=min(self.backoff_seconds * 2 ** (attempts - 1), self.backoff_max_seconds)
        )


@dataclass
class Progress:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.retried


async def _record(
    message: outbox.Claimed,
    outcome: Outcome,
    config: DispatchConfig,
    now: dt.datetime,
    progress: Progress,
) -> None:
    if outcome.result == Result.sent:
        await outbox.mark_sent(message.id, outcome.code or 250, outcome.reply)
        progress.sent += 1
    elif outcome.result == Result.retry and message.attempts < config.max_attempts:
        await outbox.mark_retry(
            message.id, outcome.code, outcome.reply, now + config.retry_delay(message.attempts)
        )
        progress.retried += 1
    else:
        reason = (
            outcome.reply
            if outcome.result == Result.failed
            else f"gave up after {message.attempts} attempts: {outcome.reply}"
        )
        await outbox.mark_failed(message.id, outcome.code, reason)
        progress.failed += 1
        progress.errors.append(f"{message.recipient}: {outcome.code or ''} {reason}".strip())


async def dispatch_batch(
    transport: Transport,
    config: DispatchConfig,
    *,
    now: dt.datetime | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cohort_id: int | None = None,
) -> Progress:
    """Claim one batch (of one cohort's messages, if given) and send it. Returns what
    happened; an empty Progress means nothing was due."""
    now = now or dt.datetime.now(dt.UTC)
    progress = Progress()
    claimed = await outbox.claim(config.batch_size, config.lease_seconds, now, cohort_id=cohort_id)
    if not claimed:
        return progress
    async with transport:
        for message in claimed:
            if message.expires_at is not None and message.expires_at <= dt.datetime.now(dt.UTC):
                await outbox.mark_failed(message.id, None, "expired before it could be sent")
                progress.failed += 1
            else:
                outcome = await transport.send(message.recipient, message.content)
                await _record(message, outcome, config, dt.datetime.now(dt.UTC), progress)
            if on_progress is not None:
                on_progress(progress)
    return progress


async def dispatch_due(
    transport: Transport,
    config: DispatchConfig,
    *,
    now: dt.datetime | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cohort_id: int | None = None,
) -> Progress:
    """Send everything due at `now` (of one cohort, if given), batch after batch, then stop."""
    total = Progress()
    while True:
        batch = await dispatch_batch(
            transport, config, now=now, on_progress=on_progress, cohort_id=cohort_id
        )
        if not batch.handled:
            return total
        total.sent += batch.sent
        total.failed += batch.failed
        total.retried += batch.retried
        total.errors += batch.errors


async def run(transport: Transport, config: DispatchConfig, stop: asyncio.Event) -> None:
    """Dispatch until `stop` is set: the app's lifespan task and `mentorcircle dispatch`."""
    while not stop.is_set():
        try:
            progress = await dispatch_due(transport, config)
            if progress.handled:
                log.info(
                    "dispatched: %s sent, %s failed, %s to retry",
                    progress.sent,
                    progress.failed,
                    progress.retried,
                )
        except Exception:
            log.exception("dispatcher round failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=config.idle_seconds)
