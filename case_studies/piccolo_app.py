"""Piccolo app: the case-study library, session agendas and discussion notes."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from case_studies.tables import (
    AgendaItem,
    CaseComment,
    CaseRevision,
    CaseStudy,
    DiscussionNote,
    NoteRevision,
    Scribe,
)

APP_CONFIG = AppConfig(
    app_name="case_studies",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        CaseStudy,
        CaseRevision,
        CaseComment,
        AgendaItem,
        DiscussionNote,
        NoteRevision,
        Scribe,
    ],
    migration_dependencies=["sessions.piccolo_app"],
    commands=[],
)
