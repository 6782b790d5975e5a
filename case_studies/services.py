"""The case-study library: writing cases (every save a revision), who sees and changes what,
and the way a participant's dilemma goes from draft to the group's table.

Who sees a case:
- published or retired in the library: everyone signed in;
- published or retired for a cohort: that cohort's facilitators and participants, and office
  staff;
- submitted, in review or returned: its author, the facilitators of its cohort, admins;
- a draft: its author alone.
Facilitator notes are shown to facilitators only: never to participants or office staff,
in any page, API answer, prompt, export or message.

The review: a participant submits a draft to their cohort (after ticking the anonymization
checklist); a facilitator of that cohort (or an admin) takes the review, comments, returns it
for changes or publishes it: to the cohort, or, with the author's recorded consent, to the
library. Published cases can be retired. Cases facilitators write are published at once.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from piccolo.columns.combination import WhereRaw

from case_studies import notifications, search
from case_studies.tables import (
    AgendaItem,
    Audience,
    CaseComment,
    CaseRevision,
    CaseStatus,
    CaseStudy,
    Provenance,
    Scope,
)
from database import Prepared, lock_for_update
from errors import Checks, Conflict, FieldError, Forbidden, InvalidInput, NotFound
from facilitators import audit
from facilitators.services import CurrentUser
from facilitators.tables import Role
from facilitators.validation import optional_text, required_text
from sessions.access import enrolled_cohort_ids, facilitated_cohort_ids
from sessions.curricula import known_competency_codes
from sessions.tables import Cohort, Session

PUBLISHED = (CaseStatus.published.value, CaseStatus.retired.value)
IN_REVIEW = (CaseStatus.submitted.value, CaseStatus.in_review.value, CaseStatus.returned.value)
AUDIENCES = tuple(a.value for a in Audience)
STATUSES = tuple(s.value for s in CaseStatus)
PROVENANCES = tuple(p.value for p in Provenance)
MAX_QUESTIONS = 20
# Every field a revision keeps.
TEXT_FIELDS = ("title", "scenario", "questions", "facilitator_notes")
# What a participant confirms before submitting a dilemma.
ANONYMIZATION_CHECKLIST = (
    "names of people (mentees, colleagues, yourself) are removed or changed",
    "the lab, department, institution and place are not named",
    "details that could identify a real person (dates, grants, rare events) are changed",
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- input ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseInput:
    title: str
    scenario: str = ""
    questions: tuple[str, ...] = ()
    facilitator_notes: str = ""
    primary_competency: str = ""
    competencies: tuple[str, ...] = ()  # secondary
    audiences: tuple[str, ...] = ()
    disciplines: tuple[str, ...] = ()
    attribution: str = ""
    licence: str = ""


def check_case(data: CaseInput, competency_codes: set[str]) -> CaseInput:
    """The input cleaned, or every problem at once (InvalidInput, by field)."""
    checks = Checks()
    title = checks.check(required_text, data.title, "title", 200)
    scenario = checks.check(optional_text, data.scenario, "scenario", 20_000)
    if not str(scenario).strip():
        checks.errors.append(FieldError("scenario", "is required: describe the dilemma"))
    questions = tuple(q.strip() for q in data.questions if q.strip())
    if len(questions) > MAX_QUESTIONS:
        checks.errors.append(FieldError("questions", f"at most {MAX_QUESTIONS} questions"))
    for number, question in enumerate(questions, start=1):
        if len(question) > 1000:
            checks.errors.append(FieldError("questions", f"question {number} is too long"))
        if "\x00" in question:
            checks.errors.append(
                FieldError("questions", f"question {number} must not hold a NUL character")
            )
    notes = checks.check(optional_text, data.facilitator_notes, "facilitator_notes", 20_000)
    primary = data.primary_competency.strip()
    if primary and primary not in competency_codes:
        checks.errors.append(FieldError("primary_competency", f"unknown competency {primary!r}"))
    secondary = tuple(dict.fromkeys(c.strip() for c in data.competencies if c.strip()))
    unknown = [c for c in secondary if c not in competency_codes]
    if unknown:
        checks.errors.append(
            FieldError("competencies", f"unknown competency code(s): {', '.join(unknown)}")
        )
    audiences = tuple(dict.fromkeys(a.strip() for a in data.audiences if a.strip()))
    wrong = [a for a in audiences if a not in AUDIENCES]
    if wrong:
        checks.errors.append(
            FieldError(
                "audiences",
                f"{', '.join(wrong)}: an audience is one of {', '.join(AUDIENCES)}",
            )
        )
    disciplines = tuple(dict.fromkeys(d.strip().lower() for d in data.disciplines if d.strip()))
    if any(len(d) > 60 for d in disciplines) or len(disciplines) > 10:
        checks.errors.append(FieldError("disciplines", "at most 10 tags of 60 characters"))
    if any("\x00" in d for d in disciplines):
        checks.errors.append(FieldError("disciplines", "a tag must not hold a NUL character"))
    attribution = checks.check(optional_text, data.attribution, "attribution", 300)
    licence = checks.check(optional_text, data.licence, "licence", 200)
    checks.done()
    return CaseInput(
        title=str(title),
        scenario=str(scenario).strip(),
        questions=questions,
        facilitator_notes=str(notes).strip(),
        primary_competency=primary,
        competencies=tuple(c for c in secondary if c != primary),
        audiences=audiences,
        disciplines=disciplines,
        attribution=str(attribution),
        licence=str(licence),
    )


def _columns(data: CaseInput) -> dict[Any, Any]:
    return {
        CaseStudy.title: data.title,
        CaseStudy.scenario: data.scenario,
        CaseStudy.questions: list(data.questions),
        CaseStudy.facilitator_notes: data.facilitator_notes,
        CaseStudy.primary_competency: data.primary_competency,
        CaseStudy.competencies: list(data.competencies),
        CaseStudy.audiences: list(data.audiences),
        CaseStudy.disciplines: list(data.disciplines),
        CaseStudy.attribution: data.attribution,
        CaseStudy.licence: data.licence,
    }


# -- reading, and who may ---------------------------------------------------------------------


@dataclass(frozen=True)
class CaseView:
    """A case as one viewer may see it (facilitator notes only when they may read them)."""

    id: int
    title: str
    scenario: str
    questions: tuple[str, ...]
    facilitator_notes: str | None
    primary_competency: str
    competencies: tuple[str, ...]
    audiences: tuple[str, ...]
    disciplines: tuple[str, ...]
    provenance: str
    attribution: str
    licence: str
    status: str
    scope: str
    cohort_id: int | None
    cohort_name: str
    cohort_timezone: str
    author_id: int | None
    author_name: str
    reviewer_id: int | None
    share_consent: bool
    revision: int
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None
    can_edit: bool = False
    can_review: bool = False
    actions: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """The first lines of the scenario, as plain text (lists, prompts)."""
        text = " ".join(self.scenario.replace("#", "").replace("*", "").split())
        return text if len(text) <= 180 else text[:177].rsplit(" ", 1)[0] + "…"


_CASE_COLUMNS = (
    *CaseStudy.all_columns(),
    CaseStudy.cohort.name.as_alias("cohort_name"),
    CaseStudy.cohort.timezone.as_alias("cohort_timezone"),
    CaseStudy.author.name.as_alias("author_name"),
)


@dataclass(frozen=True)
class Viewer:
    """What a user is to the case library: their cohorts, and what their roles allow."""

    user: CurrentUser
    facilitates: frozenset[int]
    enrolled: frozenset[int]
    # Cases on the agendas of the cohorts they take part in as a participant.
    discussed_as_participant: frozenset[int] = frozenset()

    @property
    def is_facilitator(self) -> bool:
        return self.user.has_role(Role.facilitator.value)

    def reads_notes_of(self, case: dict[str, Any]) -> bool:
        """Facilitator notes: for facilitators, never where they are a participant (a case of
        a cohort they are enrolled in, or on its agenda)."""
        return (
            self.is_facilitator
            and case["cohort"] not in self.enrolled
            and case["id"] not in self.discussed_as_participant
        )

    def knows_history(self, case: dict[str, Any]) -> bool:
        """A participant's dilemma was anonymized in review: its earlier revisions, and who
        wrote it, are for its author and its reviewers only."""
        return (
            case["provenance"] != Provenance.participant.value
            or case["author"] == self.user.person_id
            or self.reviews(case)
        )

    def sees(self, case: dict[str, Any]) -> bool:
        status, cohort = case["status"], case["cohort"]
        if case["author"] == self.user.person_id:
            return True
        if status in PUBLISHED:
            if case["scope"] == Scope.library.value:
                return True
            return self.user.is_office or cohort in self.facilitates or cohort in self.enrolled
        if status in IN_REVIEW:
            return self.user.is_admin or cohort in self.facilitates
        return False

    def reviews(self, case: dict[str, Any]) -> bool:
        return self.user.is_admin or (
            case["cohort"] is not None and case["cohort"] in self.facilitates
        )

    def edits(self, case: dict[str, Any]) -> bool:
        """Drafts and returned cases: their author alone. Published ones: admins, and
        - a participant's dilemma: its reviewers (the cohort's facilitators), never its author
          (a change would skip the review);
        - a facilitator's case: its author;
        - the organization's licensed material: office staff and its author."""
        if case["status"] in (CaseStatus.draft.value, CaseStatus.returned.value):
            return case["author"] == self.user.person_id
        if case["status"] != CaseStatus.published.value:
            return False
        if self.user.is_admin:
            return True
        if case["provenance"] == Provenance.participant.value:
            return self.reviews(case)
        if case["provenance"] == Provenance.curriculum.value and self.user.is_office:
            return True
        return case["author"] == self.user.person_id


