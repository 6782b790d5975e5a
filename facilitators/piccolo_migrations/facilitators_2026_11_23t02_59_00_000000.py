"""Hand-written: indexes Piccolo cannot declare (same SQL on SQLite and PostgreSQL)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T02:59:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (person, role), lookup indexes"

STATEMENTS = [
    "CREATE UNIQUE INDEX role_grant_person_role_key ON role_grant (person, role)",
    "CREATE INDEX api_token_person_idx ON api_token (person)",
    "CREATE INDEX audit_entry_at_idx ON audit_entry (at)",
]


class RawSQL(Table, tablename="person"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="facilitators", description=DESCRIPTION)

    async def run() -> None:
        for statement in STATEMENTS:
            await RawSQL.raw(statement)

    manager.add_raw(run)
    return manager
