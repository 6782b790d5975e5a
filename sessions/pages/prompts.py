"""HTML pages for assignment prompts and reminders: editing a session's prompt and its timing,
sending the updated prompt, previews and test copies; "I can't attend"; switching reminders off
(the one-click link in every reminder); and a participant's next session."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from errors import Checks, DomainError, FieldError, InvalidInput
from facilitators.guards import signed_in
from facilitators.services import CurrentUser
from sessions import absence, links, preferences, prompt_mail, prompt_rules, prompts, services
from sessions.pages.forms import parse_date, parse_time
from sessions.pages.session import render_session_page
from sessions.schedule import local_to_utc
from web import OptionalQueryId, field_errors, flash, form_data, page, problem_text

# The HTML part of a message shown inside the preview page: its inline styles are allowed, and
# nothing else (no scripts, no remote content), and only this site may frame it.
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; "
    "base-uri 'none'; form-action 'none'"
)


async def _due_at(cohort_id: int, day: str, at: str) -> dt.datetime | None:
    """The due date and time typed in the cohort's timezone, or None when both are empty."""
    day, at = day.strip(), at.strip()
    if not day and not at:
        return None
    checks = Checks()
    parsed_day = checks.check(parse_date, day, "due_date") if day else None
    parsed_at = checks.check(parse_time, at, "due_time") if at else None
    if not day:
        checks.errors.append(FieldError("due_date", "give the date the assignment is due"))
    if not at:
        checks.errors.append(FieldError("due_time", "give the time it is due, e.g. 17:00"))
    checks.done()
    assert isinstance(parsed_day, dt.date) and isinstance(parsed_at, dt.time)
    zone = ZoneInfo((await services.cohort_summary(cohort_id)).timezone)
    due_at, _ = local_to_utc(parsed_day, parsed_at, zone, "due_time")
    return due_at


def _kind(value: str | None) -> str:
    kind = value or prompts.PROMPT
    if kind not in prompts.PREVIEW_KINDS:
        raise InvalidInput.single(
            "kind", f"preview one of {', '.join(prompts.PREVIEW_KINDS)}, not {kind!r}"
        )
    return kind


