"""Hand-written: full-text search of the case library, one branch per engine.

SQLite: an FTS5 table (rowid = case id) that case_studies.search keeps up to date, emptied of
a case when the case is deleted. PostgreSQL: a weighted tsvector column on case_study (title
A, scenario and questions B) with a GIN index; Piccolo's Table class does not declare it.
Existing cases are indexed here once.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T05:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "full-text search of case studies (SQLite FTS5, PostgreSQL tsvector)"

SQLITE = [
    "CREATE VIRTUAL TABLE case_study_fts USING fts5("
    "title, scenario, questions, tokenize = 'porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER case_study_fts_delete AFTER DELETE ON case_study BEGIN "
    "DELETE FROM case_study_fts WHERE rowid = old.id; END",
    # Piccolo keeps arrays as JSON text on SQLite: index the questions' text, not the JSON.
    "INSERT INTO case_study_fts (rowid, title, scenario, questions) "
    "SELECT id, title, scenario, "
    "coalesce((SELECT group_concat(value, char(10)) FROM json_each(case_study.questions)), '') "
    "FROM case_study",
]

POSTGRES = [
    "ALTER TABLE case_study ADD COLUMN search_vector tsvector",
    "CREATE INDEX case_study_search_idx ON case_study USING GIN (search_vector)",
    "UPDATE case_study SET search_vector = "
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(scenario, '') || ' ' || "
    "coalesce(array_to_string(questions, ' '), '')), 'B')",
]


class RawSQL(Table, tablename="case_study"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="case_studies", description=DESCRIPTION)

    async def run() -> None:
        statements = POSTGRES if RawSQL._meta.db.engine_type == "postgres" else SQLITE
        for statement in statements:
            await RawSQL.raw(statement)

    manager.add_raw(run)
    return manager
