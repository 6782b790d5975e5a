"""Schedule generation: local wall times kept across daylight-saving changes, skip dates, leap
days, explicit slots, and the errors a facilitator can make."""

from __future__ import annotations

import datetime as dt

import pytest

from errors import InvalidInput
from sessions.schedule import ScheduleRule, SessionPlan, Slot, generate, parse_weekday

D, T = dt.date, dt.time


def plans(n: int, minutes: int = 60) -> list[SessionPlan]:
    return [SessionPlan(f"S{i}", minutes, (), "", f"prompt {i}") for i in range(1, n + 1)]


def utc(schedule: object) -> list[str]:
    return [s.starts_at.strftime("%Y-%m-%dT%H:%MZ") for s in schedule.sessions]  # type: ignore[attr-defined]


def test_wednesday_15_00_in_chicago_stays_15_00_across_the_march_change() -> None:
    schedule = generate(
        plans(8), ScheduleRule(first_date=D(2027, 2, 24), start_time=T(15)), "America/Chicago"
    )
    assert utc(schedule) == [
        "2027-02-24T21:00Z",
        "2027-03-03T21:00Z",
        "2027-03-10T21:00Z",
        "2027-03-17T20:00Z",  # CDT from 14 March
        "2027-03-24T20:00Z",
        "2027-03-31T20:00Z",
        "2027-04-07T20:00Z",
        "2027-04-14T20:00Z",
    ]
    assert all(s.ends_at - s.starts_at == dt.timedelta(hours=1) for s in schedule.sessions)
    assert schedule.notes == ()


def test_berlin_cohort_across_the_late_october_change() -> None:
    schedule = generate(
        plans(3), ScheduleRule(first_date=D(2026, 10, 14), start_time=T(10)), "Europe/Berlin"
    )
    assert utc(schedule) == ["2026-10-14T08:00Z", "2026-10-21T08:00Z", "2026-10-28T09:00Z"]


def test_skip_dates_push_the_series_on_and_keep_its_length() -> None:
    rule = ScheduleRule(
        first_date=D(2027, 3, 3),
        start_time=T(15),
        skip_dates=frozenset({D(2027, 3, 17), D(2027, 3, 24)}),  # spring break
    )
    schedule = generate(plans(4), rule, "America/New_York")
    days = [s.starts_at.date().isoformat() for s in schedule.sessions]
    assert days == ["2027-03-03", "2027-03-10", "2027-03-31", "2027-04-07"]
    assert [s.position for s in schedule.sessions] == [1, 2, 3, 4]
    assert [s.assignment_prompt for s in schedule.sessions] == [
        "prompt 1",
        "prompt 2",
        "prompt 3",
        "prompt 4",
    ]


def test_every_two_weeks_from_the_first_given_weekday() -> None:
    rule = ScheduleRule(
        first_date=D(2028, 2, 1),
        start_time=T(9, 30),
        weekday=parse_weekday("Tuesday"),
        interval_weeks=2,
    )
    schedule = generate(plans(3), rule, "UTC")
    assert utc(schedule) == [
        "2028-02-01T09:30Z",
        "2028-02-15T09:30Z",
        "2028-02-29T09:30Z",
    ]  # leap day


def test_weekday_moves_the_start_to_the_next_such_day() -> None:
    rule = ScheduleRule(first_date=D(2027, 1, 4), start_time=T(12), weekday=parse_weekday("friday"))
    assert utc(generate(plans(1), rule, "UTC")) == ["2027-01-08T12:00Z"]


def test_a_skipped_local_time_is_an_error_naming_the_date() -> None:
    rule = ScheduleRule(first_date=D(2027, 2, 28), start_time=T(2, 30))
    with pytest.raises(InvalidInput) as error:
        generate(plans(3), rule, "America/Chicago")
    assert error.value.errors[0].field == "schedule.start_time"
    assert "2027-03-14 02:30 does not exist in America/Chicago" in error.value.detail