async def viewer(user: CurrentUser) -> Viewer:
    enrolled = frozenset(await enrolled_cohort_ids(user))
    discussed: frozenset[int] = frozenset()
    if enrolled and user.has_role(Role.facilitator.value):
        rows = await AgendaItem.select(AgendaItem.case).where(
            AgendaItem.session.cohort.is_in(sorted(enrolled))
        )
        discussed = frozenset(row["case"] for row in rows)
    return Viewer(user, frozenset(await facilitated_cohort_ids(user)), enrolled, discussed)


def _actions(v: Viewer, case: dict[str, Any]) -> tuple[str, ...]:
    """The transitions this viewer may make now."""
    status = case["status"]
    found = []
    author = case["author"] == v.user.person_id
    if author and status in (CaseStatus.draft.value, CaseStatus.returned.value):
        if case["provenance"] == Provenance.participant.value:
            found.append("submit")
        else:
            found.append("publish")
    if v.reviews(case):
        if status == CaseStatus.submitted.value:
            found.append("review")
        # The review is its reviewer's (an admin may step in).
        if status == CaseStatus.in_review.value and (
            case["reviewer"] == v.user.person_id or v.user.is_admin
        ):
            found += ["return", "publish"]
    if status == CaseStatus.published.value and (v.edits(case) or v.reviews(case)):
        found.append("retire")
    return tuple(dict.fromkeys(found))


