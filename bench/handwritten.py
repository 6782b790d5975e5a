"""The database's ceiling for bench/pages.py: the same pages with their queries written by hand.

A bare ASGI app (no framework) on one persistent sqlite3 connection, no thread between the
event loop and SQLite, the fewest queries each page can be written with, and the same Jinja
templates and view objects as mentorcircle (built with the app's own pure functions), so that
the two differ only in how they reach the database and in the framework around them. It
serves, for the office staff member bench/common.py signs in as (no cookie is read: the user's
row is still looked up on every request, as the app does):

    /                    the dashboard
    /cohorts/<id>        a cohort's page
    /cases?q=<words>     a library search
    /feeds/<name>.ics    a calendar feed (no sign-in)

    uvicorn bench.handwritten:create_app --factory   (with the app's DATABASE_URL, SECRET_KEY)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import sqlite3
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

# Registers Piccolo's sqlite3 adapters and converters: rows come back with the same types.
from piccolo.engine.sqlite import dict_factory

from case_studies import services as cases
from case_studies.pages.library import AUDIENCE_LABELS, PAGE_SIZE
from case_studies.search import TITLE_BONUS, query_words
from case_studies.tables import CaseStatus, Provenance
from facilitators.services import CurrentUser
from mail.setup import mail_leaves_machine
from sessions import attendance, feeds
from sessions.completion import CompletionRule, completion
from sessions.curricula import CompetencyRow
from sessions.invites import calendar_bytes, session_event
from sessions.pages.cohorts import COHORT_STATUS_LABELS, _ordered, month_view
from sessions.roster import ParticipantRow
from sessions.schedule import WEEKDAYS
from sessions.services import (
    STATUS_TRANSITIONS,
    UPCOMING_SHOWN,
    CohortDetail,
    CohortSummary,
    FacilitatorRow,
    SessionRow,
    _session_row,
)
from settings import get_settings
from web import make_environment

STAFF_EMAIL = "office.lead@large.example.org"
CSRF = "handwritten-csrf-token"

_USER = (
    "SELECT a.session_generation, p.id, p.name, p.email, p.active, p.timezone, "
    "(SELECT group_concat(role) FROM role_grant WHERE person = p.id) AS roles "
    "FROM account a JOIN person p ON p.id = a.person WHERE a.person = ?"
)
_SESSIONS = (
    "SELECT s.*, c.name AS cohort_name, c.timezone AS cohort_timezone "
    "FROM session s JOIN cohort c ON c.id = s.cohort "
)
_FACILITATORS = (
    "SELECT f.cohort, f.person, f.lead, p.name, p.email FROM cohort_facilitator f "
    "JOIN person p ON p.id = f.person "
)
# A page of a library search, in one statement: the matches ranked (case_studies.search) and
# counted, the page cut from those the viewer sees (CROSS JOIN: SQLite reads the matches first),
# then its rows, with how many sessions used each case.
_LIBRARY_PAGE = (
    "SELECT c.*, h.name AS cohort_name, h.timezone AS cohort_timezone, p.name AS author_name, "  # noqa: S608
    '(SELECT count(*) FROM agenda_item a WHERE a."case" = c.id) AS uses, page.total '
    "FROM (SELECT c.id, f.relevance, count(*) OVER () AS total FROM ("
    f"SELECT id, CASE WHEN in_title THEN {TITLE_BONUS!r} ELSE 0.0 END + score / (1.0 + score) "
    "AS relevance FROM (SELECT rowid AS id, max(-bm25(case_study_fts, 10.0, 2.0, 2.0), 0.0) "
    "AS score, rowid IN (SELECT rowid FROM case_study_fts WHERE case_study_fts MATCH "
    "'title : (' || ? || ')') AS in_title FROM case_study_fts WHERE case_study_fts MATCH ?)"
    ") AS f CROSS JOIN case_study c WHERE c.id = f.id AND c.status = ? "
    "ORDER BY f.relevance DESC, c.id LIMIT ?) AS page "
    "JOIN case_study c ON c.id = page.id LEFT JOIN cohort h ON h.id = c.cohort "
    "LEFT JOIN person p ON p.id = c.author ORDER BY page.relevance DESC, c.id"
)


@dataclass
class _Url:
    path: str


class _Request:
    """What the templates read from Litestar's request: the path, the user, the session."""

    def __init__(self, path: str, user: CurrentUser | None) -> None:
        self.url = _Url(path)
        self.scope: dict[str, Any] = {"user": user, "session": {}}


