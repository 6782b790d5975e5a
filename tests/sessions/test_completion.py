"""The completion rule's edge cases."""

from __future__ import annotations

from sessions.completion import CompletionRule, CompletionStatus, completion

DEFAULT = CompletionRule()
EIGHT = list(range(1, 9))
THREE = [1, 2, 3]


def test_eight_sessions_need_six_including_first_and_last() -> None:
    assert DEFAULT.required(8) == 6
    records = {
        1: "present",
        2: "present",
        3: "absent",
        4: "present",
        5: "late",
        6: "absent",
        7: "left_early",
        8: "present",
    }
    result = completion(DEFAULT, EIGHT, records)
    assert (result.status, result.attended, result.required) == (CompletionStatus.complete, 6, 6)


def test_three_sessions_round_up_to_all_three() -> None:
    assert DEFAULT.required(3) == 3  # 75% of 3 is 2.25, rounded up
    assert (
        completion(DEFAULT, THREE, {1: "present", 2: "present", 3: "present"}).status
        == CompletionStatus.complete
    )
    missed = completion(DEFAULT, THREE, {1: "present", 2: "absent"})
    assert missed.status == CompletionStatus.not_completed


def test_missing_the_first_or_last_session_means_not_completed() -> None:
    result = completion(DEFAULT, EIGHT, {1: "absent"})
    assert (result.status, result.reason) == (
        CompletionStatus.not_completed,
        "missed the first session",
    )
    all_but_last = {s: "present" for s in EIGHT[:-1]} | {8: "absent"}
    assert completion(DEFAULT, EIGHT, all_but_last).reason == "missed the last session"
    lenient = CompletionRule(requires_first_last=False)
    assert completion(lenient, EIGHT, all_but_last).status == CompletionStatus.complete


def test_an_excused_absence_is_still_an_absence() -> None:
    records = {1: "present", 2: "excused", 3: "excused", 4: "excused"}
    result = completion(DEFAULT, EIGHT, records)
    assert result.status == CompletionStatus.not_completed
    assert result.reason == "missed 3 of 8; needs 6"
    assert (
        completion(DEFAULT, EIGHT, {1: "present", 2: "excused"}).status
        == CompletionStatus.in_progress
    )


def test_late_and_left_early_count_only_when_the_cohort_says_so() -> None:
    records = {s: "late" for s in THREE}
    assert completion(DEFAULT, THREE, records).status == CompletionStatus.complete
    strict = CompletionRule(late_counts=False, left_early_counts=False)
    assert completion(strict, THREE, records).status == CompletionStatus.not_completed
    assert (
        completion(strict, THREE, {1: "present", 2: "left_early"}).status
        == CompletionStatus.not_completed
    )


def test_nothing_recorded_yet_is_in_progress() -> None:
    result = completion(DEFAULT, EIGHT, {})
    assert (result.status, result.attended, result.required) == (CompletionStatus.in_progress, 0, 6)


def test_a_cohort_without_sessions_is_never_complete() -> None:
    assert completion(DEFAULT, [], {}).status == CompletionStatus.in_progress
