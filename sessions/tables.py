"""Cohorts and their meetings: competencies, curriculum templates, cohorts, sessions, enrollments."""

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


class Modality(StrEnum):
    in_person = "in_person"
    virtual = "virtual"
    hybrid = "hybrid"


class CohortStatus(StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    in_progress = "in_progress"
    completed = "completed"
    archived = "archived"
    cancelled = "cancelled"


class SessionStatus(StrEnum):
    scheduled = "scheduled"
    cancelled = "cancelled"


class AttendanceStatus(StrEnum):
    present = "present"
    late = "late"
    left_early = "left_early"
    excused = "excused"
    absent = "absent"


class EnrollmentStatus(StrEnum):
    enrolled = "enrolled"
    waitlisted = "waitlisted"
    withdrawn = "withdrawn"


class Competency(Table):
    """A curriculum theme with a stable code; aliases keep older names findable."""

    id: Serial

    code = Varchar(length=40, unique=True)
    name = Varchar(length=200)
    aliases = Array(base_column=Varchar(length=200))
    core = Boolean(default=False)
    position = Integer(default=0)


class CurriculumTemplate(Table):
    """An ordered list of session templates. Built-in ones are read-only; copies are editable."""

    id: Serial

    slug = Varchar(length=80, unique=True)
    name = Varchar(length=200)
    description = Text(default="")
    builtin = Boolean(default=False)
    copied_from: ForeignKey["CurriculumTemplate"] = ForeignKey(
        references="self", null=True, on_delete=OnDelete.set_null
    )
    owner = ForeignKey(references=Person, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class SessionTemplate(Table):
    """One meeting of a curriculum. `alternate_for` names the position it may be swapped in for."""

    id: Serial

    curriculum = ForeignKey(references=CurriculumTemplate, null=False, on_delete=OnDelete.cascade)
    position = Integer()
    title = Varchar(length=200)
    competencies = Array(base_column=Varchar(length=40))
    minutes = Integer(default=60)
    objectives = Text(default="")
    assignment_prompt = Text(default="")
    alternate_for = Integer(null=True, default=None)


class Cohort(Table):
    """One learning community for one term."""

    id: Serial

    name = Varchar(length=200)
    term = Varchar(length=60, default="")
    timezone = Varchar(length=64)
    modality = Varchar(length=20, choices=Modality, default=Modality.in_person.value)
    location = Varchar(length=300, default="")
    video_url = Varchar(length=500, default="")
    capacity = Integer(null=True, default=None)
    status = Varchar(length=20, choices=CohortStatus, default=CohortStatus.draft.value)
    curriculum = ForeignKey(references=CurriculumTemplate, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    # Set when the schedule is published; from then on calendar-visible changes bump SEQUENCE.
    published_at = Timestamptz(null=True, default=None)
    # When someone withdraws, promote the first waitlisted person without asking staff.
    auto_promote = Boolean(default=False)
    # Completion rule: at least this share of the sessions (rounded up) ...
    completion_percent = Integer(default=75)
    # ... including the first and the last session ...
    completion_requires_first_last = Boolean(default=True)
    # ... where arriving late or leaving early may or may not count as attending.
    late_counts = Boolean(default=True)
    left_early_counts = Boolean(default=True)
    # Mail: staff review messages before they go ("review first"), and who organizes the
    # calendar events (the lead facilitator unless an office address is given).
    review_mail = Boolean(default=False)
    organizer_name = Varchar(length=200, default="")
    organizer_email = Varchar(length=320, default="")
    # Bumped to revoke the cohort's calendar feed URL (staff); see sessions/feeds.py.
    feed_generation = Integer(default=0)
    # Before each session: the assignment prompt goes this long before it, and a reminder at
    # each of these offsets (minutes). A session may override both.
    prompt_lead_minutes = Integer(default=7 * 24 * 60)
    reminder_minutes = Array(base_column=Integer(), default=[48 * 60, 2 * 60])


class CohortFacilitator(Table):
    """A facilitator of a cohort; exactly one per cohort is the lead."""

    id: Serial

    cohort = ForeignKey(references=Cohort, null=False, on_delete=OnDelete.cascade)
    person = ForeignKey(references=Person, null=False, on_delete=OnDelete.restrict)
    lead = Boolean(default=False)


class Session(Table):
    """One meeting of a cohort. Times are UTC; the calendar UID is fixed at creation."""

    id: Serial

    cohort = ForeignKey(references=Cohort, null=False, on_delete=OnDelete.cascade)
    position = Integer()
    title = Varchar(length=200)
    competencies = Array(base_column=Varchar(length=40))
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    location = Varchar(length=300, default="")
    video_url = Varchar(length=500, default="")
    status = Varchar(length=20, choices=SessionStatus, default=SessionStatus.scheduled.value)
    ical_uid = Varchar(length=200, unique=True)
    ical_sequence = Integer(default=0)
    objectives = Text(default="")
    assignment_prompt = Text(default="")
    # When the session last changed: the DTSTAMP of its feed entry and the feeds' Last-Modified.
    updated_at = Timestamptz(default=TimestamptzNow())
    # A make-up or extra session added to the schedule: it is not part of the cohort's plan
    # (not cloned, not counted in the sessions one must attend; attending it counts).
    extra = Boolean(default=False)
    # The assignment prompt's optional due time, and this session's own prompt lead and
    # reminder offsets (minutes; None: the cohort's).
    prompt_due_at = Timestamptz(null=True, default=None)
    prompt_lead_minutes = Integer(null=True, default=None)
    reminder_minutes = Array(base_column=Integer(), null=True, default=None)
    # Each change of the prompt's text or due time is a new revision; the outbox keys of the
    # prompts say which revision each participant received.
    prompt_revision = Integer(default=0)


class Enrollment(Table):
    """A person's place in a cohort; withdrawing keeps the row (and the history)."""

    id: Serial

    cohort = ForeignKey(references=Cohort, null=False, on_delete=OnDelete.cascade)
    person = ForeignKey(references=Person, null=False, on_delete=OnDelete.restrict)
    status = Varchar(length=20, choices=EnrollmentStatus, default=EnrollmentStatus.enrolled.value)
    enrolled_at = Timestamptz(default=TimestamptzNow())
    withdrawn_at = Timestamptz(null=True, default=None)


class Attendance(Table):
    """Whether one participant attended one session; unique per (session, enrollment)."""

    id: Serial
    session = ForeignKey(references=Session, null=False, on_delete=OnDelete.cascade)
    enrollment = ForeignKey(references=Enrollment, null=False, on_delete=OnDelete.cascade)
    status = Varchar(length=20, choices=AttendanceStatus)
    note = Varchar(length=500, default="")
    recorded_by = ForeignKey(references=Person, null=True, on_delete=OnDelete.set_null)
    recorded_at = Timestamptz(default=TimestamptzNow())
