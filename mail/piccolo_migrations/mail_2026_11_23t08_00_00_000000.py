"""Hand-written: the outbox page's indexes (same SQL on SQLite and PostgreSQL). Each serves a
filter of the page in its order (newest first), and the state ones its capped counts, so that
the page reads what it shows whatever the size of the outbox. By kind: PostgreSQL's index on
kind alone is not in id order (SQLite's is, it ends with the rowid)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox page indexes: by state, by cohort and state, by kind, newest first"

STATEMENTS = [
    "CREATE INDEX outbox_message_state_idx ON outbox_message (state, id)",
    "CREATE INDEX outbox_message_cohort_state_idx ON outbox_message (cohort_id, state, id)",
    "CREATE INDEX outbox_message_kind_idx ON outbox_message (kind, id)",
]


class RawSQL(Table, tablename="outbox_message"):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mail", description=DESCRIPTION)

    async def run() -> None:
        for statement in STATEMENTS:
            await RawSQL.raw(statement)

    manager.add_raw(run)
    return manager
