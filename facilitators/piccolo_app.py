"""Piccolo app: people and access."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from facilitators.tables import (
    Account,
    ApiToken,
    AuditEntry,
    FacilitatorCredential,
    Person,
    RoleGrant,
    SignInAttempt,
    SignInLink,
)

APP_CONFIG = AppConfig(
    app_name="facilitators",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        Person,
        Account,
        RoleGrant,
        ApiToken,
        FacilitatorCredential,
        AuditEntry,
        SignInLink,
        SignInAttempt,
    ],
    migration_dependencies=[],
    commands=[],
)
