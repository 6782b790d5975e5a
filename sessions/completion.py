"""The completion rule: who has completed a cohort, who still can, who no longer can.

Default: at least 75% of the cohort's sessions (rounded up), including the first and the last.
Cancelled sessions do not count. Arriving late or leaving early counts as attending unless the
cohort says otherwise. An excused absence is still an absence: it is recorded so facilitators
know, but it does not count toward completion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from sessions.tables import AttendanceStatus


class CompletionStatus(StrEnum):
    complete = "complete"
    in_progress = "in_progress"
    not_completed = "not_completed"


@dataclass(frozen=True)
class CompletionRule:
    percent: int = 75
    requires_first_last: bool = True
    late_counts: bool = True
    left_early_counts: bool = True

    def counts(self, status: str | None) -> bool:
        return (
            status == AttendanceStatus.present.value
            or (status == AttendanceStatus.late.value and self.late_counts)
            or (status == AttendanceStatus.left_early.value and self.left_early_counts)
        )

    def required(self, sessions: int) -> int:
        return math.ceil(sessions * self.percent / 100)


@dataclass(frozen=True)
class Completion:
    status: CompletionStatus
    attended: int
    required: int
    sessions: int
    reason: str = ""


def completion(
    rule: CompletionRule,
    session_ids: list[int],
    records: dict[int, str],
    *,
    final: bool = False,
    extra_ids: tuple[int, ...] = (),
) -> Completion:
    """One participant's completion. `session_ids` are the cohort's planned, non-cancelled
    sessions in order; `extra_ids` its make-up sessions, which count when attended but add
    nothing to what is required; `records` maps a session id to what was recorded. While the
    cohort runs, a session with nothing recorded is not held against anyone; once it is over
    (`final`), nothing recorded means absent, and everyone is complete or not."""
    total = len(session_ids)
    required = rule.required(total)
    every = [*session_ids, *extra_ids]
    attended = sum(1 for s in every if rule.counts(records.get(s)))
    missed = [s for s in every if (s in records or final) and not rule.counts(records.get(s))]
    ends = {session_ids[0], session_ids[-1]} if session_ids else set()
    ends_attended = all(rule.counts(records.get(s)) for s in ends)
    if total and attended >= required and (ends_attended or not rule.requires_first_last):
        return Completion(CompletionStatus.complete, attended, required, total)
    if rule.requires_first_last and any(s in missed for s in ends):
        which = "first" if session_ids[0] in missed else "last"
        return Completion(
            CompletionStatus.not_completed, attended, required, total, f"missed the {which} session"
        )
    if len(every) - len(missed) < required:
        return Completion(
            CompletionStatus.not_completed,
            attended,
            required,
            total,
            f"missed {len(missed)} of {len(every)}; needs {required}",
        )
    return Completion(CompletionStatus.in_progress, attended, required, total)
