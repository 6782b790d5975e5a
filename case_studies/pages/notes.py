"""HTML pages for a session's discussion notes: reading and writing them (one note per case on
the agenda, and one for the session as a whole), finalizing, naming the scribe, sending the
final notes to the cohort, and the Markdown download."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from case_studies import notes
from case_studies.tables import DiscussionNote
from errors import DomainError, InvalidInput, NotFound
from facilitators.guards import signed_in
from facilitators.services import CurrentUser
from web import download, field_errors, flash, form_data, page


def topic_key(case_id: int | None, private: bool) -> str:
    """Where a topic's form sits on the page (its anchor, and which form an error belongs to)."""
    return ("private-" if private else "group-") + (
        f"case-{case_id}" if case_id is not None else "session"
    )


async def render_notes_page(
    user: CurrentUser,
    session_id: int,
    *,
    editing: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Template:
    """The notes page; a save that failed comes back as typed in its own form (`editing`: the
    form's key, its values and its errors)."""
    found = await notes.session_notes(user, session_id)
    access = found.access
    facilitator = access.is_facilitator
    return page(
        "case_studies/notes.html",
        {
            "found": found,
            "access": access,
            "s": access.session,
            "facilitator": facilitator,
            "writer": access.role is not notes.NoteRole.participant,
            "labels": notes.SECTION_LABELS,
            "fields": notes.FIELDS,
            "editing": editing or {"key": "", "form": {}, "errors": {}},
            "topic_key": topic_key,
            "history": await notes.session_revisions(user, session_id) if facilitator else {},
            "candidates": await notes.scribe_candidates(access.session.cohort_id)
            if facilitator
            else [],
        },
        status_code=status_code,
    )


def _case_id(value: str) -> int | None:
    if not value.strip():
        return None
    if not value.strip().isdigit():
        raise InvalidInput.single("case_id", "is not a case of this session")
    return int(value)


def _revision(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


class NotesPages(Controller):
    """A session's discussion notes: for its cohort's facilitators, the session's scribe and the
    cohort's participants (final notes); anyone else, office staff included, gets 404."""

    path = "/sessions/{session_id:int}"
    include_in_schema = False
    guards = [signed_in]

    @get("/notes")
    async def notes_page(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Template:
        return await render_notes_page(user, session_id)

    @post("/notes")
    async def save(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        """Save a topic's note (a new one, or a new revision); "Save and finalize" also makes
        a group note final."""
        form = await form_data(request)
        private = form.get("private") == "yes"
        text = {name: form.get(name, "") for name in notes.FIELDS}
        note_id = int(form["note_id"]) if form.get("note_id", "").isdigit() else None
        key = form.get("key", "")
        try:
            # Saving and finalizing are one change: refused, neither happens.
            async with DiscussionNote._meta.db.transaction():
                if note_id is None:
                    note = await notes.create_note(
                        session_id,
                        _case_id(form.get("case_id", "")),
                        notes.NoteText(**text),
                        private=private,
                        actor=user,
                    )
                    message = "Note saved as a draft."
                else:
                    await _require_in_session(user, note_id, session_id)
                    note, changed = await notes.update_note(
                        note_id,
                        notes.NoteChanges(
                            **text, base_revision=_revision(form.get("revision", ""))
                        ),
                        actor=user,
                    )
                    message = "Note saved." if changed else "The note is unchanged."
                if form.get("action") == "finalize" and not note.is_final:
                    note = await notes.finalize_note(note.id, actor=user)
                    message = "Note saved and final: the cohort's participants can read it now."
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            return await render_notes_page(
                user,
                session_id,
                editing={"key": key, "form": form, "errors": field_errors(error)},
                status_code=error.status_code,
            )
        flash(request, message)
        return Redirect(path=f"/sessions/{session_id}/notes#{topic_key(note.case_id, private)}")

    @post("/notes/scribe")
    async def name_scribe(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        form = await form_data(request)
        try:
            person_id = int(form.get("person_id", "0") or 0)
            scribe = await notes.name_scribe(session_id, person_id, actor=user)
            flash(request, f"{scribe.name} is this session's scribe.")
        except ValueError:
            flash(request, "Choose a participant to name scribe.", problem=True)
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            flash(request, f"Not named: {error.detail}", problem=True)
        return Redirect(path=f"/sessions/{session_id}/notes#scribe")

    @post("/notes/scribe/remove")
    async def remove_scribe(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        removed = await notes.remove_scribe(session_id, actor=user)
        flash(request, "The session has no scribe now." if removed else "There was no scribe.")
        return Redirect(path=f"/sessions/{session_id}/notes#scribe")

    @post("/notes/send")
    async def send(
        self,
        session_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        try:
            result = await notes.send_final_notes(session_id, actor=user)
            if result.queued:
                flash(
                    request,
                    f"The {result.notes} final note(s) are queued for {result.queued} people.",
                )
            else:
                flash(request, "These notes went out already: nothing new to send.")
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            flash(request, f"Not sent: {error.detail}", problem=True)
        return Redirect(path=f"/sessions/{session_id}/notes#send")

    @get("/notes.md")
    async def export(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Response[str]:
        export = await notes.export_markdown(user, session_id)
        return download(export.text, export.filename, "text/markdown", private=True)


async def _require_in_session(user: CurrentUser, note_id: int, session_id: int) -> None:
    """A note is saved from its own session's page only."""
    note = await notes.get_note(user, note_id)
    if note.session_id != session_id:
        raise NotFound(f"no discussion note with id {note_id}")
