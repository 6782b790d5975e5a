"""The JSON API's shapes for case studies and session agendas (msgspec, by hand)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

Title = Annotated[str, Meta(min_length=1, max_length=200)]
Markdown = Annotated[str, Meta(max_length=20_000)]
Question = Annotated[str, Meta(max_length=1000)]
Code = Annotated[str, Meta(max_length=40)]
AudienceName = Literal["undergraduate", "graduate", "postdoc", "junior_faculty", "peer"]
Tag = Annotated[str, Meta(max_length=60)]
ScopeName = Literal["cohort", "library"]
ProvenanceName = Literal["curriculum", "facilitator", "participant"]


class CaseIn(Struct, forbid_unknown_fields=True):
    """A new case. A participant's is a draft for `cohort_id` (a cohort they are in); a
    facilitator's or office staff's is published at once (`publish: false` keeps a draft), to
    the library or to `cohort_id` with scope "cohort"."""

    title: Title
    scenario: Markdown
    questions: Annotated[list[Question], Meta(max_length=20)] = msgspec.field(default_factory=list)
    facilitator_notes: Markdown = ""
    primary_competency: Code = ""
    competencies: Annotated[list[Code], Meta(max_length=10)] = msgspec.field(default_factory=list)
    audiences: Annotated[list[AudienceName], Meta(max_length=5)] = msgspec.field(
        default_factory=list
    )
    disciplines: Annotated[list[Tag], Meta(max_length=10)] = msgspec.field(default_factory=list)
    attribution: Annotated[str, Meta(max_length=300)] = ""
    licence: Annotated[str, Meta(max_length=200)] = ""
    scope: ScopeName = "library"
    cohort_id: Annotated[int, Meta(ge=1)] | None = None
    publish: bool | None = None


class CasePatch(Struct, forbid_unknown_fields=True):
    """Only the fields present change; each save that changes the text is a new revision."""

    title: Title | UnsetType = UNSET
    scenario: Markdown | UnsetType = UNSET
    questions: Annotated[list[Question], Meta(max_length=20)] | UnsetType = UNSET
    facilitator_notes: Markdown | UnsetType = UNSET
    primary_competency: Code | UnsetType = UNSET
    competencies: Annotated[list[Code], Meta(max_length=10)] | UnsetType = UNSET
    audiences: Annotated[list[AudienceName], Meta(max_length=5)] | UnsetType = UNSET
    disciplines: Annotated[list[Tag], Meta(max_length=10)] | UnsetType = UNSET
    attribution: Annotated[str, Meta(max_length=300)] | UnsetType = UNSET
    licence: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    share_consent: bool | UnsetType = UNSET
    base_revision: Annotated[int, Meta(ge=1)] | UnsetType = UNSET


class CaseOut(Struct):
    id: int
    title: str
    scenario: str
    questions: list[str]
    # null for anyone who is not a facilitator: participants and office staff never see them.
    facilitator_notes: str | None
    primary_competency: str
    competencies: list[str]
    audiences: list[str]
    disciplines: list[str]
    provenance: str
    attribution: str
    licence: str
    status: str
    scope: str
    cohort_id: int | None
    author_id: int | None
    share_consent: bool
    revision: int
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None
    actions: list[str]


class CasePageOut(Struct):
    cases: list[CaseOut]
    total: int
    limit: int
    offset: int


class SubmitIn(Struct, forbid_unknown_fields=True):
    """`checklist`: one true per point of the anonymization checklist, in order (see the
    case page): names removed; lab, department and institution not named; identifying details
    changed."""

    checklist: Annotated[list[bool], Meta(min_length=3, max_length=3)]
    share_consent: bool = False


class ReturnIn(Struct, forbid_unknown_fields=True):
    comment: Annotated[str, Meta(min_length=1, max_length=5000)]


class PublishIn(Struct, forbid_unknown_fields=True):
    scope: ScopeName | None = None


class CommentIn(Struct, forbid_unknown_fields=True):
    body: Annotated[str, Meta(min_length=1, max_length=5000)]


class CommentOut(Struct):
    id: int
    author_name: str
    body: str
    event: str
    created_at: dt.datetime


class RevisionOut(Struct):
    number: int
    author_name: str
    created_at: dt.datetime
    title: str


class FieldDiffOut(Struct):
    field: str
    lines: list[str]


class AgendaIn(Struct, forbid_unknown_fields=True):
    case_ids: Annotated[list[Annotated[int, Meta(ge=1)]], Meta(max_length=12)]


class AgendaItemOut(Struct):
    position: int
    case: CaseOut


NoteText = Annotated[str, Meta(max_length=20_000)]
NoteRoleName = Literal["facilitator", "scribe", "participant"]
Id = Annotated[int, Meta(ge=1)]


# -- discussion notes ----------------------------------------------------------------------


class NoteIn(Struct, forbid_unknown_fields=True):
    """A new note. case_id: a case on the session's agenda; null: the session as a whole.
    private: the facilitators' own note, never shown to participants or the scribe."""

    case_id: Id | None = None
    private: bool = False
    key_issues: NoteText = ""
    strategies: NoteText = ""
    open_questions: NoteText = ""
    resources: NoteText = ""


class NotePatch(Struct, forbid_unknown_fields=True):
    """Only the parts present change. base_revision: the revision you started from; if someone
    saved the note since, the answer is 409 instead of overwriting their change."""

    key_issues: NoteText | UnsetType = UNSET
    strategies: NoteText | UnsetType = UNSET
    open_questions: NoteText | UnsetType = UNSET
    resources: NoteText | UnsetType = UNSET
    base_revision: Id | UnsetType = UNSET


class ScribeIn(Struct, forbid_unknown_fields=True):
    person_id: Id


class NoteOut(Struct):
    id: int
    session_id: int
    case_id: int | None
    topic: str  # the case's title, or "The session as a whole"
    private: bool
    status: Literal["draft", "final"]
    revision: int
    key_issues: str
    strategies: str
    open_questions: str
    resources: str
    created_at: dt.datetime
    updated_at: dt.datetime
    finalized_at: dt.datetime | None
    sent_at: dt.datetime | None
    # Who saved it last: shown to the cohort's facilitators only (notes are not attributed).
    updated_by: str | None
    can_edit: bool
    can_finalize: bool


class NoteChangeOut(Struct):
    note: NoteOut
    changed: bool  # false: the text was the same, no revision was added


class NoteRevisionOut(Struct):
    number: int
    key_issues: str
    strategies: str
    open_questions: str
    resources: str
    author: str
    created_at: dt.datetime


class ScribeOut(Struct):
    person_id: int
    name: str
    named_at: dt.datetime


class AgendaCaseOut(Struct):
    case_id: int
    title: str


class SendStateOut(Struct):
    final_notes: int
    unsent: int
    last_sent_at: dt.datetime | None


class SessionNotesOut(Struct):
    session_id: int
    cohort_id: int
    viewer: NoteRoleName
    agenda: list[AgendaCaseOut]
    notes: list[NoteOut]  # the group's: final ones, and drafts for facilitators and the scribe
    private_notes: list[NoteOut]  # facilitators only; empty for anyone else
    scribe: ScribeOut | None  # to facilitators and to the scribe
    send: SendStateOut | None  # facilitators only


class SendOut(Struct):
    queued: int  # messages added now; 0 when these notes went out already
    notes: int
    recipients: int
