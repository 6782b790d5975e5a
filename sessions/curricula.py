"""Curriculum templates and competencies: listing them, copying a template, editing a copy.

Templates are data. The shipped ones (see builtin_curricula.py) stay as they are; a facilitator
copies one and edits the copy's sessions: titles, competencies, lengths, prompts, order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from errors import Forbidden, InvalidInput, NotFound
from facilitators import audit
from facilitators.services import CurrentUser
from facilitators.validation import optional_text, required_text
from sessions.schedule import check_minutes
from sessions.tables import Competency, CurriculumTemplate, SessionTemplate


@dataclass(frozen=True)
class CompetencyRow:
    code: str
    name: str
    aliases: tuple[str, ...]
    core: bool


@dataclass(frozen=True)
class SessionTemplateRow:
    id: int
    position: int
    title: str
    competencies: tuple[str, ...]
    minutes: int
    objectives: str
    assignment_prompt: str
    alternate_for: int | None


@dataclass(frozen=True)
class CurriculumRow:
    id: int
    slug: str
    name: str
    description: str
    builtin: bool
    owner_id: int | None
    copied_from_id: int | None
    sessions: tuple[SessionTemplateRow, ...]

    @property
    def main_sessions(self) -> tuple[SessionTemplateRow, ...]:
        return tuple(s for s in self.sessions if s.alternate_for is None)

    @property
    def total_minutes(self) -> int:
        return sum(s.minutes for s in self.main_sessions)


@dataclass(frozen=True)
class SessionTemplateInput:
    title: str
    minutes: int
    competencies: tuple[str, ...] = ()
    objectives: str = ""
    assignment_prompt: str = ""
    alternate_for: int | None = None


async def list_competencies() -> list[CompetencyRow]:
    rows = await Competency.select().order_by(Competency.position)
    return [CompetencyRow(r["code"], r["name"], tuple(r["aliases"] or ()), r["core"]) for r in rows]


async def known_competency_codes() -> set[str]:
    return {row["code"] for row in await Competency.select(Competency.code)}


async def list_curricula(curriculum_id: int | None = None) -> list[CurriculumRow]:
    """Curriculum templates with their sessions, in two queries."""
    query = (
        CurriculumTemplate.select()
        .order_by(CurriculumTemplate.builtin, ascending=False)
        .order_by(CurriculumTemplate.id)
    )
    sessions_query = SessionTemplate.select().order_by(SessionTemplate.position)
    if curriculum_id is not None:
        query = query.where(CurriculumTemplate.id == curriculum_id)
        sessions_query = sessions_query.where(SessionTemplate.curriculum == curriculum_id)
    curricula = await query
    sessions: dict[int, list[SessionTemplateRow]] = {}
    for row in await sessions_query:
        sessions.setdefault(row["curriculum"], []).append(
            SessionTemplateRow(
                id=row["id"],
                position=row["position"],
                title=row["title"],
                competencies=tuple(row["competencies"] or ()),
                minutes=row["minutes"],
                objectives=row["objectives"],
                assignment_prompt=row["assignment_prompt"],
                alternate_for=row["alternate_for"],
            )
        )
    return [
        CurriculumRow(
            id=row["id"],
            slug=row["slug"],
            name=row["name"],
            description=row["description"],
            builtin=row["builtin"],
            owner_id=row["owner"],
            copied_from_id=row["copied_from"],
            sessions=tuple(sessions.get(row["id"], [])),
        )
        for row in curricula
    ]


async def get_curriculum(curriculum_id: int) -> CurriculumRow:
    found = await list_curricula(curriculum_id)
    if not found:
        raise NotFound(f"no curriculum template with id {curriculum_id}")
    return found[0]


def can_edit(user: CurrentUser, curriculum: CurriculumRow) -> bool:
    """Shipped templates are read-only; a copy is edited by its owner and office staff."""
    return not curriculum.builtin and (user.is_office or curriculum.owner_id == user.person_id)


def _slug(name: str, suffix: int) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "curriculum"
    return f"{base}-{suffix}"


async def copy_curriculum(curriculum_id: int, name: str, *, actor: CurrentUser) -> int:
    """An editable copy of a template, owned by the person who copied it."""
    if not actor.can_create_cohorts:
        raise Forbidden("only facilitators and office staff may copy curriculum templates")
    source = await get_curriculum(curriculum_id)
    name = required_text(name, "name", 200)
    async with CurriculumTemplate._meta.db.transaction():
        saved = await CurriculumTemplate.insert(
            CurriculumTemplate(
                slug=_slug(name, 0),
                name=name,
                description=source.description,
                builtin=False,
                copied_from=source.id,
                owner=actor.person_id,
            )
        ).returning(CurriculumTemplate.id)
        new_id = int(saved[0]["id"])
        # The id makes the slug unique; it was not known before the insert.
        await CurriculumTemplate.update({CurriculumTemplate.slug: _slug(name, new_id)}).where(
            CurriculumTemplate.id == new_id
        )
        if source.sessions:
            await SessionTemplate.insert(
                *[
                    SessionTemplate(
                        curriculum=new_id,
                        position=s.position,
                        title=s.title,
                        competencies=list(s.competencies),
                        minutes=s.minutes,
                        objectives=s.objectives,
                        assignment_prompt=s.assignment_prompt,
                        alternate_for=s.alternate_for,
                    )
                    for s in source.sessions
                ]
            )
        await audit.record(
            actor.person_id,
            "curriculum.copy",
            "curriculum",
            new_id,
            summary=f"Copied {source.name!r} as {name!r}",
        )
    return new_id


async def update_curriculum(
    curriculum_id: int,
    name: str,
    description: str,
    sessions: list[SessionTemplateInput],
    *,
    actor: CurrentUser,
) -> None:
    """Replace a copy's name, description and sessions (in the order given). All or nothing."""
    curriculum = await get_curriculum(curriculum_id)
    if not can_edit(actor, curriculum):
        raise Forbidden(
            "shipped templates cannot be changed: copy one and edit the copy"
            if curriculum.builtin
            else "only the person who copied this template, and office staff, may edit it"
        )
    name = required_text(name, "name", 200)
    description = optional_text(description, "description", 2000)
    main = [s for s in sessions if s.alternate_for is None]
    if not main:
        raise InvalidInput.single("sessions", "a curriculum needs at least one session")
    if len(sessions) > 60:
        raise InvalidInput.single("sessions", "at most 60 sessions")
    known = await known_competency_codes()
    main_positions = {n for n, item in enumerate(sessions, start=1) if item.alternate_for is None}
    cleaned = []
    for index, session in enumerate(sessions, start=1):
        prefix = f"sessions[{index}]"
        unknown = [c for c in session.competencies if c not in known]
        if unknown:
            raise InvalidInput.single(
                f"{prefix}.competencies", f"unknown competency code(s): {', '.join(unknown)}"
            )
        if session.alternate_for is not None and session.alternate_for not in main_positions:
            raise InvalidInput.single(
                f"{prefix}.alternate_for",
                "must name one of the curriculum's own sessions (not an alternate) by its number",
            )
        cleaned.append(
            SessionTemplate(
                curriculum=curriculum_id,
                position=index,
                title=required_text(session.title, f"{prefix}.title", 200),
                competencies=list(dict.fromkeys(session.competencies)),
                minutes=check_minutes(session.minutes, f"{prefix}.minutes"),
                objectives=optional_text(session.objectives, f"{prefix}.objectives", 5000),
                assignment_prompt=optional_text(
                    session.assignment_prompt, f"{prefix}.assignment_prompt", 20_000
                ),
                alternate_for=session.alternate_for,
            )
        )
    async with CurriculumTemplate._meta.db.transaction():
        await CurriculumTemplate.update(
            {CurriculumTemplate.name: name, CurriculumTemplate.description: description}
        ).where(CurriculumTemplate.id == curriculum_id)
        await SessionTemplate.delete().where(SessionTemplate.curriculum == curriculum_id)
        await SessionTemplate.insert(*cleaned)
        await audit.record(
            actor.person_id,
            "curriculum.update",
            "curriculum",
            curriculum_id,
            summary=f"Saved {name!r} with {len(main)} sessions",
        )
