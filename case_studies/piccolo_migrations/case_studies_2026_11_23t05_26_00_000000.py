"""Hand-written: composite unique and lookup indexes (same SQL on SQLite and PostgreSQL)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T05:26:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "a case once per agenda, one revision per number; lookup indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX agenda_item_session_case_key ON agenda_item (session, "case")',
    'CREATE INDEX agenda_item_case_idx ON agenda_item ("case")',
    'CREATE UNIQUE INDEX case_revision_case_number_key ON case_revision ("case", number)',
    'CREATE INDEX case_comment_case_idx ON case_comment ("case", created_at)',
    "CREATE INDEX case_study_cohort_idx ON case_study (cohort)",
    "CREATE INDEX case_study_author_idx ON case_study (author)",
    "CREATE INDEX discussion_note_session_idx ON discussion_note (session)",
    "CREATE UNIQUE INDEX note_revision_note_number_key ON note_revision (note, number)",
]


class RawSQL(Table, tablename="case_study"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="case_studies", description=DESCRIPTION)

    async def run() -> None:
        for statement in STATEMENTS:
            await RawSQL.raw(statement)

    manager.add_raw(run)
    return manager
