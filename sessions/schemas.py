"""The JSON API's shapes for cohorts, sessions, participants and curricula (msgspec, by hand)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

Name = Annotated[str, Meta(min_length=1, max_length=200)]
ShortText = Annotated[str, Meta(max_length=300)]
Url = Annotated[str, Meta(max_length=500)]
Capacity = Annotated[int, Meta(ge=1, le=500)]
Id = Annotated[int, Meta(ge=1)]
ModalityName = Literal["in_person", "virtual", "hybrid"]
LocalTime = Annotated[
    str,
    Meta(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["15:00"], description="HH:MM, local"
    ),
]
Minutes = Annotated[int, Meta(ge=15, le=600)]
WeekdayName = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
CohortStatusName = Literal[
    "draft", "scheduled", "in_progress", "completed", "archived", "cancelled"
]
AttendanceName = Literal["present", "late", "left_early", "excused", "absent"]


# Minutes before a session: a prompt lead or a reminder offset (up to 30 days).
LeadMinutes = Annotated[int, Meta(ge=5, le=30 * 24 * 60)]


class FacilitatorOut(Struct):
    person_id: int
    name: str
    email: str
    lead: bool


class SessionOut(Struct):
    id: int
    cohort_id: int
    position: int
    title: str
    competencies: list[str]
    starts_at: dt.datetime
    ends_at: dt.datetime
    starts_at_local: str
    minutes: int
    location: str
    video_url: str
    status: str
    ical_uid: str
    ical_sequence: int
    objectives: str
    assignment_prompt: str
    prompt_due_at: dt.datetime | None
    # This session's own timing in minutes before it; null: the cohort's.
    prompt_lead_minutes: int | None
    reminder_minutes: list[int] | None
    prompt_revision: int


class CompletionRuleOut(Struct):
    percent: int
    requires_first_last: bool
    late_counts: bool
    left_early_counts: bool


class CohortOut(Struct):
    id: int
    name: str
    term: str
    timezone: str
    modality: str
    location: str
    video_url: str
    capacity: int | None
    status: str
    curriculum_id: int | None
    participant_count: int
    waitlist_count: int
    facilitators: list[FacilitatorOut]
    next_session: SessionOut | None
    size_warning: str | None
    created_at: dt.datetime
    published_at: dt.datetime | None
    auto_promote: bool
    completion_rule: CompletionRuleOut
    prompt_lead_minutes: int
    reminder_minutes: list[int]


class CohortDetailOut(CohortOut):
    sessions: list[SessionOut] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)


class SlotIn(Struct, forbid_unknown_fields=True):
    date: dt.date
    start_time: LocalTime
    minutes: Minutes | None = None


class ScheduleIn(Struct, forbid_unknown_fields=True):
    """Either a series (first_date and start_time, every interval_weeks, on weekday, past
    skip_dates) or explicit slots. Dates and times are local to the cohort's timezone."""

    first_date: dt.date | None = None
    start_time: LocalTime | None = None
    weekday: WeekdayName | None = None
    interval_weeks: Annotated[int, Meta(ge=1, le=8)] = 1
    skip_dates: Annotated[list[dt.date], Meta(max_length=100)] = msgspec.field(default_factory=list)
    minutes: Minutes | None = None
    count: Annotated[int, Meta(ge=1, le=60)] | None = None
    slots: Annotated[list[SlotIn], Meta(max_length=60)] = msgspec.field(default_factory=list)


class CohortIn(Struct, forbid_unknown_fields=True):
    name: Name
    timezone: Annotated[str, Meta(min_length=1, max_length=64, examples=["America/Chicago"])]
    term: Annotated[str, Meta(max_length=60)] = ""
    modality: ModalityName = "in_person"
    location: ShortText = ""
    video_url: Url = ""
    capacity: Capacity | None = None
    curriculum_id: Id | None = None
    facilitator_ids: Annotated[list[Id], Meta(max_length=10)] = msgspec.field(default_factory=list)
    lead_facilitator_id: Id | None = None
    schedule: ScheduleIn | None = None


class CohortPatch(Struct, forbid_unknown_fields=True):
    """Only the fields present change; `capacity: null` removes the limit."""

    name: Name | UnsetType = UNSET
    timezone: Annotated[str, Meta(min_length=1, max_length=64)] | UnsetType = UNSET
    term: Annotated[str, Meta(max_length=60)] | UnsetType = UNSET
    modality: ModalityName | UnsetType = UNSET
    location: ShortText | UnsetType = UNSET
    video_url: Url | UnsetType = UNSET
    capacity: Capacity | None | UnsetType = UNSET
    facilitator_ids: Annotated[list[Id], Meta(min_length=1, max_length=10)] | UnsetType = UNSET
    lead_facilitator_id: Id | UnsetType = UNSET
    status: CohortStatusName | UnsetType = UNSET
    auto_promote: bool | UnsetType = UNSET
    completion_percent: Annotated[int, Meta(ge=1, le=100)] | UnsetType = UNSET
    completion_requires_first_last: bool | UnsetType = UNSET
    late_counts: bool | UnsetType = UNSET
    left_early_counts: bool | UnsetType = UNSET
    review_mail: bool | UnsetType = UNSET
    organizer_name: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    organizer_email: Annotated[str, Meta(max_length=320)] | UnsetType = UNSET
    prompt_lead_minutes: LeadMinutes | UnsetType = UNSET
    reminder_minutes: Annotated[list[LeadMinutes], Meta(max_length=5)] | UnsetType = UNSET


