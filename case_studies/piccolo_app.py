"""Piccolo app: the case-study library (its tables come with the case-study issue)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

APP_CONFIG = AppConfig(
    app_name="case_studies",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[],
    migration_dependencies=["sessions.piccolo_app"],
    commands=[],
)
