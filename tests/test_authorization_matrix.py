"""The authorization matrix: every route of the app, called as every kind of visitor, against an
explicit table of expected status codes. A route with no row fails; so does a row with no route.

API routes are called with the person's Bearer token; pages with a signed-in browser (a form
post carries a valid CSRF token, so what is tested is the permission, not the CSRF check).
Roles are called in the order of ROLES, against one fresh world per route, so a row's codes
may reflect what an earlier role did (the facilitator publishes; staff then get 409).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute

from tests.conftest import World, csrf_token, sign_in

ROLES = ("anonymous", "participant_a", "participant_b", "facilitator_a", "staff", "admin")
# Beyond the six roles the table names: the facilitator of the *other* cohort. Where a route is
# about cohort A they get what participant B gets (404: A does not exist for them); otherwise
# what facilitator A gets, unless a row says `facilitator_b=`. Called right after facilitator A.
EXTRA_ROLE = "facilitator_b"
CALL_ORDER = (*ROLES[:4], EXTRA_ROLE, *ROLES[4:])


@dataclass(frozen=True)
class Ids:
    session_a: int
    enrollment_a: int
    token_a: int
    builtin_curriculum: int
    copy_by_facilitator_a: int
    message: int
    feed_a: str
    link_a: str  # a live sign-in link of participant A
    next_session_a: int  # cohort A's next session (still to come)
    note_a: int  # a final group note of session_a (about the session as a whole)
    draft_note_a: int  # a draft group note of next_session_a
    case_lib: int  # a library case facilitator A wrote (published)
    case_sub: int  # participant A's dilemma, submitted to cohort A


Body = dict[str, Any] | Callable[[World, Ids, str], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """Expected status per role, in the order of ROLES."""

    statuses: tuple[int, int, int, int, int, int]
    path: Callable[[World, Ids], str] | None = None
    json: Body | None = None
    form: Body = field(default_factory=dict)
    csv: bytes | None = None
    facilitator_b: int | None = None

    def expected(self, role: str) -> int:
        if role != EXTRA_ROLE:
            return self.statuses[ROLES.index(role)]
        if self.facilitator_b is not None:
            return self.facilitator_b
        return 404 if self.statuses[2] == 404 else self.statuses[3]


ALL_200 = (200, 200, 200, 200, 200, 200)
SIGNED_IN_API = (401, 200, 200, 200, 200, 200)
SIGNED_IN_PAGE = (302, 200, 200, 200, 200, 200)
ADMIN_PAGE = (302, 403, 403, 403, 403, 200)
ADMIN_FORM = (302, 403, 403, 403, 403, 302)
READ_API = (401, 200, 404, 200, 200, 200)
MANAGE_API = (401, 403, 404, 200, 200, 200)
CREATE_API = (401, 403, 404, 201, 201, 201)
READ_PAGE = (302, 200, 404, 200, 200, 200)
MANAGE_PAGE = (302, 403, 404, 200, 200, 200)
MANAGE_FORM = (302, 403, 404, 302, 302, 302)
OFFICE_API = (401, 403, 403, 403, 200, 200)
OFFICE_PAGE = (302, 403, 403, 403, 200, 200)
OFFICE_FORM = (302, 403, 403, 403, 302, 302)
# Discussion notes: the cohort's circle only (office staff and admins who do not facilitate
# the cohort get 404, as for an absent thing).
NOTES_READ_API = (401, 200, 404, 200, 404, 404)
NOTES_FACILITATE_API = (401, 403, 404, 200, 404, 404)
NOTES_READ_PAGE = (302, 200, 404, 200, 404, 404)
NOTES_FACILITATE_FORM = (302, 403, 404, 302, 404, 404)
# After the facilitator has done it, doing it again is a conflict.
ONCE_API = (401, 403, 404, 200, 409, 409)

NEW_PERSON = {"email": "someone.new@example.edu", "name": "Someone New"}
ROLE_HOUR = {role: 8 + index for index, role in enumerate(CALL_ORDER)}


def person_a(w: World) -> str:
    return f"/admin/people/{w.participant_a.id}"


def absence_link(w: World, ids: Ids) -> str:
    from sessions.links import absence_token

    token = absence_token(ids.next_session_a, w.participant_a.id)
    return f"/sessions/{ids.next_session_a}/cant-attend/{token}"


def reminders_link(w: World) -> str:
    from sessions.links import unsubscribe_token

    return f"/reminders/off/{unsubscribe_token(w.participant_a.id)}"


def session_a(w: World, ids: Ids) -> str:
    return f"/sessions/{ids.session_a}"


def api_session_a(w: World, ids: Ids) -> str:
    return f"/api/sessions/{ids.session_a}"


def enrollment_a(prefix: str) -> Callable[[World, Ids], str]:
    return lambda w, ids: f"{prefix}/cohorts/{w.cohort_a}/participants/{ids.enrollment_a}"


def new_session(w: World, ids: Ids, role: str) -> dict[str, Any]:
    # Each role adds its own session at its own hour, so that none overlaps another.
    return {
        "title": f"Make-up ({role})",
        "date": "2031-01-15",
        "start_time": f"{ROLE_HOUR[role]:02d}:00",
    }


def session_a_as_it_is(w: World, ids: Ids, role: str) -> dict[str, Any]:
    start = dt.date.today() - dt.timedelta(days=7)
    return {"title": "Renamed", "date": start.isoformat(), "start_time": "15:00", "minutes": "60"}


def template_edit(w: World, ids: Ids, role: str) -> dict[str, Any]:
    return {
        "name": f"Edited by {role}",
        "description": "",
        "row_count": "1",
        "title_0": "Only session",
        "minutes_0": "90",
    }


MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/health"): Row(ALL_200),
    ("GET", "/schema"): Row(ALL_200),
    ("GET", "/schema/openapi.json"): Row(ALL_200),
    ("GET", "/schema/{path:str}"): Row((404,) * 6, path=lambda w, ids: "/schema/nothing-here"),
    ("GET", "/static/{file_path:path}"): Row(ALL_200, path=lambda w, ids: "/static/css/app.css"),
    # JSON API: people, curricula, cohorts
    ("GET", "/api/me"): Row(SIGNED_IN_API),
    ("GET", "/api/competencies"): Row(SIGNED_IN_API),
    ("GET", "/api/curricula"): Row(SIGNED_IN_API),
    ("GET", "/api/cohorts"): Row(SIGNED_IN_API),
    ("POST", "/api/cohorts"): Row(
        (401, 403, 403, 201, 201, 201),
        json=lambda w, ids, role: {
            "name": "Matrix cohort",
            "timezone": "UTC",
            "facilitator_ids": [w.facilitator_a.id],
        },
    ),
    ("GET", "/api/cohorts/{cohort_id:int}"): Row(READ_API),
    ("PATCH", "/api/cohorts/{cohort_id:int}"): Row(MANAGE_API, json={"location": "Room 1"}),
    ("GET", "/api/cohorts/{cohort_id:int}/participants"): Row(MANAGE_API),
    ("POST", "/api/cohorts/{cohort_id:int}/participants"): Row(CREATE_API, json=NEW_PERSON),
    ("POST", "/api/cohorts/{cohort_id:int}/participants/{enrollment_id:int}/withdraw"): Row(
        ONCE_API, path=lambda w, ids: enrollment_a("/api")(w, ids) + "/withdraw"
    ),
    ("POST", "/api/cohorts/{cohort_id:int}/participants/{enrollment_id:int}/promote"): Row(
        (401, 403, 404, 409, 409, 409),
        path=lambda w, ids: enrollment_a("/api")(w, ids) + "/promote",
    ),
    ("POST", "/api/cohorts/{cohort_id:int}/roster"): Row(
        MANAGE_API,
        path=lambda w, ids: f"/api/cohorts/{w.cohort_a}/roster?dry_run=true",
        csv=b"email,name\nnew.one@example.edu,New One\n",
    ),
    ("GET", "/api/cohorts/{cohort_id:int}/completion"): Row(READ_API),
    ("GET", "/api/cohorts/{cohort_id:int}/sessions"): Row(READ_API),
    ("POST", "/api/cohorts/{cohort_id:int}/sessions"): Row(CREATE_API, json=new_session),
    ("POST", "/api/cohorts/{cohort_id:int}/publish"): Row(ONCE_API),
    ("POST", "/api/cohorts/{cohort_id:int}/clone"): Row(
        CREATE_API,
        json={"name": "Next term", "schedule": {"first_date": "2031-02-05", "start_time": "15:00"}},
    ),
    ("PATCH", "/api/sessions/{session_id:int}"): Row(
        MANAGE_API, path=api_session_a, json={"title": "Renamed"}
    ),
    ("POST", "/api/sessions/{session_id:int}/cancel"): Row(
        ONCE_API, path=lambda w, ids: api_session_a(w, ids) + "/cancel"
    ),
    ("POST", "/api/sessions/{session_id:int}/restore"): Row(
        (401, 403, 404, 409, 409, 409), path=lambda w, ids: api_session_a(w, ids) + "/restore"
    ),
    ("GET", "/api/sessions/{session_id:int}/attendance"): Row(
        MANAGE_API, path=lambda w, ids: api_session_a(w, ids) + "/attendance"
    ),
    ("PUT", "/api/sessions/{session_id:int}/attendance"): Row(
        MANAGE_API,
        path=lambda w, ids: api_session_a(w, ids) + "/attendance",
        json=lambda w, ids, role: {
            "marks": [{"enrollment_id": ids.enrollment_a, "status": "present"}]
        },
    ),
    # Pages: signing in and one's own account
    ("GET", "/sign-in"): Row((200, 302, 302, 302, 302, 302)),
    ("POST", "/sign-in"): Row(
        (400,) * 6, form={"email": "nobody@example.org", "password": "wrong password"}
    ),
    ("POST", "/sign-out"): Row((302,) * 6),
    # sign-in by email
    ("POST", "/sign-in/email"): Row(
        (200,) * 6, form=lambda w, ids, role: {"email": f"matrix.{role}@example.org"}
    ),
    # Opening a link uses nothing up; the first to press "Sign in" uses it, then it is gone.
    ("GET", "/sign-in/link/{token:str}"): Row(
        ALL_200, path=lambda w, ids: f"/sign-in/link/{ids.link_a}"
    ),
    ("POST", "/sign-in/link/{token:str}"): Row(
        (302, 410, 410, 410, 410, 410),
        path=lambda w, ids: f"/sign-in/link/{ids.link_a}",
        facilitator_b=410,
    ),
    ("GET", "/"): Row(SIGNED_IN_PAGE),
    ("GET", "/account"): Row(SIGNED_IN_PAGE),
    ("POST", "/account/tokens"): Row((302,) * 6, form={"name": "matrix"}),
    ("POST", "/account/timezone"): Row((302,) * 6, form={"timezone": "Europe/Paris"}),
    ("POST", "/account/password"): Row(
        (302, 422, 422, 422, 422, 422),
        form={"current_password": "wrong", "new_password": "x" * 12, "confirm_password": "x" * 12},
    ),
    # Revoking participant A's token: only participant A may, from their own account.
    ("POST", "/account/tokens/{token_id:int}/revoke"): Row(
        (302, 302, 404, 404, 404, 404), path=lambda w, ids: f"/account/tokens/{ids.token_a}/revoke"
    ),
    # Administration
    ("GET", "/admin/people"): Row(ADMIN_PAGE),
    ("POST", "/admin/people"): Row(ADMIN_FORM, form={**NEW_PERSON, "roles": "participant"}),
    ("GET", "/admin/audit"): Row(ADMIN_PAGE),
    ("GET", "/admin/people/{person_id:int}"): Row(ADMIN_PAGE, path=lambda w, ids: person_a(w)),
    ("POST", "/admin/people/{person_id:int}"): Row(
        ADMIN_FORM,
        path=lambda w, ids: person_a(w),
        form={"name": "Part A", "email": "part.a@example.edu"},
    ),
    ("POST", "/admin/people/{person_id:int}/roles"): Row(
        ADMIN_FORM, path=lambda w, ids: person_a(w) + "/roles", form={"roles": "participant"}
    ),
    ("POST", "/admin/people/{person_id:int}/active"): Row(
        ADMIN_FORM, path=lambda w, ids: person_a(w) + "/active", form={"active": "1"}
    ),
    ("POST", "/admin/people/{person_id:int}/password"): Row(
        ADMIN_PAGE,
        path=lambda w, ids: person_a(w) + "/password",
        form={"password": "a long new password"},
    ),
    ("POST", "/admin/people/{person_id:int}/tokens/{token_id:int}/revoke"): Row(
        ADMIN_FORM, path=lambda w, ids: person_a(w) + f"/tokens/{ids.token_a}/revoke"
    ),
    # Cohort pages
    ("GET", "/cohorts"): Row(SIGNED_IN_PAGE),
    ("GET", "/cohorts/new"): Row((302, 403, 403, 200, 200, 200)),
    ("POST", "/cohorts/new"): Row(
        (302, 403, 403, 302, 302, 302),
        form=lambda w, ids, role: {
            "name": "Matrix page cohort",
            "timezone": "UTC",
            "facilitator_ids": str(w.facilitator_a.id),
        },
    ),
    ("GET", "/cohorts/{cohort_id:int}"): Row(READ_PAGE),
    ("GET", "/cohorts/{cohort_id:int}/edit"): Row(MANAGE_PAGE),
    ("POST", "/cohorts/{cohort_id:int}/edit"): Row(
        MANAGE_FORM,
        form=lambda w, ids, role: {
            "name": "Cohort A",
            "timezone": "America/Chicago",
            "modality": "in_person",
            "facilitator_ids": str(w.facilitator_a.id),
            "completion_percent": "75",
        },
    ),
    ("POST", "/cohorts/{cohort_id:int}/publish"): Row(MANAGE_FORM),
    ("POST", "/cohorts/{cohort_id:int}/status"): Row(MANAGE_FORM, form={"status": "cancelled"}),
    ("POST", "/cohorts/{cohort_id:int}/schedule"): Row(
        (302, 403, 404, 409, 409, 409), form={"first_date": "2031-01-01", "start_time": "10:00"}
    ),
    ("GET", "/cohorts/{cohort_id:int}/clone"): Row(MANAGE_PAGE),
    ("POST", "/cohorts/{cohort_id:int}/clone"): Row(
        MANAGE_FORM, form={"name": "Next term", "first_date": "2031-02-05", "start_time": "15:00"}
    ),
    ("GET", "/cohorts/{cohort_id:int}/sessions/new"): Row(MANAGE_PAGE),
    ("POST", "/cohorts/{cohort_id:int}/sessions/new"): Row(MANAGE_FORM, form=new_session),
    ("GET", "/cohorts/{cohort_id:int}/roster"): Row(MANAGE_PAGE),
    ("GET", "/cohorts/{cohort_id:int}/roster.csv"): Row(MANAGE_PAGE),
    ("POST", "/cohorts/{cohort_id:int}/roster/import"): Row(
        MANAGE_PAGE,
        form={"csv_text": "email,name\nnew.one@example.edu,New One\n", "action": "preview"},
    ),
    ("POST", "/cohorts/{cohort_id:int}/participants"): Row(MANAGE_FORM, form=NEW_PERSON),
    ("POST", "/cohorts/{cohort_id:int}/participants/{enrollment_id:int}/withdraw"): Row(
        MANAGE_FORM, path=lambda w, ids: enrollment_a("")(w, ids) + "/withdraw"
    ),
    ("POST", "/cohorts/{cohort_id:int}/participants/{enrollment_id:int}/promote"): Row(
        MANAGE_FORM, path=lambda w, ids: enrollment_a("")(w, ids) + "/promote"
    ),
    # Session pages
    ("GET", "/sessions/{session_id:int}"): Row(READ_PAGE, path=session_a),
    ("POST", "/sessions/{session_id:int}/edit"): Row(
        MANAGE_FORM, path=lambda w, ids: session_a(w, ids) + "/edit", form=session_a_as_it_is
    ),
    ("POST", "/sessions/{session_id:int}/cancel"): Row(
        MANAGE_FORM, path=lambda w, ids: session_a(w, ids) + "/cancel"
    ),
    ("POST", "/sessions/{session_id:int}/restore"): Row(
        MANAGE_FORM, path=lambda w, ids: session_a(w, ids) + "/restore"
    ),
    ("GET", "/sessions/{session_id:int}/attendance"): Row(
        MANAGE_PAGE, path=lambda w, ids: session_a(w, ids) + "/attendance"
    ),
    ("POST", "/sessions/{session_id:int}/attendance"): Row(
        MANAGE_FORM,
        path=lambda w, ids: session_a(w, ids) + "/attendance",
        form=lambda w, ids, role: {"enrollment_id": str(ids.enrollment_a), "status": "late"},
    ),
    ("GET", "/sessions/{session_id:int}/sign-in-sheet"): Row(
        MANAGE_PAGE, path=lambda w, ids: session_a(w, ids) + "/sign-in-sheet"
    ),
    # Calendars: feeds open by their secret alone; downloads follow the session's visibility.
    ("GET", "/feeds/{name:str}"): Row((200,) * 6, path=lambda w, ids: f"/feeds/{ids.feed_a}"),
    ("GET", "/calendar"): Row(SIGNED_IN_PAGE),
    ("POST", "/calendar/regenerate"): Row((302,) * 6),
    ("GET", "/sessions/{session_id:int}/calendar.ics"): Row(
        READ_PAGE, path=lambda w, ids: session_a(w, ids) + "/calendar.ics"
    ),
    ("GET", "/api/sessions/{session_id:int}/invite.ics"): Row(
        READ_API, path=lambda w, ids: api_session_a(w, ids) + "/invite.ics"
    ),
    ("POST", "/cohorts/{cohort_id:int}/feed"): Row(OFFICE_FORM),
    # The outbox: office staff only. The message is queued, so "send again" is a conflict.
    ("GET", "/api/outbox"): Row(OFFICE_API),
    ("GET", "/api/outbox/{message_id:int}"): Row(
        OFFICE_API, path=lambda w, ids: f"/api/outbox/{ids.message}"
    ),
    ("POST", "/api/outbox/{message_id:int}/retry"): Row(
        (401, 403, 403, 403, 409, 409), path=lambda w, ids: f"/api/outbox/{ids.message}/retry"
    ),
    ("POST", "/api/outbox/{message_id:int}/cancel"): Row(
        (401, 403, 403, 403, 200, 409), path=lambda w, ids: f"/api/outbox/{ids.message}/cancel"
    ),
    ("POST", "/api/outbox/release"): Row(OFFICE_API, json={}),
    ("GET", "/outbox"): Row(OFFICE_PAGE),
    ("GET", "/outbox/progress"): Row(OFFICE_PAGE),
    ("GET", "/outbox/{message_id:int}"): Row(
        OFFICE_PAGE, path=lambda w, ids: f"/outbox/{ids.message}"
    ),
    ("POST", "/outbox/{message_id:int}/retry"): Row(
        OFFICE_FORM, path=lambda w, ids: f"/outbox/{ids.message}/retry"
    ),
    ("POST", "/outbox/{message_id:int}/cancel"): Row(
        OFFICE_FORM, path=lambda w, ids: f"/outbox/{ids.message}/cancel"
    ),
    ("POST", "/outbox/release"): Row(OFFICE_FORM),
    ("POST", "/outbox/send-now"): Row(OFFICE_FORM),
    ("GET", "/sessions/{session_id:int}/messages"): Row(
        MANAGE_PAGE, path=lambda w, ids: session_a(w, ids) + "/messages"
    ),
    # Prompts and reminders: the cohort's facilitators and office staff write, time and
    # preview them; a participant's own "I can't attend" is theirs alone (anyone else: 404).
    ("POST", "/sessions/{session_id:int}/prompt"): Row(
        MANAGE_FORM,
        path=lambda w, ids: session_a(w, ids) + "/prompt",
        form={"assignment_prompt": "Read the case.", "due_date": "", "due_time": ""},
    ),
    ("POST", "/sessions/{session_id:int}/timing"): Row(
        MANAGE_FORM,
        path=lambda w, ids: session_a(w, ids) + "/timing",
        form={"prompt_lead_minutes": "3 days", "reminder_minutes": "2 hours"},
    ),
    ("POST", "/sessions/{session_id:int}/prompt/send-update"): Row(
        MANAGE_FORM, path=lambda w, ids: session_a(w, ids) + "/prompt/send-update"
    ),
    ("GET", "/sessions/{session_id:int}/preview"): Row(
        MANAGE_PAGE, path=lambda w, ids: session_a(w, ids) + "/preview?kind=reminder"
    ),
    ("GET", "/sessions/{session_id:int}/preview.html"): Row(
        MANAGE_PAGE, path=lambda w, ids: session_a(w, ids) + "/preview.html"
    ),
    ("POST", "/sessions/{session_id:int}/preview/send-test"): Row(
        MANAGE_FORM,
        path=lambda w, ids: session_a(w, ids) + "/preview/send-test",
        form={"kind": "prompt"},
    ),
    ("GET", "/sessions/{session_id:int}/cant-attend"): Row(
        (302, 200, 404, 404, 404, 404),
        path=lambda w, ids: f"/sessions/{ids.next_session_a}/cant-attend",
        facilitator_b=404,
    ),
    ("POST", "/sessions/{session_id:int}/cant-attend"): Row(
        (302, 200, 404, 404, 404, 404),
        path=lambda w, ids: f"/sessions/{ids.next_session_a}/cant-attend",
        form={"message": "Away at a conference."},
        facilitator_b=404,
    ),
    # The signed links in prompts and reminders stand in for signing in: whoever holds one.
    ("GET", "/sessions/{session_id:int}/cant-attend/{token:str}"): Row(
        ALL_200, path=lambda w, ids: absence_link(w, ids)
    ),
    ("POST", "/sessions/{session_id:int}/cant-attend/{token:str}"): Row(
        ALL_200, path=lambda w, ids: absence_link(w, ids), form={"message": ""}
    ),
    ("GET", "/reminders/off/{token:str}"): Row(ALL_200, path=lambda w, ids: reminders_link(w)),
    ("POST", "/reminders/off/{token:str}"): Row(ALL_200, path=lambda w, ids: reminders_link(w)),
    ("POST", "/reminders/on/{token:str}"): Row(
        ALL_200, path=lambda w, ids: reminders_link(w).replace("/off/", "/on/")
    ),
    ("GET", "/next"): Row(SIGNED_IN_PAGE),
    ("POST", "/reminders/mine"): Row((302,) * 6, form={"on": "no"}),
    # Curriculum templates: anyone signed in reads them; facilitators and office copy them;
    # a copy is edited by whoever made it and by office staff.
    # case studies: the library, the review, agendas. A library case of facilitator A's; a
    # dilemma participant A submitted to cohort A (its reviewers: facilitator A and admins).
    ("GET", "/cases"): Row(SIGNED_IN_PAGE),
    ("GET", "/cases/review"): Row(SIGNED_IN_PAGE),
    ("GET", "/cases/new"): Row(SIGNED_IN_PAGE),
    ("POST", "/cases/new"): Row(
        (302, 302, 422, 302, 302, 302),
        form=lambda w, ids, role: {
            "title": f"Matrix case ({role})",
            "scenario": "A dilemma.",
            "cohort_id": str(w.cohort_a),
            "publish_to": "library",
            "action": "save",
        },
        facilitator_b=302,
    ),
    ("GET", "/cases/{case_id:int}"): Row(
        (302, 200, 404, 200, 404, 200), path=lambda w, ids: f"/cases/{ids.case_sub}"
    ),
    ("GET", "/cases/{case_id:int}/edit"): Row(
        (302, 403, 403, 200, 403, 200),
        path=lambda w, ids: f"/cases/{ids.case_lib}/edit",
        facilitator_b=403,
    ),
    ("POST", "/cases/{case_id:int}/edit"): Row(
        (302, 403, 403, 302, 403, 302),
        path=lambda w, ids: f"/cases/{ids.case_lib}/edit",
        form={"title": "Library case", "scenario": "A dilemma, told again.", "action": "save"},
        facilitator_b=403,
    ),
    ("POST", "/cases/{case_id:int}/submit"): Row(
        (302, 302, 404, 403, 404, 403),
        path=lambda w, ids: f"/cases/{ids.case_sub}/submit",
        form={"check_0": "on", "check_1": "on", "check_2": "on"},
    ),
    ("POST", "/cases/{case_id:int}/review"): Row(
        (302, 403, 404, 302, 404, 302), path=lambda w, ids: f"/cases/{ids.case_sub}/review"
    ),
    ("POST", "/cases/{case_id:int}/return"): Row(
        (302, 403, 404, 302, 404, 302),
        path=lambda w, ids: f"/cases/{ids.case_sub}/return",
        form={"comment": "Please change the names."},
    ),
    ("POST", "/cases/{case_id:int}/publish"): Row(
        (302, 403, 404, 302, 404, 302), path=lambda w, ids: f"/cases/{ids.case_sub}/publish"
    ),
    ("POST", "/cases/{case_id:int}/retire"): Row(
        (302, 403, 403, 302, 403, 302),
        path=lambda w, ids: f"/cases/{ids.case_lib}/retire",
        facilitator_b=403,
    ),
    ("POST", "/cases/{case_id:int}/comments"): Row(
        (302, 302, 404, 302, 404, 302),
        path=lambda w, ids: f"/cases/{ids.case_sub}/comments",
        form={"body": "A comment."},
    ),
    ("GET", "/cases/{case_id:int}/diff"): Row(
        SIGNED_IN_PAGE, path=lambda w, ids: f"/cases/{ids.case_lib}/diff?older=1&newer=1"
    ),
    ("GET", "/sessions/{session_id:int}/agenda"): Row(
        MANAGE_PAGE, path=lambda w, ids: session_a(w, ids) + "/agenda"
    ),
    ("POST", "/sessions/{session_id:int}/agenda"): Row(
        MANAGE_FORM,
        path=lambda w, ids: session_a(w, ids) + "/agenda",
        form=lambda w, ids, role: {"case_ids": str(ids.case_lib)},
    ),
    ("GET", "/api/case-studies"): Row(SIGNED_IN_API),
    ("POST", "/api/case-studies"): Row(
        (401, 201, 422, 201, 201, 201),
        json=lambda w, ids, role: {
            "title": f"API case ({role})",
            "scenario": "A dilemma.",
            "cohort_id": w.cohort_a,
            "scope": "cohort",
        },
        facilitator_b=422,
    ),
    ("GET", "/api/case-studies/{case_id:int}"): Row(
        SIGNED_IN_API, path=lambda w, ids: f"/api/case-studies/{ids.case_lib}"
    ),
    ("PATCH", "/api/case-studies/{case_id:int}"): Row(
        (401, 403, 403, 200, 403, 200),
        path=lambda w, ids: f"/api/case-studies/{ids.case_lib}",
        json={"title": "Renamed library case"},
        facilitator_b=403,
    ),
    ("POST", "/api/case-studies/{case_id:int}/submit"): Row(
        (401, 409, 404, 403, 404, 403),
        path=lambda w, ids: f"/api/case-studies/{ids.case_sub}/submit",
        json={"checklist": [True, True, True]},
    ),
    ("POST", "/api/case-studies/{case_id:int}/review"): Row(
        (401, 403, 404, 200, 404, 409),
        path=lambda w, ids: f"/api/case-studies/{ids.case_sub}/review",
    ),
    ("POST", "/api/case-studies/{case_id:int}/return"): Row(
        (401, 403, 404, 409, 404, 409),
        path=lambda w, ids: f"/api/case-studies/{ids.case_sub}/return",
        json={"comment": "Change the names."},
    ),
    ("POST", "/api/case-studies/{case_id:int}/publish"): Row(
        (401, 403, 404, 409, 404, 409),
        path=lambda w, ids: f"/api/case-studies/{ids.case_sub}/publish",
    ),
    ("POST", "/api/case-studies/{case_id:int}/retire"): Row(
        (401, 403, 403, 200, 403, 409),
        path=lambda w, ids: f"/api/case-studies/{ids.case_lib}/retire",
        facilitator_b=403,
    ),
    ("GET", "/api/case-studies/{case_id:int}/comments"): Row(
        (401, 200, 404, 200, 404, 200),
        path=lambda w, ids: f"/api/case-studies/{ids.case_sub}/comments",
    ),
    ("POST", "/api/case-studies/{case_id:int}/comments"): Row(
        (401, 201, 404, 201, 404, 201),
        path=lambda w, ids: f"/api/case-studies/{ids.case_sub}/comments",
        json={"body": "A comment."},
    ),
    ("GET", "/api/case-studies/{case_id:int}/revisions"): Row(
        SIGNED_IN_API, path=lambda w, ids: f"/api/case-studies/{ids.case_lib}/revisions"
    ),
    ("GET", "/api/case-studies/{case_id:int}/revisions/diff"): Row(
        SIGNED_IN_API,
        path=lambda w, ids: f"/api/case-studies/{ids.case_lib}/revisions/diff?older=1&newer=1",
    ),
    ("GET", "/api/sessions/{session_id:int}/case-studies"): Row(
        READ_API, path=lambda w, ids: api_session_a(w, ids) + "/case-studies"
    ),
    ("PUT", "/api/sessions/{session_id:int}/case-studies"): Row(
        MANAGE_API,
        path=lambda w, ids: api_session_a(w, ids) + "/case-studies",
        json=lambda w, ids, role: {"case_ids": [ids.case_lib]},
    ),
    ("GET", "/curricula"): Row(SIGNED_IN_PAGE),
    ("GET", "/curricula/{curriculum_id:int}"): Row(
        SIGNED_IN_PAGE, path=lambda w, ids: f"/curricula/{ids.builtin_curriculum}"
    ),
    ("POST", "/curricula/{curriculum_id:int}/copy"): Row(
        (302, 403, 403, 302, 302, 302),
        path=lambda w, ids: f"/curricula/{ids.builtin_curriculum}/copy",
    ),
    ("GET", "/curricula/{curriculum_id:int}/edit"): Row(
        (302, 403, 403, 200, 200, 200),
        path=lambda w, ids: f"/curricula/{ids.copy_by_facilitator_a}/edit",
        facilitator_b=403,  # not the copy's owner
    ),
    ("POST", "/curricula/{curriculum_id:int}/edit"): Row(
        (302, 403, 403, 302, 302, 302),
        path=lambda w, ids: f"/curricula/{ids.copy_by_facilitator_a}/edit",
        form=template_edit,
        facilitator_b=403,
    ),
    # discussion notes: the cohort's facilitators, its participants (final notes) and the
    # session's scribe; office staff and admins who do not facilitate it get 404, as if absent.
    ("GET", "/api/sessions/{session_id:int}/notes"): Row(
        NOTES_READ_API, path=lambda w, ids: api_session_a(w, ids) + "/notes"
    ),
    ("POST", "/api/sessions/{session_id:int}/notes"): Row(
        (401, 403, 404, 201, 404, 404),
        path=lambda w, ids: api_session_a(w, ids) + "/notes",
        json={"private": True, "key_issues": "Facilitators' own observation."},
    ),
    ("GET", "/api/sessions/{session_id:int}/notes.md"): Row(
        NOTES_READ_API, path=lambda w, ids: api_session_a(w, ids) + "/notes.md"
    ),
    ("POST", "/api/sessions/{session_id:int}/notes/send"): Row(
        NOTES_FACILITATE_API, path=lambda w, ids: api_session_a(w, ids) + "/notes/send"
    ),
    ("PUT", "/api/sessions/{session_id:int}/scribe"): Row(
        NOTES_FACILITATE_API,
        path=lambda w, ids: api_session_a(w, ids) + "/scribe",
        json=lambda w, ids, role: {"person_id": w.participant_a.id},
    ),
    ("DELETE", "/api/sessions/{session_id:int}/scribe"): Row(
        (401, 403, 404, 204, 404, 404), path=lambda w, ids: api_session_a(w, ids) + "/scribe"
    ),
    ("GET", "/api/notes/{note_id:int}"): Row(
        NOTES_READ_API, path=lambda w, ids: f"/api/notes/{ids.note_a}"
    ),
    ("PATCH", "/api/notes/{note_id:int}"): Row(
        NOTES_FACILITATE_API,
        path=lambda w, ids: f"/api/notes/{ids.note_a}",
        json={"key_issues": "Expectations went unspoken, on both sides."},
    ),
    # A draft: participants do not see it at all.
    ("POST", "/api/notes/{note_id:int}/finalize"): Row(
        (401, 404, 404, 200, 404, 404),
        path=lambda w, ids: f"/api/notes/{ids.draft_note_a}/finalize",
    ),
    ("GET", "/api/notes/{note_id:int}/revisions"): Row(
        NOTES_FACILITATE_API, path=lambda w, ids: f"/api/notes/{ids.note_a}/revisions"
    ),
    ("GET", "/sessions/{session_id:int}/notes"): Row(
        NOTES_READ_PAGE, path=lambda w, ids: session_a(w, ids) + "/notes"
    ),
    ("POST", "/sessions/{session_id:int}/notes"): Row(
        NOTES_FACILITATE_FORM,
        path=lambda w, ids: session_a(w, ids) + "/notes",
        form={"private": "yes", "case_id": "", "key_issues": "Facilitators' own observation."},
    ),
    ("GET", "/sessions/{session_id:int}/notes.md"): Row(
        NOTES_READ_PAGE, path=lambda w, ids: session_a(w, ids) + "/notes.md"
    ),
    ("POST", "/sessions/{session_id:int}/notes/scribe"): Row(
        NOTES_FACILITATE_FORM,
        path=lambda w, ids: session_a(w, ids) + "/notes/scribe",
        form=lambda w, ids, role: {"person_id": str(w.participant_a.id)},
    ),
    ("POST", "/sessions/{session_id:int}/notes/scribe/remove"): Row(
        NOTES_FACILITATE_FORM, path=lambda w, ids: session_a(w, ids) + "/notes/scribe/remove"
    ),
    ("POST", "/sessions/{session_id:int}/notes/send"): Row(
        NOTES_FACILITATE_FORM, path=lambda w, ids: session_a(w, ids) + "/notes/send"
    ),
    # case studies: bulk import
    # Office staff and admins only. The file (base64 of "title,scenario\nMatrix import
    # case,A dilemma to import.\n") is added by staff, then skipped as a duplicate for admins.
    ("GET", "/cases/import"): Row(OFFICE_PAGE),
    ("POST", "/cases/import/preview"): Row(
        OFFICE_PAGE,
        form={
            "file_name": "cases.csv",
            "file_data": "dGl0bGUsc2NlbmFyaW8KTWF0cml4IGltcG9ydCBjYXNlLEEgZGlsZW1tYSB0byBpbXBvcnQuCg==",
        },
    ),
    ("POST", "/cases/import/apply"): Row(
        OFFICE_FORM,
        form={
            "file_name": "cases.csv",
            "file_data": "dGl0bGUsc2NlbmFyaW8KTWF0cml4IGltcG9ydCBjYXNlLEEgZGlsZW1tYSB0byBpbXBvcnQuCg==",
        },
    ),
}


def _per_role(body: dict[str, Any], role: str) -> dict[str, Any]:
    """Each role adds a different new person, so that a second add is not a duplicate."""
    if body.get("name") == NEW_PERSON["name"]:
        return {**body, "email": body["email"].replace("@", f".{role}@")}
    return body


def app_routes() -> list[tuple[str, str]]:
    from app import create_app

    routes = set()
    for route in create_app().routes:
        if isinstance(route, HTTPRoute):
            for method in route.methods - {"HEAD", "OPTIONS"}:
                routes.add((method, route.path))
    return sorted(routes, key=lambda r: (r[1], r[0]))


def test_every_route_has_a_row_and_every_row_a_route() -> None:
    routes = set(app_routes())
    assert sorted(routes - MATRIX.keys()) == [], "routes without a row in the matrix"
    assert sorted(MATRIX.keys() - routes) == [], "rows for routes that no longer exist"


async def _ids(world: World) -> Ids:
    from facilitators.services import CurrentUser, list_tokens
    from sessions.curricula import copy_curriculum, list_curricula
    from sessions.feeds import feed_name
    from sessions.tables import Enrollment, Session

    session = (
        await Session.select(Session.id)
        .where(Session.cohort == world.cohort_a)
        .order_by(Session.position)
        .first()
    )
    enrollment = (
        await Enrollment.select(Enrollment.id)
        .where(
            (Enrollment.cohort == world.cohort_a) & (Enrollment.person == world.participant_a.id)
        )
        .first()
    )
    next_session = (
        await Session.select(Session.id)
        .where((Session.cohort == world.cohort_a) & (Session.starts_at > dt.datetime.now(dt.UTC)))
        .order_by(Session.starts_at)
        .first()
    )
    assert session is not None and enrollment is not None and next_session is not None
    builtin = next(c for c in await list_curricula() if c.builtin)
    facilitator = CurrentUser(
        world.facilitator_a.id, "Fac A", world.facilitator_a.email, frozenset({"facilitator"})
    )
    return Ids(
        session_a=session["id"],
        enrollment_a=enrollment["id"],
        token_a=(await list_tokens(world.participant_a.id))[0].id,
        builtin_curriculum=builtin.id,
        copy_by_facilitator_a=await copy_curriculum(builtin.id, "Fac A's copy", actor=facilitator),
        message=await _a_message(world),
        feed_a=feed_name("p", world.participant_a.id, 0),
        link_a=await _a_sign_in_link(world),
        next_session_a=next_session["id"],
        note_a=await _a_note(session["id"], world, final=True),
        draft_note_a=await _a_note(next_session["id"], world, final=False),
        **await _cases(world),
    )


async def _cases(world: World) -> dict[str, int]:
    from case_studies.services import CaseInput, create_case, submit
    from facilitators.services import CurrentUser

    facilitator = CurrentUser(
        world.facilitator_a.id, "Fac A", world.facilitator_a.email, frozenset({"facilitator"})
    )
    participant = CurrentUser(
        world.participant_a.id, "Part A", world.participant_a.email, frozenset({"participant"})
    )
    case_lib = await create_case(
        CaseInput("Library case", "A dilemma.", ("Why?",), "Notes."), actor=facilitator
    )
    case_sub = await create_case(
        CaseInput("My dilemma", "What happened."), actor=participant, cohort_id=world.cohort_a
    )
    await submit(case_sub, actor=participant, checklist=(True, True, True))
    return {"case_lib": case_lib, "case_sub": case_sub}


async def _a_note(session_id: int, world: World, *, final: bool) -> int:
    from case_studies.tables import DiscussionNote

    rows = await DiscussionNote.insert(
        DiscussionNote(
            session=session_id,
            key_issues="Expectations went unspoken.",
            status="final" if final else "draft",
            updated_by=world.facilitator_a.id,
        )
    ).returning(DiscussionNote.id)
    return int(rows[0]["id"])


async def _a_sign_in_link(world: World) -> str:
    import hashlib
    import secrets

    from facilitators.tables import SignInLink

    token = secrets.token_urlsafe(32)
    await SignInLink.insert(
        SignInLink(
            person=world.participant_a.id,
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15),
        )
    )
    return token


async def _a_message(world: World) -> int:
    from mail import outbox
    from mail.tables import OutboxMessage

    await outbox.enqueue(
        [
            outbox.NewMessage(
                "matrix",
                "test",
                world.participant_a.email,
                "Hello",
                b"Subject: Hello\r\n\r\nHi\r\n",
                "<m@example.org>",
                cohort_id=world.cohort_a,
            )
        ]
    )
    row = await OutboxMessage.select(OutboxMessage.id).where(OutboxMessage.key == "matrix").first()
    assert row is not None
    return int(row["id"])


def route_path(template: str, row: Row, world: World, ids: Ids) -> str:
    """The path a row calls: its own, or the template with cohort A in it."""
    if row.path:
        return row.path(world, ids)
    return template.replace("{cohort_id:int}", str(world.cohort_a))


async def prepare(
    client: httpx.AsyncClient, world: World, role: str, *, api: bool
) -> dict[str, str]:
    """Become `role`: its token's headers for the API; for pages, the browser signs in."""
    person = world.as_role(role)
    if person is None:
        return {}
    if api:
        return person.auth
    await sign_in(client, person.email)
    return {}


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    row: Row,
    world: World,
    ids: Ids,
    role: str,
    headers: dict[str, str],
) -> httpx.Response:
    """Call a route as the matrix does: JSON or CSV for the API, a form with a valid CSRF token
    for pages (so what is tested is the permission, not the CSRF check)."""
    if method == "GET":
        return await client.get(path, headers=headers)
    if path.startswith("/api/") and row.csv is not None:
        return await client.request(
            method, path, headers={**headers, "Content-Type": "text/csv"}, content=row.csv
        )
    if path.startswith("/api/"):
        body = row.json(world, ids, role) if callable(row.json) else row.json or {}
        return await client.request(method, path, headers=headers, json=_per_role(body, role))
    token = await csrf_token(client, "/sign-in")
    fields = row.form(world, ids, role) if callable(row.form) else row.form
    return await client.post(
        path, headers=headers, data={**_per_role(fields, role), "_csrf_token": token}
    )


