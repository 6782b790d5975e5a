"""The case library and the review of participants' dilemmas: who may do what at each step,
facilitator notes kept from participants and staff everywhere, revisions, agendas in prompts."""

from __future__ import annotations

import datetime as dt
import email
from email.policy import default
from typing import Any

import httpx
import pytest

from tests.conftest import World, make_person, post_form, sign_in

CHECKLIST = [True, True, True]
SECRET_NOTE = "Probe: who owns the data? (FACILITATOR-ONLY-MARKER)"


def case_body(**overrides: Any) -> dict[str, Any]:
    return {
        "title": "The silent postdoc",
        "scenario": "A postdoc stops coming to group meeting after a **hard** review.",
        "questions": ["What would you ask first?", "Who else should know?"],
        "facilitator_notes": SECRET_NOTE,
        "primary_competency": "communication",
        "audiences": ["postdoc"],
        "disciplines": ["Chemistry"],
        **overrides,
    }


async def publish_library_case(client: httpx.AsyncClient, world: World, **overrides: Any) -> int:
    response = await client.post(
        "/api/case-studies", headers=world.facilitator_a.auth, json=case_body(**overrides)
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def participant_draft(client: httpx.AsyncClient, world: World) -> int:
    response = await client.post(
        "/api/case-studies",
        headers=world.participant_a.auth,
        json={
            "title": "My student won't say no",
            "scenario": "An undergraduate in my group takes on every task and is exhausted.",
            "questions": ["How would you raise it?"],
            "audiences": ["undergraduate"],
            "cohort_id": world.cohort_a,
            "scope": "cohort",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "draft"
    return int(response.json()["id"])


async def act(client: httpx.AsyncClient, who: Any, case_id: int, action: str, **body: Any) -> Any:
    return await client.post(
        f"/api/case-studies/{case_id}/{action}", headers=who.auth, json=body or None
    )


async def test_a_facilitators_case_is_published_at_once_and_notes_stay_with_facilitators(
    client: httpx.AsyncClient, world: World
) -> None:
    case_id = await publish_library_case(client, world)
    mine = await client.get(f"/api/case-studies/{case_id}", headers=world.facilitator_a.auth)
    assert mine.json()["status"] == "published"
    assert mine.json()["facilitator_notes"] == SECRET_NOTE
    assert mine.json()["disciplines"] == ["chemistry"]
    for reader in (world.participant_a, world.participant_b, world.staff, world.admin):
        seen = await client.get(f"/api/case-studies/{case_id}", headers=reader.auth)
        assert seen.status_code == 200
        assert seen.json()["facilitator_notes"] is None
        listed = await client.get("/api/case-studies", headers=reader.auth)
        assert SECRET_NOTE not in listed.text
    other_facilitator = await client.get(
        f"/api/case-studies/{case_id}", headers=world.facilitator_b.auth
    )
    assert other_facilitator.json()["facilitator_notes"] == SECRET_NOTE
    # Pages too.
    for reader in (world.participant_a, world.staff):
        browser = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
        await sign_in(browser, reader.email)
        page = await browser.get(f"/cases/{case_id}")
        assert page.status_code == 200 and "The silent postdoc" in page.text
        assert "FACILITATOR-ONLY-MARKER" not in page.text
        await browser.aclose()


async def test_the_whole_review_and_who_may_make_each_step(
    client: httpx.AsyncClient, world: World
) -> None:
    from mail.tables import OutboxMessage

    case_id = await participant_draft(client, world)
    # A draft is its author's alone.
    for outsider in (world.facilitator_a, world.staff, world.admin, world.participant_b):
        assert (
            await client.get(f"/api/case-studies/{case_id}", headers=outsider.auth)
        ).status_code == 404
    # Only the author submits, and only with every box of the checklist ticked.
    refused = await act(
        client, world.participant_a, case_id, "submit", checklist=[True, True, False]
    )
    assert refused.status_code == 422 and "checklist" in refused.text
    assert (await act(client, world.participant_a, case_id, "submit", checklist=CHECKLIST)).json()[
        "status"
    ] == "submitted"
    told = await OutboxMessage.select(OutboxMessage.recipient).where(
        OutboxMessage.kind == "case_review"
    )
    assert [r["recipient"] for r in told] == [world.facilitator_a.email]
    # The other cohort's facilitator and staff cannot see it; the author cannot edit it now.
    assert (await act(client, world.facilitator_b, case_id, "review")).status_code == 404
    assert (await act(client, world.staff, case_id, "review")).status_code == 404
    edit = await client.patch(
        f"/api/case-studies/{case_id}", headers=world.participant_a.auth, json={"title": "x"}
    )
    assert edit.status_code == 403
    # Facilitator A takes the review and returns it with a comment.
    assert (await act(client, world.facilitator_a, case_id, "review")).json()["status"] == (
        "in_review"
    )
    assert (await act(client, world.participant_a, case_id, "publish")).status_code == 403
    empty = await act(client, world.facilitator_a, case_id, "return", comment="")
    assert empty.status_code in (400, 422)
    back = await act(
        client, world.facilitator_a, case_id, "return", comment="Please remove the lab name."
    )
    assert back.json()["status"] == "returned"
    author_told = await OutboxMessage.select(OutboxMessage.recipient, OutboxMessage.subject).where(
        OutboxMessage.kind == "case_review"
    )
    assert (world.participant_a.email, True) in {
        (r["recipient"], "came back" in r["subject"]) for r in author_told
    }
    # The author revises (a new revision) and submits again.
    revised = await client.patch(
        f"/api/case-studies/{case_id}",
        headers=world.participant_a.auth,
        json={"scenario": "An undergraduate in our group takes on every task and is exhausted."},
    )
    assert revised.status_code == 200 and revised.json()["revision"] == 2
    await act(client, world.participant_a, case_id, "submit", checklist=CHECKLIST)
    await act(client, world.facilitator_a, case_id, "review")
    # Without the author's consent it cannot go to the library; to the cohort it can.
    library = await act(client, world.facilitator_a, case_id, "publish", scope="library")
    assert library.status_code == 422 and "agreed" in library.text
    published = await act(client, world.facilitator_a, case_id, "publish", scope="cohort")
    assert published.json()["status"] == "published" and published.json()["scope"] == "cohort"
    # Cohort A reads it; cohort B does not.
    assert (
        await client.get(f"/api/case-studies/{case_id}", headers=world.participant_b.auth)
    ).status_code == 404
    thread = await client.get(
        f"/api/case-studies/{case_id}/comments", headers=world.participant_a.auth
    )
    assert [c["event"] for c in thread.json()] == [
        "submit",
        "review",
        "return",
        "submit",
        "review",
        "publish",
    ]
    assert "Please remove the lab name." in thread.text
    # Retired: out of search by default, still readable.
    assert (await act(client, world.facilitator_a, case_id, "retire")).json()["status"] == "retired"
    listed = await client.get("/api/case-studies", headers=world.participant_a.auth)
    assert case_id not in [c["id"] for c in listed.json()["cases"]]
    assert (
        await client.get(f"/api/case-studies/{case_id}", headers=world.participant_a.auth)
    ).status_code == 200
    again = await act(client, world.facilitator_a, case_id, "retire")
    assert again.status_code == 409


async def test_with_consent_a_participants_case_reaches_the_library(
    client: httpx.AsyncClient, world: World
) -> None:
    case_id = await participant_draft(client, world)
    await act(
        client, world.participant_a, case_id, "submit", checklist=CHECKLIST, share_consent=True
    )
    await act(client, world.facilitator_a, case_id, "review")
    done = await act(client, world.facilitator_a, case_id, "publish", scope="library")
    assert done.json()["scope"] == "library"
    assert (
        await client.get(f"/api/case-studies/{case_id}", headers=world.participant_b.auth)
    ).status_code == 200


async def test_revisions_and_what_changed_between_them(
    client: httpx.AsyncClient, world: World
) -> None:
    case_id = await publish_library_case(client, world)
    await client.patch(
        f"/api/case-studies/{case_id}",
        headers=world.facilitator_a.auth,
        json={
            "scenario": "A postdoc stops coming to lab meeting after a hard review.",
            "facilitator_notes": "Changed note",
        },
    )
    revisions = await client.get(
        f"/api/case-studies/{case_id}/revisions", headers=world.facilitator_a.auth
    )
    assert [r["number"] for r in revisions.json()] == [2, 1]
    diff = await client.get(
        f"/api/case-studies/{case_id}/revisions/diff?older=1&newer=2",
        headers=world.facilitator_a.auth,
    )
    fields = {d["field"]: d["lines"] for d in diff.json()}
    assert "-A postdoc stops coming to group meeting after a **hard** review." in fields["scenario"]
    assert "+A postdoc stops coming to lab meeting after a hard review." in fields["scenario"]
    assert "facilitator_notes" in fields
    seen_by_participant = await client.get(
        f"/api/case-studies/{case_id}/revisions/diff?older=1&newer=2",
        headers=world.participant_a.auth,
    )
    assert "facilitator_notes" not in {d["field"] for d in seen_by_participant.json()}
    assert "FACILITATOR-ONLY-MARKER" not in seen_by_participant.text
    missing = await client.get(
        f"/api/case-studies/{case_id}/revisions/diff?older=1&newer=9",
        headers=world.facilitator_a.auth,
    )
    assert missing.status_code == 422


async def test_scenarios_cannot_carry_script(client: httpx.AsyncClient, world: World) -> None:
    case_id = await publish_library_case(
        client,
        world,
        scenario="<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)>",
    )
    await sign_in(client, world.participant_a.email)
    page = (await client.get(f"/cases/{case_id}")).text
    assert "<script>alert" not in page and 'href="javascript:' not in page
    assert "<img src=x" not in page and "&lt;script&gt;" in page


async def test_the_agenda_reaches_the_session_page_the_prompt_and_a_clone(
    client: httpx.AsyncClient, world: World
) -> None:
    from sessions.prompts import preview
    from sessions.tables import Session

    first = await publish_library_case(client, world)
    second = await publish_library_case(client, world, title="Authorship at the last minute")
    session = (
        await Session.select(Session.id)
        .where((Session.cohort == world.cohort_a) & (Session.starts_at > dt.datetime.now(dt.UTC)))
        .order_by(Session.starts_at)
        .first()
    )
    assert session is not None
    put = await client.put(
        f"/api/sessions/{session['id']}/case-studies",
        headers=world.facilitator_a.auth,
        json={"case_ids": [second, first]},
    )
    assert put.status_code == 200, put.text
    assert [item["case"]["id"] for item in put.json()] == [second, first]
    assert all(item["case"]["facilitator_notes"] == SECRET_NOTE for item in put.json())
    # Participants read the agenda without the notes; another cohort cannot set it.
    theirs = await client.get(
        f"/api/sessions/{session['id']}/case-studies", headers=world.participant_a.auth
    )
    assert SECRET_NOTE not in theirs.text and "Authorship at the last minute" in theirs.text
    refused = await client.put(
        f"/api/sessions/{session['id']}/case-studies",
        headers=world.facilitator_b.auth,
        json={"case_ids": [first]},
    )
    assert refused.status_code == 404
    twice = await client.put(
        f"/api/sessions/{session['id']}/case-studies",
        headers=world.facilitator_a.auth,
        json={"case_ids": [first, first]},
    )
    assert twice.status_code == 422
    # The prompt lists them, in order, with scenario and questions but no notes.
    from facilitators.services import CurrentUser

    facilitator = CurrentUser(
        world.facilitator_a.id, "Fac A", world.facilitator_a.email, frozenset({"facilitator"})
    )
    rendered, _ = await preview(facilitator, session["id"], "prompt", None)
    assert rendered.text.index("Authorship at the last minute") < rendered.text.index(
        "The silent postdoc"
    )
    assert "What would you ask first?" in rendered.text
    assert "FACILITATOR-ONLY-MARKER" not in rendered.text + rendered.html
    await sign_in(client, world.participant_a.email)
    page = (await client.get(f"/sessions/{session['id']}")).text
    assert "Authorship at the last minute" in page and "FACILITATOR-ONLY-MARKER" not in page


async def test_a_cloned_cohort_keeps_its_agendas(client: httpx.AsyncClient, world: World) -> None:
    from case_studies.tables import AgendaItem
    from sessions.tables import Session

    case_id = await publish_library_case(client, world)
    session = (
        await Session.select(Session.id, Session.position)
        .where(Session.cohort == world.cohort_a)
        .order_by(Session.position)
        .first()
    )
    assert session is not None
    await client.put(
        f"/api/sessions/{session['id']}/case-studies",
        headers=world.facilitator_a.auth,
        json={"case_ids": [case_id]},
    )
    clone = await client.post(
        f"/api/cohorts/{world.cohort_a}/clone",
        headers=world.facilitator_a.auth,
        json={
            "name": "Cohort A, next term",
            "schedule": {"first_date": "2031-02-03", "start_time": "15:00"},
        },
    )
    assert clone.status_code == 201, clone.text
    new_first = (
        await Session.select(Session.id)
        .where(Session.cohort == clone.json()["id"])
        .order_by(Session.position)
        .first()
    )
    assert new_first is not None
    copied = await AgendaItem.select(AgendaItem.case).where(AgendaItem.session == new_first["id"])
    assert copied == [{"case": case_id}]


async def test_participants_cannot_write_facilitator_notes_or_publish_directly(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        "/api/case-studies",
        headers=world.participant_a.auth,
        json={**case_body(), "cohort_id": world.cohort_a, "scope": "cohort", "publish": True},
    )
    assert response.status_code == 201
    assert response.json()["status"] == "draft"
    assert response.json()["facilitator_notes"] is None
    from case_studies.tables import CaseStudy

    stored = await CaseStudy.select(CaseStudy.facilitator_notes).where(
        CaseStudy.id == response.json()["id"]
    )
    assert stored == [{"facilitator_notes": ""}]
    elsewhere = await client.post(
        "/api/case-studies",
        headers=world.participant_a.auth,
        json={**case_body(), "cohort_id": world.cohort_b, "scope": "cohort"},
    )
    assert elsewhere.status_code == 422 and "cohort_id" in elsewhere.text


async def test_bad_input_names_each_field(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/api/case-studies",
        headers=world.facilitator_a.auth,
        json={**case_body(), "scenario": " ", "primary_competency": "nope"},
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"scenario", "primary_competency"} <= fields


async def test_the_pages_take_a_participant_from_draft_to_submitted(
    client: httpx.AsyncClient, world: World
) -> None:
    from case_studies.tables import CaseStudy

    await sign_in(client, world.participant_a.email)
    form = await client.get("/cases/new")
    assert "keep it anonymous" in form.text
    preview = await post_form(
        client,
        "/cases/new",
        {
            "title": "Credit where due",
            "scenario": "A *graduate student* asks to be first author.",
            "questions": "What is fair?\nWho decides?",
            "cohort_id": str(world.cohort_a),
            "action": "preview",
        },
        page="/cases/new",
    )
    assert "<em>graduate student</em>" in preview.text and "Who decides?" in preview.text
    saved = await post_form(
        client,
        "/cases/new",
        {
            "title": "Credit where due",
            "scenario": "A *graduate student* asks to be first author.",
            "questions": "What is fair?\nWho decides?",
            "cohort_id": str(world.cohort_a),
            "action": "save",
        },
        page="/cases/new",
    )
    assert saved.status_code in (302, 303)
    case = await CaseStudy.select(CaseStudy.id, CaseStudy.questions).first()
    assert case is not None and case["questions"] == ["What is fair?", "Who decides?"]
    path = f"/cases/{case['id']}"
    await post_form(client, f"{path}/submit", {"check_0": "on", "check_1": "on"}, page=path)
    assert "Not done" in (await client.get(path)).text
    await post_form(
        client, f"{path}/submit", {"check_0": "on", "check_1": "on", "check_2": "on"}, page=path
    )
    assert (await CaseStudy.select(CaseStudy.status).first()) == {"status": "submitted"}


async def test_the_review_queue_shows_what_waits(client: httpx.AsyncClient, world: World) -> None:
    case_id = await participant_draft(client, world)
    await act(client, world.participant_a, case_id, "submit", checklist=CHECKLIST)
    await sign_in(client, world.facilitator_a.email)
    queue = await client.get("/cases/review")
    assert "My student won&#39;t say no" in queue.text or "My student won't say no" in queue.text
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    await sign_in(other, world.facilitator_b.email)
    assert "say no" not in (await other.get("/cases/review")).text
    await other.aclose()


async def test_staff_never_see_facilitator_notes_in_the_outbox_either(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.services import CurrentUser
    from mail.tables import OutboxMessage
    from sessions.services import publish_schedule
    from sessions.tables import Session

    case_id = await publish_library_case(client, world)
    session = (
        await Session.select(Session.id, Session.starts_at)
        .where((Session.cohort == world.cohort_a) & (Session.starts_at > dt.datetime.now(dt.UTC)))
        .order_by(Session.starts_at)
        .first()
    )
    assert session is not None
    await client.put(
        f"/api/sessions/{session['id']}/case-studies",
        headers=world.facilitator_a.auth,
        json={"case_ids": [case_id]},
    )
    admin = CurrentUser(world.admin.id, "Admin", world.admin.email, frozenset({"admin"}))
    await publish_schedule(world.cohort_a, actor=admin)
    from sessions.prompts import enqueue_due

    await enqueue_due(session["starts_at"] - dt.timedelta(hours=1))
    prompts = await OutboxMessage.select(OutboxMessage.content).where(
        OutboxMessage.kind == "prompt"
    )
    assert prompts
    for row in prompts:
        message = email.message_from_bytes(bytes(row["content"]), policy=default)
        assert "FACILITATOR-ONLY-MARKER" not in message.as_string()
    listing = await client.get("/api/outbox?kind=prompt", headers=world.staff.auth)
    detail = await client.get(f"/api/outbox/{listing.json()[0]['id']}", headers=world.staff.auth)
    assert "The silent postdoc" in detail.text and "FACILITATOR-ONLY-MARKER" not in detail.text


@pytest.fixture
async def stranger(world: World) -> Any:
    return await make_person("stranger@example.edu", set())


async def test_someone_with_no_role_writes_nothing(
    client: httpx.AsyncClient, world: World, stranger: Any
) -> None:
    response = await client.post("/api/case-studies", headers=stranger.auth, json=case_body())
    assert response.status_code == 403


async def reviewed_and_published(client: httpx.AsyncClient, world: World, **submit: Any) -> int:
    case_id = await participant_draft(client, world)
    await act(client, world.participant_a, case_id, "submit", checklist=CHECKLIST, **submit)
    await act(client, world.facilitator_a, case_id, "review")
    return case_id


async def test_a_dilemmas_history_and_author_stay_with_author_and_reviewers(
    client: httpx.AsyncClient, world: World
) -> None:
    case_id = await participant_draft(client, world)
    await client.patch(
        f"/api/case-studies/{case_id}",
        headers=world.participant_a.auth,
        json={"scenario": "Jane Smith at Stanford takes on every task."},
    )
    await client.patch(
        f"/api/case-studies/{case_id}",
        headers=world.participant_a.auth,
        json={"scenario": "A student in a colleague's group takes on every task."},
    )
    await act(
        client, world.participant_a, case_id, "submit", checklist=CHECKLIST, share_consent=True
    )
    await act(client, world.facilitator_a, case_id, "review")
    await act(client, world.facilitator_a, case_id, "publish", scope="library")
    for outsider in (world.participant_b, world.staff, world.facilitator_b):
        seen = await client.get(f"/api/case-studies/{case_id}", headers=outsider.auth)
        assert seen.status_code == 200 and seen.json()["author_id"] is None
        history = await client.get(f"/api/case-studies/{case_id}/revisions", headers=outsider.auth)
        assert history.json() == []
        diff = await client.get(
            f"/api/case-studies/{case_id}/revisions/diff?older=1&newer=2", headers=outsider.auth
        )
        assert diff.status_code == 404 and "Stanford" not in diff.text
    for insider in (world.participant_a, world.facilitator_a, world.admin):
        diff = await client.get(
            f"/api/case-studies/{case_id}/revisions/diff?older=2&newer=3", headers=insider.auth
        )
        assert diff.status_code == 200 and "Stanford" in diff.text


async def test_once_published_a_dilemma_is_corrected_by_its_reviewers_not_its_author(
    client: httpx.AsyncClient, world: World
) -> None:
    case_id = await reviewed_and_published(client, world)
    await act(client, world.facilitator_a, case_id, "publish")
    by_author = await client.patch(
        f"/api/case-studies/{case_id}", headers=world.participant_a.auth, json={"title": "Renamed"}
    )
    assert by_author.status_code == 403
    by_reviewer = await client.patch(
        f"/api/case-studies/{case_id}",
        headers=world.facilitator_a.auth,
        json={"title": "Renamed by the reviewer"},
    )
    assert by_reviewer.status_code == 200 and by_reviewer.json()["status"] == "published"


async def test_a_facilitator_who_is_a_participant_somewhere_reads_no_notes_there(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.services import set_roles
    from sessions.tables import Session

    # Participant A also becomes a facilitator (of nothing yet).
    await set_roles(world.participant_a.id, {"participant", "facilitator"}, actor_id=None)
    library_case = await publish_library_case(client, world)
    seen = await client.get(f"/api/case-studies/{library_case}", headers=world.participant_a.auth)
    assert seen.json()["facilitator_notes"] == SECRET_NOTE  # a library case, not on their agenda
    session = await Session.select(Session.id).where(Session.cohort == world.cohort_a).first()
    assert session is not None
    await client.put(
        f"/api/sessions/{session['id']}/case-studies",
        headers=world.facilitator_a.auth,
        json={"case_ids": [library_case]},
    )
    for path in (
        f"/api/case-studies/{library_case}",
        f"/api/sessions/{session['id']}/case-studies",
    ):
        answer = await client.get(path, headers=world.participant_a.auth)
        assert answer.status_code == 200 and "FACILITATOR-ONLY-MARKER" not in answer.text


async def test_review_messages_are_confidential_and_each_event_is_told(
    client: httpx.AsyncClient, world: World
) -> None:
    from mail.tables import OutboxMessage

    case_id = await reviewed_and_published(client, world)
    await act(client, world.facilitator_a, case_id, "return", comment="Names, please.")
    await act(client, world.participant_a, case_id, "submit", checklist=CHECKLIST)  # unchanged
    await act(client, world.facilitator_a, case_id, "review")
    await act(client, world.facilitator_a, case_id, "return", comment="And the city.")
    rows = await OutboxMessage.select(
        OutboxMessage.recipient, OutboxMessage.subject, OutboxMessage.confidential
    ).where(OutboxMessage.kind == "case_review")
    assert all(r["confidential"] for r in rows)
    assert all("say no" not in r["subject"] for r in rows)
    to_facilitator = [r for r in rows if r["recipient"] == world.facilitator_a.email]
    to_author = [r for r in rows if r["recipient"] == world.participant_a.email]
    assert len(to_facilitator) == 2 and len(to_author) == 2


async def test_the_review_is_its_reviewers_and_an_admin_may_step_in(
    client: httpx.AsyncClient, world: World
) -> None:
    from sessions.tables import CohortFacilitator

    colleague = await make_person("colleague@example.org", {"facilitator"})
    await CohortFacilitator.insert(
        CohortFacilitator(cohort=world.cohort_a, person=colleague.id, lead=False)
    )
    case_id = await reviewed_and_published(client, world)  # facilitator A took the review
    refused = await act(client, colleague, case_id, "return", comment="Mine now")
    assert refused.status_code == 403
    assert (await act(client, world.admin, case_id, "return", comment="Admin")).status_code == 200


async def test_publishing_an_unseen_case_says_nothing_about_it(
    client: httpx.AsyncClient, world: World
) -> None:
    case_id = await reviewed_and_published(client, world)
    answer = await act(client, world.facilitator_b, case_id, "publish", scope="library")
    assert answer.status_code == 404 and "agreed" not in answer.text


async def test_an_edit_from_an_older_revision_is_refused_not_lost(
    client: httpx.AsyncClient, world: World
) -> None:
    case_id = await publish_library_case(client, world)
    first = await client.patch(
        f"/api/case-studies/{case_id}",
        headers=world.facilitator_a.auth,
        json={"title": "First edit", "base_revision": 1},
    )
    assert first.status_code == 200 and first.json()["revision"] == 2
    stale = await client.patch(
        f"/api/case-studies/{case_id}",
        headers=world.facilitator_a.auth,
        json={"title": "Second edit from revision 1", "base_revision": 1},
    )
    assert stale.status_code == 409 and "revision 2" in stale.text
    tags = await client.patch(
        f"/api/case-studies/{case_id}",
        headers=world.facilitator_a.auth,
        json={"disciplines": ["physics"]},
    )
    assert tags.json()["revision"] == 3  # every saved change is a revision


async def test_a_participants_search_finds_only_what_they_may_read(
    client: httpx.AsyncClient, world: World
) -> None:
    await publish_library_case(client, world, title="Library exhaustion case")
    draft = await participant_draft(client, world)  # "...is exhausted" (participant A's draft)
    del draft
    found = await client.get("/api/case-studies?q=undergraduate", headers=world.participant_b.auth)
    assert [c["title"] for c in found.json()["cases"]] == []
    notes_only = await client.get(
        "/api/case-studies?q=FACILITATOR-ONLY-MARKER", headers=world.participant_b.auth
    )
    assert notes_only.json()["cases"] == []
    mine = await client.get(
        "/api/case-studies?q=undergraduate&mine=true", headers=world.participant_a.auth
    )
    assert [c["title"] for c in mine.json()["cases"]] == ["My student won't say no"]


async def test_a_new_agenda_after_the_prompt_went_out_can_be_sent_as_an_update(
    client: httpx.AsyncClient, world: World
) -> None:
    from facilitators.services import CurrentUser
    from mail.tables import OutboxMessage
    from sessions.prompts import enqueue_due, send_updated_prompt, session_schedule
    from sessions.services import publish_schedule
    from sessions.tables import Session

    admin = CurrentUser(world.admin.id, "Admin", world.admin.email, frozenset({"admin"}))
    await publish_schedule(world.cohort_a, actor=admin)
    session = (
        await Session.select(Session.id, Session.starts_at)
        .where((Session.cohort == world.cohort_a) & (Session.starts_at > dt.datetime.now(dt.UTC)))
        .order_by(Session.starts_at)
        .first()
    )
    assert session is not None
    await enqueue_due(session["starts_at"] - dt.timedelta(hours=3))
    await OutboxMessage.update({OutboxMessage.state: "sent"}).where(OutboxMessage.kind == "prompt")
    case_id = await publish_library_case(client, world)
    await client.put(
        f"/api/sessions/{session['id']}/case-studies",
        headers=world.facilitator_a.auth,
        json={"case_ids": [case_id]},
    )
    assert (await session_schedule(admin, session["id"])).outdated == 1
    assert await send_updated_prompt(session["id"], actor=admin) == 1
    updated = await OutboxMessage.select(OutboxMessage.content).where(
        OutboxMessage.key.like("%updated%")
    )
    assert b"The silent postdoc" in bytes(updated[0]["content"]) or "The silent postdoc" in (
        email.message_from_bytes(bytes(updated[0]["content"]), policy=default).as_string()
    )
