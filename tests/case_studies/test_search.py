"""Searching the case library by words: stemmed, every word required, titles first, safe with
whatever people type; filters narrow the results."""

from __future__ import annotations

from typing import Any

import pytest

from case_studies import search, services
from case_studies.services import CaseFilter, CaseInput
from facilitators.services import CurrentUser
from tests.conftest import make_person


@pytest.fixture
async def admin(database: Any) -> CurrentUser:
    person = await make_person("admin@example.org", {"admin"})
    return CurrentUser(person.id, person.name, person.email, frozenset({"admin"}))


async def add_case(
    actor: CurrentUser, title: str, scenario: str, provenance: str = "curriculum", **tags: Any
) -> int:
    return await services.create_case(
        CaseInput(
            title=title,
            scenario=scenario,
            questions=tags.pop("questions", ("What would you do?",)),
            **tags,
        ),
        actor=actor,
        provenance=provenance,
        scope="library",
        publish=True,
    )


async def titles(user: CurrentUser, **filters: Any) -> list[str]:
    page = await services.list_cases(user, CaseFilter(**filters))
    return [case.title for case in page.cases]


async def test_a_title_match_ranks_above_a_match_in_the_text_only(admin: CurrentUser) -> None:
    # The body-only case says "authorship" three times; the title one once, in its title.
    await add_case(
        admin,
        "Lab meeting silence",
        "Authorship came up. Authorship of the poster, authorship of the paper.",
    )
    await add_case(admin, "An authorship dispute", "Two students want the same slot.")
    await add_case(admin, "Unrelated", "Nothing about credit here.")

    assert await titles(admin, q="authorship") == ["An authorship dispute", "Lab meeting silence"]


async def test_words_are_stemmed_and_all_of_them_must_match(admin: CurrentUser) -> None:
    await add_case(admin, "The quiet mentor", "A mentor who never asks questions.")
    await add_case(admin, "Deadlines", "A mentee misses deadlines.")

    assert await titles(admin, q="mentors") == ["The quiet mentor"]
    assert await titles(admin, q="Mentoring QUESTIONS") == ["The quiet mentor"]
    assert await titles(admin, q="mentor deadlines") == []


async def test_questions_are_searched_too(admin: CurrentUser) -> None:
    await add_case(
        admin,
        "Conference travel",
        "A student asks to present at a meeting abroad.",
        questions=("How would you weigh the budget against visibility?",),
    )

    assert await titles(admin, q="budget visibility") == ["Conference travel"]


@pytest.mark.parametrize(
    "query",
    [
        '"AND OR NEAR( * -- ; DROP',
        "mentor'; DROP TABLE case_study; --",
        'title : "mentor" ^ {scenario} NOT',
        "mentor*",
        '"""',
        "(((",
        "-mentor",
        "mentor AND",
        "a_b __ ~~ \\ %",
    ],
)
async def test_hostile_input_finds_words_or_nothing_but_never_fails(
    admin: CurrentUser, query: str
) -> None:
    await add_case(admin, "The quiet mentor", "A mentor who never asks questions.")

    found = await titles(admin, q=query)

    assert found in ([], ["The quiet mentor"])
    assert await titles(admin, q="mentor") == ["The quiet mentor"]  # the table is still there


async def test_a_query_without_words_finds_nothing(admin: CurrentUser) -> None:
    await add_case(admin, "The quiet mentor", "A mentor who never asks questions.")

    assert await search.ranked("  -- ;; ** ") == {}
    assert await titles(admin, q="?!") == []


async def test_retired_cases_leave_search_unless_asked_for(admin: CurrentUser) -> None:
    kept = await add_case(admin, "Feedback on drafts, kept", "Feedback that lands.")
    retired = await add_case(admin, "Feedback on drafts, old", "Feedback that hurts.")
    await services.retire(retired, actor=admin)

    assert await titles(admin, q="feedback") == ["Feedback on drafts, kept"]
    assert await titles(admin, q="feedback", status="retired") == ["Feedback on drafts, old"]
    assert kept != retired


async def test_filters_narrow_a_search(admin: CurrentUser) -> None:
    await add_case(
        admin,
        "Credit for the figure",
        "A figure and its credit.",
        primary_competency="ethics",
        audiences=("graduate",),
        disciplines=("biology",),
    )
    await add_case(
        admin,
        "Credit in the grant",
        "A grant and its credit.",
        primary_competency="expectations",
        competencies=("ethics",),
        audiences=("postdoc",),
        disciplines=("physics",),
        provenance="facilitator",
    )

    assert await titles(admin, q="credit", competency="expectations") == ["Credit in the grant"]
    assert len(await titles(admin, q="credit", competency="ethics")) == 2
    assert await titles(admin, q="credit", audience="graduate") == ["Credit for the figure"]
    assert await titles(admin, q="credit", discipline="Physics") == ["Credit in the grant"]
    assert await titles(admin, q="credit", provenance="curriculum") == ["Credit for the figure"]
    assert await titles(admin, q="credit", status="published", audience="peer") == []


async def test_an_edited_case_is_found_by_its_new_words_not_its_old_ones(
    admin: CurrentUser,
) -> None:
    case_id = await add_case(admin, "Office hours", "The mentee never comes to office hours.")
    assert await titles(admin, q="office hours") == ["Office hours"]

    await services.update_case(
        case_id,
        {
            "title": "Weekly check-ins",
            "scenario": "The mentee skips the weekly check-in.",
            "questions": ("What changes first?",),
        },
        actor=admin,
    )

    assert await titles(admin, q="office") == []
    assert await titles(admin, q="hours") == []
    assert await titles(admin, q="weekly check-in") == ["Weekly check-ins"]


async def test_a_deleted_case_leaves_the_index(admin: CurrentUser) -> None:
    from case_studies.tables import CaseStudy

    case_id = await add_case(admin, "Short-lived", "A dilemma about sabbaticals.")
    await CaseStudy.delete().where(CaseStudy.id == case_id)
    await search.index_case(case_id)

    assert await search.ranked("sabbaticals") == {}
