"""The audit log: every state-changing service calls `record` inside its own transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from facilitators.tables import AuditEntry


async def record(
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: int | str | None = None,
    *,
    cohort_id: int | None = None,
    summary: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit entry. `action` is a dotted verb such as "cohort.create"."""
    await AuditEntry.insert(
        AuditEntry(
            actor=actor_id,
            action=action,
            object_type=object_type,
            object_id="" if object_id is None else str(object_id),
            cohort_id=cohort_id,
            summary=summary,
            detail=detail or {},
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""
    actor_id: int | None = None
    cohort_id: int | None = None
    object_type: str = ""
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    actor_id: int | None
    actor_name: str
    action: str
    object_type: str
    object_id: str
    cohort_id: int | None
    summary: str


async def list_entries(criteria: AuditFilter) -> list[AuditRow]:
    """Newest first, with the actor's name joined in (one query)."""
    query = AuditEntry.select(
        AuditEntry.id,
        AuditEntry.at,
        AuditEntry.actor,
        AuditEntry.actor.name.as_alias("actor_name"),
        AuditEntry.action,
        AuditEntry.object_type,
        AuditEntry.object_id,
        AuditEntry.cohort_id,
        AuditEntry.summary,
    )
    if criteria.action:
        query = query.where(AuditEntry.action.like(f"{criteria.action}%"))
    if criteria.actor_id is not None:
        query = query.where(AuditEntry.actor == criteria.actor_id)
    if criteria.cohort_id is not None:
        query = query.where(AuditEntry.cohort_id == criteria.cohort_id)
    if criteria.object_type:
        query = query.where(AuditEntry.object_type == criteria.object_type)
    rows = (
        await query.order_by(AuditEntry.id, ascending=False)
        .limit(criteria.limit)
        .offset(criteria.offset)
    )
    return [
        AuditRow(
            id=row["id"],
            at=row["at"],
            actor_id=row["actor"],
            actor_name=row["actor_name"] or "system",
            action=row["action"],
            object_type=row["object_type"],
            object_id=row["object_id"],
            cohort_id=row["cohort_id"],
            summary=row["summary"],
        )
        for row in rows
    ]


async def distinct_actions() -> list[str]:
    rows = await AuditEntry.select(AuditEntry.action).distinct().order_by(AuditEntry.action)
    return [row["action"] for row in rows]
