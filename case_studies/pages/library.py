"""HTML pages of the case library: search and filters, a case's page (with its review, thread,
revisions and where it was used), the editor with preview, and the review queue."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from case_studies import services
from case_studies.tables import Audience, CaseStatus, Provenance
from errors import DomainError, Forbidden
from facilitators.guards import signed_in
from facilitators.services import CurrentUser
from facilitators.tables import Role
from sessions import curricula
from web import QueryId, field_errors, flash, form_data, form_lists, page, problem_text

PAGE_SIZE = 20
AUDIENCE_LABELS = {
    Audience.undergraduate.value: "Undergraduate",
    Audience.graduate.value: "Graduate student",
    Audience.postdoc.value: "Postdoc",
    Audience.junior_faculty.value: "Junior faculty",
    Audience.peer.value: "Peer",
}


def _case_input(form: dict[str, Any]) -> services.CaseInput:
    """The editor's fields: questions one per line, tags separated by commas."""
    return services.CaseInput(
        title=form.get("title", ""),
        scenario=form.get("scenario", ""),
        questions=tuple(line for line in str(form.get("questions", "")).splitlines()),
        facilitator_notes=form.get("facilitator_notes", ""),
        primary_competency=form.get("primary_competency", ""),
        competencies=tuple(form.get("competencies", [])),
        audiences=tuple(form.get("audiences", [])),
        disciplines=tuple(str(form.get("disciplines", "")).split(",")),
        attribution=form.get("attribution", ""),
        licence=form.get("licence", ""),
    )


def _form_of(case: services.CaseView) -> dict[str, Any]:
    return {
        "title": case.title,
        "scenario": case.scenario,
        "questions": "\n".join(case.questions),
        "facilitator_notes": case.facilitator_notes or "",
        "primary_competency": case.primary_competency,
        "competencies": list(case.competencies),
        "audiences": list(case.audiences),
        "disciplines": ", ".join(case.disciplines),
        "attribution": case.attribution,
        "licence": case.licence,
        "share_consent": case.share_consent,
    }


async def _read_form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form: dict[str, Any] = await form_data(request)
    form["competencies"] = await form_lists(request, "competencies")
    form["audiences"] = await form_lists(request, "audiences")
    return form


