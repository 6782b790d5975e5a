"""Schedule generation: a cohort's meetings from a curriculum template and a schedule rule.

Each date's local wall time is converted to UTC on its own, so 15:00 stays 15:00 in the cohort's
timezone across daylight-saving changes. A rule is either a repeating series (a first date, a
local start time, every N weeks, skipping holidays: the series moves past them and keeps its
number of sessions) or an explicit list of slots (one- or two-day workshops, several sessions on
one day).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from errors import FieldError, InvalidInput

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MIN_MINUTES, MAX_MINUTES = 15, 600
MAX_SESSIONS = 60
# The years a meeting can be in: far enough from the calendar's ends (year 1, year 9999) that
# stepping weeks and converting between zones never overflows.
FIRST_YEAR, LAST_YEAR = 1900, 2999


@dataclass(frozen=True)
class Slot:
    """One explicit meeting: a local date and start time, and optionally its length."""

    date: dt.date
    start_time: dt.time
    minutes: int | None = None


@dataclass(frozen=True)
class ScheduleRule:
    """How a cohort's sessions are laid out in its timezone.

    Repeating: `first_date` and `start_time`, every `interval_weeks`, on `weekday` when given
    (the series starts on the first such day on or after `first_date`), past `skip_dates`.
    Explicit: `slots`. `minutes` overrides every template session's default length; `count` says
    how many sessions to make when there is no template.
    """

    first_date: dt.date | None = None
    start_time: dt.time | None = None
    interval_weeks: int = 1
    weekday: int | None = None
    skip_dates: frozenset[dt.date] = field(default_factory=frozenset)
    minutes: int | None = None
    count: int | None = None
    slots: tuple[Slot, ...] = ()


@dataclass(frozen=True)
class SessionPlan:
    """What a session template contributes to a generated session."""

    title: str
    minutes: int
    competencies: tuple[str, ...]
    objectives: str
    assignment_prompt: str


@dataclass(frozen=True)
class PlannedSession:
    position: int
    title: str
    competencies: tuple[str, ...]
    starts_at: dt.datetime
    ends_at: dt.datetime
    objectives: str
    assignment_prompt: str


@dataclass(frozen=True)
class Schedule:
    sessions: tuple[PlannedSession, ...]
    notes: tuple[str, ...] = ()


def local_to_utc(day: dt.date, at: dt.time, zone: ZoneInfo, field: str) -> tuple[dt.datetime, str]:
    """The UTC instant of a local wall time. A skipped time is an error; a repeated one takes
    the first occurrence and says so in the returned note."""
    check_year(day, field)
    naive = dt.datetime.combine(day, at.replace(tzinfo=None))
    first = naive.replace(tzinfo=zone, fold=0)
    back = first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
    if back != naive:
        raise InvalidInput.single(
            field,
            f"{day.isoformat()} {at.strftime('%H:%M')} does not exist in {zone.key}: "
            "the clocks skip that hour (daylight-saving change)",
        )
    note = ""
    if first.utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset():
        note = (
            f"{day.isoformat()} {at.strftime('%H:%M')} occurs twice in {zone.key} "
            "(clocks go back): the first occurrence was used"
        )
    return first.astimezone(dt.UTC), note


def check_year(day: dt.date, field: str) -> None:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidInput.single(
            field, f"{day.isoformat()} is out of range: use a year from {FIRST_YEAR} to {LAST_YEAR}"
        )


def check_minutes(minutes: int, field: str) -> int:
    if minutes <= 0:
        raise InvalidInput.single(field, "a session must end after it starts")
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise InvalidInput.single(field, f"must be between {MIN_MINUTES} and {MAX_MINUTES} minutes")
    return minutes


def _series_dates(rule: ScheduleRule, count: int) -> list[dt.date]:
    assert rule.first_date is not None
    if not 1 <= rule.interval_weeks <= 8:
        raise InvalidInput.single("schedule.interval_weeks", "must be between 1 and 8")
    day = rule.first_date
    check_year(day, "schedule.first_date")
    if rule.weekday is not None:
        day += dt.timedelta(days=(rule.weekday - day.weekday()) % 7)
    dates: list[dt.date] = []
    # A bounded walk: skip dates can only push the series so far.
    for _ in range(count + len(rule.skip_dates) + 1):
        if len(dates) == count:
            break
        if day not in rule.skip_dates:
            dates.append(day)
        day += dt.timedelta(weeks=rule.interval_weeks)
    return dates


def generate(plans: list[SessionPlan], rule: ScheduleRule, timezone: str) -> Schedule:
    """The sessions a rule makes from a template's plans (or from `count` blank sessions)."""
    zone = ZoneInfo(timezone)
    if rule.minutes is not None:
        check_minutes(rule.minutes, "schedule.minutes")
    if rule.slots:
        if rule.first_date is not None:
            raise InvalidInput.single(
                "schedule", "give either first_date and start_time, or slots, not both"
            )
        # Numbered in time order, whatever order they were listed in.
        starts = sorted(
            ((slot.date, slot.start_time, slot.minutes) for slot in rule.slots),
            key=lambda start: (start[0], start[1]),
        )
        for index, slot in enumerate(rule.slots, start=1):
            if slot.date in rule.skip_dates:
                raise InvalidInput.single(
                    f"schedule.slots[{index}]", f"{slot.date.isoformat()} is one of the skip dates"
                )
        if plans and len(rule.slots) != len(plans):
            raise InvalidInput.single(
                "schedule.slots",
                f"the curriculum has {len(plans)} sessions; give {len(plans)} slots, "
                f"not {len(rule.slots)}",
            )
    elif rule.first_date is not None and rule.start_time is not None:
        count = len(plans) if plans else (rule.count or 0)
        starts = [(day, rule.start_time, None) for day in _series_dates(rule, count)]
    else:
        raise InvalidInput.single(
            "schedule", "give first_date and start_time for a series, or a list of slots"
        )
    if not starts:
        raise InvalidInput.single(
            "schedule",
            "this rule makes no session: pick a curriculum template, or say how many sessions",
        )
    if len(starts) > MAX_SESSIONS:
        raise InvalidInput.single("schedule", f"at most {MAX_SESSIONS} sessions per cohort")

    planned: list[PlannedSession] = []
    notes: list[str] = []
    for index, (day, at, slot_minutes) in enumerate(starts):
        field_name = f"schedule.slots[{index + 1}]" if rule.slots else "schedule.start_time"
        plan = plans[index] if plans else None
        minutes = check_minutes(
            slot_minutes or rule.minutes or (plan.minutes if plan else 60),
            f"{field_name}.minutes" if rule.slots else "schedule.minutes",
        )
        starts_at, note = local_to_utc(day, at, zone, field_name)
        if note:
            notes.append(note)
        planned.append(
            PlannedSession(
                position=index + 1,
                title=plan.title if plan else f"Session {index + 1}",
                competencies=plan.competencies if plan else (),
                starts_at=starts_at,
                ends_at=starts_at + dt.timedelta(minutes=minutes),
                objectives=plan.objectives if plan else "",
                assignment_prompt=plan.assignment_prompt if plan else "",
            )
        )
    check_no_overlap([(p.starts_at, p.ends_at, f"session {p.position}") for p in planned])
    return Schedule(tuple(planned), tuple(notes))


def check_no_overlap(spans: list[tuple[dt.datetime, dt.datetime, str]]) -> None:
    """Two meetings of one cohort may not overlap (they may touch: 10:00-12:00, 12:00-14:00)."""
    ordered = sorted(spans)
    errors = [
        FieldError("schedule", f"{b[2]} starts before {a[2]} ends")
        for a, b in zip(ordered, ordered[1:], strict=False)
        if b[0] < a[1]
    ]
    if errors:
        raise InvalidInput(errors)


def parse_weekday(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    name = value.strip().lower()
    if name not in WEEKDAYS:
        raise InvalidInput.single("schedule.weekday", f"{value!r} is not a weekday name")
    return WEEKDAYS.index(name)
