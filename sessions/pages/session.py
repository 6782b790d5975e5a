"""HTML pages for one session: its details and prompt, rescheduling and editing it, cancelling
and restoring it, adding a make-up session."""

from __future__ import annotations

import contextlib
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from errors import DomainError, NotFound
from facilitators.guards import signed_in
from facilitators.services import CurrentUser
from sessions import absence, curricula, prompt_mail, prompt_rules, prompts, services
from sessions.pages.forms import int_or_none, parse_date, parse_time
from web import field_errors, flash, form_data, form_lists, page


def _session_form(detail: services.SessionDetail) -> dict[str, Any]:
    s = detail.session
    local = s.local_start()
    return {
        "title": s.title,
        "date": local.date().isoformat(),
        "start_time": local.strftime("%H:%M"),
        "minutes": str(s.minutes),
        "location": s.location,
        "video_url": s.video_url,
        "objectives": s.objectives,
        "competencies": list(s.competencies),
    }


def _prompt_form(detail: services.SessionDetail) -> dict[str, Any]:
    s = detail.session
    due = s.prompt_due_at.astimezone(ZoneInfo(s.cohort_timezone)) if s.prompt_due_at else None
    return {
        "assignment_prompt": s.assignment_prompt,
        "due_date": due.date().isoformat() if due else "",
        "due_time": due.strftime("%H:%M") if due else "",
    }


async def render_session_page(
    user: CurrentUser,
    session_id: int,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    prompt_form: dict[str, Any] | None = None,
    timing_form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Template:
    """The session page; a form that failed comes back as it was typed, with its errors (the
    edit form, the prompt form or the timing form: `errors` belong to the one given)."""
    detail = await services.get_session(user, session_id)
    zone = detail.cohort.timezone
    absent = None
    schedule = await prompts.session_schedule(user, session_id) if detail.can_manage else None
    if not detail.can_manage and not detail.session.is_cancelled:
        with contextlib.suppress(NotFound):  # not enrolled (waitlisted, or office)
            absent = await absence.absence_view(session_id, user.person_id)
    errors = errors or {}
    return page(
        "sessions/session.html",
        {
            "detail": detail,
            "s": detail.session,
            "viewer_zone": user.timezone if user.timezone and user.timezone != zone else "",
            "form": form or _session_form(detail),
            "errors": errors if form else {},
            "prompt_form": prompt_form or _prompt_form(detail),
            "prompt_errors": errors if prompt_form else {},
            "timing_form": timing_form
            or (prompt_rules.timing_text(schedule.timing) if schedule else {}),
            "timing_errors": errors if timing_form else {},
            "cases": (await prompt_mail.linked_cases([session_id])).get(session_id, []),
            "schedule": schedule,
            "absence": absent,
            "competencies": await curricula.list_competencies(),
        },
        status_code=status_code,
    )


class SessionPages(Controller):
    path = "/sessions"
    include_in_schema = False
    guards = [signed_in]

    async def _render(
        self,
        user: CurrentUser,
        session_id: int,
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        return await render_session_page(
            user, session_id, form=form, errors=errors, status_code=status_code
        )

    @get("/{session_id:int}")
    async def session(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        return await self._render(user, session_id)

    @post("/{session_id:int}/edit")
    async def edit(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        await services.require_session(user, session_id, manage=True)
        form: dict[str, Any] = await form_data(request)
        form["competencies"] = await form_lists(request, "competencies")
        try:
            result = await services.update_session(
                session_id,
                services.SessionChanges(
                    title=form.get("title", ""),
                    date=parse_date(form.get("date", ""), "date"),
                    start_time=parse_time(form.get("start_time", ""), "start_time"),
                    minutes=int_or_none(form.get("minutes", ""), "minutes"),
                    location=form.get("location", ""),
                    video_url=form.get("video_url", ""),
                    objectives=form.get("objectives", ""),
                    competencies=tuple(form["competencies"]),
                ),
                actor=user,
            )
        except DomainError as error:
            return await self._render(
                user, session_id, form, field_errors(error), error.status_code
            )
        for note in result.notes:
            flash(request, note)
        if not result.changed:
            flash(request, "Nothing changed.")
        elif result.sequence_bumped:
            flash(
                request, "Session saved. Participants' calendars will show the change as an update."
            )
        else:
            flash(request, "Session saved.")
        return Redirect(path=f"/sessions/{session_id}")

    @post("/{session_id:int}/cancel")
    async def cancel(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        return await self._set_status(session_id, "cancelled", request, user)

    @post("/{session_id:int}/restore")
    async def restore(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        return await self._set_status(session_id, "scheduled", request, user)

    async def _set_status(
        self, session_id: int, status: str, request: Request[Any, Any, Any], user: CurrentUser
    ) -> Redirect:
        try:
            await services.set_session_status(session_id, status, actor=user)
            flash(request, "Session cancelled." if status == "cancelled" else "Session restored.")
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            flash(request, f"Not changed: {error.detail}", problem=True)
        return Redirect(path=f"/sessions/{session_id}")


class MakeUpSessionPages(Controller):
    path = "/cohorts/{cohort_id:int}/sessions"
    include_in_schema = False
    guards = [signed_in]

    async def _render(
        self, cohort_id: int, form: dict[str, Any], errors: dict[str, str], status_code: int = 200
    ) -> Template:
        return page(
            "sessions/new_session.html",
            {
                "cohort": await services.cohort_summary(cohort_id),
                "form": form,
                "errors": errors,
                "competencies": await curricula.list_competencies(),
            },
            status_code=status_code,
        )

    @get("/new")
    async def new(self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]) -> Template:
        await services.require_cohort(user, cohort_id, manage=True)
        return await self._render(
            cohort_id, {"title": "Make-up session", "minutes": "60", "competencies": []}, {}
        )

    @post("/new")
    async def create(
        self,
        cohort_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        await services.require_cohort(user, cohort_id, manage=True)
        form: dict[str, Any] = await form_data(request)
        form["competencies"] = await form_lists(request, "competencies")
        try:
            session_id, notes = await services.add_session(
                cohort_id,
                services.NewSession(
                    title=form.get("title", ""),
                    date=parse_date(form.get("date", ""), "date"),
                    start_time=parse_time(form.get("start_time", ""), "start_time"),
                    minutes=int_or_none(form.get("minutes", ""), "minutes") or 60,
                    location=form.get("location") or None,
                    video_url=form.get("video_url") or None,
                    assignment_prompt=form.get("assignment_prompt", ""),
                    competencies=tuple(form["competencies"]),
                ),
                actor=user,
            )
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            return await self._render(cohort_id, form, field_errors(error), error.status_code)
        for note in notes:
            flash(request, note)
        flash(request, "Session added.")
        return Redirect(path=f"/sessions/{session_id}")
