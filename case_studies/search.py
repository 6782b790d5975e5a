"""Full-text search of the case library. PLACEHOLDER being replaced (SQLite FTS5 and
PostgreSQL full-text search behind these two functions)."""

from __future__ import annotations

from case_studies.tables import CaseStudy


async def index_case(case_id: int) -> None:
    """(Re)index one case's title, scenario and questions, in the caller's transaction."""
    return None


async def ranked(query: str) -> dict[int, float]:
    """Case ids matching the words of `query`, with a rank (higher is more relevant)."""
    words = [w for w in query.lower().split() if w]
    rows = await CaseStudy.select(CaseStudy.id, CaseStudy.title, CaseStudy.scenario)
    found: dict[int, float] = {}
    for row in rows:
        title, body = row["title"].lower(), row["scenario"].lower()
        score = sum(2.0 for w in words if w in title) + sum(1.0 for w in words if w in body)
        if score:
            found[row["id"]] = score
    return found
