"""When assignment prompts and reminders go: the rules, the plan they make for one session,
what is due at a given time, and the outbox keys that name each message. Pure: no database.

A cohort sends each session's prompt `prompt_lead_minutes` before it and a reminder at each of
`reminder_minutes`; a session may override either. A lead or offset in whole days keeps the
wall-clock time across a daylight-saving change ("7 days before 15:00" is 15:00 a week
earlier, local time), the way people read it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from errors import Checks, InvalidInput

PROMPT = "prompt"
REMINDER = "reminder"
KINDS = (PROMPT, REMINDER)
# The longest lead and reminder offset the rules accept: the scheduler looks this far ahead.
MAX_LEAD = dt.timedelta(days=30)
MAX_REMINDERS = 5
DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Timing:
    """The rules in force for one session: its own where it has them, else its cohort's."""

    lead_minutes: int
    reminder_minutes: tuple[int, ...]
    overridden: bool = False

    @classmethod
    def of(
        cls,
        cohort_lead: int,
        cohort_reminders: Sequence[int],
        session_lead: int | None = None,
        session_reminders: Sequence[int] | None = None,
    ) -> Timing:
        return cls(
            lead_minutes=cohort_lead if session_lead is None else session_lead,
            reminder_minutes=tuple(
                cohort_reminders if session_reminders is None else session_reminders
            ),
            overridden=session_lead is not None or session_reminders is not None,
        )

    @property
    def dropped_reminders(self) -> tuple[int, ...]:
        """Reminders set to go at or before the prompt: they would remind of nothing."""
        return tuple(m for m in self.reminder_minutes if m >= self.lead_minutes)


@dataclass(frozen=True)
class Planned:
    kind: str
    minutes_before: int
    due_at: dt.datetime

    @property
    def label(self) -> str:
        what = "Assignment prompt" if self.kind == PROMPT else "Reminder"
        return f"{what}, {describe_minutes(self.minutes_before)} before"


def before(starts_at: dt.datetime, minutes: int, zone: str) -> dt.datetime:
    """`minutes` before `starts_at`; whole days are counted on the cohort's wall clock."""
    if minutes % DAY_MINUTES:
        return starts_at - dt.timedelta(minutes=minutes)
    tz = ZoneInfo(zone)
    local = starts_at.astimezone(tz).replace(tzinfo=None) - dt.timedelta(minutes=minutes)
    return local.replace(tzinfo=tz).astimezone(dt.UTC)


def plan(starts_at: dt.datetime, timing: Timing, zone: str) -> list[Planned]:
    """The prompt and the reminders of one session, in the order they go."""
    items = [Planned(PROMPT, timing.lead_minutes, before(starts_at, timing.lead_minutes, zone))]
    for minutes in sorted(set(timing.reminder_minutes), reverse=True):
        if minutes < timing.lead_minutes:
            items.append(Planned(REMINDER, minutes, before(starts_at, minutes, zone)))
    return items


def due_items(starts_at: dt.datetime, timing: Timing, zone: str, now: dt.datetime) -> list[Planned]:
    """What is due at `now` for a session that has not started: the prompt once its time has
    come, and the latest reminder whose time has come (an earlier one that was missed, say
    while no dispatcher ran, is superseded by it rather than sent as well)."""
    if starts_at <= now:
        return []
    items = [item for item in plan(starts_at, timing, zone) if item.due_at <= now]
    reminders = [item for item in items if item.kind == REMINDER]
    return [item for item in items if item.kind == PROMPT] + reminders[-1:]


# -- durations in words ---------------------------------------------------------------------

UNITS = (("day", DAY_MINUTES), ("hour", 60), ("minute", 1))
_UNIT_WORDS = {
    "w": 7 * DAY_MINUTES,
    "week": 7 * DAY_MINUTES,
    "weeks": 7 * DAY_MINUTES,
    "d": DAY_MINUTES,
    "day": DAY_MINUTES,
    "days": DAY_MINUTES,
    "h": 60,
    "hr": 60,
    "hrs": 60,
    "hour": 60,
    "hours": 60,
    "m": 1,
    "min": 1,
    "mins": 1,
    "minute": 1,
    "minutes": 1,
}
_DURATION = re.compile(r"^\s*(\d{1,5})\s*([a-z]*)\s*$")


def describe_minutes(minutes: int) -> str:
    for name, size in UNITS:
        if minutes % size == 0 and minutes >= size:
            count = minutes // size
            return f"{count} {name}{'' if count == 1 else 's'}"
    return f"{minutes} minutes"


def timing_text(timing: Timing) -> dict[str, str]:
    """The timing as a form shows it (and `parse_duration(s)` reads it back)."""
    return {
        "prompt_lead_minutes": describe_minutes(timing.lead_minutes),
        "reminder_minutes": ", ".join(map(describe_minutes, timing.reminder_minutes)) or "none",
    }


