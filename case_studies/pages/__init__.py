"""The case-study app's HTML pages, one module per area."""

from typing import Any

from case_studies.pages.agenda import AgendaPages
from case_studies.pages.imports import CaseImportPages
from case_studies.pages.library import CasePages
from case_studies.pages.notes import NotesPages

PAGES: list[Any] = [CaseImportPages, CasePages, AgendaPages, NotesPages]
