"""Session agendas: the case studies a session discusses, in order. The sessions app shows them
on the session page and in the assignment prompt through the provider it declares
(`sessions.prompt_mail.case_lookups`), and cloning a cohort copies them through
`sessions.services.clone_hooks`; create_app() plugs both in."""

from __future__ import annotations

from dataclasses import dataclass

from case_studies.services import PUBLISHED, CaseView, viewer, views_of
from case_studies.tables import AgendaItem, CaseStatus, CaseStudy, Scope
from database import lock_for_update
from errors import InvalidInput
from facilitators import audit
from facilitators.services import CurrentUser
from sessions import prompts
from sessions.access import require_session
from sessions.prompt_mail import LinkedCase
from sessions.tables import Session

MAX_AGENDA = 12


@dataclass(frozen=True)
class AgendaEntry:
    position: int
    case: CaseView


async def session_agenda(user: CurrentUser, session_id: int) -> list[AgendaEntry]:
    """The agenda as the user may see it (facilitator notes only for those who may read them)."""
    await require_session(user, session_id)
    rows = (
        await AgendaItem.select(AgendaItem.case, AgendaItem.position)
        .where(AgendaItem.session == session_id)
        .order_by(AgendaItem.position)
    )
    views = await views_of(user, [row["case"] for row in rows])
    return [AgendaEntry(r["position"], views[r["case"]]) for r in rows if r["case"] in views]


async def set_agenda(session_id: int, case_ids: list[int], *, actor: CurrentUser) -> list[int]:
    """Replace a session's agenda with these cases, in this order. Each must be published and
    readable by the session's cohort: a library case, or one of this cohort's."""
    cohort_id = await require_session(actor, session_id, manage=True)
    if len(case_ids) != len(set(case_ids)):
        raise InvalidInput.single("case_ids", "a case appears twice in the agenda")
    if len(case_ids) > MAX_AGENDA:
        raise InvalidInput.single("case_ids", f"at most {MAX_AGENDA} cases in one session")
    v = await viewer(actor)
    async with AgendaItem._meta.db.transaction():
        # Two editors of one agenda take turns (PostgreSQL; SQLite's writes do already).
        await lock_for_update(Session.select(Session.id).where(Session.id == session_id)).first()
        rows = {
            r["id"]: r
            for r in await CaseStudy.select(
                CaseStudy.id,
                CaseStudy.title,
                CaseStudy.status,
                CaseStudy.scope,
                CaseStudy.cohort,
                CaseStudy.author,
                CaseStudy.provenance,
            ).where(CaseStudy.id.is_in(case_ids or [0]))
        }
        for case_id in case_ids:
            row = rows.get(case_id)
            if row is None or not v.sees(row):
                raise InvalidInput.single("case_ids", f"no case study with id {case_id}")
            if row["status"] != CaseStatus.published.value:
                raise InvalidInput.single(
                    "case_ids",
                    f"{row['title']!r} is {row['status'].replace('_', ' ')}, not published",
                )
            if row["scope"] == Scope.cohort.value and row["cohort"] != cohort_id:
                raise InvalidInput.single(
                    "case_ids", f"{row['title']!r} belongs to another cohort: it stays there"
                )
        before = [
            r["case"]
            for r in await AgendaItem.select(AgendaItem.case)
            .where(AgendaItem.session == session_id)
            .order_by(AgendaItem.position)
        ]
        if before == case_ids:
            return case_ids
        await AgendaItem.delete().where(AgendaItem.session == session_id)
        # The prompt lists the agenda: it has a new revision.
        await prompts.prompt_revised(session_id)
        if case_ids:
            await AgendaItem.insert(
                *[
                    AgendaItem(session=session_id, case=case_id, position=position)
                    for position, case_id in enumerate(case_ids, start=1)
                ]
            )
        await audit.record(
            actor.person_id,
            "session.agenda",
            "session",
            session_id,
            cohort_id=cohort_id,
            summary="Set the agenda: " + (", ".join(rows[c]["title"] for c in case_ids) or "none"),
        )
    return case_ids


async def agenda_cases(session_ids: list[int]) -> dict[int, list[LinkedCase]]:
    """The provider for sessions: each session's cases, in order, as prompts and session pages
    show them (title, scenario, questions; never facilitator notes)."""
    if not session_ids:
        return {}
    rows = (
        await AgendaItem.select(
            AgendaItem.session,
            AgendaItem.case,
            AgendaItem.case.title.as_alias("title"),
            AgendaItem.case.scenario.as_alias("scenario"),
            AgendaItem.case.questions.as_alias("questions"),
            AgendaItem.case.status.as_alias("status"),
        )
        .where(AgendaItem.session.is_in(session_ids))
        .order_by(AgendaItem.session)
        .order_by(AgendaItem.position)
    )
    found: dict[int, list[LinkedCase]] = {}
    for row in rows:
        if row["status"] not in PUBLISHED:
            continue
        found.setdefault(row["session"], []).append(
            LinkedCase(
                title=row["title"],
                scenario=row["scenario"],
                questions=tuple(row["questions"] or ()),
                path=f"/cases/{row['case']}",
            )
        )
    return found


async def copy_agendas(session_map: dict[int, int]) -> None:
    """The clone hook: each new session gets the agenda of the session it was copied from
    (cohort-only cases stay with their cohort and are not copied)."""
    if not session_map:
        return
    rows = (
        await AgendaItem.select(
            AgendaItem.session,
            AgendaItem.case,
            AgendaItem.position,
            AgendaItem.case.scope.as_alias("scope"),
        )
        .where(AgendaItem.session.is_in(list(session_map)))
        .order_by(AgendaItem.position)
    )
    copies = [
        AgendaItem(session=session_map[r["session"]], case=r["case"], position=r["position"])
        for r in rows
        if r["scope"] == Scope.library.value
    ]
    if copies:
        await AgendaItem.insert(*copies)
