"""The sessions app's HTML pages, one module per area."""

from sessions.pages.calendars import CalendarPages, FeedController
from sessions.pages.cohorts import CohortPages, DashboardPages
from sessions.pages.curricula import CurriculumPages
from sessions.pages.outbox import OutboxPages, SessionMessagesPage
from sessions.pages.prompts import AbsenceLinkPages, NextSessionPages, PromptPages, ReminderPages
from sessions.pages.roster import AttendancePages, RosterPages
from sessions.pages.session import MakeUpSessionPages, SessionPages

PAGES = [
    DashboardPages,
    CohortPages,
    SessionPages,
    MakeUpSessionPages,
    RosterPages,
    AttendancePages,
    CurriculumPages,
    CalendarPages,
    FeedController,
    OutboxPages,
    SessionMessagesPage,
    PromptPages,
    AbsenceLinkPages,
    ReminderPages,
    NextSessionPages,
]
