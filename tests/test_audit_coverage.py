"""Audit coverage: every state-changing route of the app (POST, PUT, PATCH, DELETE, from the
app's route table), called as the first role for which the authorization matrix expects
success, must write at least one AuditEntry. A route that rightly writes none is in NO_AUDIT,
with the reason. The calls, rows and ids are the matrix's own (tests/test_authorization_matrix).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import World, sign_in
from tests.test_authorization_matrix import (
    CALL_ORDER,
    MATRIX,
    Ids,
    Row,
    _ids,
    app_routes,
    call,
    prepare,
    route_path,
)

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

# Routes that answer success and rightly write no audit entry.
NO_AUDIT: dict[tuple[str, str], str] = {
    # Signing out forgets the browser's session cookie; nothing stored changes.
    ("POST", "/sign-out"): "nothing stored changes",
    # A preview parses the uploaded file and shows what importing it would do; the import
    # itself ("/cases/import/apply") is audited.
    ("POST", "/cases/import/preview"): "a preview: nothing stored changes",
}

Prepare = Callable[[World, Ids], Awaitable[tuple[World, Ids]]]


@dataclass(frozen=True)
class Special:
    """How this test calls a route whose matrix example changes nothing (a preview, a second
    "do it again" that is a conflict, a form that redirects with an error): as `role`, after
    `prepare` has set the world up so that the call changes something, expecting `status`."""

    role: str
    status: int
    prepare: Prepare | None = None
    row: Row | None = None  # the matrix's row, changed


def _user(person: Any, *roles: str) -> Any:
    from facilitators.services import CurrentUser

    return CurrentUser(person.id, person.name, person.email, frozenset(roles))


async def _new_draft_case(world: World, ids: Ids) -> tuple[World, Ids]:
    from case_studies.services import CaseInput, create_case

    case_id = await create_case(
        CaseInput("Another dilemma", "What happened next."),
        actor=_user(world.participant_a, "participant"),
        cohort_id=world.cohort_a,
    )
    return world, dataclasses.replace(ids, case_sub=case_id)


async def _case_in_review(world: World, ids: Ids) -> tuple[World, Ids]:
    from case_studies.services import take_review

    await take_review(ids.case_sub, actor=_user(world.facilitator_a, "facilitator"))
    return world, ids


async def _waitlisted(world: World, ids: Ids) -> tuple[World, Ids]:
    from sessions.tables import Enrollment

    await Enrollment.update({Enrollment.status: "waitlisted"}).where(
        Enrollment.id == ids.enrollment_a
    )
    return world, ids


async def _failed_message(world: World, ids: Ids) -> tuple[World, Ids]:
    from mail.tables import OutboxMessage

    await OutboxMessage.update({OutboxMessage.state: "failed"}).where(
        OutboxMessage.id == ids.message
    )
    return world, ids


async def _cancelled_session(world: World, ids: Ids) -> tuple[World, Ids]:
    from sessions.services import set_session_status

    await set_session_status(
        ids.session_a, "cancelled", actor=_user(world.facilitator_a, "facilitator")
    )
    return world, ids


async def _scribe_named(world: World, ids: Ids) -> tuple[World, Ids]:
    from case_studies.notes import name_scribe

    await name_scribe(
        ids.session_a, world.participant_a.id, actor=_user(world.facilitator_a, "facilitator")
    )
    return world, ids


async def _reminders_off(world: World, ids: Ids) -> tuple[World, Ids]:
    from sessions.preferences import set_reminders

    await set_reminders(world.participant_a.id, on=False, actor_id=world.participant_a.id)
    return world, ids


async def _prompt_sent_then_revised(world: World, ids: Ids) -> tuple[World, Ids]:
    """Participant A received revision 0 of the next session's prompt; it is at 1 now."""
    from mail import outbox
    from mail.tables import OutboxMessage
    from sessions.prompt_rules import PROMPT, prompt_key
    from sessions.tables import Session

    key = prompt_key(ids.next_session_a, world.participant_a.id, 0, "0")
    await outbox.enqueue(
        [
            outbox.NewMessage(
                key,
                PROMPT,
                world.participant_a.email,
                "Before our next session",
                b"Subject: Before our next session\r\n\r\nRead the case.\r\n",
                "<prompt@example.org>",
                cohort_id=world.cohort_a,
                session_id=ids.next_session_a,
                person_id=world.participant_a.id,
            )
        ]
    )
    await OutboxMessage.update({OutboxMessage.state: "sent"}).where(OutboxMessage.key == key)
    await Session.update({Session.prompt_revision: 1}).where(Session.id == ids.next_session_a)
    return world, ids


