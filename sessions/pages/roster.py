"""HTML pages for a cohort's roster (adding, withdrawing, the waitlist, importing a CSV with a
preview, exporting with attendance) and for attendance: the one-click sheet and the printable
sign-in sheet."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from errors import DomainError, InvalidInput
from facilitators.guards import signed_in
from facilitators.services import CurrentUser, PersonInput
from facilitators.tables import CareerStage
from sessions import attendance, roster, services
from sessions.roster_csv import MAX_BYTES
from web import field_errors, flash, form_data, page


class RosterPages(Controller):
    path = "/cohorts/{cohort_id:int}"
    include_in_schema = False
    guards = [signed_in]

    async def _render(
        self,
        user: CurrentUser,
        cohort_id: int,
        *,
        form: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        preview: roster.RosterImport | None = None,
        csv_text: str = "",
        status_code: int = 200,
    ) -> Template:
        await services.require_cohort(user, cohort_id, manage=True)
        summary = await services.cohort_summary(cohort_id)
        sessions, rows = await attendance.cohort_completion(cohort_id)
        everyone = await roster.list_participants(cohort_id)
        return page(
            "sessions/roster.html",
            {
                "cohort": summary,
                "sessions": sessions,
                "rows": [r for r in rows if r.participant.status == "enrolled"],
                "withdrawn": [r for r in rows if r.participant.status == "withdrawn"],
                "waitlist": [p for p in everyone if p.status == "waitlisted"],
                "rule_text": attendance.rule_text(summary.completion, len(sessions)),
                "form": form or {},
                "errors": errors or {},
                "preview": preview,
                "csv_text": csv_text,
                "career_stages": [s.value for s in CareerStage],
                "labels": attendance.STATUS_LABELS,
            },
            status_code=status_code,
        )

    @get("/roster")
    async def roster_page(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        return await self._render(user, cohort_id)

    @post("/participants")
    async def add(
        self,
        cohort_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        await services.require_cohort(user, cohort_id, manage=True)
        form = await form_data(request)
        try:
            result = await roster.add_participant(
                cohort_id,
                form.get("email", ""),
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
            return await self._render(
                user,
                cohort_id,
                form=form,
                errors=field_errors(error),
                status_code=error.status_code,
            )
        who = form.get("name", "").strip() or form.get("email", "").strip()
        flash(
            request,
            f"{who} is {'on the waitlist' if result.status == 'waitlisted' else 'enrolled'}.",
        )
        if result.warning:
            flash(request, result.warning)
        return Redirect(path=f"/cohorts/{cohort_id}/roster")

    @post("/participants/{enrollment_id:int}/withdraw")
    async def withdraw(
        self,
        cohort_id: FromPath[int],
        enrollment_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        try:
            promoted = await roster.withdraw(cohort_id, enrollment_id, actor=user)
            flash(request, "Withdrawn. Their attendance stays on record.")
            if promoted:
                flash(request, f"{promoted} moved up from the waitlist.")
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            flash(request, error.detail, problem=True)
        return Redirect(path=f"/cohorts/{cohort_id}/roster")

    @post("/participants/{enrollment_id:int}/promote")
    async def promote(
        self,
        cohort_id: FromPath[int],
        enrollment_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        try:
            await roster.promote(cohort_id, enrollment_id, actor=user)
            flash(request, "Moved from the waitlist into the cohort.")
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            flash(request, error.detail, problem=True)
        return Redirect(path=f"/cohorts/{cohort_id}/roster")

    @post("/roster/import", request_max_body_size=3 * MAX_BYTES)
    async def import_roster(
        self,
        cohort_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        """Preview an uploaded file; "Apply" posts the previewed text back with it."""
        await services.require_cohort(user, cohort_id, manage=True)
        form = await request.form()
        upload = form.get("file")
        data = b""
        try:
            if isinstance(upload, UploadFile) and upload.filename:
                data = await upload.read(MAX_BYTES + 1)
            elif form.get("csv_text"):
                data = str(form.get("csv_text")).encode()
            else:
                raise InvalidInput.single("file", "choose a CSV file to import")
            apply = form.get("action") == "apply"
            result = await roster.import_roster(cohort_id, data, dry_run=not apply, actor=user)
        except roster.RosterRejected as rejected:
            return await self._render(
                user,
                cohort_id,
                preview=rejected.preview,
                csv_text=data.decode("utf-8-sig", errors="replace"),
                errors={"_form": rejected.detail},
                status_code=422,
            )
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            return await self._render(
                user, cohort_id, errors=field_errors(error), status_code=error.status_code
            )
        if result.applied:
            flash(
                request,
                f"Roster imported: {result.count(roster.RowAction.add)} added, "
                f"{result.count(roster.RowAction.enroll)} enrolled, "
                f"{result.count(roster.RowAction.update)} updated, "
                f"{result.count(roster.RowAction.unchanged)} unchanged.",
            )
            if result.warning:
                flash(request, result.warning)
            return Redirect(path=f"/cohorts/{cohort_id}/roster")
        return await self._render(
            user, cohort_id, preview=result, csv_text=data.decode("utf-8-sig")
        )

    @get("/roster.csv")
    async def export(
        self, cohort_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Response[str]:
        text = await attendance.roster_csv(user, cohort_id)
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="cohort-{cohort_id}-roster.csv"'
            },
        )


class AttendancePages(Controller):
    path = "/sessions/{session_id:int}"
    include_in_schema = False
    guards = [signed_in]

    async def _context(self, user: CurrentUser, session_id: int) -> dict[str, Any]:
        detail = await services.get_session(user, session_id)
        return {
            "detail": detail,
            "s": detail.session,
            "sheet": await attendance.attendance_sheet(user, session_id),
            "statuses": attendance.STATUSES,
            "labels": attendance.STATUS_LABELS,
        }

    @get("/attendance")
    async def sheet(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        return page("sessions/attendance.html", await self._context(user, session_id))

    @post("/attendance")
    async def mark(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        """One click: one participant's status. With htmx only that row is sent back."""
        form = await form_data(request)
        enrollment = form.get("enrollment_id", "")
        if not enrollment.isdigit():
            raise InvalidInput.single("enrollment_id", "pick a participant")
        await attendance.record_attendance(
            session_id,
            [attendance.Mark(int(enrollment), form.get("status", ""), form.get("note"))],
            actor=user,
        )
        if request.headers.get("hx-request"):
            context = await self._context(user, session_id)
            row = next(
                r for r in context["sheet"] if r.participant.enrollment_id == int(enrollment)
            )
            return page("sessions/_attendance_row.html", {**context, "row": row})
        return Redirect(path=f"/sessions/{session_id}/attendance#p{enrollment}")

    @get("/sign-in-sheet")
    async def sign_in_sheet(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        return page("sessions/sign_in_sheet.html", await self._context(user, session_id))