class PromptPages(Controller):
    """A session's prompt and reminders, for its facilitators and office staff."""

    path = "/sessions/{session_id:int}"
    include_in_schema = False
    guards = [signed_in]

    @post("/prompt")
    async def edit_prompt(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        cohort_id = await services.require_session(user, session_id, manage=True)
        form = await form_data(request)
        try:
            due_at = await _due_at(cohort_id, form.get("due_date", ""), form.get("due_time", ""))
            result = await services.update_session(
                session_id,
                services.SessionChanges(
                    assignment_prompt=form.get("assignment_prompt", ""),
                    prompt_due_at=due_at,
                    clear_prompt_due=due_at is None,
                ),
                actor=user,
            )
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            return await render_session_page(
                user,
                session_id,
                prompt_form=form,
                errors=field_errors(error),
                status_code=error.status_code,
            )
        flash(request, "Prompt saved." if result.changed else "The prompt is unchanged.")
        return Redirect(path=f"/sessions/{session_id}#prompt")

    @post("/timing")
    async def edit_timing(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        await services.require_session(user, session_id, manage=True)
        form = await form_data(request)
        try:
            if form.get("use_cohort") == "yes":
                changes = services.SessionChanges(cohort_lead=True, cohort_reminders=True)
            else:
                lead, reminders = prompt_rules.timing_from_form(
                    {"prompt_lead_minutes": "", "reminder_minutes": "", **form}
                )
                changes = services.SessionChanges(
                    prompt_lead_minutes=lead, reminder_minutes=reminders
                )
            await services.update_session(session_id, changes, actor=user)
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            return await render_session_page(
                user,
                session_id,
                timing_form=form,
                errors=field_errors(error),
                status_code=error.status_code,
            )
        flash(request, "Timing saved: the planned messages below follow it.")
        return Redirect(path=f"/sessions/{session_id}#messages")

    @post("/prompt/send-update")
    async def send_update(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        try:
            queued = await prompts.send_updated_prompt(session_id, actor=user)
            flash(request, f"The updated prompt is queued for {queued} participant(s).")
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            flash(request, f"Not sent: {problem_text(error)}", problem=True)
        return Redirect(path=f"/sessions/{session_id}#messages")

    @get("/preview")
    async def preview(
        self,
        session_id: FromPath[int],
        user: NamedDependency[CurrentUser],
        kind: FromQuery[str | None] = None,
        person: OptionalQueryId = None,
    ) -> Template:
        chosen = _kind(kind)
        rendered, recipient = await prompts.preview(user, session_id, chosen, person)
        detail = await services.get_session(user, session_id)
        participants = (await prompt_mail.recipients([detail.cohort.id])).get(detail.cohort.id, [])
        return page(
            "sessions/preview.html",
            {
                "detail": detail,
                "s": detail.session,
                "kind": chosen,
                "rendered": rendered,
                "recipient": recipient,
                "participants": participants,
            },
        )

    @get("/preview.html")
    async def preview_html(
        self,
        session_id: FromPath[int],
        user: NamedDependency[CurrentUser],
        kind: FromQuery[str | None] = None,
        person: OptionalQueryId = None,
    ) -> Response[str]:
        rendered, _ = await prompts.preview(user, session_id, _kind(kind), person)
        return Response(
            rendered.html,
            media_type="text/html",
            headers={"Content-Security-Policy": PREVIEW_POLICY, "X-Frame-Options": "SAMEORIGIN"},
        )

    @post("/preview/send-test")
    async def send_test(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        form = await form_data(request)
        kind = _kind(form.get("kind"))
        person = int(form["person"]) if form.get("person", "").isdigit() else None
        await prompts.send_test_copy(user, session_id, kind, person)
        flash(request, f"A test copy is on its way to {user.email}.")
        query = f"?kind={kind}" + (f"&person={person}" if person else "")
        return Redirect(path=f"/sessions/{session_id}/preview{query}")

    @get("/cant-attend")
    async def cant_attend_form(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        view = await absence.absence_view(session_id, user.person_id)
        return page(
            "sessions/cant_attend.html", {"view": view, "action": "", "errors": {}, "problem": ""}
        )

    @post("/cant-attend")
    async def cant_attend(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        return await _report(request, session_id, user.person_id, "")


async def _report(
    request: Request[Any, Any, Any], session_id: int, person_id: int, token: str
) -> Template | Redirect:
    form = await form_data(request)
    try:
        told = await absence.report_absence(session_id, person_id, form.get("message", ""))
    except DomainError as error:
        if error.status_code in (403, 404):
            raise
        view = await absence.absence_view(session_id, person_id)
        return page(
            "sessions/cant_attend.html",
            {"view": view, "action": token, "errors": field_errors(error), "problem": error.detail},
            status_code=error.status_code,
        )
    view = await absence.absence_view(session_id, person_id)
    return page(
        "sessions/cant_attend_done.html", {"view": view, "told": told, "signed_in": not token}
    )


class AbsenceLinkPages(Controller):
    """The "I can't attend" link of a prompt or reminder: its signature stands in for signing in."""

    path = "/sessions/{session_id:int}/cant-attend/{token:str}"
    include_in_schema = False

    @get("/")
    async def form(self, session_id: FromPath[int], token: FromPath[str]) -> Template:
        person_id = links.person_from_absence_token(session_id, token)
        view = await absence.absence_view(session_id, person_id)
        return page(
            "sessions/cant_attend.html",
            {"view": view, "action": token, "errors": {}, "problem": ""},
        )

    @post("/")
    async def report(
        self, session_id: FromPath[int], token: FromPath[str], request: Request[Any, Any, Any]
    ) -> Template | Redirect:
        person_id = links.person_from_absence_token(session_id, token)
        return await _report(request, session_id, person_id, token)


class ReminderPages(Controller):
    """Switching reminders off and on. The link in every reminder's List-Unsubscribe header is
    the same URL: a mail client POSTs "List-Unsubscribe=One-Click" to it (RFC 8058), a person
    who opens it sees a page with one button. Its signature stands in for signing in; it is
    exempt from the CSRF check (a mail client has no token), and changes one preference only."""

    path = "/reminders"
    include_in_schema = False

    @get("/off/{token:str}")
    async def off_form(self, token: FromPath[str]) -> Template:
        person = await preferences.person_from_token(token)
        return page("sessions/reminders.html", {"person": person, "token": token, "changed": False})

    @post("/off/{token:str}")
    async def off(self, token: FromPath[str]) -> Template:
        person = await preferences.person_from_token(token)
        await preferences.set_reminders(person.id, on=False, actor_id=person.id)
        person = await preferences.person_from_token(token)
        return page("sessions/reminders.html", {"person": person, "token": token, "changed": True})

    @post("/on/{token:str}")
    async def on(self, token: FromPath[str]) -> Template:
        person = await preferences.person_from_token(token)
        await preferences.set_reminders(person.id, on=True, actor_id=person.id)
        person = await preferences.person_from_token(token)
        return page("sessions/reminders.html", {"person": person, "token": token, "changed": True})

    @post("/mine", guards=[signed_in])
    async def mine(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Redirect:
        """From one's Account page."""
        on = (await form_data(request)).get("on") == "yes"
        await preferences.set_reminders(user.person_id, on=on, actor_id=user.person_id)
        flash(request, "Reminders are on." if on else "Reminders are off.")
        return Redirect(path="/account")


class NextSessionPages(Controller):
    """A participant's next session: when and where, what to prepare, what will be discussed."""

    path = "/next"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def next_session(self, user: NamedDependency[CurrentUser]) -> Template:
        upcoming = await services.next_sessions(user)
        cases = await prompt_mail.linked_cases([s.id for s in upcoming])
        return page(
            "sessions/next.html",
            {
                "upcoming": upcoming,
                "cases": cases,
                "viewer_zone": user.timezone,
            },
        )