class ParticipantIn(Struct, forbid_unknown_fields=True):
    """Someone known is found by email (any case); someone new also needs a name."""

    email: Annotated[str, Meta(min_length=3, max_length=320)]
    name: Annotated[str, Meta(max_length=200)] = ""
    department: Annotated[str, Meta(max_length=200)] = ""
    career_stage: Literal[
        "", "faculty", "postdoc", "graduate_student", "staff_scientist", "other"
    ] = ""
    timezone: Annotated[str, Meta(max_length=64)] = ""


class ParticipantOut(Struct):
    enrollment_id: int
    person_id: int
    name: str
    email: str
    department: str
    career_stage: str
    status: str
    enrolled_at: dt.datetime
    withdrawn_at: dt.datetime | None


class EnrollmentOut(Struct):
    participant: ParticipantOut
    created_person: bool
    warning: str | None


class CompetencyOut(Struct):
    code: str
    name: str
    aliases: list[str]
    core: bool


class SessionTemplateOut(Struct):
    id: int
    position: int
    title: str
    competencies: list[str]
    minutes: int
    objectives: str
    assignment_prompt: str
    alternate_for: int | None


class CurriculumOut(Struct):
    id: int
    slug: str
    name: str
    description: str
    builtin: bool
    sessions: list[SessionTemplateOut]


class SessionPatch(Struct, forbid_unknown_fields=True):
    """Only the fields present change. date and start_time are local to the cohort."""

    title: Name | UnsetType = UNSET
    date: dt.date | UnsetType = UNSET
    start_time: LocalTime | UnsetType = UNSET
    minutes: Minutes | UnsetType = UNSET
    location: ShortText | UnsetType = UNSET
    video_url: Url | UnsetType = UNSET
    objectives: Annotated[str, Meta(max_length=5000)] | UnsetType = UNSET
    assignment_prompt: Annotated[str, Meta(max_length=20000)] | UnsetType = UNSET
    competencies: Annotated[list[str], Meta(max_length=10)] | UnsetType = UNSET
    prompt_due_at: Annotated[dt.datetime, Meta(tz=True)] | None | UnsetType = UNSET
    # null: back to the cohort's timing.
    prompt_lead_minutes: LeadMinutes | None | UnsetType = UNSET
    reminder_minutes: Annotated[list[LeadMinutes], Meta(max_length=5)] | None | UnsetType = UNSET


class SessionChangeOut(Struct):
    session: SessionOut
    sequence_bumped: bool
    notes: list[str]


class NewSessionIn(Struct, forbid_unknown_fields=True):
    title: Name
    date: dt.date
    start_time: LocalTime
    minutes: Minutes = 60
    location: ShortText | None = None
    video_url: Url | None = None
    assignment_prompt: Annotated[str, Meta(max_length=20000)] = ""
    competencies: Annotated[list[str], Meta(max_length=10)] = msgspec.field(default_factory=list)


class CloneIn(Struct, forbid_unknown_fields=True):
    name: Name
    term: Annotated[str, Meta(max_length=60)] = ""
    schedule: ScheduleIn | None = None


class ImportRowOut(Struct):
    line: int
    email: str
    name: str
    action: Literal["add", "enroll", "update", "unchanged", "reject"]
    status: str
    changes: list[str]
    reason: str


class RosterImportOut(Struct):
    applied: bool
    added: int
    enrolled: int
    updated: int
    unchanged: int
    rejected: int
    warning: str | None
    rows: list[ImportRowOut]


class MarkIn(Struct, forbid_unknown_fields=True):
    enrollment_id: Id
    status: AttendanceName
    # Left out (or null): the note stays as it was.
    note: Annotated[str, Meta(max_length=500)] | None = None


class AttendanceIn(Struct, forbid_unknown_fields=True):
    marks: Annotated[list[MarkIn], Meta(min_length=1, max_length=500)]


class AttendanceRowOut(Struct):
    enrollment_id: int
    person_id: int
    name: str
    status: str | None
    note: str


class CompletionRowOut(Struct):
    enrollment_id: int
    person_id: int
    name: str
    enrollment_status: str
    attended: int
    required: int
    completion: Literal["complete", "in_progress", "not_completed"]
    reason: str
    attendance: dict[str, str]


class CompletionOut(Struct):
    rule: CompletionRuleOut
    rule_text: str
    sessions: list[SessionOut]
    participants: list[CompletionRowOut]


class OutboxMessageOut(Struct):
    id: int
    kind: str
    recipient: str
    subject: str
    state: str
    message_id: str
    send_after: dt.datetime
    attempts: int
    last_code: int | None
    last_error: str
    sent_at: dt.datetime | None
    created_at: dt.datetime
    confidential: bool
    cohort_id: int | None
    session_id: int | None
    person_id: int | None


class OutboxMessageDetailOut(OutboxMessageOut):
    """The parts as the reader will see them; all null for a confidential message."""

    text: str | None = None
    html: str | None = None
    calendar: str | None = None


class ReleaseIn(Struct, forbid_unknown_fields=True):
    cohort_id: Id | None = None


class ReleaseOut(Struct):
    released: int
