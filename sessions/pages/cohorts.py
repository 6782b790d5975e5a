"""HTML pages: the dashboard, the cohort list, a cohort's page (schedule table and month view),
creating, editing, publishing and cloning a cohort."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from errors import DomainError, Forbidden, InvalidInput
from facilitators.guards import signed_in
from facilitators.services import CurrentUser, people_with_role
from facilitators.tables import Role
from sessions import attendance, curricula, feeds, prompt_rules, roster, services
from sessions.pages.forms import ids, int_or_none, schedule_from_form
from sessions.schedule import WEEKDAYS
from sessions.services import STATUS_TRANSITIONS, SessionRow
from sessions.tables import Modality
from web import field_errors, flash, form_data, form_lists, page

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
COHORT_STATUS_LABELS = {
    "draft": "Draft",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "completed": "Completed",
    "archived": "Archived",
    "cancelled": "Cancelled",
}


@dataclass(frozen=True)
class Day:
    date: dt.date
    in_month: bool
    sessions: tuple[SessionRow, ...]


@dataclass(frozen=True)
class Month:
    title: str
    weeks: tuple[tuple[Day, ...], ...]


def month_view(sessions: tuple[SessionRow, ...], zone: str) -> list[Month]:
    """Calendar months (Monday first) holding the cohort's sessions, by local date."""
    tz = ZoneInfo(zone)
    by_day: dict[dt.date, list[SessionRow]] = {}
    for session in sessions:
        by_day.setdefault(session.starts_at.astimezone(tz).date(), []).append(session)
    months = sorted({(d.year, d.month) for d in by_day})
    grid = calendar.Calendar(firstweekday=0)
    return [
        Month(
            title=dt.date(year, month, 1).strftime("%B %Y"),
            weeks=tuple(
                tuple(Day(d, d.month == month, tuple(by_day.get(d, ()))) for d in week)
                for week in grid.monthdatescalendar(year, month)
            ),
        )
        for year, month in months
    ]


def _ordered(statuses: set[str]) -> list[str]:
    """Next states in lifecycle order, cancelling last."""
    return [s for s in COHORT_STATUS_LABELS if s in statuses]


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
                "upcoming": await services.upcoming_sessions(user),
                "attention": [
                    c
                    for c in cohorts
                    if c.status not in {"completed", "archived", "cancelled"}
                    and (c.size_warning or c.next_session is None or not c.is_published)
                ],
            },
        )


def _cohort_input(form: dict[str, Any]) -> services.CohortInput:
    return services.CohortInput(
        name=form.get("name", ""),
        timezone=form.get("timezone", ""),
        term=form.get("term", ""),
        modality=form.get("modality", "in_person"),
        location=form.get("location", ""),
        video_url=form.get("video_url", ""),
        capacity=int_or_none(form.get("capacity", ""), "capacity"),
        curriculum_id=int_or_none(form.get("curriculum_id", ""), "curriculum_id"),
        facilitator_ids=ids(form["facilitator_ids"]),
        lead_facilitator_id=int_or_none(form.get("lead_facilitator_id", ""), "lead_facilitator_id"),
        schedule=schedule_from_form(form),
    )