def parse_duration(text: str, field: str) -> int:
    """ "7 days", "48 hours", "2h", "90 min" -> minutes; a bare number means hours."""
    match = _DURATION.match(text.lower())
    if not match or (match.group(2) and match.group(2) not in _UNIT_WORDS):
        raise InvalidInput.single(
            field,
            f"{text.strip()!r} is not a length of time: write e.g. 7 days, 48 hours, 90 minutes",
        )
    return int(match.group(1)) * _UNIT_WORDS.get(match.group(2) or "h", 60)


def parse_durations(text: str, field: str) -> tuple[int, ...]:
    """ "48 hours, 2 hours" -> (2880, 120); "none" or nothing -> no reminders."""
    if text.strip().lower() in {"", "none", "no", "-"}:
        return ()
    return tuple(parse_duration(part, field) for part in text.split(","))


def timing_from_form(form: Mapping[str, str]) -> tuple[int | None, tuple[int, ...] | None]:
    """The prompt lead and reminders as typed in a form, every error at once. A field the form
    did not send is None: it leaves that part of the timing as it is."""
    checks = Checks()
    lead = reminders = None
    if form.get("prompt_lead_minutes") is not None:
        lead = checks.check(parse_duration, form["prompt_lead_minutes"], "prompt_lead_minutes")
    if form.get("reminder_minutes") is not None:
        reminders = checks.check(parse_durations, form["reminder_minutes"], "reminder_minutes")
    checks.done()
    return lead, reminders


def check_lead(minutes: int) -> int:
    if not 15 <= minutes <= MAX_LEAD.total_seconds() // 60:
        raise InvalidInput.single(
            "prompt_lead_minutes", "the prompt goes between 15 minutes and 30 days before"
        )
    return minutes


def check_reminders(minutes: Sequence[int]) -> tuple[int, ...]:
    if len(minutes) > MAX_REMINDERS:
        raise InvalidInput.single(
            "reminder_minutes", f"at most {MAX_REMINDERS} reminders before a session"
        )
    for value in minutes:
        if not 5 <= value <= MAX_LEAD.total_seconds() // 60:
            raise InvalidInput.single(
                "reminder_minutes",
                f"{describe_minutes(value)}: a reminder goes between 5 minutes and 30 days before",
            )
    return tuple(sorted(set(minutes), reverse=True))


def check_timing(timing: Timing) -> Timing:
    """A reminder set to go at or before the prompt would remind of nothing: refused."""
    if timing.dropped_reminders:
        early = describe_minutes(max(timing.dropped_reminders))
        raise InvalidInput.single(
            "reminder_minutes",
            f"a reminder {early} before would go before the prompt "
            f"({describe_minutes(timing.lead_minutes)} before): make it shorter, or send the "
            "prompt earlier",
        )
    return timing


# -- outbox keys ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageKey:
    """The key of a prompt or reminder, read back into its parts.

    prompt:<session>:<person>:r<revision>:<n>         the prompt, at that revision of its text
    prompt:<session>:<person>:r<revision>:updated     "send the updated prompt"
    reminder:<session>:<person>:<minutes>m:<start>:<n>

    The slot says which message it is (the prompt of a session for a person; a reminder so many
    minutes before a given start time); `n` counts the cancelled messages of the slot before
    it, so that a replacement of a superseded message gets a key of its own.
    """

    kind: str
    session_id: int
    person_id: int
    slot: str
    revision: int = 0
    minutes: int = 0
    start: str = ""
    updated: bool = False

    @classmethod
    def parse(cls, key: str) -> MessageKey:
        parts = key.split(":")
        kind, session_id, person_id = parts[0], int(parts[1]), int(parts[2])
        if kind == PROMPT:
            return cls(
                kind,
                session_id,
                person_id,
                slot=":".join(parts[:3]),
                revision=int(parts[3].removeprefix("r")),
                updated=parts[4] == "updated",
            )
        return cls(
            kind,
            session_id,
            person_id,
            slot=":".join(parts[:5]),
            minutes=int(parts[3].removesuffix("m")),
            start=parts[4],
        )


def start_label(starts_at: dt.datetime) -> str:
    return starts_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")


def prompt_slot(session_id: int, person_id: int) -> str:
    return f"{PROMPT}:{session_id}:{person_id}"


def reminder_slot(session_id: int, person_id: int, minutes: int, starts_at: dt.datetime) -> str:
    """A reminder is "this many minutes before this start": a new time is a new reminder."""
    return f"{REMINDER}:{session_id}:{person_id}:{minutes}m:{start_label(starts_at)}"


def prompt_key(session_id: int, person_id: int, revision: int, suffix: str) -> str:
    return f"{prompt_slot(session_id, person_id)}:r{revision}:{suffix}"
