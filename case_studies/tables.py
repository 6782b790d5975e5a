"""The case-study library: mentoring dilemmas with their revisions and review comments, the
agendas of sessions (which cases a session discusses, in order), and discussion notes."""

from enum import StrEnum

from piccolo.columns import (
    Array,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from facilitators.tables import Person
from sessions.tables import Cohort, Session


class CaseStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    in_review = "in_review"
    returned = "returned"  # to its author, for changes
    published = "published"
    retired = "retired"  # readable where it was used; out of search by default


class Provenance(StrEnum):
    curriculum = "curriculum"  # an organization's licensed (or our demo) material
    facilitator = "facilitator"
    participant = "participant"


class Scope(StrEnum):
    cohort = "cohort"  # the cohort it was written in (or for)
    library = "library"  # the organization's library


class Audience(StrEnum):
    """The career stage of the mentee in the dilemma."""

    undergraduate = "undergraduate"
    graduate = "graduate"
    postdoc = "postdoc"
    junior_faculty = "junior_faculty"
    peer = "peer"


class NoteStatus(StrEnum):
    draft = "draft"
    final = "final"


class CaseStudy(Table):
    """One mentoring dilemma. Its text is kept in revisions too (CaseRevision), one per save."""

    id: Serial

    title = Varchar(length=200)
    scenario = Text(default="")  # Markdown
    questions = Array(base_column=Text())  # the discussion questions, in order
    facilitator_notes = Text(default="")  # Markdown; facilitators only
    primary_competency = Varchar(length=40, default="")
    competencies = Array(base_column=Varchar(length=40))  # secondary ones
    audiences = Array(base_column=Varchar(length=30))
    disciplines = Array(base_column=Varchar(length=60))
    provenance = Varchar(length=20, choices=Provenance, default=Provenance.facilitator.value)
    attribution = Varchar(length=300, default="")
    licence = Varchar(length=200, default="")
    status = Varchar(length=20, choices=CaseStatus, default=CaseStatus.draft.value, index=True)
    scope = Varchar(length=20, choices=Scope, default=Scope.cohort.value)
    # The cohort a participant wrote it in (submitted to, published to); None for the library's.
    cohort = ForeignKey(references=Cohort, null=True, on_delete=OnDelete.set_null)
    author = ForeignKey(references=Person, null=True, on_delete=OnDelete.set_null)
    # The facilitator who took the review.
    reviewer = ForeignKey(references=Person, null=True, on_delete=OnDelete.set_null)
    # The author's recorded consent to publish it in the organization's library.
    share_consent = Boolean(default=False)
    share_consent_at = Timestamptz(null=True, default=None)
    revision = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    published_at = Timestamptz(null=True, default=None)
    retired_at = Timestamptz(null=True, default=None)


class CaseRevision(Table):
    """The case's text as one save left it: revision `number` of `case`."""

    id: Serial

    case = ForeignKey(references=CaseStudy, null=False, on_delete=OnDelete.cascade)
    number = Integer()
    title = Varchar(length=200)
    scenario = Text(default="")
    questions = Array(base_column=Text())
    facilitator_notes = Text(default="")
    author = ForeignKey(references=Person, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class CaseComment(Table):
    """The review thread of a case: comments, and what happened (returned, published...)."""

    id: Serial

    case = ForeignKey(references=CaseStudy, null=False, on_delete=OnDelete.cascade)
    author = ForeignKey(references=Person, null=True, on_delete=OnDelete.set_null)
    body = Text()
    event = Varchar(length=20, default="")  # "" for a comment, else the transition
    created_at = Timestamptz(default=TimestamptzNow())


class AgendaItem(Table):
    """A case a session discusses, at its place in the session's agenda."""

    id: Serial

    session = ForeignKey(references=Session, null=False, on_delete=OnDelete.cascade)
    case = ForeignKey(references=CaseStudy, null=False, on_delete=OnDelete.restrict)
    position = Integer()


class DiscussionNote(Table):
    """What a group concluded about one case in one session (or about the session as a whole
    when `case` is None). Never attributed to individuals. `private` notes are the
    facilitators' own and are kept apart from the group's."""

    id: Serial

    session = ForeignKey(references=Session, null=False, on_delete=OnDelete.cascade)
    case = ForeignKey(references=CaseStudy, null=True, on_delete=OnDelete.set_null)
    private = Boolean(default=False)
    key_issues = Text(default="")
    strategies = Text(default="")
    open_questions = Text(default="")
    resources = Text(default="")
    status = Varchar(length=20, choices=NoteStatus, default=NoteStatus.draft.value)
    revision = Integer(default=1)
    updated_by = ForeignKey(references=Person, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    finalized_at = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)


class NoteRevision(Table):
    id: Serial

    note = ForeignKey(references=DiscussionNote, null=False, on_delete=OnDelete.cascade)
    number = Integer()
    key_issues = Text(default="")
    strategies = Text(default="")
    open_questions = Text(default="")
    resources = Text(default="")
    author = ForeignKey(references=Person, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class Scribe(Table):
    """The participant a facilitator named to write a session's notes (one per session)."""

    id: Serial

    session = ForeignKey(references=Session, null=False, unique=True, on_delete=OnDelete.cascade)
    person = ForeignKey(references=Person, null=False, on_delete=OnDelete.cascade)
    named_by = ForeignKey(references=Person, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
