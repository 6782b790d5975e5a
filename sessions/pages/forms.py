"""Reading the sessions app's HTML forms into service inputs, with errors named by form field."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from errors import Checks, InvalidInput
from sessions.schedule import ScheduleRule, Slot, parse_weekday


def int_or_none(
    value: str, field: str, low: int | None = None, high: int | None = None
) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput.single(field, f"{value!r} is not a whole number") from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise InvalidInput.single(field, f"must be between {low} and {high}")
    return number


def ids(values: list[str]) -> tuple[int, ...]:
    return tuple(int(v) for v in values if v.strip().isdigit())


def parse_date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput.single(field, f"{value.strip()!r} is not a date (YYYY-MM-DD)") from None


def parse_time(value: str, field: str) -> dt.time:
    text = value.strip()
    # ASCII digits only: \d would also match other scripts' digits, which fromisoformat refuses.
    if not re.fullmatch(r"([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?", text):
        raise InvalidInput.single(field, f"{text!r} is not a time like 15:00")
    return dt.time.fromisoformat(text.zfill(5) if len(text) == 4 else text)


def _dates(text: str, field: str) -> frozenset[dt.date]:
    return frozenset(parse_date(part, field) for part in re.split(r"[\s,;]+", text) if part.strip())


def _slots(text: str) -> tuple[Slot, ...]:
    slots = []
    for number, line in enumerate((ln for ln in text.splitlines() if ln.strip()), start=1):
        parts = line.split()
        if len(parts) not in (2, 3):
            raise InvalidInput.single(
                "slots",
                f"line {number}: write a date, a start time and optionally minutes, like 2027-05-12 09:00 120",
            )
        minutes = int_or_none(parts[2], "slots", 15, 600) if len(parts) == 3 else None
        slots.append(Slot(parse_date(parts[0], "slots"), parse_time(parts[1], "slots"), minutes))
    return tuple(slots)


def schedule_from_form(form: dict[str, Any]) -> ScheduleRule | None:
    """A schedule rule from the schedule fields, or None when neither a first date nor explicit
    dates were given (a cohort can be created without sessions)."""
    first_date = str(form.get("first_date", "")).strip()
    slots_text = str(form.get("slots", "")).strip()
    if not first_date and not slots_text:
        return None
    checks = Checks()
    slots = checks.check(_slots, slots_text) if slots_text else ()
    rule = ScheduleRule(
        first_date=checks.check(parse_date, first_date, "first_date") if first_date else None,
        start_time=checks.check(parse_time, str(form.get("start_time", "")), "start_time")
        if first_date
        else None,
        interval_weeks=checks.check(
            int_or_none, str(form.get("interval_weeks", "")), "interval_weeks", 1, 8
        )
        or 1,
        weekday=checks.check(parse_weekday, str(form.get("weekday", "")) or None),
        skip_dates=checks.check(_dates, str(form.get("skip_dates", "")), "skip_dates")
        or frozenset(),
        minutes=checks.check(int_or_none, str(form.get("minutes", "")), "minutes", 15, 600),
        count=checks.check(int_or_none, str(form.get("count", "")), "count", 1, 60),
        slots=slots if isinstance(slots, tuple) else (),
    )
    checks.done()
    return rule
