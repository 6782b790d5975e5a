"""What staff see of the outbox: messages as the participant will see them (never the body of a
confidential one), the "send now" run with its progress, and who may look."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default
from typing import Any

from errors import Conflict, Forbidden, NotFound
from facilitators import audit
from facilitators.services import CurrentUser
from mail import dispatcher, outbox
from mail.setup import configured_transport, dispatch_config
from settings import get_settings

log = logging.getLogger("mentorcircle.mail")


@dataclass(frozen=True)
class Parts:
    text: str
    html: str
    calendar: str
    calendar_method: str


def parts_of(content: bytes) -> Parts:
    parsed: Any = message_from_bytes(content, policy=default)
    text = html = calendar = method = ""
    for part in parsed.walk():
        kind = part.get_content_type()
        if part.get_content_disposition() == "attachment":
            continue
        if kind == "text/plain" and not text:
            text = part.get_content()
        elif kind == "text/html" and not html:
            html = part.get_content()
        elif kind == "text/calendar" and not calendar:
            calendar = part.get_payload(decode=True).decode("utf-8", "replace")
            method = part.get_param("method") or ""
    return Parts(text, html, calendar, method)


def require_office(user: CurrentUser) -> None:
    if not user.is_office:
        raise Forbidden("only administrators and office staff may read the outbox")


async def message_detail(
    user: CurrentUser, message_id: int
) -> tuple[outbox.MessageRow, Parts | None]:
    require_office(user)
    found = await outbox.get_message(message_id)
    if found is None:
        raise NotFound(f"no message with id {message_id}")
    row, content = found
    return row, None if content is None else parts_of(content)


async def retry(user: CurrentUser, message_id: int) -> None:
    require_office(user)
    if not await outbox.retry(message_id):
        raise Conflict("only a failed or cancelled message can be sent again")
    await audit.record(user.person_id, "outbox.retry", "message", message_id)


async def cancel(user: CurrentUser, message_id: int) -> None:
    require_office(user)
    if not await outbox.cancel(message_id):
        raise Conflict("only a held or queued message can be cancelled")
    await audit.record(user.person_id, "outbox.cancel", "message", message_id)


async def release(user: CurrentUser, criteria: outbox.OutboxFilter) -> int:
    require_office(user)
    released = await outbox.release(criteria)
    await audit.record(
        user.person_id,
        "outbox.release",
        "cohort" if criteria.cohort_id else "outbox",
        criteria.cohort_id,
        cohort_id=criteria.cohort_id,
        summary=f"Released {released} held message(s)",
    )
    return released


@dataclass
class SendRun:
    """One "send now": what it has done so far (shown live on the outbox page)."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    running: bool = True
    failed_to_run: bool = False


_current: dict[str, SendRun] = {}
_tasks: set[asyncio.Task[None]] = set()


async def send_now(user: CurrentUser, only: outbox.OutboxFilter | None = None) -> SendRun:
    """Dispatch what is due now (of the filtered set, if given), in the background of this
    app process."""
    require_office(user)
    run = _current.get("run")
    if run is not None and run.running:
        return run
    run = SendRun()
    _current["run"] = run
    settings = get_settings()

    def show(progress: dispatcher.Progress) -> None:
        run.sent, run.failed, run.retried = progress.sent, progress.failed, progress.retried

    async def work() -> None:
        try:
            total = await dispatcher.dispatch_due(
                configured_transport(settings),
                dispatch_config(settings),
                on_progress=show,
                only=only,
            )
            show(total)
        except Exception:
            log.exception("send now failed")
            run.failed_to_run = True
        finally:
            run.running = False

    await audit.record(
        user.person_id,
        "outbox.send_now",
        "cohort" if only and only.cohort_id else "outbox",
        only.cohort_id if only else None,
        cohort_id=only.cohort_id if only else None,
        summary="Send now" + (" (filtered)" if only else ""),
    )
    task = asyncio.create_task(work())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return run


def current_run() -> SendRun | None:
    return _current.get("run")
