"""Discussion notes: they stay within the cohort (never office staff or admins who do not
facilitate it), private notes stay with the facilitators, the scribe writes drafts only, every
save is a revision, final notes reach the cohort once as confidential mail, and the Markdown
export and pages show what each reader may see, attributed to nobody."""

from __future__ import annotations

import email
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from typing import Any, cast

import httpx
import pytest

from tests.conftest import Person, World, make_person, post_form, sign_in

CASE_SECRET = "Probe the authorship norms (CASE-FACILITATOR-NOTES-MARKER)"
GROUP_TEXT = "Expectations about authorship were never said out loud (GROUP-MARKER)."
PRIVATE_TEXT = "Watch whether the quieter members get a turn (PRIVATE-MARKER)."
DRAFT_TEXT = "Still being written (DRAFT-MARKER)."


@dataclass
class Meeting:
    """Cohort A's first session, with one case on its agenda and a second participant who can
    be named scribe."""

    session_id: int
    case_id: int
    scribe: Person


@pytest.fixture
async def meeting(world: World) -> Meeting:
    from case_studies.tables import AgendaItem, CaseStudy
    from facilitators.services import CurrentUser
    from sessions.roster import add_participant
    from sessions.tables import Session

    session = (
        await Session.select(Session.id)
        .where(Session.cohort == world.cohort_a)
        .order_by(Session.position)
        .first()
    )
    assert session is not None
    rows = await CaseStudy.insert(
        CaseStudy(
            title="Whose paper is it?",
            scenario="A graduate student and a postdoc both expect first authorship.",
            questions=["What was agreed, and when?"],
            facilitator_notes=CASE_SECRET,
            status="published",
            scope="library",
            competencies=[],
            audiences=[],
            disciplines=[],
        )
    ).returning(CaseStudy.id)
    case_id = int(rows[0]["id"])
    await AgendaItem.insert(AgendaItem(session=session["id"], case=case_id, position=1))
    scribe = await make_person("ada.scribe@example.edu", {"participant"}, name="Ada Scribe")
    admin = CurrentUser(world.admin.id, "Admin", world.admin.email, frozenset({"admin"}))
    await add_participant(world.cohort_a, scribe.email, None, actor=admin)
    return Meeting(session["id"], case_id, scribe)


async def write(
    client: httpx.AsyncClient, who: Person, session_id: int, **body: Any
) -> httpx.Response:
    return await client.post(f"/api/sessions/{session_id}/notes", headers=who.auth, json=body)


async def final_group_note(client: httpx.AsyncClient, world: World, meeting: Meeting) -> int:
    created = await write(
        client, world.facilitator_a, meeting.session_id, key_issues=GROUP_TEXT, resources="CIMER"
    )
    assert created.status_code == 201, created.text
    note_id = int(created.json()["id"])
    finalized = await client.post(
        f"/api/notes/{note_id}/finalize", headers=world.facilitator_a.auth
    )
    assert finalized.status_code == 200, finalized.text
    return note_id


