"""Hand-written: one attendance row per (session, enrollment) (same SQL on both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T02:54:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique attendance per session and enrollment; lookup index"

STATEMENTS = [
    "CREATE UNIQUE INDEX attendance_session_enrollment_key ON attendance (session, enrollment)",
    "CREATE INDEX attendance_enrollment_idx ON attendance (enrollment)",
]


class RawSQL(Table, tablename="attendance"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="sessions", description=DESCRIPTION)

    async def run() -> None:
        for statement in STATEMENTS:
            await RawSQL.raw(statement)

    manager.add_raw(run)
    return manager
