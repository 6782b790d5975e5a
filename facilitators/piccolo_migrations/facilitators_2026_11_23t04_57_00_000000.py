"""Hand-written: sign-in link and rate-limit indexes (same SQL on SQLite and PostgreSQL)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T04:57:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sign-in links by person and expiry; sign-in attempts by scope and time"

STATEMENTS = [
    "CREATE INDEX sign_in_link_person_idx ON sign_in_link (person)",
    "CREATE INDEX sign_in_link_expires_at_idx ON sign_in_link (expires_at)",
    "CREATE INDEX sign_in_attempt_scope_at_idx ON sign_in_attempt (scope, at)",
]


class RawSQL(Table, tablename="sign_in_link"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="facilitators", description=DESCRIPTION)

    async def run() -> None:
        for statement in STATEMENTS:
            await RawSQL.raw(statement)

    manager.add_raw(run)
    return manager