async def private_note(client: httpx.AsyncClient, world: World, meeting: Meeting) -> int:
    created = await write(
        client, world.facilitator_a, meeting.session_id, private=True, key_issues=PRIVATE_TEXT
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def draft_note(client: httpx.AsyncClient, world: World, meeting: Meeting) -> int:
    created = await write(
        client,
        world.facilitator_a,
        meeting.session_id,
        case_id=meeting.case_id,
        key_issues=DRAFT_TEXT,
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def browser(make_client: Any, who: Person) -> httpx.AsyncClient:
    client: httpx.AsyncClient = make_client()
    await sign_in(client, who.email)
    return client


def text_of(content: bytes) -> str:
    message = cast(EmailMessage, email.message_from_bytes(content, policy=default))
    parts = [
        str(part.get_content())
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    ]
    return "\n".join(parts)


# -- who reads -------------------------------------------------------------------------------


async def test_notes_of_cohort_a_do_not_exist_for_cohort_b_office_staff_or_admins(
    client: httpx.AsyncClient, make_client: Any, world: World, meeting: Meeting
) -> None:
    note_id = await final_group_note(client, world, meeting)
    session = meeting.session_id
    for outsider in (world.participant_b, world.facilitator_b, world.staff, world.admin):
        auth = outsider.auth
        assert (await client.get(f"/api/sessions/{session}/notes", headers=auth)).status_code == 404
        assert (await client.get(f"/api/notes/{note_id}", headers=auth)).status_code == 404
        assert (
            await client.get(f"/api/sessions/{session}/notes.md", headers=auth)
        ).status_code == 404
        assert (
            await client.patch(f"/api/notes/{note_id}", headers=auth, json={"key_issues": "x"})
        ).status_code == 404
        assert (await write(client, outsider, session, key_issues="x")).status_code == 404
        assert (
            await client.post(f"/api/sessions/{session}/notes/send", headers=auth)
        ).status_code == 404
        pages = await browser(make_client, outsider)
        for path in (f"/sessions/{session}/notes", f"/sessions/{session}/notes.md"):
            answer = await pages.get(path)
            assert answer.status_code == 404
            assert GROUP_TEXT not in answer.text
    # Same answer as for a session that does not exist: nothing is disclosed.
    missing = await client.get("/api/sessions/999999/notes", headers=world.staff.auth)
    denied = await client.get(f"/api/sessions/{session}/notes", headers=world.staff.auth)
    assert missing.json()["detail"].replace("999999", "N") == denied.json()["detail"].replace(
        str(session), "N"
    )


async def test_an_admin_who_facilitates_the_cohort_reads_its_notes(
    client: httpx.AsyncClient, world: World, meeting: Meeting
) -> None:
    from facilitators.services import CurrentUser
    from sessions.services import CohortChanges, update_cohort

    await final_group_note(client, world, meeting)
    both = await make_person("lead.admin@example.org", {"admin", "facilitator"})
    admin = CurrentUser(world.admin.id, "Admin", world.admin.email, frozenset({"admin"}))
    await update_cohort(
        world.cohort_a,
        CohortChanges(facilitator_ids=(world.facilitator_a.id, both.id)),
        actor=admin,
    )
    answer = await client.get(f"/api/sessions/{meeting.session_id}/notes", headers=both.auth)
    assert answer.status_code == 200
    assert answer.json()["viewer"] == "facilitator"


async def test_participants_read_final_group_notes_and_nothing_else(
    client: httpx.AsyncClient, make_client: Any, world: World, meeting: Meeting
) -> None:
    final_id = await final_group_note(client, world, meeting)
    private_id = await private_note(client, world, meeting)
    draft_id = await draft_note(client, world, meeting)
    reader = world.participant_a
    listed = await client.get(f"/api/sessions/{meeting.session_id}/notes", headers=reader.auth)
    assert listed.status_code == 200
    body = listed.json()
    assert body["viewer"] == "participant"
    assert [n["id"] for n in body["notes"]] == [final_id]
    assert body["private_notes"] == [] and body["scribe"] is None and body["send"] is None
    # No individual attribution: who saved it is not said to participants.
    assert body["notes"][0]["updated_by"] is None
    assert (await client.get(f"/api/notes/{draft_id}", headers=reader.auth)).status_code == 404
    assert (await client.get(f"/api/notes/{private_id}", headers=reader.auth)).status_code == 404
    assert (
        await client.get(f"/api/notes/{final_id}/revisions", headers=reader.auth)
    ).status_code == 403
    edit = await client.patch(
        f"/api/notes/{final_id}", headers=reader.auth, json={"key_issues": "Mine now"}
    )
    assert edit.status_code == 403
    assert (await write(client, reader, meeting.session_id, key_issues="x")).status_code == 403

    page = await (await browser(make_client, reader)).get(f"/sessions/{meeting.session_id}/notes")
    assert page.status_code == 200
    assert "GROUP-MARKER" in page.text
    assert "not attributed to anyone" in page.text
    for hidden in ("PRIVATE-MARKER", "DRAFT-MARKER", "CASE-FACILITATOR-NOTES-MARKER"):
        assert hidden not in page.text
    assert "Facilitators only" not in page.text
    assert world.facilitator_a.name not in page.text  # nobody's name next to the notes
    assert "<form" not in page.text.split("<main", 1)[1]


async def test_facilitators_see_authors_revisions_and_private_notes_apart(
    client: httpx.AsyncClient, make_client: Any, world: World, meeting: Meeting
) -> None:
    await final_group_note(client, world, meeting)
    await private_note(client, world, meeting)
    listed = await client.get(
        f"/api/sessions/{meeting.session_id}/notes", headers=world.facilitator_a.auth
    )
    body = listed.json()
    assert [n["key_issues"] for n in body["notes"]] == [GROUP_TEXT]
    assert [n["key_issues"] for n in body["private_notes"]] == [PRIVATE_TEXT]
    assert body["notes"][0]["updated_by"] == world.facilitator_a.name
    page = await (await browser(make_client, world.facilitator_a)).get(
        f"/sessions/{meeting.session_id}/notes"
    )
    group_part, private_part = page.text.split('id="facilitators-only"')
    assert "GROUP-MARKER" in group_part and "PRIVATE-MARKER" not in group_part
    assert "PRIVATE-MARKER" in private_part
    assert f"by {world.facilitator_a.name}" in page.text


# -- the scribe ------------------------------------------------------------------------------


async def test_the_scribe_writes_drafts_but_not_private_notes_and_does_not_finalize(
    client: httpx.AsyncClient, make_client: Any, world: World, meeting: Meeting
) -> None:
    session = meeting.session_id
    scribe = meeting.scribe
    private_id = await private_note(client, world, meeting)
    # Before being named, the scribe is a participant like any other.
    assert (await write(client, scribe, session, key_issues="x")).status_code == 403
    named = await client.put(
        f"/api/sessions/{session}/scribe",
        headers=world.facilitator_a.auth,
        json={"person_id": scribe.id},
    )
    assert named.status_code == 200 and named.json()["name"] == "Ada Scribe"
    # Naming is the facilitators' to do.
    for other in (world.participant_a, scribe):
        again = await client.put(
            f"/api/sessions/{session}/scribe", headers=other.auth, json={"person_id": other.id}
        )
        assert again.status_code == 403

    created = await write(client, scribe, session, key_issues="First thoughts.")
    assert created.status_code == 201, created.text
    note_id = created.json()["id"]
    assert created.json()["updated_by"] is None  # the scribe is a participant: no names
    saved = await client.patch(
        f"/api/notes/{note_id}", headers=scribe.auth, json={"strategies": "Write it down."}
    )
    assert saved.status_code == 200 and saved.json()["note"]["revision"] == 2
    assert (await write(client, scribe, session, private=True, key_issues="x")).status_code == 403
    assert (await client.get(f"/api/notes/{private_id}", headers=scribe.auth)).status_code == 404
    listed = (await client.get(f"/api/sessions/{session}/notes", headers=scribe.auth)).json()
    assert listed["viewer"] == "scribe" and listed["private_notes"] == []
    assert listed["scribe"]["name"] == "Ada Scribe"
    assert (
        await client.post(f"/api/notes/{note_id}/finalize", headers=scribe.auth)
    ).status_code == 403
    page = await (await browser(make_client, scribe)).get(f"/sessions/{session}/notes")
    assert "You are this session&#39;s scribe" in page.text or "You are this session's" in page.text
    assert "PRIVATE-MARKER" not in page.text and "Save and finalize" not in page.text
    assert "First thoughts." in page.text

    # Final notes are corrected by the facilitators only.
    assert (
        await client.post(f"/api/notes/{note_id}/finalize", headers=world.facilitator_a.auth)
    ).status_code == 200
    late = await client.patch(
        f"/api/notes/{note_id}", headers=scribe.auth, json={"key_issues": "Changed after"}
    )
    assert late.status_code == 403

    # Removed, the scribe reads what every participant reads.
    removed = await client.delete(
        f"/api/sessions/{session}/scribe", headers=world.facilitator_a.auth
    )
    assert removed.status_code == 204
    draft_id = await draft_note(client, world, meeting)
    assert (await client.get(f"/api/notes/{draft_id}", headers=scribe.auth)).status_code == 404


async def test_only_an_enrolled_participant_of_the_cohort_can_be_scribe(
    client: httpx.AsyncClient, world: World, meeting: Meeting
) -> None:
    for person in (world.participant_b, world.staff, world.facilitator_a):
        answer = await client.put(
            f"/api/sessions/{meeting.session_id}/scribe",
            headers=world.facilitator_a.auth,
            json={"person_id": person.id},
        )
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "person_id"


# -- writing ---------------------------------------------------------------------------------


async def test_every_save_keeps_a_revision_and_a_final_note_is_corrected_in_place(
    client: httpx.AsyncClient, world: World, meeting: Meeting
) -> None:
    auth = world.facilitator_a.auth
    created = await write(client, world.facilitator_a, meeting.session_id, key_issues="One")
    note_id = created.json()["id"]
    assert created.json()["status"] == "draft" and created.json()["revision"] == 1
    await client.patch(f"/api/notes/{note_id}", headers=auth, json={"key_issues": "Two"})
    same = await client.patch(f"/api/notes/{note_id}", headers=auth, json={"key_issues": "Two"})
    assert same.json()["changed"] is False and same.json()["note"]["revision"] == 2
    stale = await client.patch(
        f"/api/notes/{note_id}", headers=auth, json={"key_issues": "Three", "base_revision": 1}
    )
    assert stale.status_code == 409
    final = await client.post(f"/api/notes/{note_id}/finalize", headers=auth)
    assert final.json()["status"] == "final" and final.json()["finalized_at"]
    assert (await client.post(f"/api/notes/{note_id}/finalize", headers=auth)).status_code == 409
    corrected = await client.patch(
        f"/api/notes/{note_id}", headers=auth, json={"key_issues": "Three", "base_revision": 2}
    )
    assert corrected.status_code == 200
    assert corrected.json()["note"]["status"] == "final"
    assert corrected.json()["note"]["revision"] == 3
    history = (await client.get(f"/api/notes/{note_id}/revisions", headers=auth)).json()
    assert [(r["number"], r["key_issues"]) for r in history] == [
        (3, "Three"),
        (2, "Two"),
        (1, "One"),
    ]
    assert {r["author"] for r in history} == {world.facilitator_a.name}


async def test_one_note_per_topic_about_the_agenda_and_never_empty(
    client: httpx.AsyncClient, world: World, meeting: Meeting
) -> None:
    fac = world.facilitator_a
    session = meeting.session_id
    assert (await write(client, fac, session, key_issues="Whole")).status_code == 201
    assert (await write(client, fac, session, key_issues="Again")).status_code == 409
    # A private note about the same topic is another note.
    assert (await write(client, fac, session, key_issues="Mine", private=True)).status_code == 201
    on_agenda = await write(client, fac, session, case_id=meeting.case_id, key_issues="Case")
    assert on_agenda.status_code == 201 and on_agenda.json()["topic"] == "Whose paper is it?"
    elsewhere = await write(client, fac, session, case_id=meeting.case_id + 1000, key_issues="x")
    assert elsewhere.status_code == 422 and elsewhere.json()["errors"][0]["field"] == "case_id"
    empty = await write(client, fac, session, case_id=None, private=False, key_issues="  ")
    assert empty.status_code in (409, 422)
    blank = await write(client, fac, session, private=True, case_id=meeting.case_id)
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "key_issues"
    unknown = await write(client, fac, session, key_issues="x", author="Fac A")
    assert unknown.status_code in (400, 422)
    assert "author" in unknown.text


# -- sending ---------------------------------------------------------------------------------


async def test_final_notes_go_to_the_cohort_once_as_confidential_mail(
    client: httpx.AsyncClient, make_client: Any, world: World, meeting: Meeting
) -> None:
    from mail.tables import OutboxMessage

    fac = world.facilitator_a.auth
    send = f"/api/sessions/{meeting.session_id}/notes/send"
    await draft_note(client, world, meeting)
    await private_note(client, world, meeting)
    nothing = await client.post(send, headers=fac)
    assert nothing.status_code == 409  # nothing final yet

    note_id = await final_group_note(client, world, meeting)
    first = await client.post(send, headers=fac)
    assert first.status_code == 200
    # Participant A, the second participant, and facilitator A.
    assert first.json() == {"queued": 3, "notes": 1, "recipients": 3}
    second = await client.post(send, headers=fac)
    assert second.json()["queued"] == 0
    rows = await OutboxMessage.select().where(OutboxMessage.kind == "notes")
    assert len(rows) == 3
    assert {r["recipient"] for r in rows} == {
        world.participant_a.email,
        meeting.scribe.email,
        world.facilitator_a.email,
    }
    for row in rows:
        assert row["confidential"] is True
        assert row["session_id"] == meeting.session_id
        text = text_of(bytes(row["content"]))
        assert "GROUP-MARKER" in text and "CIMER" in text
        for hidden in ("PRIVATE-MARKER", "DRAFT-MARKER", "CASE-FACILITATOR-NOTES-MARKER"):
            assert hidden not in text

    # Staff see that the messages exist, never what they say.
    listing = await client.get("/api/outbox?kind=notes", headers=world.staff.auth)
    assert len(listing.json()) == 3 and all(m["subject"] == "" for m in listing.json())
    detail = await client.get(f"/api/outbox/{rows[0]['id']}", headers=world.staff.auth)
    assert detail.json()["text"] is None and detail.json()["html"] is None
    assert "GROUP-MARKER" not in detail.text
    staff_page = await (await browser(make_client, world.staff)).get(f"/outbox/{rows[0]['id']}")
    assert staff_page.status_code == 200
    assert "GROUP-MARKER" not in staff_page.text and "confidential" in staff_page.text

    # A correction makes a new edition: it can be sent once more, under new keys.
    await client.patch(
        f"/api/notes/{note_id}", headers=fac, json={"open_questions": "Who decides order?"}
    )
    third = await client.post(send, headers=fac)
    assert third.json()["queued"] == 3
    assert (await client.post(send, headers=fac)).json()["queued"] == 0
    keys = [r["key"] for r in await OutboxMessage.select(OutboxMessage.key)]
    assert len(keys) == len(set(keys)) == 6


async def test_the_send_button_on_the_page_queues_once(
    client: httpx.AsyncClient, make_client: Any, world: World, meeting: Meeting
) -> None:
    from mail.tables import OutboxMessage

    await final_group_note(client, world, meeting)
    pages = await browser(make_client, world.facilitator_a)
    path = f"/sessions/{meeting.session_id}/notes"
    for _ in range(2):
        answer = await post_form(pages, path + "/send", {}, page=path)
        assert answer.status_code == 302
    assert await OutboxMessage.count().where(OutboxMessage.kind == "notes") == 3
    page = await pages.get(path)
    assert "nothing new to send" in page.text and "All of them went out." in page.text


# -- export ----------------------------------------------------------------------------------


async def test_the_markdown_export_holds_what_the_reader_may_read(
    client: httpx.AsyncClient, make_client: Any, world: World, meeting: Meeting
) -> None:
    await final_group_note(client, world, meeting)
    await private_note(client, world, meeting)
    await draft_note(client, world, meeting)
    path = f"/sessions/{meeting.session_id}/notes.md"
    mine = await (await browser(make_client, world.participant_a)).get(path)
    assert mine.status_code == 200
    assert mine.headers["content-type"] == "text/markdown; charset=utf-8"
    assert mine.headers["content-disposition"] == (
        'attachment; filename="cohort-a-session-1-notes.md"'
    )
    assert mine.text.startswith("# Discussion notes: Cohort A, session 1: ")
    assert "## The session as a whole\n\n### Key issues raised\n\n" + GROUP_TEXT in mine.text
    assert "### Resources mentioned\n\nCIMER" in mine.text
    for hidden in ("PRIVATE-MARKER", "DRAFT-MARKER", "Facilitators only", world.facilitator_a.name):
        assert hidden not in mine.text

    theirs = await client.get(f"/api/{path.lstrip('/')}", headers=world.facilitator_a.auth)
    assert theirs.status_code == 200
    group, private = theirs.text.split("## Facilitators only")
    assert "GROUP-MARKER" in group and "## Whose paper is it? (draft)" in group
    assert "PRIVATE-MARKER" in private and "PRIVATE-MARKER" not in group


# -- pages -----------------------------------------------------------------------------------


async def test_markdown_in_notes_is_shown_safely(
    client: httpx.AsyncClient, make_client: Any, world: World, meeting: Meeting
) -> None:
    created = await write(
        client,
        world.facilitator_a,
        meeting.session_id,
        key_issues="**Credit** matters <script>alert(1)</script> [see](javascript:alert(2))",
    )
    await client.post(
        f"/api/notes/{created.json()['id']}/finalize", headers=world.facilitator_a.auth
    )
    page = await (await browser(make_client, world.participant_a)).get(
        f"/sessions/{meeting.session_id}/notes"
    )
    assert "<strong>Credit</strong>" in page.text
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text
    assert 'href="javascript:' not in page.text  # shown as text, never a link


async def test_facilitators_write_finalize_and_name_the_scribe_from_the_page(
    client: httpx.AsyncClient, make_client: Any, world: World, meeting: Meeting
) -> None:
    pages = await browser(make_client, world.facilitator_a)
    path = f"/sessions/{meeting.session_id}/notes"
    page = await pages.get(path)
    assert page.status_code == 200 and "Whose paper is it?" in page.text
    empty = await post_form(
        pages, path, {"key": "group-session", "case_id": "", "key_issues": ""}, page=path
    )
    assert empty.status_code == 422 and "write at least one part" in empty.text
    saved = await post_form(
        pages,
        path,
        {
            "key": "group-case",
            "case_id": str(meeting.case_id),
            "key_issues": "Agree on authorship early.",
            "action": "finalize",
        },
        page=path,
    )
    assert saved.status_code == 302
    assert saved.headers["location"].endswith(f"#group-case-{meeting.case_id}")
    listed = await client.get(
        f"/api/sessions/{meeting.session_id}/notes", headers=world.participant_a.auth
    )
    assert [n["key_issues"] for n in listed.json()["notes"]] == ["Agree on authorship early."]

    named = await post_form(
        pages, path + "/scribe", {"person_id": str(meeting.scribe.id)}, page=path
    )
    assert named.status_code == 302
    page = await pages.get(path)
    assert "Ada Scribe" in page.text and "is this session&#39;s scribe" in page.text
    removed = await post_form(pages, path + "/scribe/remove", {}, page=path)
    assert removed.status_code == 302
    assert "No scribe" in (await pages.get(path)).text


async def test_the_session_page_links_to_the_notes_for_the_cohort_only(
    make_client: Any, world: World, meeting: Meeting
) -> None:
    path = f"/sessions/{meeting.session_id}"
    for who, shown in (
        (world.participant_a, True),
        (world.facilitator_a, True),
        (world.staff, False),
        (world.admin, False),
    ):
        page = await (await browser(make_client, who)).get(path)
        assert page.status_code == 200
        assert (f'href="{path}/notes"' in page.text) is shown, who.email


async def test_a_refused_finalize_saves_nothing_either(
    client: httpx.AsyncClient, world: World, meeting: Meeting, make_client: Any
) -> None:
    from case_studies.tables import DiscussionNote

    session = meeting.session_id
    note_id = await draft_note(client, world, meeting)
    await client.put(
        f"/api/sessions/{session}/scribe",
        headers=world.facilitator_a.auth,
        json={"person_id": meeting.scribe.id},
    )
    scribe = await browser(make_client, meeting.scribe)
    page = f"/sessions/{session}/notes"
    refused = await post_form(
        scribe,
        page,
        {
            "note_id": str(note_id),
            "revision": "1",
            "key_issues": "Changed by a crafted request",
            "action": "finalize",
        },
        page=page,
    )
    assert refused.status_code == 403
    row = await DiscussionNote.select(DiscussionNote.key_issues, DiscussionNote.status).where(
        DiscussionNote.id == note_id
    )
    assert row == [{"key_issues": DRAFT_TEXT, "status": "draft"}]