def test_a_repeated_local_time_takes_the_first_and_says_so() -> None:
    rule = ScheduleRule(first_date=D(2026, 10, 25), start_time=T(1, 30))
    schedule = generate(plans(2), rule, "America/Chicago")
    # 1 November 2026, 01:30 happens twice in Chicago; CDT (the first) is 06:30 UTC.
    assert utc(schedule) == ["2026-10-25T06:30Z", "2026-11-01T06:30Z"]
    assert schedule.notes == (
        "2026-11-01 01:30 occurs twice in America/Chicago (clocks go back): the first occurrence was used",
    )


def test_explicit_slots_for_a_one_day_workshop_with_their_own_lengths() -> None:
    rule = ScheduleRule(
        slots=(
            Slot(D(2027, 5, 12), T(9), 120),
            Slot(D(2027, 5, 12), T(11), 120),
            Slot(D(2027, 5, 12), T(13, 30)),
            Slot(D(2027, 5, 12), T(15, 30)),
        )
    )
    schedule = generate(plans(4, minutes=120), rule, "America/Denver")
    assert utc(schedule) == [
        "2027-05-12T15:00Z",
        "2027-05-12T17:00Z",
        "2027-05-12T19:30Z",
        "2027-05-12T21:30Z",
    ]
    assert schedule.sessions[2].ends_at - schedule.sessions[2].starts_at == dt.timedelta(
        minutes=120
    )


def test_overlapping_slots_are_refused() -> None:
    rule = ScheduleRule(slots=(Slot(D(2027, 5, 12), T(9), 120), Slot(D(2027, 5, 12), T(10, 30))))
    with pytest.raises(InvalidInput, match="session 2 starts before session 1 ends"):
        generate(plans(2), rule, "UTC")


def test_a_slot_on_a_skip_date_is_refused() -> None:
    rule = ScheduleRule(slots=(Slot(D(2027, 7, 5), T(9)),), skip_dates=frozenset({D(2027, 7, 5)}))
    with pytest.raises(InvalidInput) as error:
        generate(plans(1), rule, "UTC")
    assert error.value.errors[0].field == "schedule.slots[1]"
    assert "skip dates" in error.value.detail


def test_slot_count_must_match_the_template() -> None:
    with pytest.raises(InvalidInput, match="the curriculum has 3 sessions; give 3 slots, not 1"):
        generate(plans(3), ScheduleRule(slots=(Slot(D(2027, 1, 1), T(9)),)), "UTC")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (ScheduleRule(), "give first_date and start_time for a series, or a list of slots"),
        (
            ScheduleRule(first_date=D(2027, 1, 1), start_time=T(9), minutes=0),
            "a session must end after it starts",
        ),
        (
            ScheduleRule(first_date=D(2027, 1, 1), start_time=T(9), minutes=-30),
            "a session must end after it starts",
        ),
        (
            ScheduleRule(first_date=D(2027, 1, 1), start_time=T(9), minutes=900),
            "between 15 and 600",
        ),
        (
            ScheduleRule(first_date=D(2027, 1, 1), start_time=T(9), interval_weeks=0),
            "between 1 and 8",
        ),
    ],
)
def test_impossible_rules_are_clear_errors(rule: ScheduleRule, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        generate(plans(2), rule, "UTC")


def test_a_rule_that_makes_no_session_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="makes no session"):
        generate([], ScheduleRule(first_date=D(2027, 1, 1), start_time=T(9)), "UTC")


def test_without_a_template_count_blank_sessions_are_made() -> None:
    schedule = generate(
        [], ScheduleRule(first_date=D(2027, 1, 1), start_time=T(9), count=2, minutes=90), "UTC"
    )
    assert [s.title for s in schedule.sessions] == ["Session 1", "Session 2"]
    assert schedule.sessions[0].ends_at - schedule.sessions[0].starts_at == dt.timedelta(minutes=90)


def test_unknown_weekday_names_are_refused() -> None:
    with pytest.raises(InvalidInput, match="is not a weekday name"):
        parse_weekday("Caturday")