async def _cohort_without_sessions(world: World, ids: Ids) -> tuple[World, Ids]:
    from sessions.services import CohortInput, create_cohort

    created = await create_cohort(
        CohortInput(
            name="Not yet scheduled",
            timezone="America/Chicago",
            facilitator_ids=(world.facilitator_a.id,),
        ),
        actor=_user(world.facilitator_a, "facilitator"),
    )
    return dataclasses.replace(world, cohort_a=created.id), ids


def _matrix(key: tuple[str, str], **changes: Any) -> Row:
    return dataclasses.replace(MATRIX[key], **changes)


_ROSTER_API = ("POST", "/api/cohorts/{cohort_id:int}/roster")
_ROSTER_PAGE = ("POST", "/cohorts/{cohort_id:int}/roster/import")
_SIGN_IN_EMAIL = ("POST", "/sign-in/email")
_SEND_UPDATE = ("POST", "/sessions/{session_id:int}/prompt/send-update")
_SCHEDULE = ("POST", "/cohorts/{cohort_id:int}/schedule")
SPECIAL: dict[tuple[str, str], Special] = {
    # Failing is what the matrix's example does, and the failure is what gets audited.
    ("POST", "/sign-in"): Special("anonymous", 400),
    ("POST", "/account/password"): Special("participant_a", 422),
    # The matrix previews; this test imports.
    _ROSTER_API: Special(
        "facilitator_a",
        200,
        row=_matrix(_ROSTER_API, path=lambda w, ids: f"/api/cohorts/{w.cohort_a}/roster"),
    ),
    _ROSTER_PAGE: Special(
        "facilitator_a",
        302,
        row=_matrix(
            _ROSTER_PAGE,
            form={"csv_text": "email,name\nnew.one@example.edu,New One\n", "action": "apply"},
        ),
    ),
    # The matrix asks for links to addresses without an account (nothing is sent).
    _SIGN_IN_EMAIL: Special(
        "anonymous",
        200,
        row=_matrix(_SIGN_IN_EMAIL, form=lambda w, ids, role: {"email": w.participant_a.email}),
    ),
    # The matrix's case is submitted already; the review steps need a case in review.
    ("POST", "/api/case-studies/{case_id:int}/submit"): Special(
        "participant_a", 200, _new_draft_case
    ),
    ("POST", "/cases/{case_id:int}/submit"): Special("participant_a", 302, _new_draft_case),
    ("POST", "/api/case-studies/{case_id:int}/return"): Special(
        "facilitator_a", 200, _case_in_review
    ),
    ("POST", "/cases/{case_id:int}/return"): Special("facilitator_a", 302, _case_in_review),
    ("POST", "/api/case-studies/{case_id:int}/publish"): Special(
        "facilitator_a", 200, _case_in_review
    ),
    ("POST", "/cases/{case_id:int}/publish"): Special("facilitator_a", 302, _case_in_review),
    # Promoting needs someone on the waitlist, retrying a failed message, restoring a cancelled
    # session, removing the scribe a scribe, switching reminders on their being off.
    ("POST", "/api/cohorts/{cohort_id:int}/participants/{enrollment_id:int}/promote"): Special(
        "facilitator_a", 200, _waitlisted
    ),
    ("POST", "/cohorts/{cohort_id:int}/participants/{enrollment_id:int}/promote"): Special(
        "facilitator_a", 302, _waitlisted
    ),
    ("POST", "/api/outbox/{message_id:int}/retry"): Special("staff", 200, _failed_message),
    ("POST", "/outbox/{message_id:int}/retry"): Special("staff", 302, _failed_message),
    ("POST", "/api/sessions/{session_id:int}/restore"): Special(
        "facilitator_a", 200, _cancelled_session
    ),
    ("POST", "/sessions/{session_id:int}/restore"): Special(
        "facilitator_a", 302, _cancelled_session
    ),
    ("DELETE", "/api/sessions/{session_id:int}/scribe"): Special(
        "facilitator_a", 204, _scribe_named
    ),
    ("POST", "/sessions/{session_id:int}/notes/scribe/remove"): Special(
        "facilitator_a", 302, _scribe_named
    ),
    ("POST", "/reminders/on/{token:str}"): Special("anonymous", 200, _reminders_off),
    # An updated prompt goes to those who received an earlier revision, before the session.
    _SEND_UPDATE: Special(
        "facilitator_a",
        302,
        _prompt_sent_then_revised,
        row=_matrix(
            _SEND_UPDATE, path=lambda w, ids: f"/sessions/{ids.next_session_a}/prompt/send-update"
        ),
    ),
    # Only a cohort without sessions gets a generated schedule.
    _SCHEDULE: Special(
        "facilitator_a",
        302,
        _cohort_without_sessions,
        row=_matrix(
            _SCHEDULE, form={"first_date": "2031-01-01", "start_time": "10:00", "count": "4"}
        ),
    ),
}


