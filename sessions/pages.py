"""HTML pages: the dashboard, cohort list and cohort page, cohort form, adding participants."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from errors import DomainError, Forbidden, InvalidInput
from facilitators.guards import signed_in
from facilitators.services import CurrentUser, PersonInput, people_with_role
from facilitators.tables import CareerStage, Role
from sessions import services
from sessions.schedule import WeeklyRule
from sessions.tables import Modality
from web import field_errors, form_data, form_lists, page

COMMON_TIMEZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/Toronto",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Africa/Johannesburg",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Australia/Sydney",
    "UTC",
)


class DashboardPages(Controller):
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def dashboard(self, user: NamedDependency[CurrentUser]) -> Template:
        cohorts = await services.list_cohorts(user)
        return page(
            "sessions/dashboard.html",
            {
                "cohorts": cohorts,
                "upcoming": await services.upcoming_sessions(user, limit=8),
                "attention": [c for c in cohorts if c.size_warning or c.next_session is None],
            },
        )


def _int_or_none(value: str, field: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput.single(field, f"{value!r} is not a whole number") from None


def _schedule_from_form(form: dict[str, str]) -> WeeklyRule | None:
    first_date, start_time = form.get("first_date", "").strip(), form.get("start_time", "").strip()
    if not first_date and not start_time:
        return None
    try:
        day = dt.date.fromisoformat(first_date)
    except ValueError:
        raise InvalidInput.single("first_date", "pick the date of the first session") from None
    try:
        at = dt.time.fromisoformat(start_time)
    except ValueError:
        raise InvalidInput.single("start_time", "give the local start time, like 15:00") from None
    interval = _int_or_none(form.get("interval_weeks", ""), "interval_weeks") or 1
    return WeeklyRule(day, at, interval)


class CohortPages(Controller):
    path = "/cohorts"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def cohorts(self, user: NamedDependency[CurrentUser]) -> Template:
        return page("sessions/cohorts.html", {"cohorts": await services.list_cohorts(user)})

    async def _form(
        self,
        *,
        cohort_id: int | None,
        form: dict[str, Any],
        errors: dict[str, str],
        status_code: int = 200,
    ) -> Template:
        return page(
            "sessions/cohort_form.html",
            {
                "cohort_id": cohort_id,
                "form": form,
                "errors": errors,
                "curricula": await services.list_curricula(),
                "facilitators": await people_with_role(Role.facilitator.value),
                "modalities": [m.value for m in Modality],
                "timezones": COMMON_TIMEZONES,
            },
            status_code=status_code,
        )

    @get("/new")
    async def new_cohort(self, user: NamedDependency[CurrentUser]) -> Template:
        if not user.can_create_cohorts:
            raise Forbidden("only facilitators and office staff may create cohorts")
        form: dict[str, Any] = {
            "timezone": "America/Chicago",
            "modality": "in_person",
            "facilitator_ids": [str(user.person_id)],
            "lead_facilitator_id": str(user.person_id),
            "interval_weeks": "1",
            "start_time": "15:00",
        }
        return await self._form(cohort_id=None, form=form, errors={})

    @post("/new")
    async def create_cohort(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Template | Redirect:
        form: dict[str, Any] = await form_data(request)
        form["facilitator_ids"] = await form_lists(request, "facilitator_ids")
        try:
            cohort_id = await services.create_cohort(
                services.CohortInput(
                    name=form.get("name", ""),
                    timezone=form.get("timezone", ""),
                    term=form.get("term", ""),
                    modality=form.get("modality", "in_person"),
                    location=form.get("location", ""),
                    video_url=form.get("video_url", ""),
                    capacity=_int_or_none(form.get("capacity", ""), "capacity"),
                    curriculum_id=_int_or_none(form.get("curriculum_id", ""), "curriculum_id"),
                    facilitator_ids=tuple(int(i) for i in form["facilitator_ids"] if i.isdigit()),
                    lead_facilitator_id=_int_or_none(
                        form.get("lead_facilitator_id", ""), "lead_facilitator_id"
                    ),
                    schedule=_schedule_from_form(form),
                ),
                actor=user,
            )
        except DomainError as error:
            return await self._form(
                cohort_id=None, form=form, errors=field_errors(error), status_code=error.status_code
            )
        return Redirect(path=f"/cohorts/{cohort_id}")

    async def _cohort_page(
        self,
        user: CurrentUser,
        cohort_id: int,
        *,
        participant_form: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        return page(
            "sessions/cohort.html",
            {
                "cohort": await services.get_cohort(user, cohort_id),
                "participant_form": participant_form or {},
                "errors": errors or {},
                "career_stages": [s.value for s in CareerStage],
            },
            status_code=status_code,
        )

    @get("/{cohort_id:int}")
    async def cohort(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        return await self._cohort_page(user, cohort_id)

    @get("/{cohort_id:int}/edit")
    async def edit_cohort(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        await services.require_cohort(user, cohort_id, manage=True)
        summary = (await services.get_cohort(user, cohort_id)).summary
        lead = next((f.person_id for f in summary.facilitators if f.lead), None)
        form: dict[str, Any] = {
            "name": summary.name,
            "term": summary.term,
            "timezone": summary.timezone,
            "modality": summary.modality,
            "location": summary.location,
            "video_url": summary.video_url,
            "capacity": "" if summary.capacity is None else str(summary.capacity),
            "facilitator_ids": [str(f.person_id) for f in summary.facilitators],
            "lead_facilitator_id": "" if lead is None else str(lead),
        }
        return await self._form(cohort_id=cohort_id, form=form, errors={})

    @post("/{cohort_id:int}/edit")
    async def update_cohort(
        self,
        cohort_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        await services.require_cohort(user, cohort_id, manage=True)
        form: dict[str, Any] = await form_data(request)
        form["facilitator_ids"] = await form_lists(request, "facilitator_ids")
        try:
            capacity = _int_or_none(form.get("capacity", ""), "capacity")
            await services.update_cohort(
                cohort_id,
                services.CohortChanges(
                    name=form.get("name", ""),
                    term=form.get("term", ""),
                    timezone=form.get("timezone", ""),
                    modality=form.get("modality", "in_person"),
                    location=form.get("location", ""),
                    video_url=form.get("video_url", ""),
                    capacity=capacity,
                    clear_capacity=capacity is None,
                    facilitator_ids=tuple(int(i) for i in form["facilitator_ids"] if i.isdigit()),
                    lead_facilitator_id=_int_or_none(
                        form.get("lead_facilitator_id", ""), "lead_facilitator_id"
                    ),
                ),
                actor=user,
            )
        except DomainError as error:
            return await self._form(
                cohort_id=cohort_id,
                form=form,
                errors=field_errors(error),
                status_code=error.status_code,
            )
        return Redirect(path=f"/cohorts/{cohort_id}")

    @post("/{cohort_id:int}/participants")
    async def add_participant(
        self,
        cohort_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        await services.require_cohort(user, cohort_id, manage=True)
        form = await form_data(request)
        try:
            await services.add_participant(
                cohort_id,
                PersonInput(
                    name=form.get("name", ""),
                    email=form.get("email", ""),
                    department=form.get("department", ""),
                    career_stage=form.get("career_stage", ""),
                    timezone=form.get("timezone", ""),
                ),
                actor=user,
            )
        except DomainError as error:
            return await self._cohort_page(
                user,
                cohort_id,
                participant_form=form,
                errors=field_errors(error),
                status_code=error.status_code,
            )
        # Redirect after POST, so that reloading the page does not submit the form again.
        return Redirect(path=f"/cohorts/{cohort_id}#participants")
