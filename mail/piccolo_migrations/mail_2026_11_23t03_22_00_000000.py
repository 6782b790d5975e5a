"""Hand-written: the dispatcher's claim index (same SQL on SQLite and PostgreSQL)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T03:22:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox claim index: due messages by state and time"

STATEMENTS = ["CREATE INDEX outbox_message_due_idx ON outbox_message (state, send_after)"]


class RawSQL(Table, tablename="outbox_message"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mail", description=DESCRIPTION)

    async def run() -> None:
        for statement in STATEMENTS:
            await RawSQL.raw(statement)

    manager.add_raw(run)
    return manager