# What the issue names, by the action its route must write: schedule changes, publishing,
# roster imports, attendance, case-study transitions, note finalization, outbox releases and
# sends, sign-ins and failed sign-ins.
ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/cohorts/{cohort_id:int}/schedule"): "cohort.schedule",
    ("PATCH", "/api/sessions/{session_id:int}"): "session.update",
    ("POST", "/sessions/{session_id:int}/edit"): "session.update",
    ("POST", "/api/cohorts/{cohort_id:int}/sessions"): "session.add",
    ("POST", "/api/sessions/{session_id:int}/cancel"): "session.cancel",
    ("POST", "/api/sessions/{session_id:int}/restore"): "session.restore",
    ("POST", "/api/cohorts/{cohort_id:int}/publish"): "cohort.publish",
    ("POST", "/cohorts/{cohort_id:int}/publish"): "cohort.publish",
    _ROSTER_API: "roster.import",
    _ROSTER_PAGE: "roster.import",
    ("PUT", "/api/sessions/{session_id:int}/attendance"): "attendance.record",
    ("POST", "/sessions/{session_id:int}/attendance"): "attendance.record",
    **{
        ("POST", f"/api/case-studies/{{case_id:int}}/{step}"): f"case.{step}"
        for step in ("submit", "review", "return", "publish", "retire")
    },
    **{
        ("POST", f"/cases/{{case_id:int}}/{step}"): f"case.{step}"
        for step in ("submit", "review", "return", "publish", "retire")
    },
    ("POST", "/api/notes/{note_id:int}/finalize"): "notes.finalize",
    ("POST", "/api/outbox/release"): "outbox.release",
    ("POST", "/outbox/release"): "outbox.release",
    ("POST", "/outbox/send-now"): "outbox.send_now",
    ("POST", "/api/outbox/{message_id:int}/retry"): "outbox.retry",
    ("POST", "/api/sessions/{session_id:int}/notes/send"): "notes.send",
    _SEND_UPDATE: "session.prompt_update_sent",
    ("POST", "/sign-in"): "auth.sign_in_failed",
    ("POST", "/sign-in/link/{token:str}"): "auth.sign_in",
}


