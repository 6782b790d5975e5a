"""Hand-written: composite unique and lookup indexes (same SQL on SQLite and PostgreSQL)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T02:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one enrollment and one facilitator row per (cohort, person); lookup indexes"

STATEMENTS = [
    "CREATE UNIQUE INDEX enrollment_cohort_person_key ON enrollment (cohort, person)",
    "CREATE INDEX enrollment_person_idx ON enrollment (person)",
    "CREATE UNIQUE INDEX cohort_facilitator_cohort_person_key"
    " ON cohort_facilitator (cohort, person)",
    "CREATE INDEX cohort_facilitator_person_idx ON cohort_facilitator (person)",
    "CREATE INDEX session_cohort_starts_idx ON session (cohort, starts_at)",
    "CREATE INDEX session_starts_idx ON session (starts_at)",
    "CREATE INDEX session_template_curriculum_idx ON session_template (curriculum, position)",
]


class RawSQL(Table, tablename="session"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="sessions", description=DESCRIPTION)

    async def run() -> None:
        for statement in STATEMENTS:
            await RawSQL.raw(statement)

    manager.add_raw(run)
    return manager