class CasePages(Controller):
    path = "/cases"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def library(
        self,
        user: NamedDependency[CurrentUser],
        q: FromQuery[str] = "",
        competency: FromQuery[str] = "",
        audience: FromQuery[str] = "",
        discipline: FromQuery[str] = "",
        status: FromQuery[str] = "",
        provenance: FromQuery[str] = "",
        mine: FromQuery[bool] = False,
        page_number: FromQuery[int] = 1,
    ) -> Template:
        number = min(max(page_number, 1), 10_000)
        filters = services.CaseFilter(
            q=q[:200],
            competency=competency[:40],
            audience=audience[:30],
            discipline=discipline[:60],
            status=status if status in {s.value for s in CaseStatus} else "",
            provenance=provenance if provenance in {p.value for p in Provenance} else "",
            mine=mine,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
        )
        result = await services.list_cases(user, filters)
        competencies = await curricula.list_competencies()
        return page(
            "case_studies/library.html",
            {
                "result": result,
                "filters": filters,
                "page_number": number,
                "pages": max(1, -(-result.total // PAGE_SIZE)),
                "competencies": competencies,
                "competency_names": {c.code: c.name for c in competencies},
                "audiences": AUDIENCE_LABELS,
                "statuses": [s.value for s in CaseStatus],
                "provenances": [p.value for p in Provenance],
            },
        )

    @get("/review")
    async def review_queue(self, user: NamedDependency[CurrentUser]) -> Template:
        return page("case_studies/review.html", {"cases": await services.review_queue(user)})

    async def _editor(
        self,
        user: CurrentUser,
        form: dict[str, Any],
        *,
        case: services.CaseView | None = None,
        errors: dict[str, str] | None = None,
        preview: bool = False,
        status_code: int = 200,
    ) -> Template:
        return page(
            "case_studies/edit.html",
            {
                "case": case,
                "form": form,
                "errors": errors or {},
                "preview": preview,
                "competencies": await curricula.list_competencies(),
                "audiences": AUDIENCE_LABELS,
                "cohorts": await services.writable_cohorts(user),
                "writes_as_participant": not (
                    user.is_office or user.has_role(Role.facilitator.value)
                ),
                # An existing case's notes only where its page would show them.
                "reads_notes": case.facilitator_notes is not None
                if case
                else user.has_role(Role.facilitator.value),
                "checklist": services.ANONYMIZATION_CHECKLIST,
            },
            status_code=status_code,
        )

    @get("/new")
    async def new(self, user: NamedDependency[CurrentUser]) -> Template:
        return await self._editor(user, {"scope": "library", "competencies": [], "audiences": []})

    @post("/new")
    async def create(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Template | Redirect:
        form = await _read_form(request)
        if form.get("action") == "preview":
            return await self._editor(user, form, preview=True)
        # Participants choose their cohort; facilitators "library" or "cohort-<id>".
        target = form.get("publish_to", "library")
        cohort = form.get("cohort_id", "") or target.removeprefix("cohort-")
        try:
            case_id = await services.create_case(
                _case_input(form),
                actor=user,
                scope="cohort" if target.startswith("cohort-") else "library",
                cohort_id=int(cohort) if cohort.isdigit() else None,
            )
        except DomainError as error:
            if error.status_code == 403:
                raise
            return await self._editor(
                user, form, errors=field_errors(error), status_code=error.status_code
            )
        flash(request, "Case study saved.")
        return Redirect(path=f"/cases/{case_id}")

    @get("/{case_id:int}")
    async def case(self, case_id: FromPath[int], user: NamedDependency[CurrentUser]) -> Template:
        case = await services.get_case(user, case_id)
        return page(
            "case_studies/case.html",
            {
                "case": case,
                "comments": await services.comments(user, case_id),
                "revisions": await services.revisions(user, case_id),
                "usage": await services.usage(user, case_id),
                "competencies": {c.code: c.name for c in await curricula.list_competencies()},
                "audiences": AUDIENCE_LABELS,
                "checklist": services.ANONYMIZATION_CHECKLIST,
            },
        )

    @get("/{case_id:int}/edit")
    async def edit_form(
        self, case_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        case = await services.get_case(user, case_id)
        if not case.can_edit:
            raise Forbidden(
                "only its author edits a draft"
                if case.status in ("draft", "returned")
                else f"you may not edit this {case.status.replace('_', ' ')} case study"
            )
        return await self._editor(user, _form_of(case), case=case)

    @post("/{case_id:int}/edit")
    async def edit(
        self,
        case_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        case = await services.get_case(user, case_id)
        form = await _read_form(request)
        if form.get("action") == "preview":
            return await self._editor(user, form, case=case, preview=True)
        changes = asdict(_case_input(form))
        if "facilitator_notes" not in form:
            del changes["facilitator_notes"]  # the editor did not show them
        base = form.get("base_revision", "")
        try:
            changed = await services.update_case(
                case_id,
                changes,
                actor=user,
                share_consent=form.get("share_consent") == "on"
                if case.author_id == user.person_id
                else None,
                base_revision=int(base) if base.isdigit() else None,
            )
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            return await self._editor(
                user, form, case=case, errors=field_errors(error), status_code=error.status_code
            )
        flash(request, "Saved as a new revision." if changed else "Nothing changed.")
        return Redirect(path=f"/cases/{case_id}")

    @post("/{case_id:int}/submit")
    async def submit(
        self,
        case_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        form = await form_data(request)
        ticks = tuple(
            form.get(f"check_{n}") == "on" for n in range(len(services.ANONYMIZATION_CHECKLIST))
        )
        return await self._act(
            request,
            case_id,
            services.submit(
                case_id,
                actor=user,
                checklist=ticks,
                share_consent=form.get("share_consent") == "on",
            ),
            "Submitted: the facilitators of your cohort have been told.",
        )

    @post("/{case_id:int}/review")
    async def review(
        self,
        case_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        return await self._act(
            request, case_id, services.take_review(case_id, actor=user), "The review is yours."
        )

    @post("/{case_id:int}/return")
    async def return_case(
        self,
        case_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        form = await form_data(request)
        return await self._act(
            request,
            case_id,
            services.return_case(case_id, form.get("comment", ""), actor=user),
            "Returned to its author with your comment.",
        )

    @post("/{case_id:int}/publish")
    async def publish(
        self,
        case_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        form = await form_data(request)
        return await self._act(
            request,
            case_id,
            services.publish(case_id, actor=user, scope=form.get("scope") or None),
            "Published.",
        )

    @post("/{case_id:int}/retire")
    async def retire(
        self,
        case_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        return await self._act(
            request,
            case_id,
            services.retire(case_id, actor=user),
            "Retired: it left the library's search, and stays readable where it was used.",
        )

    @post("/{case_id:int}/comments")
    async def comment(
        self,
        case_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        form = await form_data(request)
        return await self._act(
            request,
            case_id,
            services.add_comment(case_id, form.get("body", ""), actor=user),
            "Comment added.",
        )

    async def _act(
        self, request: Request[Any, Any, Any], case_id: int, action: Any, done: str
    ) -> Redirect:
        try:
            await action
            flash(request, done)
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            flash(request, f"Not done: {problem_text(error)}", problem=True)
        return Redirect(path=f"/cases/{case_id}")

    @get("/{case_id:int}/diff")
    async def diff(
        self,
        case_id: FromPath[int],
        user: NamedDependency[CurrentUser],
        older: QueryId,
        newer: QueryId,
    ) -> Template:
        case = await services.get_case(user, case_id)
        return page(
            "case_studies/diff.html",
            {
                "case": case,
                "older": older,
                "newer": newer,
                "diffs": await services.diff(user, case_id, older, newer),
            },
        )