def state_changing_routes() -> list[tuple[str, str]]:
    return [(m, t) for m, t in app_routes() if m in STATE_CHANGING]


def acting_role(row: Row) -> tuple[str, int]:
    """The first signed-in role for which the matrix expects success (a 2xx, or a form's
    redirect), and that status; roles before it were refused, so they changed nothing."""
    for role in CALL_ORDER[1:]:
        status = row.expected(role)
        if 200 <= status < 300 or status == 302:
            return role, status
    # Only an anonymous visitor succeeds (using a sign-in link, say).
    return CALL_ORDER[0], row.expected(CALL_ORDER[0])


async def last_audit_id() -> int:
    from facilitators.tables import AuditEntry

    row = await AuditEntry.select(AuditEntry.id).order_by(AuditEntry.id, ascending=False).first()
    return 0 if row is None else int(row["id"])


async def actions_since(last_id: int) -> list[str]:
    from facilitators.tables import AuditEntry

    rows = await AuditEntry.select(AuditEntry.action).where(AuditEntry.id > last_id)
    return [row["action"] for row in rows]


def test_the_lists_name_existing_routes() -> None:
    routes = set(state_changing_routes())
    assert len(routes) > 50
    assert sorted(NO_AUDIT.keys() - routes) == [], "allowlisted routes that no longer exist"
    assert sorted(SPECIAL.keys() - routes) == [], "special cases for routes that no longer exist"
    assert sorted(ACTIONS.keys() - routes) == [], "expected actions of routes that no longer exist"


@pytest.mark.parametrize(("method", "template"), state_changing_routes())
async def test_state_changing_route_writes_an_audit_entry(
    method: str, template: str, make_client: Any, world: World
) -> None:
    key = (method, template)
    special = SPECIAL.get(key)
    row = (special.row if special else None) or MATRIX[key]
    role, expected = (special.role, special.status) if special else acting_role(row)
    ids = await _ids(world)
    if special and special.prepare:
        world, ids = await special.prepare(world, ids)
    path = route_path(template, row, world, ids)
    client: httpx.AsyncClient = make_client()
    headers = await prepare(client, world, role, api=template.startswith("/api/"))
    before = await last_audit_id()
    response = await call(client, method, path, row, world, ids, role, headers)
    assert response.status_code == expected, (
        f"{method} {template} as {role}: {response.status_code} {response.text[:300]}"
    )
    written = await actions_since(before)
    if key in NO_AUDIT:
        assert written == [], f"{method} {template} is allowlisted but writes {written}"
    else:
        assert written, f"{method} {template} answered {expected} as {role}: no audit entry"
    if key in ACTIONS:
        assert ACTIONS[key] in written, f"{method} {template} wrote {written}, not {ACTIONS[key]}"


# -- what the issue names, checked by action --------------------------------------------------


async def test_sign_ins_and_failed_sign_ins_are_audited(make_client: Any, world: World) -> None:
    from facilitators import audit
    from facilitators.services import set_active

    await sign_in(make_client(), world.staff.email)
    await sign_in(make_client(), world.staff.email, "not the password")
    await sign_in(make_client(), "nobody@example.org", "not the password")
    await set_active(world.facilitator_b.id, False, actor_id=world.admin.id)
    deactivated = await sign_in(make_client(), world.facilitator_b.email)
    assert deactivated.status_code == 403
    entries = await audit.list_entries(audit.AuditFilter(action="auth."))
    assert [(e.action, e.actor_id) for e in entries] == [
        ("auth.sign_in_failed", world.facilitator_b.id),
        ("auth.sign_in_failed", None),
        ("auth.sign_in_failed", world.staff.id),
        ("auth.sign_in", world.staff.id),
    ]
    assert entries[0].summary == "Deactivated account"
    assert "nobody@example.org" in entries[1].summary
