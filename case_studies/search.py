"""Full-text search of the case library: SQLite FTS5 (table case_study_fts) or PostgreSQL's
weighted tsvector (column case_study.search_vector), both made by the hand-written migration
case_studies_2026_11_23t05_30_00_000000.

Users type words, never query syntax: the words are picked out of what they typed and every
one must match (stemmed: "mentors" finds "mentor"). A case whose title holds all the words
ranks above every case that has them in its text only.
"""

from __future__ import annotations

import re

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

# bm25 is negative, more negative for a better match; column weights title, scenario, questions.
_SQLITE_RANKED = (
    "SELECT rowid AS id, -bm25(case_study_fts, 10.0, 2.0, 2.0) AS score, "
    "rowid IN (SELECT rowid FROM case_study_fts WHERE case_study_fts MATCH {}) AS in_title "
    "FROM case_study_fts WHERE case_study_fts MATCH {}"
)
_POSTGRES_RANKED = (
    "SELECT id, ts_rank(search_vector, query) AS score, "
    "ts_filter(search_vector, ARRAY['a']::\"char\"[]) @@ query AS in_title "
    "FROM case_study, plainto_tsquery('english', {}) AS query "
    "WHERE search_vector @@ query"
)


def _is_postgres() -> bool:
    return bool(CaseStudy._meta.db.engine_type == "postgres")


def query_words(query: str) -> list[str]:
    """The words of what a user typed, lower-cased, each once, in order."""
    words = [w for w in _WORD.findall(query.lower()) if len(w) <= MAX_WORD_LENGTH]
    return list(dict.fromkeys(words))[:MAX_WORDS]


async def index_case(case_id: int) -> None:
    """(Re)index one case's title, scenario and questions, in the caller's transaction; a case
    that no longer exists leaves the index."""
    if _is_postgres():
        await CaseStudy.raw(_POSTGRES_INDEX, case_id)
        return
    for statement in _SQLITE_INDEX:
        await CaseStudy.raw(statement, case_id)


async def ranked(query: str) -> dict[int, float]:
    """Case ids matching every word of `query`, with a rank (higher is more relevant); {} when
    the query has no words to look for."""
    words = query_words(query)
    if not words:
        return {}
    if _is_postgres():
        rows = await CaseStudy.raw(_POSTGRES_RANKED, " ".join(words))
    else:
        # Each word quoted: FTS5 reads it as a plain term, whatever it is ("NEAR", "OR").
        phrases = " ".join(f'"{word}"' for word in words)
        rows = await CaseStudy.raw(_SQLITE_RANKED, f"title : ({phrases})", phrases)
    return {
        int(row["id"]): (TITLE_BONUS if row["in_title"] else 0.0)
        + max(float(row["score"]), 0.0) / (1.0 + max(float(row["score"]), 0.0))
        for row in rows
    }
