"""HTML pages for curriculum templates: browse them, copy one, edit a copy's sessions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from errors import DomainError, Forbidden, InvalidInput
from facilitators.guards import signed_in
from facilitators.services import CurrentUser
from sessions import curricula
from sessions.pages.forms import int_or_none
from web import field_errors, flash, form_data, page

MAX_ROWS = 60


def _sessions_from_form(form: Any, count: int) -> list[curricula.SessionTemplateInput]:
    """Rows of the editor: title, minutes, competencies, prompt, alternate-for and an order
    number; blank titles are left out, and rows are saved in the order given."""
    rows: list[tuple[int, int, curricula.SessionTemplateInput]] = []
    for index in range(count):
        title = str(form.get(f"title_{index}", "")).strip()
        if not title or form.get(f"remove_{index}") == "on":
            continue
        order = (
            int_or_none(str(form.get(f"order_{index}", "")), f"sessions[{index + 1}].order")
            or index + 1
        )
        rows.append(
            (
                order,
                index,
                curricula.SessionTemplateInput(
                    title=title,
                    minutes=int_or_none(
                        str(form.get(f"minutes_{index}", "")), f"sessions[{index + 1}].minutes"
                    )
                    or 60,
                    competencies=tuple(str(c) for c in form.getall(f"competencies_{index}", [])),
                    objectives=str(form.get(f"objectives_{index}", "")),
                    assignment_prompt=str(form.get(f"prompt_{index}", "")),
                    alternate_for=int_or_none(
                        str(form.get(f"alternate_{index}", "")),
                        f"sessions[{index + 1}].alternate_for",
                    ),
                ),
            )
        )
    ordered = sorted(rows, key=lambda r: (r[0], r[1]))
    # "Alternate for session N" names a session by the number it had in the editor; after
    # reordering and removals it must name the same session by its new number.
    new_number = {index + 1: position for position, (_, index, _) in enumerate(ordered, start=1)}
    result = []
    for _, index, row in ordered:
        if row.alternate_for is not None:
            if row.alternate_for not in new_number:
                raise InvalidInput.single(
                    f"sessions[{index + 1}].alternate_for",
                    f"session {row.alternate_for} is removed; pick the session this one can replace",
                )
            row = replace(row, alternate_for=new_number[row.alternate_for])
        result.append(row)
    return result


class CurriculumPages(Controller):
    path = "/curricula"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def list_page(self, user: NamedDependency[CurrentUser]) -> Template:
        return page(
            "sessions/curricula.html",
            {
                "curricula": await curricula.list_curricula(),
                "competencies": await curricula.list_competencies(),
            },
        )

    @get("/{curriculum_id:int}")
    async def view(
        self, curriculum_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        curriculum = await curricula.get_curriculum(curriculum_id)
        return page(
            "sessions/curriculum.html",
            {
                "curriculum": curriculum,
                "can_edit": curricula.can_edit(user, curriculum),
                "names": {c.code: c.name for c in await curricula.list_competencies()},
            },
        )

    @post("/{curriculum_id:int}/copy")
    async def copy(
        self,
        curriculum_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        form = await form_data(request)
        source = await curricula.get_curriculum(curriculum_id)
        new_id = await curricula.copy_curriculum(
            curriculum_id, form.get("name") or f"{source.name} (my copy)", actor=user
        )
        flash(request, "Your copy is ready to edit; the original stays as it was.")
        return Redirect(path=f"/curricula/{new_id}/edit")

    async def _editor(
        self,
        curriculum: curricula.CurriculumRow,
        form: dict[str, Any] | None,
        errors: dict[str, str],
        status_code: int = 200,
        rows: list[Any] | None = None,
    ) -> Template:
        return page(
            "sessions/curriculum_edit.html",
            {
                "curriculum": curriculum,
                "competencies": await curricula.list_competencies(),
                "rows": list(curriculum.sessions) if rows is None else rows,
                "blank_rows": 2,
                "errors": errors,
                "form": form or {},
            },
            status_code=status_code,
        )

    @get("/{curriculum_id:int}/edit")
    async def edit(
        self, curriculum_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        curriculum = await curricula.get_curriculum(curriculum_id)
        if not curricula.can_edit(user, curriculum):
            raise Forbidden(
                "shipped templates cannot be changed: copy one and edit the copy"
                if curriculum.builtin
                else "only the person who copied this template, and office staff, may edit it"
            )
        return await self._editor(curriculum, None, {})

    @post("/{curriculum_id:int}/edit")
    async def save(
        self,
        curriculum_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        curriculum = await curricula.get_curriculum(curriculum_id)
        form = await request.form()
        count = min(int_or_none(str(form.get("row_count", "0")), "row_count") or 0, MAX_ROWS)
        sessions: list[curricula.SessionTemplateInput] | None = None
        try:
            sessions = _sessions_from_form(form, count)
            await curricula.update_curriculum(
                curriculum_id,
                str(form.get("name", "")),
                str(form.get("description", "")),
                sessions,
                actor=user,
            )
        except InvalidInput as error:
            return await self._editor(
                curriculum,
                {"name": form.get("name", "")},
                field_errors(error) | {"_form": error.detail},
                error.status_code,
                rows=sessions,  # what was typed, shown again
            )
        except DomainError:
            raise
        flash(request, "Template saved.")
        return Redirect(path=f"/curricula/{curriculum_id}")
