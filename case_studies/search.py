"""Full-text search of the case library: SQLite FTS5 (table case_study_fts) or PostgreSQL's
weighted tsvector (column case_study.search_vector), both made by the hand-written migration
case_studies_2026_11_23t05_30_00_000000.

Users type words, never query syntax: the words are picked out of what they typed and every
one must match (stemmed: "mentors" finds "mentor"). A case whose title holds all the words
ranks above every case that has them in its text only.

The library's queries take the matches as SQL (`matches`, `ranked_cases`), so that the database
ranks, filters and cuts a page of them: a search reads the rows its page shows.
"""

from __future__ import annotations

import re
from typing import Any

from piccolo.columns.combination import WhereRaw
from piccolo.querystring import QueryString

from case_studies.tables import CaseStudy

MAX_WORDS = 16
MAX_WORD_LENGTH = 60
# Relevance within the text is squeezed into [0, 1); a title holding every word adds 1.
TITLE_BONUS = 1.0

# Letters and digits in any script; everything else (quotes, operators, brackets) separates.
_WORD = re.compile(r"[^\W_]+")

_SQLITE_INDEX = (
    "DELETE FROM case_study_fts WHERE rowid = {}",
    # Arrays are JSON text on SQLite: index the questions' words, not the JSON around them.
    "INSERT INTO case_study_fts (rowid, title, scenario, questions) "
    "SELECT id, title, scenario, "
    "coalesce((SELECT group_concat(value, char(10)) FROM json_each(case_study.questions)), '') "
    "FROM case_study WHERE id = {}",
)
_POSTGRES_INDEX = (
    "UPDATE case_study SET search_vector = "
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(scenario, '') || ' ' || "
    "coalesce(array_to_string(questions, ' '), '')), 'B') "
    "WHERE id = {}"
)

# The relevance of a match from its text's score (clamped at 0) and whether its title holds all
# the words: double-precision arithmetic on both engines.
_RELEVANCE = f"CASE WHEN in_title THEN {TITLE_BONUS!r} ELSE 0.0 END + score / (1.0 + score)"
# The matches of a search text (see `search_text`) with their relevance, higher first. bm25 is
# negative, more negative for a better match; column weights title, scenario, questions.
_SQLITE_RANKED = (
    f"SELECT id, {_RELEVANCE} AS relevance FROM ("  # noqa: S608 - fixed SQL
    "SELECT rowid AS id, max(-bm25(case_study_fts, 10.0, 2.0, 2.0), 0.0) AS score, "
    "rowid IN (SELECT rowid FROM case_study_fts WHERE case_study_fts MATCH "
    "'title : (' || {} || ')') AS in_title "
    "FROM case_study_fts WHERE case_study_fts MATCH {}) AS scored"
)
# ts_rank is a float4: its score is made a float8 before any arithmetic.
_POSTGRES_RANKED = (
    f"SELECT id, {_RELEVANCE} AS relevance FROM ("  # noqa: S608 - fixed SQL
    "SELECT id, greatest(ts_rank(search_vector, query)::float8, 0.0) AS score, "
    "ts_filter(search_vector, ARRAY['a']::\"char\"[]) @@ query AS in_title "
    "FROM case_study, plainto_tsquery('english', {}) AS query "
    "WHERE search_vector @@ query) AS scored"
)
_SQLITE_MATCHES = (
    '"case_study"."id" IN (SELECT rowid FROM case_study_fts WHERE case_study_fts MATCH {})'
)
_POSTGRES_MATCHES = '"case_study"."search_vector" @@ plainto_tsquery(\'english\', {})'


def _is_postgres() -> bool:
    return bool(CaseStudy._meta.db.engine_type == "postgres")


def query_words(query: str) -> list[str]:
    """The words of what a user typed, lower-cased, each once, in order."""
    words = [w for w in _WORD.findall(query.lower()) if len(w) <= MAX_WORD_LENGTH]
    return list(dict.fromkeys(words))[:MAX_WORDS]


def search_text(query: str) -> str:
    """What the engine's full-text search is given for `query`: its words ("" when it has
    none), each quoted for FTS5 so that it reads a plain term, whatever it is ("NEAR", "OR")."""
    words = query_words(query)
    if _is_postgres():
        return " ".join(words)
    return " ".join(f'"{word}"' for word in words)


def matches(text: Any) -> WhereRaw:
    """A WHERE clause on case_study: the case matches every word of a search text."""
    return WhereRaw(_POSTGRES_MATCHES if _is_postgres() else _SQLITE_MATCHES, text)


def ranked_cases(text: Any) -> QueryString:
    """A subquery of the cases matching a search text: `id` and `relevance` (higher first)."""
    if _is_postgres():
        return QueryString(_POSTGRES_RANKED, text)
    return QueryString(_SQLITE_RANKED, text, text)


async def index_case(case_id: int) -> None:
    """(Re)index one case's title, scenario and questions, in the caller's transaction; a case
    that no longer exists leaves the index."""
    if _is_postgres():
        await CaseStudy.raw(_POSTGRES_INDEX, case_id)
        return
    for statement in _SQLITE_INDEX:
        await CaseStudy.raw(statement, case_id)


async def ranked(query: str) -> dict[int, float]:
    """Case ids matching every word of `query`, with their relevance; {} when the query has no
    words to look for."""
    text = search_text(query)
    if not text:
        return {}
    rows = await CaseStudy.raw("SELECT id, relevance FROM ({}) AS found", ranked_cases(text))
    return {int(row["id"]): float(row["relevance"]) for row in rows}
