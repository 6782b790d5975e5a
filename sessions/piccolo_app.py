"""Piccolo app: cohorts and their meetings."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from sessions.tables import (
    Attendance,
    Cohort,
    CohortFacilitator,
    Competency,
    CurriculumTemplate,
    Enrollment,
    Session,
    SessionTemplate,
)

APP_CONFIG = AppConfig(
    app_name="sessions",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        Competency,
        CurriculumTemplate,
        SessionTemplate,
        Cohort,
        CohortFacilitator,
        Session,
        Enrollment,
        Attendance,
    ],
    migration_dependencies=["facilitators.piccolo_app"],
    commands=[],
)
