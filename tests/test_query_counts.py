"""No N+1: the pages that list things ask the database the same number of questions whatever
the size of what they list. A small office is loaded at two sizes (dataset.load_office: 2 and
20 cohorts, 10 and 100 cases, 50 and 500 outbox messages) and each page is requested through
the app; the SQL statements it runs must be as many at both sizes. Counts, not times (times are
bench/cost_growth.py's)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from piccolo.engine import engine_finder

from dataset import MARKER_EMAIL, PASSWORD, Sizes, load_office
from tests.conftest import _TABLES, sign_in

SMALL = Sizes(cohorts=2, facilitators=2, staff=2, cases=10, messages=50)
LARGE = Sizes(cohorts=20, facilitators=10, staff=2, cases=100, messages=500)


async def _wipe() -> None:
    from facilitators.tables import Person

    async with Person._meta.db.transaction():
        for table in _TABLES:
            await Person.raw(f"DELETE FROM {table}")
        if Person._meta.db.engine_type == "sqlite":
            await Person.raw("DELETE FROM case_study_fts")


async def _paths() -> dict[str, str]:
    """The pages to count, at this size: the lead facilitator of the first cohort under way."""
    from sessions.feeds import feed_name
    from sessions.tables import Cohort, CohortFacilitator

    cohort = (
        await Cohort.select(Cohort.id)
        .where(Cohort.term == "Large office term")
        .order_by(Cohort.id)
        .first()
    )
    assert cohort is not None
    lead = (
        await CohortFacilitator.select(CohortFacilitator.person)
        .where((CohortFacilitator.cohort == cohort["id"]) & (CohortFacilitator.lead == True))  # noqa: E712
        .first()
    )
    assert lead is not None
    return {
        "dashboard": "/",
        "cohort page": f"/cohorts/{cohort['id']}",
        "library": "/cases",
        "library search": "/cases?q=authorship",
        "outbox list": "/outbox",
        "outbox of a cohort": f"/outbox?cohort={cohort['id']}",
        "calendar feed": f"/feeds/{feed_name('p', lead['person'], 0)}",
    }


async def _count(client: httpx.AsyncClient, paths: dict[str, str]) -> dict[str, int]:
    engine: Any = engine_finder()
    counts = {}
    for name, path in paths.items():
        with engine.count_queries() as counter:
            response = await client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        counts[name] = counter.count
    return counts


@pytest.mark.timeout(300)
async def test_page_query_counts_do_not_grow_with_the_data(make_client: Any, database: Any) -> None:
    found = {}
    for label, sizes in (("small", SMALL), ("large", LARGE)):
        await _wipe()
        await load_office(sizes, label)
        client = make_client()
        response = await sign_in(client, MARKER_EMAIL, PASSWORD)
        assert response.status_code in (302, 303)
        found[label] = await _count(client, await _paths())
    assert found["small"] == found["large"], found
    # And few: a page that needs more is worth a look (bench/pages.py measures them).
    assert all(n <= 12 for n in found["large"].values()), found["large"]
