"""HTML pages of the outbox (office staff): the list with filters, one message as its reader
will see it, releasing held messages, retrying and cancelling, "send now" with live progress,
and a session's timeline of messages."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from errors import DomainError
from facilitators.guards import office_only, signed_in
from facilitators.services import CurrentUser
from mail import outbox
from mail.tables import MessageState
from sessions import outbox_views, services
from web import flash, form_data, page

KINDS = (
    "invite",
    "update",
    "cancel",
    "prompt",
    "reminder",
    "absence",
    "sign_in",
    "case_review",
    "notes",
    "test",
)


def _number(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


class OutboxPages(Controller):
    path = "/outbox"
    include_in_schema = False
    guards = [office_only]

    @get("/")
    async def list_page(
        self,
        cohort: FromQuery[str] = "",
        kind: FromQuery[str] = "",
        message_state: Annotated[str, QueryParameter(name="state")] = "",
        recipient: FromQuery[str] = "",
    ) -> Template:
        criteria = outbox.OutboxFilter(
            cohort_id=_number(cohort),
            kind=kind if kind in KINDS else "",
            state=message_state if message_state in {s.value for s in MessageState} else "",
            recipient=recipient[:200],
        )
        return page(
            "sessions/outbox.html",
            {
                "messages": await outbox.newest_messages(criteria),
                "counts": await outbox.capped_counts(criteria.cohort_id),
                "filters": {
                    "cohort": cohort,
                    "kind": criteria.kind,
                    "state": criteria.state,
                    "recipient": recipient,
                },
                "page_size": outbox.PAGE_SIZE,
                "kinds": KINDS,
                "states": [s.value for s in MessageState],
                "run": outbox_views.current_run(),
            },
        )

    @get("/{message_id:int}")
    async def message(
        self, message_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        row, parts = await outbox_views.message_detail(user, message_id)
        return page("sessions/outbox_message.html", {"m": row, "parts": parts})

    @post("/{message_id:int}/retry")
    async def retry(
        self,
        message_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        try:
            await outbox_views.retry(user, message_id)
            flash(request, "Queued to be sent again.")
        except DomainError as error:
            flash(request, error.detail, problem=True)
        return Redirect(path=f"/outbox/{message_id}")

    @post("/{message_id:int}/cancel")
    async def cancel(
        self,
        message_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        try:
            await outbox_views.cancel(user, message_id)
            flash(request, "Cancelled: it will not be sent.")
        except DomainError as error:
            flash(request, error.detail, problem=True)
        return Redirect(path=f"/outbox/{message_id}")

    @post("/release")
    async def release(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Redirect:
        form = await form_data(request)
        cohort = _number(form.get("cohort", ""))
        released = await outbox_views.release(user, outbox.OutboxFilter(cohort_id=cohort))
        flash(request, f"Released {released} held message(s): they go out with the next send.")
        return Redirect(path="/outbox" + (f"?cohort={cohort}" if cohort else ""))

    @post("/send-now")
    async def send_now(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Redirect:
        form = await form_data(request)
        only = outbox.OutboxFilter(
            cohort_id=_number(form.get("cohort", "")),
            kind=form.get("kind", "") if form.get("kind", "") in KINDS else "",
            recipient=form.get("recipient", "")[:200],
        )
        await outbox_views.send_now(user, only)
        query = urlencode(
            {
                k: v
                for k, v in (
                    ("cohort", form.get("cohort", "")),
                    ("kind", only.kind),
                    ("recipient", only.recipient),
                )
                if v
            }
        )
        return Redirect(path="/outbox" + (f"?{query}" if query else "") + "#progress")

    @get("/progress")
    async def progress(self) -> Template:
        return page(
            "sessions/_outbox_progress.html",
            {"run": outbox_views.current_run(), "counts": await outbox.capped_counts()},
        )


class SessionMessagesPage(Controller):
    include_in_schema = False
    guards = [signed_in]

    @get("/sessions/{session_id:int}/messages")
    async def timeline(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        await services.require_session(user, session_id, manage=True)
        detail = await services.get_session(user, session_id)
        messages = await outbox.list_messages(outbox.OutboxFilter(session_id=session_id, limit=500))
        return page(
            "sessions/session_messages.html",
            {
                "detail": detail,
                "s": detail.session,
                "messages": list(reversed(messages)),
                "zone": detail.cohort.timezone,
            },
        )
