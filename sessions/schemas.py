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
PersonId = Annotated[int, Meta(ge=1)]
ModalityName = Literal["in_person", "virtual", "hybrid"]


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
    location: str
    video_url: str
    status: str
    ical_uid: str
    ical_sequence: int


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


class CohortDetailOut(CohortOut):
    sessions: list[SessionOut] = msgspec.field(default_factory=list)


class ScheduleIn(Struct, forbid_unknown_fields=True):
    """The first meeting's local date and time (in the cohort's timezone); weekly by default."""

    first_date: dt.date
    start_time: Annotated[
        str,
        Meta(
            pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
            examples=["15:00"],
            description="HH:MM, local",
        ),
    ]
    interval_weeks: Annotated[int, Meta(ge=1, le=8)] = 1


class CohortIn(Struct, forbid_unknown_fields=True):
    name: Name
    timezone: Annotated[str, Meta(min_length=1, max_length=64, examples=["America/Chicago"])]
    term: Annotated[str, Meta(max_length=60)] = ""
    modality: ModalityName = "in_person"
    location: ShortText = ""
    video_url: Url = ""
    capacity: Capacity | None = None
    curriculum_id: PersonId | None = None
    facilitator_ids: Annotated[list[PersonId], Meta(max_length=10)] = msgspec.field(
        default_factory=list
    )
    lead_facilitator_id: PersonId | None = None
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
    facilitator_ids: Annotated[list[PersonId], Meta(min_length=1, max_length=10)] | UnsetType = (
        UNSET
    )
    lead_facilitator_id: PersonId | UnsetType = UNSET


class ParticipantIn(Struct, forbid_unknown_fields=True):
    email: Annotated[str, Meta(min_length=3, max_length=320)]
    name: Name
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
