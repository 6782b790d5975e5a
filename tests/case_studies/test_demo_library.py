"""The demo library: our own dilemmas, enough of them to teach every core competency, loaded
once however often the demo is."""

from __future__ import annotations

from typing import Any

from case_studies.demo import ATTRIBUTION, DEMO_CASES, LICENCE, load_demo_cases
from case_studies.tables import CaseStudy
from sessions.builtin_curricula import COMPETENCIES
from tests.conftest import make_person


async def test_the_demo_library_covers_every_competency_and_loads_once(database: Any) -> None:
    admin = await make_person("admin@example.org", {"admin"})

    added = await load_demo_cases()

    assert added == len(DEMO_CASES) >= 12
    rows = await CaseStudy.select().where(CaseStudy.attribution == ATTRIBUTION)
    assert len(rows) == added
    core = {c.code for c in COMPETENCIES if c.core}
    assert core <= {row["primary_competency"] for row in rows}
    every_tag = {c for row in rows for c in [row["primary_competency"], *row["competencies"]]}
    assert {c.code for c in COMPETENCIES} <= every_tag  # the optional themes too
    for row in rows:
        assert (row["provenance"], row["scope"], row["status"]) == (
            "curriculum",
            "library",
            "published",
        )
        assert row["licence"] == LICENCE and row["author"] == admin.id
        assert 3 <= len(row["questions"]) <= 5
        assert 2 <= len([p for p in row["scenario"].split("\n\n") if p.strip()]) <= 4
        assert row["facilitator_notes"] and row["audiences"] and row["disciplines"]

    assert await load_demo_cases() == 0
    assert await CaseStudy.count() == added
