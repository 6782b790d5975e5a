"""Hand-written: the library's "newest first" order as an index (same SQL on SQLite and
PostgreSQL), so that a page of the library reads its 20 cases, not the whole library."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T06:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index the library's newest-first order"

STATEMENTS = [
    "CREATE INDEX case_study_newest_idx ON case_study "
    "(status, (COALESCE(published_at, updated_at)), id)",
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