def _view(v: Viewer, row: dict[str, Any]) -> CaseView:
    return CaseView(
        id=row["id"],
        title=row["title"],
        scenario=row["scenario"],
        questions=tuple(row["questions"] or ()),
        facilitator_notes=row["facilitator_notes"] if v.reads_notes_of(row) else None,
        primary_competency=row["primary_competency"],
        competencies=tuple(row["competencies"] or ()),
        audiences=tuple(row["audiences"] or ()),
        disciplines=tuple(row["disciplines"] or ()),
        provenance=row["provenance"],
        attribution=row["attribution"],
        licence=row["licence"],
        status=row["status"],
        scope=row["scope"],
        cohort_id=row["cohort"],
        cohort_name=row.get("cohort_name") or "",
        cohort_timezone=row.get("cohort_timezone") or "",
        author_id=row["author"] if v.knows_history(row) else None,
        author_name=(row.get("author_name") or "") if v.knows_history(row) else "",
        reviewer_id=row["reviewer"],
        share_consent=row["share_consent"],
        revision=row["revision"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        published_at=row["published_at"],
        can_edit=v.edits(row),
        can_review=v.reviews(row),
        actions=_actions(v, row),
    )


async def _row(case_id: int, *, lock: bool = False) -> dict[str, Any]:
    if lock:
        # The case's row alone (PostgreSQL locks no outer-joined rows): changes take turns.
        await lock_for_update(CaseStudy.select(CaseStudy.id).where(CaseStudy.id == case_id)).first()
    row = await CaseStudy.select(*_CASE_COLUMNS).where(CaseStudy.id == case_id).first()
    if row is None:
        raise NotFound(f"no case study with id {case_id}")
    return row


async def _visible_row(v: Viewer, case_id: int, *, lock: bool = False) -> dict[str, Any]:
    row = await _row(case_id, lock=lock)
    if not v.sees(row):
        raise NotFound(f"no case study with id {case_id}")
    return row


async def get_case(user: CurrentUser, case_id: int) -> CaseView:
    v = await viewer(user)
    return _view(v, await _visible_row(v, case_id))


async def views_of(user: CurrentUser, case_ids: list[int]) -> dict[int, CaseView]:
    """The cases among `case_ids` the user may read, in one query."""
    if not case_ids:
        return {}
    v = await viewer(user)
    rows = await CaseStudy.select(*_CASE_COLUMNS).where(CaseStudy.id.is_in(case_ids))
    return {row["id"]: _view(v, row) for row in rows if v.sees(row)}


# -- writing --------------------------------------------------------------------------------


async def _save_revision(case_id: int, number: int, data: CaseInput, author_id: int) -> None:
    await CaseRevision.insert(
        CaseRevision(
            case=case_id,
            number=number,
            title=data.title,
            scenario=data.scenario,
            questions=list(data.questions),
            facilitator_notes=data.facilitator_notes,
            author=author_id,
        )
    )
    # Search sees the text as it now is (in the same transaction).
    await search.index_case(case_id)


async def create_case(
    data: CaseInput,
    *,
    actor: CurrentUser,
    scope: str = Scope.library.value,
    cohort_id: int | None = None,
    provenance: str | None = None,
    publish: bool | None = None,
) -> int:
    """A new case. A participant's is a draft for their cohort; a facilitator's (or office
    staff's) is published at once unless `publish=False`: to the library, or to a cohort
    they facilitate. Returns its id."""
    v = await viewer(actor)
    participant_only = not (actor.is_office or actor.has_role(Role.facilitator.value))
    if participant_only:
        if not actor.has_role(Role.participant.value):
            raise Forbidden("only participants, facilitators and office staff write case studies")
        if cohort_id is None or cohort_id not in v.enrolled:
            raise InvalidInput.single("cohort_id", "choose the cohort you will submit it to")
        scope, provenance, publish = Scope.cohort.value, Provenance.participant.value, False
    else:
        provenance = provenance or (
            Provenance.facilitator.value
            if actor.has_role(Role.facilitator.value)
            else Provenance.curriculum.value
        )
        publish = True if publish is None else publish
    if provenance not in {p.value for p in Provenance}:
        raise InvalidInput.single("provenance", f"{provenance!r} is not a provenance")
    if scope not in {s.value for s in Scope}:
        raise InvalidInput.single("scope", f"{scope!r} is not curriculum, cohort or library")
    if (
        scope == Scope.cohort.value
        and not participant_only
        and (cohort_id is None or not (actor.is_office or cohort_id in v.facilitates))
    ):
        raise InvalidInput.single("cohort_id", "choose a cohort you facilitate")
    if scope == Scope.library.value:
        cohort_id = None
    data = check_case(data, await known_competency_codes())
    if participant_only:
        # Facilitator notes are for facilitators to write (office staff may load them with
        # licensed cases, though they never read them).
        data = replace(data, facilitator_notes="")
    now = _now()
    async with CaseStudy._meta.db.transaction():
        rows = await CaseStudy.insert(
            CaseStudy(
                **{column._meta.name: value for column, value in _columns(data).items()},
                provenance=provenance,
                status=CaseStatus.published.value if publish else CaseStatus.draft.value,
                scope=scope,
                cohort=cohort_id,
                author=actor.person_id,
                revision=1,
                published_at=now if publish else None,
            )
        ).returning(CaseStudy.id)
        case_id = int(rows[0]["id"])
        await _save_revision(case_id, 1, data, actor.person_id)
        await audit.record(
            actor.person_id,
            "case.create",
            "case_study",
            case_id,
            cohort_id=cohort_id,
            summary=f"{'Published' if publish else 'Drafted'} case study {data.title!r}",
        )
    return case_id


async def update_case(
    case_id: int,
    changes: Mapping[str, Any],
    *,
    actor: CurrentUser,
    share_consent: bool | None = None,
    base_revision: int | None = None,
) -> bool:
    """Change some fields of a case (the names of CaseInput's; the others stay as they are,
    read under the case's lock). Every save that changes something is a new revision.
    `base_revision` is the revision the editor started from: if someone saved since, the
    change is refused (409) rather than silently overwriting theirs. Returns whether anything
    changed."""
    unknown = set(changes) - set(CaseInput.__dataclass_fields__)
    if unknown:
        raise InvalidInput.single(sorted(unknown)[0], "is not a field of a case study")
    v = await viewer(actor)
    codes = await known_competency_codes()
    async with CaseStudy._meta.db.transaction():
        row = await _visible_row(v, case_id, lock=True)
        if not v.edits(row):
            raise Forbidden(_why_not_editable(row))
        if base_revision is not None and base_revision != row["revision"]:
            raise Conflict(
                f"someone saved revision {row['revision']} since you started from revision "
                f"{base_revision}: open the case again to see their changes"
            )
        before = as_input(row)
        fields = dict(changes)
        if not v.reads_notes_of(row):
            # Whoever may not read the facilitator notes does not change them either.
            fields.pop("facilitator_notes", None)
        data = check_case(replace(before, **fields), codes)
        values = _columns(data)
        changed = before != data
        consent = row["share_consent"] if share_consent is None else share_consent
        if consent != row["share_consent"]:
            if row["author"] != actor.person_id:
                raise Forbidden("only its author gives or withdraws consent to share")
            values[CaseStudy.share_consent] = consent
            values[CaseStudy.share_consent_at] = _now() if consent else None
            changed = True
        if not changed:
            return False
        number = row["revision"] + 1
        values[CaseStudy.revision] = number
        values[CaseStudy.updated_at] = _now()
        await CaseStudy.update(values).where(CaseStudy.id == case_id)
        await _save_revision(case_id, number, data, actor.person_id)
        await audit.record(
            actor.person_id,
            "case.update",
            "case_study",
            case_id,
            cohort_id=row["cohort"],
            summary=f"Saved case study {data.title!r} (revision {number})",
        )
    return True


def _why_not_editable(row: dict[str, Any]) -> str:
    if row["status"] in (CaseStatus.draft.value, CaseStatus.returned.value):
        return "only its author edits a draft"
    if row["status"] == CaseStatus.published.value:
        return "only its reviewers and admins edit a published case"
    return f"a {row['status'].replace('_', ' ')} case cannot be edited now"


def as_input(row: dict[str, Any]) -> CaseInput:
    return CaseInput(
        title=row["title"],
        scenario=row["scenario"],
        questions=tuple(row["questions"] or ()),
        facilitator_notes=row["facilitator_notes"],
        primary_competency=row["primary_competency"],
        competencies=tuple(row["competencies"] or ()),
        audiences=tuple(row["audiences"] or ()),
        disciplines=tuple(row["disciplines"] or ()),
        attribution=row["attribution"],
        licence=row["licence"],
    )


# -- revisions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionRow:
    number: int
    author_name: str
    created_at: dt.datetime
    title: str


async def revisions(user: CurrentUser, case_id: int) -> list[RevisionRow]:
    """Every revision, newest first; a participant's dilemma shows its history only to its
    author and reviewers (the earlier revisions may not be anonymized yet)."""
    v = await viewer(user)
    case = await _visible_row(v, case_id)
    if not v.knows_history(case):
        return []
    rows = (
        await CaseRevision.select(
            CaseRevision.number,
            CaseRevision.created_at,
            CaseRevision.title,
            CaseRevision.author.name.as_alias("author_name"),
        )
        .where(CaseRevision.case == case_id)
        .order_by(CaseRevision.number, ascending=False)
    )
    return [
        RevisionRow(r["number"], r["author_name"] or "", r["created_at"], r["title"]) for r in rows
    ]


@dataclass(frozen=True)
class FieldDiff:
    field: str
    lines: tuple[str, ...]  # unified diff lines ("+", "-", " ", "@@")


async def diff(user: CurrentUser, case_id: int, older: int, newer: int) -> list[FieldDiff]:
    """What changed between two revisions, field by field (facilitator notes only for those
    who may read them)."""
    v = await viewer(user)
    case = await _visible_row(v, case_id)
    if not v.knows_history(case):
        raise NotFound(f"case {case_id} shows no earlier revisions to you")
    rows = {
        r["number"]: r
        for r in await CaseRevision.select().where(
            (CaseRevision.case == case_id) & CaseRevision.number.is_in([older, newer])
        )
    }
    for number, name in ((older, "from"), (newer, "to")):
        if number not in rows:
            raise InvalidInput.single(name, f"case {case_id} has no revision {number}")
    fields = [f for f in TEXT_FIELDS if f != "facilitator_notes" or v.reads_notes_of(case)]
    found = []
    for name in fields:
        a, b = rows[older][name], rows[newer][name]
        a_lines = list(a) if isinstance(a, list) else str(a).splitlines()
        b_lines = list(b) if isinstance(b, list) else str(b).splitlines()
        lines = [
            line.rstrip("\n")
            for line in difflib.unified_diff(a_lines, b_lines, lineterm="", n=2)
            if not line.startswith(("---", "+++"))
        ]
        if lines:
            found.append(FieldDiff(name, tuple(lines)))
    return found


# -- the library ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    q: str = ""
    competency: str = ""
    audience: str = ""
    discipline: str = ""
    status: str = ""  # "" means published (retired ones only when asked for)
    provenance: str = ""
    mine: bool = False  # the viewer's own cases, any status
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class CasePage:
    cases: tuple[CaseView, ...]
    total: int
    filters: CaseFilter
    usage: dict[int, int] = field(default_factory=dict)  # case -> sessions that used it


def _library_values(v: Viewer, filters: CaseFilter) -> dict[str, Any]:
    """What a listing asks for, as the values of `_library_where`. Who sees a case of a given
    status (`Viewer.sees`): whoever sees every case of that status, or else its author
    (`person`), everyone for the library's (`library`), and the members of `cohorts`."""
    me = v.user.person_id
    values: dict[str, Any] = {}
    if filters.mine:
        values["person"] = me  # one's own cases are all visible, whatever their status
    else:
        status = filters.status or CaseStatus.published.value
        values["status"] = status
        if status in PUBLISHED:
            if not v.user.is_office:
                values["person"] = me
                values["library"] = Scope.library.value
                values["cohorts"] = sorted(v.facilitates | v.enrolled)
        elif status in IN_REVIEW:
            if not v.user.is_admin:
                values["person"] = me
                values["cohorts"] = sorted(v.facilitates)
        else:
            values["person"] = me  # a draft: its author alone
    values["provenance"] = filters.provenance
    values["competency"] = filters.competency
    values["audience"] = filters.audience
    values["discipline"] = filters.discipline.lower()  # tags are kept lower-case
    # Nothing asked for is no condition (and `Prepared` takes no empty value).
    return {name: value for name, value in values.items() if value}


def _library_where(values: Mapping[str, Any]) -> Any:
    """The WHERE clause of `_library_values`, for the values or their `Prepared` placeholders
    (the names present make the clause)."""
    seen: list[Any] = []
    if "person" in values:
        seen.append(CaseStudy.author == values["person"])
    if "library" in values:
        seen.append(CaseStudy.scope == values["library"])
    if "cohorts" in values:
        seen.append(CaseStudy.cohort.is_in(values["cohorts"]))
    clauses: list[Any] = [functools.reduce(operator.or_, seen)] if seen else []
    if "status" in values:
        clauses.append(CaseStudy.status == values["status"])
    if "provenance" in values:
        clauses.append(CaseStudy.provenance == values["provenance"])
    if "competency" in values:
        competency = values["competency"]
        clauses.append(
            (CaseStudy.primary_competency == competency)
            | _holds(CaseStudy.competencies, competency)
        )
    if "audience" in values:
        clauses.append(_holds(CaseStudy.audiences, values["audience"]))
    if "discipline" in values:
        clauses.append(_holds(CaseStudy.disciplines, values["discipline"]))
    return functools.reduce(operator.and_, clauses)


def _holds(column: Any, value: Any) -> Any:
    """The array `column` has an element equal to `value` (arrays are JSON text on SQLite)."""
    if CaseStudy._meta.db.engine_type == "postgres":
        return column.any(value)
    return WhereRaw(
        f'EXISTS (SELECT 1 FROM json_each("case_study"."{column._meta.db_column_name}") '  # noqa: S608
        "WHERE value = {})",
        value,
    )


def _page_of(ids: str, order: str) -> str:
    """A page's full rows in `order`, each with how many sessions used it: `ids` picks the
    page's ids, their sort keys and `total` (how many cases match in all), reading no more of
    the cases it passes over than that."""
    columns = ", ".join(f'case_study."{c._meta.db_column_name}"' for c in CaseStudy._meta.columns)
    return (
        f"SELECT {columns}, cohort.name AS cohort_name, cohort.timezone AS cohort_timezone, "  # noqa: S608
        "person.name AS author_name, page.total AS total, "
        '(SELECT count(*) FROM agenda_item WHERE agenda_item."case" = case_study.id) AS uses '
        f"FROM ({ids}) AS page JOIN case_study ON case_study.id = page.id "
        "LEFT JOIN cohort ON cohort.id = case_study.cohort "
        f"LEFT JOIN person ON person.id = case_study.author ORDER BY {order}"
    )


# Newest first: when published, or last changed for a case never published (an index, which
# the page is read along; the count is of the same WHERE clause).
_NEWEST_PAGE = _page_of(
    "SELECT id, COALESCE(published_at, updated_at) AS newest, "
    "(SELECT count(*) FROM case_study WHERE {}) AS total FROM case_study "
    "WHERE {} ORDER BY newest DESC, id DESC LIMIT {} OFFSET {}",
    "page.newest DESC, page.id DESC",
)
# Most relevant first (see case_studies.search): every match is ranked, so it is counted too.
# CROSS JOIN keeps SQLite reading the matches first, each case then by its id, rather than
# asking the full-text index about every case of the status (PostgreSQL plans as it likes).
_RELEVANT_PAGE = _page_of(
    "SELECT case_study.id AS id, found.relevance AS relevance, count(*) OVER () AS total "
    "FROM ({}) AS found CROSS JOIN case_study WHERE case_study.id = found.id AND {} "
    "ORDER BY relevance DESC, case_study.id LIMIT {} OFFSET {}",
    "page.relevance DESC, page.id",
)


def _page_query(values: Mapping[str, Any]) -> Any:
    where = _library_where(values).querystring
    limit, offset = values["limit"], values["offset"]
    if "text" in values:
        ranked = search.ranked_cases(values["text"])
        return CaseStudy.raw(_RELEVANT_PAGE, ranked, where, limit, offset)
    return CaseStudy.raw(_NEWEST_PAGE, where, where, limit, offset)


def _count_query(values: Mapping[str, Any]) -> Any:
    where = _library_where(values)
    if "text" in values:
        where &= search.matches(values["text"])
    return CaseStudy.count().where(where)


# Every library page runs these: their SQL is built once per shape (see `database.Prepared`).
_LIBRARY_PAGE = Prepared(lambda **values: _page_query(values))
_LIBRARY_COUNT = Prepared(lambda **values: _count_query(values))


async def list_cases(user: CurrentUser, filters: CaseFilter) -> CasePage:
    """The cases the viewer may see that match, relevant first when searching by words, else
    newest first; paginated. One statement: the database filters what the viewer may see,
    ranks, sorts and cuts the page, and counts the matches, so that the rows read are the
    page's, whatever the size of the library."""
    v = await viewer(user)
    values = _library_values(v, filters)
    if filters.q.strip():
        values["text"] = search.search_text(filters.q)
        if not values["text"]:
            return CasePage((), 0, filters)
    limit = min(max(filters.limit, 1), 100)
    offset = max(filters.offset, 0)
    rows = await _LIBRARY_PAGE(**values, limit=limit, offset=offset)
    if rows:
        total = rows[0]["total"]
    elif offset:
        total = await _LIBRARY_COUNT(**values)  # past the last page: no row to tell it
    else:
        total = 0
    usage = {row["id"]: row["uses"] for row in rows if row["uses"]}
    return CasePage(tuple(_view(v, row) for row in rows), total, filters, usage)


@dataclass(frozen=True)
class CaseUsage:
    """Where a case was used: the sessions the viewer may know of, and how many others."""

    sessions: tuple[Usage, ...]
    elsewhere: int


@dataclass(frozen=True)
class Usage:
    cohort_id: int
    cohort_name: str
    session_id: int
    position: int
    title: str
    starts_at: dt.datetime
    timezone: str


async def usage(user: CurrentUser, case_id: int) -> CaseUsage:
    """Where the case was (or will be) discussed: the sessions of the viewer's own cohorts (all
    of them for office staff), and a count of the others."""
    v = await viewer(user)
    await _visible_row(v, case_id)
    cohort: Any = AgendaItem.session.cohort  # a foreign key of a foreign key (typed loosely)
    rows = (
        await AgendaItem.select(
            AgendaItem.session,
            cohort.as_alias("cohort"),
            cohort.name.as_alias("cohort_name"),
            cohort.timezone.as_alias("timezone"),
            AgendaItem.session.position.as_alias("position"),
            AgendaItem.session.title.as_alias("title"),
            AgendaItem.session.starts_at.as_alias("starts_at"),
        )
        .where(AgendaItem.case == case_id)
        .order_by(AgendaItem.session.starts_at)
    )
    found = [
        Usage(
            r["cohort"],
            r["cohort_name"],
            r["session"],
            r["position"],
            r["title"],
            r["starts_at"],
            r["timezone"],
        )
        for r in rows
        if user.is_office or r["cohort"] in v.facilitates or r["cohort"] in v.enrolled
    ]
    return CaseUsage(tuple(found), len(rows) - len(found))


async def writable_cohorts(user: CurrentUser) -> list[dict[str, Any]]:
    """The cohorts the user may write a case for: where they are enrolled (participants) or
    that they facilitate."""
    v = await viewer(user)
    ids = sorted(v.enrolled | v.facilitates)
    if not ids:
        return []
    return await Cohort.select(Cohort.id, Cohort.name).where(Cohort.id.is_in(ids))


async def session_cohort(session_id: int) -> int:
    row = await Session.select(Session.cohort).where(Session.id == session_id).first()
    if row is None:
        raise NotFound(f"no session with id {session_id}")
    return int(row["cohort"])


# -- the review -----------------------------------------------------------------------------


async def _transition(
    case_id: int,
    actor: CurrentUser,
    action: str,
    *,
    values: dict[Any, Any] | Callable[[dict[str, Any]], dict[Any, Any]],
    comment: str = "",
    summary: str,
) -> tuple[dict[str, Any], int]:
    """Make `action` (one of the viewer's actions now) under the case's row lock, with an
    entry in its thread and the audit log. `values` may be a function of the row (it may refuse
    with InvalidInput, once the viewer is known to be allowed). Returns the row as it was and
    the id of the thread entry."""
    v = await viewer(actor)
    row = await _visible_row(v, case_id, lock=True)
    allowed = _actions(v, row)
    if action not in allowed:
        reviewers_step = action in ("review", "return") or (
            action == "publish" and row["provenance"] == Provenance.participant.value
        )
        if reviewers_step and not v.reviews(row):
            raise Forbidden("only the facilitators of the author's cohort (and admins) review")
        if action == "submit" and row["author"] != actor.person_id:
            raise Forbidden("only its author submits a case study")
        if action == "retire" and not (v.edits(row) or v.reviews(row)):
            raise Forbidden("only those who may edit or review it retire a case study")
        if action in ("return", "publish") and row["status"] == CaseStatus.in_review.value:
            raise Forbidden("the review is its reviewer's: take it over only as an admin")
        status = row["status"].replace("_", " ")
        raise Conflict(f"a {status} case cannot be {_PAST[action]} now")
    changes = values(row) if callable(values) else values
    await CaseStudy.update({**changes, CaseStudy.updated_at: _now()}).where(CaseStudy.id == case_id)
    entry = await CaseComment.insert(
        CaseComment(case=case_id, author=actor.person_id, body=comment, event=action)
    ).returning(CaseComment.id)
    await audit.record(
        actor.person_id,
        f"case.{action}",
        "case_study",
        case_id,
        cohort_id=row["cohort"],
        summary=f"{summary} {row['title']!r}",
    )
    return row, int(entry[0]["id"])


_PAST = {
    "submit": "submitted",
    "review": "taken for review",
    "return": "returned",
    "publish": "published",
    "retire": "retired",
}


async def submit(
    case_id: int, *, actor: CurrentUser, checklist: tuple[bool, ...], share_consent: bool = False
) -> None:
    """The author sends their dilemma to their cohort's facilitators, having confirmed each
    point of the anonymization checklist."""
    if len(checklist) != len(ANONYMIZATION_CHECKLIST) or not all(checklist):
        raise InvalidInput.single(
            "checklist", "tick every point of the checklist: the case must not identify anyone"
        )
    async with CaseStudy._meta.db.transaction():
        row, event_id = await _transition(
            case_id,
            actor,
            "submit",
            values={
                CaseStudy.status: CaseStatus.submitted.value,
                CaseStudy.share_consent: share_consent,
                CaseStudy.share_consent_at: _now() if share_consent else None,
            },
            summary="Submitted",
        )
        await notifications.tell_facilitators(row, actor, event_id)


async def take_review(case_id: int, *, actor: CurrentUser) -> None:
    async with CaseStudy._meta.db.transaction():
        await _transition(
            case_id,
            actor,
            "review",
            values={
                CaseStudy.status: CaseStatus.in_review.value,
                CaseStudy.reviewer: actor.person_id,
            },
            summary="Took the review of",
        )


async def return_case(case_id: int, comment: str, *, actor: CurrentUser) -> None:
    """Back to its author for changes, saying what to change."""
    text = (comment or "").strip()
    if not text:
        raise InvalidInput.single("comment", "say what the author should change")
    text = optional_text(text, "comment", 5000)
    async with CaseStudy._meta.db.transaction():
        row, event_id = await _transition(
            case_id,
            actor,
            "return",
            values={CaseStudy.status: CaseStatus.returned.value},
            comment=text,
            summary="Returned",
        )
        await notifications.tell_author(row, "returned", text, event_id)


async def publish(case_id: int, *, actor: CurrentUser, scope: str | None = None) -> None:
    """Publish a reviewed case to its cohort, or to the library (which needs its author's
    consent when a participant wrote it); a facilitator publishes their own draft."""

    def published(row: dict[str, Any]) -> dict[Any, Any]:
        chosen = scope or (Scope.cohort.value if row["cohort"] is not None else row["scope"])
        if chosen not in {s.value for s in Scope}:
            raise InvalidInput.single("scope", f"{chosen!r}: publish to cohort or library")
        if chosen == Scope.cohort.value and row["cohort"] is None:
            raise InvalidInput.single(
                "scope", "the case belongs to no cohort: publish it to the library"
            )
        if (
            chosen == Scope.library.value
            and row["provenance"] == Provenance.participant.value
            and not row["share_consent"]
        ):
            raise InvalidInput.single(
                "scope", "its author has not agreed to share it beyond the cohort"
            )
        return {
            CaseStudy.status: CaseStatus.published.value,
            CaseStudy.scope: chosen,
            CaseStudy.published_at: _now(),
        }

    async with CaseStudy._meta.db.transaction():
        row, event_id = await _transition(
            case_id, actor, "publish", values=published, summary="Published"
        )
        if row["author"] != actor.person_id:
            scope_now = await CaseStudy.select(CaseStudy.scope).where(CaseStudy.id == case_id)
            await notifications.tell_author(row, "published", scope_now[0]["scope"], event_id)


async def retire(case_id: int, *, actor: CurrentUser) -> None:
    """Out of the library's search (unless asked for); still readable where it was used."""
    async with CaseStudy._meta.db.transaction():
        await _transition(
            case_id,
            actor,
            "retire",
            values={CaseStudy.status: CaseStatus.retired.value, CaseStudy.retired_at: _now()},
            summary="Retired",
        )


@dataclass(frozen=True)
class CommentRow:
    id: int
    author_name: str
    body: str
    event: str
    created_at: dt.datetime


def _thread_reader(v: Viewer, row: dict[str, Any]) -> bool:
    """The review thread is the author's and the reviewers' business."""
    return row["author"] == v.user.person_id or v.reviews(row)


async def comments(user: CurrentUser, case_id: int) -> list[CommentRow]:
    v = await viewer(user)
    row = await _visible_row(v, case_id)
    if not _thread_reader(v, row):
        return []
    rows = (
        await CaseComment.select(
            CaseComment.id,
            CaseComment.body,
            CaseComment.event,
            CaseComment.created_at,
            CaseComment.author.name.as_alias("author_name"),
        )
        .where(CaseComment.case == case_id)
        .order_by(CaseComment.created_at)
        .order_by(CaseComment.id)
    )
    return [
        CommentRow(r["id"], r["author_name"] or "", r["body"], r["event"], r["created_at"])
        for r in rows
    ]


async def add_comment(case_id: int, body: str, *, actor: CurrentUser) -> int:
    text = optional_text((body or "").strip(), "body", 5000)
    if not text:
        raise InvalidInput.single("body", "is required")
    v = await viewer(actor)
    async with CaseStudy._meta.db.transaction():
        row = await _visible_row(v, case_id)
        if not _thread_reader(v, row):
            raise Forbidden("only the author and the cohort's facilitators discuss the review")
        rows = await CaseComment.insert(
            CaseComment(case=case_id, author=actor.person_id, body=text)
        ).returning(CaseComment.id)
        await audit.record(
            actor.person_id,
            "case.comment",
            "case_study",
            case_id,
            cohort_id=row["cohort"],
            summary=f"Commented on {row['title']!r}",
        )
    return int(rows[0]["id"])


async def review_queue(user: CurrentUser) -> list[CaseView]:
    """Cases waiting on their reviewers (submitted, in review) and those back with their
    authors (returned), of the cohorts the user facilitates (all of them for admins), oldest
    first."""
    v = await viewer(user)
    if not (user.is_admin or v.facilitates):
        return []
    rows = (
        await CaseStudy.select(*_CASE_COLUMNS)
        .where(CaseStudy.status.is_in(list(IN_REVIEW)))
        .order_by(CaseStudy.updated_at)
    )
    return [_view(v, row) for row in rows if v.reviews(row)]
