"""HTML page of a session's agenda: its facilitators pick cases from the library, order them
and remove them (each change is one form post: no script needed)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from case_studies import agenda, services
from errors import DomainError
from facilitators.guards import signed_in
from facilitators.services import CurrentUser
from sessions import services as session_services
from web import flash, form_lists, page, problem_text


class AgendaPages(Controller):
    """A session's agenda: its facilitators pick cases from the library and order them."""

    path = "/sessions/{session_id:int}/agenda"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def agenda_page(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser], q: FromQuery[str] = ""
    ) -> Template:
        await session_services.require_session(user, session_id, manage=True)
        detail = await session_services.get_session(user, session_id)
        entries = await agenda.session_agenda(user, session_id)
        chosen = [entry.case.id for entry in entries]
        found = await services.list_cases(user, services.CaseFilter(q=q[:200], limit=15))
        return page(
            "case_studies/agenda.html",
            {
                "detail": detail,
                "s": detail.session,
                "entries": entries,
                "chosen": chosen,
                "found": [c for c in found.cases if c.id not in chosen],
                "q": q,
            },
        )

    @post("/")
    async def set_agenda(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        ids = [int(v) for v in await form_lists(request, "case_ids") if v.isdigit()]
        try:
            await agenda.set_agenda(session_id, ids, actor=user)
            flash(
                request,
                "Agenda saved: the session page and the prompt show it. If the prompt went "
                "out already, the session page offers to send the updated prompt.",
            )
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            flash(request, f"Not saved: {problem_text(error)}", problem=True)
        return Redirect(path=f"/sessions/{session_id}/agenda")
