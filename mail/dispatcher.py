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
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from mail import outbox
from mail.transports import Outcome, Result, Transport

log = logging.getLogger("mentorcircle.mail")

# A scheduler step: queues what has become due at the given time (None: now), such as the
# assignment prompts and reminders. The apps hand theirs to `run`; mail/ knows none of them.
Step = Callable[[dt.datetime | None], Awaitable[object]]


async def run_steps(steps: Sequence[Step], now: dt.datetime | None) -> None:
    """Each step on its own: one that fails is logged, and neither the others nor the sending
    of what is due (sign-in links, say) wait for it."""
    for step in steps:
        try:
            await step(now)
        except Exception:
            log.exception(
                "scheduler step %s failed; sending goes on", getattr(step, "__name__", step)
            )


@dataclass(frozen=True)
class DispatchConfig:
    batch_size: int = 200
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
    retry_at = now + config.retry_delay(message.attempts)
    # A message that expires (a sign-in link) is not retried when the retry would come too late.
    expires_first = message.expires_at is not None and retry_at >= message.expires_at
    if outcome.result == Result.sent:
        await outbox.mark_sent(message, outcome.code or 250, outcome.reply)
        progress.sent += 1
    elif (
        outcome.result == Result.retry
        and message.attempts < config.max_attempts
        and not expires_first
    ):
        await outbox.mark_retry(message, outcome.code, outcome.reply, retry_at)
        progress.retried += 1
    else:
        if outcome.result == Result.failed:
            reason = outcome.reply
        elif expires_first:
            reason = f"expired before it could be sent: {outcome.reply}"
        else:
            reason = f"gave up after {message.attempts} attempts: {outcome.reply}"
        await outbox.mark_failed(message, outcome.code, reason)
        progress.failed += 1
        progress.errors.append(f"{message.recipient}: {outcome.code or ''} {reason}".strip())


async def dispatch_batch(
    transport: Transport,
    config: DispatchConfig,
    *,
    now: dt.datetime | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    only: outbox.OutboxFilter | None = None,
    progress: Progress | None = None,
) -> int:
    """Claim one batch (of the messages `only` describes, if given) and send it, adding to
    `progress`. Returns how many messages it claimed (0: nothing was due).

    The lease is renewed whenever half of it has passed, and a message the claim no longer
    holds (another dispatcher took it after a stall, or a change superseded it) is skipped."""
    progress = progress if progress is not None else Progress()
    claimed = await outbox.claim(config.batch_size, config.lease_seconds, now, only=only)
    if not claimed:
        return 0
    lease_started = time.monotonic()
    held = {message.id for message in claimed}
    # The outcome of one message is written while the next one is being sent: the database
    # and the SMTP server work at the same time. At most one recorded outcome is pending, so
    # a dispatcher killed mid-batch leaves at most two messages sent but unrecorded.
    pending: asyncio.Task[None] | None = None

    async def settle() -> None:
        nonlocal pending
        if pending is not None:
            await pending
            pending = None
            if on_progress is not None:
                on_progress(progress)

    try:
        async with transport:
            for message in claimed:
                if time.monotonic() - lease_started > config.lease_seconds / 2:
                    await settle()
                    held = await outbox.renew(message.token, config.lease_seconds)
                    lease_started = time.monotonic()
                if message.id not in held:
                    continue
                if message.expires_at is not None and message.expires_at <= dt.datetime.now(dt.UTC):
                    outcome = Outcome(Result.failed, None, "expired before it could be sent")
                else:
                    outcome = await transport.send(message.recipient, message.content)
                await settle()
                pending = asyncio.create_task(
                    _record(message, outcome, config, dt.datetime.now(dt.UTC), progress)
                )
    finally:
        await settle()
    return len(claimed)


async def dispatch_due(
    transport: Transport,
    config: DispatchConfig,
    *,
    now: dt.datetime | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    only: outbox.OutboxFilter | None = None,
    stop: asyncio.Event | None = None,
) -> Progress:
    """Send everything due at `now` (of the set `only` describes, if given), batch after batch, until
    nothing is due (or `stop` is set). The progress adds up across batches."""
    total = Progress()
    while stop is None or not stop.is_set():
        claimed = await dispatch_batch(
            transport, config, now=now, on_progress=on_progress, only=only, progress=total
        )
        if not claimed:
            break
    return total


async def run(
    transport: Transport,
    config: DispatchConfig,
    stop: asyncio.Event,
    *,
    now: dt.datetime | None = None,
    steps: Sequence[Step] = (),
) -> None:
    """Dispatch until `stop` is set: the app's lifespan task and `mentorcircle dispatch`. Each
    round first runs the scheduler steps, then sends what is due."""
    while not stop.is_set():
        try:
            await run_steps(steps, now)
            progress = await dispatch_due(transport, config, now=now, stop=stop)
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
