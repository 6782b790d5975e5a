"""Paging through the library: the database ranks, filters and cuts each page, so the pages of
a search (or of the newest-first listing) follow one another without gap or overlap, in order,
each with the count of everything that matches, and no page ever shows a case its reader may
not see, nor a facilitator's notes to anyone but facilitators."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from case_studies import search, services
from case_studies.agenda import set_agenda
from case_studies.services import CaseFilter, CaseInput
from case_studies.tables import CaseStudy
from facilitators.services import CurrentUser
from sessions.tables import Session
from tests.conftest import PASSWORD, Person, World, sign_in

WORD = "stipend"
NOTE = "FACILITATOR-ONLY-PAGING-MARKER"
ROLES = {
    "admin": {"admin"},
    "staff": {"staff"},
    "facilitator_a": {"facilitator"},
    "facilitator_b": {"facilitator"},
    "participant_a": {"participant"},
    "participant_b": {"participant"},
}


def as_user(world: World, role: str) -> CurrentUser:
    person: Person = getattr(world, role)
    return CurrentUser(person.id, person.name, person.email, frozenset(ROLES[role]))


@dataclass
class Library:
    """Published cases that match WORD (and some that do not), and cases some may not see."""

    matching: list[int]
    hidden: dict[str, int]  # what it is -> id


async def write(actor: CurrentUser, title: str, scenario: str, **fields: Any) -> int:
    scope = fields.pop("scope", "library")
    cohort_id = fields.pop("cohort_id", None)
    publish = fields.pop("publish", None)
    return await services.create_case(
        CaseInput(title=title, scenario=scenario, facilitator_notes=NOTE, **fields),
        actor=actor,
        scope=scope,
        cohort_id=cohort_id,
        publish=publish,
    )


@pytest.fixture
async def library(world: World) -> Library:
    fac_a, fac_b = as_user(world, "facilitator_a"), as_user(world, "facilitator_b")
    matching = []
    # Relevance varies: the word in the title, or once to five times in the text only.
    for n in range(13):
        title = f"The {WORD} question {n}" if n % 4 == 0 else f"Lab money {n}"
        scenario = " ".join([f"A {WORD} runs out."] * (n % 5 + 1)) + f" Details {'x ' * n}."
        matching.append(
            await write(
                fac_a,
                title,
                scenario,
                primary_competency="expectations" if n % 3 == 0 else "communication",
                competencies=("ethics",) if n % 2 else (),
                audiences=("graduate",) if n % 2 else ("postdoc",),
                disciplines=("biology",) if n % 3 else ("physics",),
            )
        )
    # Four cases alike: equal relevance, so their order is their ids'.
    for _ in range(4):
        matching.append(await write(fac_a, "Summer funding", f"Whose {WORD} pays for summer?"))
    for n in range(3):
        await write(fac_a, f"Unrelated {n}", "Nothing about money here.")
    hidden = {
        "cohort B's": await write(
            fac_b,
            f"Cohort {WORD}",
            f"A {WORD} for cohort B.",
            scope="cohort",
            cohort_id=world.cohort_b,
        ),
        "an unpublished facilitator's": await write(
            fac_a, f"Draft {WORD}", f"An unfinished {WORD} case.", publish=False
        ),
    }
    part_a, part_b = as_user(world, "participant_a"), as_user(world, "participant_b")
    hidden["participant A's draft"] = await services.create_case(
        CaseInput(title=f"My {WORD}", scenario=f"My {WORD} is late."),
        actor=part_a,
        cohort_id=world.cohort_a,
    )
    submitted = await services.create_case(
        CaseInput(title=f"Their {WORD}", scenario=f"Their {WORD} is late."),
        actor=part_b,
        cohort_id=world.cohort_b,
    )
    await services.submit(submitted, actor=part_b, checklist=(True, True, True))
    hidden["participant B's submitted"] = submitted
    retired = await write(fac_a, f"Old {WORD}", f"An old {WORD} case.")
    await services.retire(retired, actor=fac_a)
    hidden["retired"] = retired
    return Library(matching, hidden)


async def every_page(user: CurrentUser, limit: int, **filters: Any) -> tuple[list[int], set[int]]:
    """The ids on every page in turn (and one page past the end), and the totals they gave."""
    ids: list[int] = []
    totals = set()
    offset = 0
    while True:
        page = await services.list_cases(user, CaseFilter(limit=limit, offset=offset, **filters))
        totals.add(page.total)
        assert len(page.cases) <= limit
        for case in page.cases:
            if not user.has_role("facilitator"):
                assert case.facilitator_notes is None
        ids += [case.id for case in page.cases]
        if not page.cases:
            return ids, totals
        offset += limit


async def visible(user: CurrentUser, status: str = "published") -> list[dict[str, Any]]:
    """The cases of `status` the user may see, by the rules of `services.Viewer.sees`."""
    v = await services.viewer(user)
    rows = await CaseStudy.select().where(CaseStudy.status == status)
    return [row for row in rows if v.sees(row)]


@pytest.mark.parametrize("role", list(ROLES))
async def test_search_pages_follow_one_another_in_order_of_relevance(
    world: World, library: Library, role: str
) -> None:
    user = as_user(world, role)
    relevance = await search.ranked(WORD)
    seen = {row["id"] for row in await visible(user)}
    expected = sorted(seen & set(relevance), key=lambda i: (-relevance[i], i))

    for limit in (1, 4, 20):
        ids, totals = await every_page(user, limit, q=WORD)
        assert ids == expected
        assert totals == {len(expected)}


async def test_a_search_ranks_titles_first_and_equals_by_id(world: World, library: Library) -> None:
    ids, _ = await every_page(as_user(world, "staff"), 3, q=WORD)
    titles = {
        row["id"]: row["title"]
        for row in await CaseStudy.select(CaseStudy.id, CaseStudy.title).where(
            CaseStudy.id.is_in(ids)
        )
    }
    in_title = [WORD in titles[i] for i in ids]
    assert in_title == sorted(in_title, reverse=True)  # every title match first
    alike = [i for i in ids if titles[i] == "Summer funding"]
    assert alike == sorted(alike)
    assert ids.index(alike[0]) + len(alike) - 1 == ids.index(alike[-1])  # side by side


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("status", ["", "retired", "submitted", "draft"])
async def test_no_page_shows_a_case_its_reader_may_not_see(
    world: World, library: Library, role: str, status: str
) -> None:
    user = as_user(world, role)
    seen = {row["id"] for row in await visible(user, status or "published")}

    for q in (WORD, ""):
        ids, totals = await every_page(user, 3, q=q, status=status)
        assert len(ids) == len(set(ids))
        assert set(ids) <= seen
        if not q:
            assert set(ids) == seen
        assert totals == {len(ids)}
    mine, _ = await every_page(user, 2, q=WORD, mine=True)
    authors = await CaseStudy.select(CaseStudy.author).where(CaseStudy.id.is_in(mine or [0]))
    assert {row["author"] for row in authors} <= {user.person_id}


async def test_who_sees_the_hidden_cases_in_a_search(world: World, library: Library) -> None:
    hidden = library.hidden

    async def found(role: str, **filters: Any) -> set[str]:
        ids, _ = await every_page(as_user(world, role), 5, q=WORD, **filters)
        return {name for name, case_id in hidden.items() if case_id in ids}

    assert await found("participant_a") == set()
    assert await found("facilitator_a") == set()
    assert await found("participant_b") == {"cohort B's"}
    assert await found("facilitator_b") == {"cohort B's"}
    assert await found("staff") == {"cohort B's"}
    assert await found("participant_a", status="draft") == {"participant A's draft"}
    assert await found("participant_b", status="draft") == set()
    assert await found("facilitator_a", status="draft") == {"an unpublished facilitator's"}
    assert await found("facilitator_b", status="submitted") == {"participant B's submitted"}
    assert await found("facilitator_a", status="submitted") == set()
    assert await found("staff", status="submitted") == set()
    assert await found("admin", status="submitted") == {"participant B's submitted"}
    assert await found("participant_a", mine=True) == {"participant A's draft"}


@pytest.mark.parametrize("role", ["staff", "participant_a", "facilitator_b"])
async def test_the_library_without_words_pages_newest_first(
    world: World, library: Library, role: str
) -> None:
    # Two cases published at the same moment: the newer id first.
    same = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
    await CaseStudy.update({CaseStudy.published_at: same}).where(
        CaseStudy.id.is_in(library.matching[2:4])
    )
    user = as_user(world, role)
    rows = await visible(user)
    expected = [
        row["id"]
        for row in sorted(
            rows, key=lambda r: (r["published_at"] or r["updated_at"], r["id"]), reverse=True
        )
    ]

    for limit in (3, 7, 100):
        ids, totals = await every_page(user, limit)
        assert ids == expected
        assert totals == {len(expected)}


@pytest.mark.parametrize(
    "filters",
    [
        {"competency": "ethics"},
        {"competency": "expectations"},
        {"audience": "graduate"},
        {"discipline": "Physics"},
        {"competency": "ethics", "audience": "graduate", "discipline": "biology"},
        {"provenance": "facilitator", "audience": "postdoc"},
        {"audience": "peer"},
    ],
)
@pytest.mark.parametrize("q", [WORD, ""])
async def test_filters_narrow_every_page_and_the_count(
    world: World, library: Library, filters: dict[str, str], q: str
) -> None:
    user = as_user(world, "participant_a")
    everything, _ = await every_page(user, 100, q=q)
    rows = {
        row["id"]: row for row in await CaseStudy.select().where(CaseStudy.id.is_in(everything))
    }
    expected = [i for i in everything if all(keeps(rows[i], k, v) for k, v in filters.items())]

    ids, totals = await every_page(user, 2, q=q, **filters)

    assert ids == expected
    assert totals == {len(expected)}


def keeps(row: dict[str, Any], name: str, value: str) -> bool:
    """What a filter keeps: a competency, primary or secondary; an audience; a discipline tag
    (in any case); a provenance."""
    if name == "competency":
        return value == row["primary_competency"] or value in (row["competencies"] or ())
    if name in ("audience", "discipline"):
        return value.lower() in (row[f"{name}s"] or ())
    return bool(row[name] == value)


async def test_a_page_beyond_the_last_is_empty_and_still_counts(
    world: World, library: Library
) -> None:
    user = as_user(world, "staff")
    whole = await services.list_cases(user, CaseFilter(q=WORD, limit=100))

    beyond = await services.list_cases(user, CaseFilter(q=WORD, limit=10, offset=1000))

    assert beyond.cases == ()
    assert beyond.total == whole.total == len(whole.cases) > 10
    assert (await services.list_cases(user, CaseFilter(q="?!"))).total == 0
    assert (await services.list_cases(user, CaseFilter(q="zeppelin"))).total == 0


async def test_the_search_page_continues_on_page_two_and_says_where_cases_were_used(
    client: httpx.AsyncClient, world: World, library: Library
) -> None:
    for n in range(6):  # 23 matches the staff member sees: two pages of 20
        await write(as_user(world, "facilitator_a"), f"More {n}", f"Another {WORD}.")
    session = (
        await Session.select(Session.id)
        .where(Session.cohort == world.cohort_a)
        .order_by(Session.starts_at)
        .first()
    )
    assert session is not None
    used = library.matching[0]
    await set_agenda(session["id"], [used], actor=as_user(world, "facilitator_a"))
    assert (await sign_in(client, world.staff.email, PASSWORD)).status_code in (302, 303)

    first = (await client.get(f"/cases?q={WORD}")).text
    second = (await client.get(f"/cases?q={WORD}&page_number=2")).text

    expected, _ = await every_page(as_user(world, "staff"), 20, q=WORD)
    assert len(expected) > 20
    for text in (first, second):
        assert f"{len(expected)} case studies for “{WORD}”" in text
        assert " of 2</span>" in text
        assert NOTE not in text
    assert [case_id for case_id in expected if f'href="/cases/{case_id}"' in first] == expected[:20]
    assert [case_id for case_id in expected if f'href="/cases/{case_id}"' in second] == (
        expected[20:]
    )
    page_with_used = first if used in expected[:20] else second
    card = page_with_used.split(f'href="/cases/{used}"', 1)[1].split("</article>", 1)[0]
    assert "used in 1 session(s)" in card