def _environment() -> Any:
    env = make_environment()
    env.globals["viewer"] = lambda: None  # replaced per render (see _render)
    env.globals["mail_leaves_machine"] = mail_leaves_machine(get_settings())
    env.globals["csrf_token"] = lambda: CSRF
    env.globals["url_for"] = lambda name, file_path: f"/static/{file_path}"
    return env


class Pages:
    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(
            path,
            detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES,
            isolation_level=None,
            check_same_thread=False,
        )
        self.db.row_factory = dict_factory
        self.db.execute("PRAGMA query_only = ON")
        self.env = _environment()
        self.queries = 0  # statements run for the current request (header x-queries)
        row = self.one("SELECT id FROM person WHERE email_key = ?", STAFF_EMAIL)
        assert row is not None, "load the large office first (mentorcircle demo --large)"
        self.person_id: int = row["id"]

    def all(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        self.queries += 1
        return self.db.execute(sql, args).fetchall()

    def one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        self.queries += 1
        row: dict[str, Any] | None = self.db.execute(sql, args).fetchone()
        return row

    def user(self) -> CurrentUser | None:
        row = self.one(_USER, self.person_id)
        if row is None or not row["active"]:
            return None
        return CurrentUser(
            row["id"],
            row["name"],
            row["email"],
            frozenset((row["roles"] or "").split(",")) - {""},
            timezone=row["timezone"],
        )

    def render(self, template: str, path: str, user: CurrentUser, context: dict[str, Any]) -> bytes:
        request = _Request(path, user)
        self.env.globals["viewer"] = lambda: user
        html: str = self.env.get_template(template).render(**context, request=request)
        return html.encode()

    # -- cohorts ----------------------------------------------------------------------------

    def _summaries(
        self,
        cohorts: list[dict[str, Any]],
        counts: dict[tuple[int, str], int],
        facilitators: list[dict[str, Any]],
        sessions: list[SessionRow],
    ) -> list[CohortSummary]:
        team: dict[int, list[FacilitatorRow]] = {}
        for f in facilitators:
            team.setdefault(f["cohort"], []).append(
                FacilitatorRow(f["person"], f["name"], f["email"], f["lead"])
            )
        now = dt.datetime.now(dt.UTC)
        upcoming: dict[int, SessionRow] = {}
        for s in sessions:
            if s.ends_at > now and s.status == "scheduled":
                upcoming.setdefault(s.cohort_id, s)
        return [
            CohortSummary(
                id=row["id"],
                name=row["name"],
                term=row["term"],
                timezone=row["timezone"],
                modality=row["modality"],
                location=row["location"],
                video_url=row["video_url"],
                capacity=row["capacity"],
                status=row["status"],
                curriculum_id=row["curriculum"],
                participant_count=counts.get((row["id"], "enrolled"), 0),
                waitlist_count=counts.get((row["id"], "waitlisted"), 0),
                facilitators=tuple(team.get(row["id"], [])),
                next_session=upcoming.get(row["id"]),
                created_at=row["created_at"],
                published_at=row["published_at"],
                auto_promote=row["auto_promote"],
                completion=CompletionRule(
                    percent=row["completion_percent"],
                    requires_first_last=row["completion_requires_first_last"],
                    late_counts=row["late_counts"],
                    left_early_counts=row["left_early_counts"],
                ),
                prompt_lead_minutes=row["prompt_lead_minutes"],
                reminder_minutes=tuple(row["reminder_minutes"] or ()),
            )
            for row in cohorts
        ]

    def dashboard(self, user: CurrentUser) -> bytes:
        """Office staff: every cohort, and the next meetings of all of them."""
        assert user.is_office, "the hand-written dashboard is office staff's"
        now = dt.datetime.now(dt.UTC)
        cohorts = self.all("SELECT * FROM cohort ORDER BY created_at DESC")
        counts = {
            (r["cohort"], r["status"]): r["n"]
            for r in self.all(
                "SELECT cohort, status, count(*) AS n FROM enrollment GROUP BY cohort, status"
            )
        }
        facilitators = self.all(_FACILITATORS + "ORDER BY f.lead DESC, f.id")
        # Each cohort's next meeting, and the next 8 of all: two small reads are cheaper than
        # reading every meeting to come (207 rows) once.
        next_meetings = [
            _session_row(r)
            for r in self.all(
                _SESSIONS  # noqa: S608 - fixed SQL
                + "WHERE s.id IN (SELECT (SELECT u.id FROM session u "
                "WHERE u.cohort = k.id AND u.status = 'scheduled' AND u.ends_at > ? "
                "ORDER BY u.starts_at, u.id LIMIT 1) FROM cohort k) ORDER BY s.starts_at",
                now,
            )
        ]
        upcoming = [
            _session_row(r)
            for r in self.all(
                _SESSIONS + "WHERE s.ends_at > ? AND s.status = 'scheduled' "
                "ORDER BY s.starts_at LIMIT ?",
                now,
                UPCOMING_SHOWN,
            )
        ]
        summaries = self._summaries(cohorts, counts, facilitators, next_meetings)
        return self.render(
            "sessions/dashboard.html",
            "/",
            user,
            {
                "cohorts": summaries,
                "upcoming": upcoming,
                "attention": [
                    c
                    for c in summaries
                    if c.status not in {"completed", "archived", "cancelled"}
                    and (c.size_warning or c.next_session is None or not c.is_published)
                ],
            },
        )

    def cohort(self, user: CurrentUser, cohort_id: int) -> bytes | None:
        assert user.is_office, "the hand-written cohort page is office staff's"
        row = self.one("SELECT * FROM cohort WHERE id = ?", cohort_id)
        if row is None:
            return None
        enrollments = self.all(
            "SELECT e.id, e.person, e.status, e.enrolled_at, e.withdrawn_at, p.name, p.email, "
            "p.department, p.career_stage, p.timezone FROM enrollment e "
            "JOIN person p ON p.id = e.person WHERE e.cohort = ? ORDER BY e.enrolled_at, e.id",
            cohort_id,
        )
        everyone = [
            ParticipantRow(
                r["id"],
                r["person"],
                r["name"],
                r["email"],
                r["department"],
                r["career_stage"],
                r["timezone"],
                r["status"],
                r["enrolled_at"],
                r["withdrawn_at"],
            )
            for r in enrollments
        ]
        counts: dict[tuple[int, str], int] = {}
        for p in everyone:
            counts[(cohort_id, p.status)] = counts.get((cohort_id, p.status), 0) + 1
        facilitators = self.all(
            _FACILITATORS + "WHERE f.cohort = ? ORDER BY f.lead DESC, f.id", cohort_id
        )
        sessions = [
            _session_row(r)
            for r in self.all(
                _SESSIONS + "WHERE s.cohort = ? ORDER BY s.starts_at, s.position", cohort_id
            )
        ]
        summary = self._summaries([row], counts, facilitators, sessions)[0]
        records = {
            (r["session"], r["enrollment"]): r["status"]
            for r in self.all(
                "SELECT a.session, a.enrollment, a.status FROM attendance a "
                "JOIN session s ON s.id = a.session WHERE s.cohort = ?",
                cohort_id,
            )
        }
        # attendance.cohort_completion, from the rows above.
        held = [s for s in sessions if not s.is_cancelled]
        planned = [s.id for s in held if not s.extra]
        extra = tuple(s.id for s in held if s.extra)
        final = summary.status in {"completed", "archived"} or bool(
            held and held[-1].ends_at <= dt.datetime.now(dt.UTC)
        )
        rows = []
        for p in everyone:
            if p.status == "waitlisted":
                continue
            by_session = {
                s.id: records[(s.id, p.enrollment_id)]
                for s in held
                if (s.id, p.enrollment_id) in records
            }
            rows.append(
                attendance.CompletionRow(
                    p,
                    completion(
                        summary.completion, planned, by_session, final=final, extra_ids=extra
                    ),
                    by_session,
                )
            )
        participants = [p for p in everyone if p.status != "withdrawn"]
        mine = next((r for r in rows if r.participant.person_id == user.person_id), None)
        waiting = [p for p in participants if p.status == "waitlisted"]
        return self.render(
            "sessions/cohort.html",
            f"/cohorts/{cohort_id}",
            user,
            {
                "cohort": CohortDetail(summary, tuple(sessions), can_manage=True),
                "participants": [p for p in participants if p.status == "enrolled"],
                "months": month_view(tuple(sessions), summary.timezone),
                "viewer_zone": user.timezone
                if user.timezone and user.timezone != summary.timezone
                else "",
                "my_completion": mine,
                "my_waitlist_place": next(
                    (i for i, p in enumerate(waiting, start=1) if p.person_id == user.person_id),
                    None,
                ),
                "cohort_feed": feeds.links(feeds.feed_name("c", cohort_id, row["feed_generation"])),
                "review_mail": row["review_mail"],
                "counted_sessions": held,
                "rule_text": attendance.rule_text(summary.completion, len(held)),
                "transitions": _ordered(STATUS_TRANSITIONS[summary.status]),
                "status_labels": COHORT_STATUS_LABELS,
                "curricula": [],
                "weekdays": WEEKDAYS,
                "form": {"interval_weeks": "1", "start_time": "15:00"},
                "errors": {},
            },
        )

    # -- the library ------------------------------------------------------------------------

    def library(self, user: CurrentUser, q: str) -> bytes:
        """A search of published cases as office staff (no cohorts of their own: they see every
        published case), ranked and cut to its page by SQLite, as services.list_cases does."""
        assert user.is_office and not user.has_role("facilitator")
        assert not user.has_role("participant")
        viewer = cases.Viewer(user, frozenset(), frozenset())
        filters = cases.CaseFilter(q=q[:200], limit=PAGE_SIZE)
        words = query_words(filters.q)
        phrases = " ".join(f'"{word}"' for word in words)
        shown: list[dict[str, Any]] = []
        if words:
            published = CaseStatus.published.value
            shown = self.all(_LIBRARY_PAGE, phrases, phrases, published, PAGE_SIZE)
        total = shown[0]["total"] if shown else 0
        usage = {r["id"]: r["uses"] for r in shown if r["uses"]}
        result = cases.CasePage(tuple(cases._view(viewer, r) for r in shown), total, filters, usage)
        competencies = [
            CompetencyRow(r["code"], r["name"], tuple(r["aliases"] or ()), r["core"])
            for r in self.all("SELECT * FROM competency ORDER BY position")
        ]
        return self.render(
            "case_studies/library.html",
            "/cases",
            user,
            {
                "result": result,
                "filters": filters,
                "page_number": 1,
                "pages": max(1, -(-result.total // PAGE_SIZE)),
                "competencies": competencies,
                "competency_names": {c.code: c.name for c in competencies},
                "audiences": AUDIENCE_LABELS,
                "statuses": [s.value for s in CaseStatus],
                "provenances": [p.value for p in Provenance],
            },
        )

    # -- calendar feeds ---------------------------------------------------------------------

    def feed(self, name: str) -> tuple[bytes, dict[str, str]] | None:
        """A person's feed (sessions.feeds.feed_for, for the "p" kind)."""
        match = feeds._NAME.match(name)
        if match is None or match["kind"] != "p":
            return None
        person_id = int(match["id"])
        person = self.one(
            "SELECT feed_generation, active, calendar_changed_at FROM person WHERE id = ?",
            person_id,
        )
        if person is None or not hmac.compare_digest(
            match["secret"], feeds._secret("p", person_id, person["feed_generation"])
        ):
            return None
        if not person["active"]:
            return None
        enrollments = self.all(
            "SELECT cohort, status, enrolled_at, withdrawn_at FROM enrollment WHERE person = ?",
            person_id,
        )
        ids = {e["cohort"] for e in enrollments if e["status"] in ("enrolled", "waitlisted")}
        ids |= {
            r["cohort"]
            for r in self.all("SELECT cohort FROM cohort_facilitator WHERE person = ?", person_id)
        }
        changed = max(
            [feeds.EPOCH, person["calendar_changed_at"]]
            + [e["enrolled_at"] for e in enrollments]
            + [e["withdrawn_at"] for e in enrollments if e["withdrawn_at"] is not None]
        )
        cohort_ids = sorted(ids)
        marks = ", ".join("?" for _ in cohort_ids)
        sessions = (
            self.all(
                f"{_SESSIONS}WHERE s.cohort IN ({marks}) AND c.published_at IS NOT NULL "
                "ORDER BY s.starts_at",
                *cohort_ids,
            )
            if cohort_ids
            else []
        )
        events = [
            session_event(
                s,
                s["cohort_name"],
                sequence=s["ical_sequence"],
                stamp=s["updated_at"],
                cancelled=s["status"] == "cancelled",
            )
            for s in sessions
        ]
        body = calendar_bytes(events, method=None, feed=True)
        cohorts_changed = (
            [
                r["updated_at"]
                for r in self.all(
                    f"SELECT updated_at FROM cohort WHERE id IN ({marks})",  # noqa: S608
                    *cohort_ids,
                )
            ]
            if cohort_ids
            else []
        )
        last = max([changed, *cohorts_changed] + [s["updated_at"] for s in sessions])
        headers = {
            "etag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            "last-modified": format_datetime(last.replace(microsecond=0), usegmt=True),
            "cache-control": "private, max-age=3600",
            "referrer-policy": "no-referrer",
            "content-type": "text/calendar; charset=utf-8",
            "content-disposition": 'inline; filename="mentorcircle.ics"',
        }
        return body, headers


def create_app() -> Any:
    """The ASGI app (uvicorn --factory)."""
    pages: Pages | None = None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal pages
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    pages = Pages(str(get_settings().sqlite_path))
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if pages is not None:
                        pages.db.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert pages is not None and scope["type"] == "http"
        path: str = scope["path"]
        pages.queries = 0
        status, body, headers = 404, b"not found", {"content-type": "text/plain"}
        html = {"content-type": "text/html; charset=utf-8"}
        if path == "/health":
            status, body, headers = 200, b'{"status":"ok"}', {"content-type": "application/json"}
        elif path.startswith("/feeds/"):
            feed = pages.feed(path.removeprefix("/feeds/"))
            if feed is not None:
                status, (body, headers) = 200, feed
        else:
            user = pages.user()
            if user is None:
                status, body = 401, b"not signed in"
            elif path == "/":
                status, body, headers = 200, pages.dashboard(user), html
            elif path.startswith("/cohorts/") and path.removeprefix("/cohorts/").isdigit():
                page = pages.cohort(user, int(path.removeprefix("/cohorts/")))
                if page is not None:
                    status, body, headers = 200, page, html
            elif path == "/cases":
                query = parse_qs(scope["query_string"].decode())
                q = query.get("q", [""])[0]
                status, body, headers = 200, pages.library(user, q), html
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"x-queries", str(pages.queries).encode()),
                    *((k.encode(), v.encode()) for k, v in headers.items()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app