async def _form_context(
    cohort_id: int | None, form: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    return {
        "cohort_id": cohort_id,
        "form": form,
        "errors": errors,
        "curricula": await curricula.list_curricula(),
        "facilitators": await people_with_role(Role.facilitator.value),
        "modalities": [m.value for m in Modality],
        "timezones": COMMON_TIMEZONES,
        "weekdays": WEEKDAYS,
    }


class CohortPages(Controller):
    path = "/cohorts"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def cohorts(self, user: NamedDependency[CurrentUser]) -> Template:
        return page("sessions/cohorts.html", {"cohorts": await services.list_cohorts(user)})

    @get("/new")
    async def new_cohort(self, user: NamedDependency[CurrentUser]) -> Template:
        if not user.can_create_cohorts:
            raise Forbidden("only facilitators and office staff may create cohorts")
        default = next((c for c in await curricula.list_curricula() if c.builtin), None)
        form: dict[str, Any] = {
            "timezone": user.timezone or "America/Chicago",
            "modality": "in_person",
            "facilitator_ids": [str(user.person_id)] if user.has_role("facilitator") else [],
            "lead_facilitator_id": "",
            "curriculum_id": str(default.id) if default else "",
            "interval_weeks": "1",
            "start_time": "15:00",
        }
        return page("sessions/cohort_form.html", await _form_context(None, form, {}))

    @post("/new")
    async def create_cohort(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Template | Redirect:
        form: dict[str, Any] = await form_data(request)
        form["facilitator_ids"] = await form_lists(request, "facilitator_ids")
        try:
            created = await services.create_cohort(_cohort_input(form), actor=user)
        except DomainError as error:
            return page(
                "sessions/cohort_form.html",
                await _form_context(None, form, field_errors(error)),
                status_code=error.status_code,
            )
        for note in created.notes:
            flash(request, note)
        flash(request, "Cohort created. Check the schedule, add participants, then publish it.")
        return Redirect(path=f"/cohorts/{created.id}")

    @get("/{cohort_id:int}")
    async def cohort(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        # The whole roster once: the page lists who is in, completion counts who withdrew too.
        detail = await services.get_cohort(user, cohort_id, read_roster=roster.list_participants)
        summary = detail.summary
        everyone = list(detail.roster)
        participants = [p for p in everyone if p.status != "withdrawn"]
        waiting = [p for p in participants if p.status == "waitlisted"]
        my_place = next(
            (index for index, p in enumerate(waiting, start=1) if p.person_id == user.person_id),
            None,
        )
        sessions, completion_rows = await attendance.completion_of(
            summary, detail.sessions, everyone
        )
        if not detail.can_manage:  # a participant sees only their own row
            completion_rows = [
                r for r in completion_rows if r.participant.person_id == user.person_id
            ]
        mine = next((r for r in completion_rows if r.participant.person_id == user.person_id), None)
        return page(
            "sessions/cohort.html",
            {
                "cohort": detail,
                "participants": [p for p in participants if p.status == "enrolled"],
                "months": month_view(detail.sessions, summary.timezone),
                "viewer_zone": user.timezone
                if user.timezone and user.timezone != summary.timezone
                else "",
                "my_completion": mine,
                "my_waitlist_place": my_place,
                "cohort_feed": feeds.links(feeds.feed_name("c", cohort_id, summary.feed_generation))
                if user.is_office
                else None,
                "review_mail": summary.review_mail,
                "counted_sessions": sessions,
                "rule_text": attendance.rule_text(summary.completion, len(sessions)),
                "transitions": _ordered(STATUS_TRANSITIONS[summary.status]),
                "status_labels": COHORT_STATUS_LABELS,
                "curricula": await curricula.list_curricula() if not detail.sessions else [],
                "weekdays": WEEKDAYS,
                "form": {"interval_weeks": "1", "start_time": "15:00"},
                "errors": {},
            },
        )

    @get("/{cohort_id:int}/edit")
    async def edit_cohort(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        await services.require_cohort(user, cohort_id, manage=True)
        summary = await services.cohort_summary(cohort_id)
        mail = await services.cohort_mail_settings(cohort_id)
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
            "auto_promote": summary.auto_promote,
            "completion_percent": str(summary.completion.percent),
            "completion_requires_first_last": summary.completion.requires_first_last,
            "late_counts": summary.completion.late_counts,
            "left_early_counts": summary.completion.left_early_counts,
            "review_mail": mail["review_mail"],
            "organizer_name": mail["organizer_name"],
            "organizer_email": mail["organizer_email"],
            **prompt_rules.timing_text(
                prompt_rules.Timing(summary.prompt_lead_minutes, summary.reminder_minutes)
            ),
        }
        return page("sessions/cohort_form.html", await _form_context(cohort_id, form, {}))

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
        for box in (
            "auto_promote",
            "completion_requires_first_last",
            "late_counts",
            "left_early_counts",
            "review_mail",
        ):
            form[box] = form.get(box) == "on"
        try:
            capacity = int_or_none(form.get("capacity", ""), "capacity")
            lead, reminders = prompt_rules.timing_from_form(form)
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
                    facilitator_ids=ids(form["facilitator_ids"]),
                    lead_facilitator_id=int_or_none(
                        form.get("lead_facilitator_id", ""), "lead_facilitator_id"
                    ),
                    auto_promote=form["auto_promote"],
                    completion_percent=int_or_none(
                        form.get("completion_percent", ""), "completion_percent", 1, 100
                    ),
                    completion_requires_first_last=form["completion_requires_first_last"],
                    late_counts=form["late_counts"],
                    left_early_counts=form["left_early_counts"],
                    review_mail=form["review_mail"],
                    organizer_name=form.get("organizer_name", ""),
                    organizer_email=form.get("organizer_email", ""),
                    prompt_lead_minutes=lead,
                    reminder_minutes=reminders,
                ),
                actor=user,
            )
        except DomainError as error:
            return page(
                "sessions/cohort_form.html",
                await _form_context(cohort_id, form, field_errors(error)),
                status_code=error.status_code,
            )
        flash(request, "Cohort saved.")
        return Redirect(path=f"/cohorts/{cohort_id}")

    @post("/{cohort_id:int}/publish")
    async def publish(
        self,
        cohort_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        try:
            await services.publish_schedule(cohort_id, actor=user)
            review = (await services.cohort_mail_settings(cohort_id))["review_mail"]
            flash(
                request,
                "The schedule is published: invitations are queued"
                + (", and wait in the Outbox for office staff to release them." if review else ".")
                + " From now on, changes to times, rooms and links go out as calendar updates.",
            )
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            flash(request, f"Not published: {error.detail}", problem=True)
        return Redirect(path=f"/cohorts/{cohort_id}")

    @post("/{cohort_id:int}/status")
    async def set_status(
        self,
        cohort_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        form = await form_data(request)
        try:
            await services.update_cohort(
                cohort_id, services.CohortChanges(status=form.get("status", "")), actor=user
            )
            flash(
                request,
                f"The cohort is now {COHORT_STATUS_LABELS.get(form.get('status', ''), form.get('status', '')).lower()}.",
            )
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            flash(request, f"Not changed: {error.detail}", problem=True)
        return Redirect(path=f"/cohorts/{cohort_id}")

    @post("/{cohort_id:int}/schedule")
    async def schedule(
        self,
        cohort_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        form: dict[str, Any] = await form_data(request)
        try:
            rule = schedule_from_form(form)
            if rule is None:
                raise InvalidInput.single(
                    "first_date", "give the first session's date, or explicit dates"
                )
            notes = await services.schedule_cohort(
                cohort_id,
                int_or_none(form.get("curriculum_id", ""), "curriculum_id"),
                rule,
                actor=user,
            )
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            detail = await services.get_cohort(user, cohort_id)
            return page(
                "sessions/cohort.html",
                {
                    "cohort": detail,
                    "participants": [],
                    "months": [],
                    "viewer_zone": "",
                    "my_completion": None,
                    "my_waitlist_place": None,
                    "cohort_feed": None,
                    "review_mail": False,
                    "counted_sessions": [],
                    "rule_text": "",
                    "transitions": _ordered(STATUS_TRANSITIONS[detail.summary.status]),
                    "status_labels": COHORT_STATUS_LABELS,
                    "curricula": await curricula.list_curricula(),
                    "weekdays": WEEKDAYS,
                    "form": form,
                    "errors": field_errors(error),
                },
                status_code=error.status_code,
            )
        for note in notes:
            flash(request, note)
        flash(request, "Sessions scheduled.")
        return Redirect(path=f"/cohorts/{cohort_id}")

    @get("/{cohort_id:int}/clone")
    async def clone_form(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        await services.require_cohort(user, cohort_id, manage=True)
        summary = await services.cohort_summary(cohort_id)
        form = {
            "name": f"{summary.name} (copy)",
            "term": "",
            "interval_weeks": "1",
            "start_time": "15:00",
        }
        return page(
            "sessions/clone.html",
            {"cohort": summary, "form": form, "errors": {}, "weekdays": WEEKDAYS},
        )

    @post("/{cohort_id:int}/clone")
    async def clone(
        self,
        cohort_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        await services.require_cohort(user, cohort_id, manage=True)
        form: dict[str, Any] = await form_data(request)
        try:
            created = await services.clone_cohort(
                cohort_id,
                services.CloneInput(
                    name=form.get("name", ""),
                    term=form.get("term", ""),
                    schedule=schedule_from_form(form),
                ),
                actor=user,
            )
        except DomainError as error:
            summary = await services.cohort_summary(cohort_id)
            return page(
                "sessions/clone.html",
                {
                    "cohort": summary,
                    "form": form,
                    "errors": field_errors(error),
                    "weekdays": WEEKDAYS,
                },
                status_code=error.status_code,
            )
        for note in created.notes:
            flash(request, note)
        flash(request, "Cohort cloned into the new term. Enroll its participants, then publish it.")
        return Redirect(path=f"/cohorts/{created.id}")