@pytest.mark.parametrize(("method", "template"), app_routes())
async def test_route_answers_each_role_as_the_matrix_says(
    method: str, template: str, make_client: Any, world: World
) -> None:
    row = MATRIX.get((method, template))
    assert row is not None, f"{method} {template} has no row in the authorization matrix"
    ids = await _ids(world)
    path = route_path(template, row, world, ids)
    observed = []
    for role in CALL_ORDER:
        client: httpx.AsyncClient = make_client()
        headers = await prepare(client, world, role, api=template.startswith("/api/"))
        response = await call(client, method, path, row, world, ids, role, headers)
        observed.append(response.status_code)
    expected = tuple(row.expected(role) for role in CALL_ORDER)
    assert tuple(observed) == expected, f"{method} {template}: " + ", ".join(
        f"{r}={o}" + ("" if o == e else f" (expected {e})")
        for r, o, e in zip(CALL_ORDER, observed, expected, strict=True)
    )


async def test_the_facilitator_of_a_cannot_reach_cohort_b(
    client: httpx.AsyncClient, world: World
) -> None:
    """The matrix's facilitator is of cohort A; the same rules hold against cohort B."""
    b = world.cohort_b
    auth = world.facilitator_a.auth
    assert (await client.get(f"/api/cohorts/{b}", headers=auth)).status_code == 404
    assert (
        await client.patch(f"/api/cohorts/{b}", headers=auth, json={"location": "x"})
    ).status_code == 404
    assert (await client.get(f"/api/cohorts/{b}/participants", headers=auth)).status_code == 404
    await sign_in(client, world.facilitator_a.email)
    assert (await client.get(f"/cohorts/{b}")).status_code == 404
    assert (await client.get(f"/cohorts/{b}/roster")).status_code == 404
