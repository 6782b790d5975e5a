"""Schedule generation: a cohort's meetings from a curriculum template and a schedule rule.

Each date's local wall time is converted to UTC on its own, so 15:00 stays 15:00 in the cohort's
timezone across daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from errors import InvalidInput


@dataclass(frozen=True)
class WeeklyRule:
    """The first meeting's local date and time; the series repeats every `interval_weeks`."""

    first_date: dt.date
    start_time: dt.time
    interval_weeks: int = 1


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
    note: str = ""


def local_to_utc(day: dt.date, at: dt.time, zone: ZoneInfo, field: str) -> tuple[dt.datetime, str]:
    """The UTC instant of a local wall time. A skipped time is an error; a repeated one takes
    the first occurrence and says so in the returned note."""
    naive = dt.datetime.combine(day, at)
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
            f"{day.isoformat()} {at.strftime('%H:%M')} occurs twice in {zone.key}; "
            "the first occurrence was used"
        )
    return first.astimezone(dt.UTC), note


def weekly_sessions(
    plans: list[SessionPlan], rule: WeeklyRule, timezone: str
) -> list[PlannedSession]:
    """One session per plan, `interval_weeks` apart, at the same local time every time."""
    if not plans:
        raise InvalidInput.single("curriculum_id", "the curriculum has no sessions to schedule")
    if not 1 <= rule.interval_weeks <= 8:
        raise InvalidInput.single("schedule.interval_weeks", "must be between 1 and 8")
    zone = ZoneInfo(timezone)
    planned = []
    for index, plan in enumerate(plans):
        day = rule.first_date + dt.timedelta(weeks=index * rule.interval_weeks)
        starts_at, note = local_to_utc(day, rule.start_time, zone, "schedule.start_time")
        planned.append(
            PlannedSession(
                position=index + 1,
                title=plan.title,
                competencies=plan.competencies,
                starts_at=starts_at,
                ends_at=starts_at + dt.timedelta(minutes=plan.minutes),
                objectives=plan.objectives,
                assignment_prompt=plan.assignment_prompt,
                note=note,
            )
        )
    return planned
