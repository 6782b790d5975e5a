"""Bulk import of an organization's licensed case studies: a CSV or a .zip of Markdown files,
previewed case by case, applied all or nothing, and harmless to repeat."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from typing import Any

import httpx
import pytest

from case_studies import imports, services
from case_studies.tables import CaseStudy
from errors import Forbidden, InvalidInput
from facilitators.services import CurrentUser
from tests.conftest import Person, csrf_token, make_person, sign_in

CSV_FILE = (
    "\ufeffTitle;Scenario;Questions;Facilitator Notes;Primary Competency;Competencies;"
    "Audiences;Disciplines;Attribution;Licence\n"
    '"The missing draft";"Three weeks before the deadline, the draft has not arrived.";'
    '"What do you say first? | Who else should know?";"Surface unspoken expectations.";'
    'Aligning Expectations;communication, ethics;graduate;Chemistry;"Our office";"Licensed"\n'
    '"Credit on the poster";"A student finds their name missing from a poster.";'
    '"1. What happened?\n2. What now?";"";ethics;;postdoc, junior faculty;;"Our office";""\n'
).encode()

MARKDOWN_A = """---
title: Silence in lab meeting
primary competency: communication
competencies: equity_inclusion, understanding
audiences: undergraduate
disciplines: physics, astronomy
attribution: Our office's collection
licence: Licensed to our office
---
A new student never speaks in lab meeting.

The group moves fast and nobody notices.

## Questions
- What might the student be experiencing?
- How could the meeting change so that
  every voice is heard?

## Facilitator notes
Probe for assumptions about participation.
"""

MARKDOWN_B = """---
title: The second project
primary competency: Fostering Independence
audiences: postdoc
---
A postdoc wants to start a project of their own.

## Questions
1. What is yours, what is theirs?
"""


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def as_user(person: Person, role: str) -> CurrentUser:
    return CurrentUser(person.id, person.name, person.email, frozenset({role}))


@pytest.fixture
async def staff(database: Any) -> CurrentUser:
    return as_user(await make_person("staff@example.org", {"staff"}), "staff")


async def library() -> dict[str, dict[str, Any]]:
    return {row["title"]: row for row in await CaseStudy.select()}


# -- the formats ----------------------------------------------------------------------------


async def test_a_semicolon_csv_with_a_bom_imports_every_field(staff: CurrentUser) -> None:
    preview = await imports.import_cases("cases.csv", CSV_FILE, dry_run=True, actor=staff)
    assert [(r.source, r.title, r.action) for r in preview.rows] == [
        ("line 2", "The missing draft", "add"),
        ("line 3", "Credit on the poster", "add"),
    ]
    assert await library() == {}  # a preview changes nothing

    applied = await imports.import_cases("cases.csv", CSV_FILE, dry_run=False, actor=staff)

    assert applied.applied and applied.count(imports.RowAction.add) == 2
    cases = await library()
    draft = cases["The missing draft"]
    assert draft["questions"] == ["What do you say first?", "Who else should know?"]
    assert draft["facilitator_notes"] == "Surface unspoken expectations."
    assert draft["primary_competency"] == "expectations"  # named in words, stored as its code
    assert draft["competencies"] == ["communication", "ethics"]
    assert draft["audiences"] == ["graduate"]
    assert draft["disciplines"] == ["chemistry"]
    assert (draft["attribution"], draft["licence"]) == ("Our office", "Licensed")
    assert (draft["provenance"], draft["scope"], draft["status"]) == (
        "curriculum",
        "library",
        "published",
    )
    poster = cases["Credit on the poster"]
    assert poster["questions"] == ["What happened?", "What now?"]
    assert poster["audiences"] == ["postdoc", "junior_faculty"]
    found = await services.list_cases(staff, services.CaseFilter(q="poster"))
    assert [c.title for c in found.cases] == ["Credit on the poster"]


async def test_a_comma_csv_without_a_bom_imports_too(staff: CurrentUser) -> None:
    data = b"TITLE,SCENARIO,QUESTIONS\nOne case,Some text,Why?\n"

    result = await imports.import_cases("plain.csv", data, dry_run=False, actor=staff)

    assert result.count(imports.RowAction.add) == 1
    assert (await library())["One case"]["questions"] == ["Why?"]


async def test_a_zip_of_markdown_files_imports_one_case_per_file(staff: CurrentUser) -> None:
    data = zip_of(
        {
            "cases/silence.md": MARKDOWN_A,
            "cases/second-project.md": MARKDOWN_B,
            "__MACOSX/cases/._silence.md": "junk",
            "cases/README.txt": "not a case",
        }
    )

    preview = await imports.import_cases("library.zip", data, dry_run=True, actor=staff)
    assert [(r.source, r.action) for r in preview.rows] == [
        ("cases/second-project.md", "add"),
        ("cases/silence.md", "add"),
    ]
    await imports.import_cases("library.zip", data, dry_run=False, actor=staff)

    silence = (await library())["Silence in lab meeting"]
    assert silence["scenario"].startswith("A new student never speaks")
    assert "nobody notices" in silence["scenario"] and "## Questions" not in silence["scenario"]
    assert silence["questions"] == [
        "What might the student be experiencing?",
        "How could the meeting change so that every voice is heard?",
    ]
    assert silence["facilitator_notes"] == "Probe for assumptions about participation."
    assert silence["competencies"] == ["equity_inclusion", "understanding"]
    assert silence["disciplines"] == ["physics", "astronomy"]
    second = (await library())["The second project"]
    assert second["primary_competency"] == "independence"
    assert second["questions"] == ["What is yours, what is theirs?"]


# -- problems, all or nothing ---------------------------------------------------------------


async def test_the_preview_names_every_problem_of_every_case(staff: CurrentUser) -> None:
    data = (
        b"title,scenario,primary competency,competencies,audiences\n"
        b"Fine,A dilemma,communication,,graduate\n"
        b"Two problems,,leadership,,\n"
        b"Bad tags,A dilemma,,teamwork,grad students\n"
        b"Fine,Same title again,,,\n"
    )

    preview = await imports.import_cases("cases.csv", data, dry_run=True, actor=staff)

    rows = {r.source: r for r in preview.rows}
    assert rows["line 2"].action == "add"
    assert rows["line 3"].action == "reject"
    assert any("scenario" in p for p in rows["line 3"].problems)
    assert any("unknown competency 'leadership'" in p for p in rows["line 3"].problems)
    assert any("teamwork" in p for p in rows["line 4"].problems)
    assert any("grad_students" in p for p in rows["line 4"].problems)
    assert rows["line 5"].problems == ("the file has a case with this title already (line 2)",)
    with pytest.raises(imports.CasesRejected) as rejected:
        await imports.import_cases("cases.csv", data, dry_run=False, actor=staff)
    assert rejected.value.preview.count(imports.RowAction.reject) == 3
    assert await library() == {}  # the good case was not imported either


async def test_markdown_problems_are_named_by_file(staff: CurrentUser) -> None:
    data = zip_of(
        {
            "no-header.md": "Just a scenario.\n",
            "typo.md": "---\ntitle: A title\nprimary competancy: ethics\n---\nText.\n",
            "good.md": MARKDOWN_B,
        }
    )

    preview = await imports.import_cases("cases.zip", data, dry_run=True, actor=staff)

    rows = {r.source: r for r in preview.rows}
    assert rows["good.md"].action == "add"
    assert "starts without a header block" in rows["no-header.md"].problems[0]
    assert rows["typo.md"].problems == ("line 3: unknown header field 'primary competancy'",)


async def test_a_failure_while_applying_leaves_nothing_behind(
    staff: CurrentUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_create = imports.create_case
    calls = 0

    async def create_then_fail(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise InvalidInput.single("title", "the database said no")
        return await real_create(*args, **kwargs)

    monkeypatch.setattr(imports, "create_case", create_then_fail)

    with pytest.raises(InvalidInput):
        await imports.import_cases("cases.csv", CSV_FILE, dry_run=False, actor=staff)

    assert calls == 2
    assert await library() == {}
    assert (await services.list_cases(staff, services.CaseFilter(q="draft"))).total == 0


async def test_importing_the_same_file_again_changes_nothing(staff: CurrentUser) -> None:
    await imports.import_cases("cases.csv", CSV_FILE, dry_run=False, actor=staff)
    before = await library()

    again = await imports.import_cases("cases.csv", CSV_FILE, dry_run=False, actor=staff)

    assert again.count(imports.RowAction.add) == 0
    assert again.count(imports.RowAction.duplicate) == 2
    assert all("already in the library" in r.reason for r in again.rows)
    assert await library() == before


async def test_a_case_someone_wrote_with_the_same_title_is_not_a_duplicate(
    staff: CurrentUser,
) -> None:
    facilitator = as_user(await make_person("fac@example.org", {"facilitator"}), "facilitator")
    await services.create_case(
        services.CaseInput(title="The missing draft", scenario="Another story."),
        actor=facilitator,
    )

    preview = await imports.import_cases("cases.csv", CSV_FILE, dry_run=True, actor=staff)

    assert preview.count(imports.RowAction.add) == 2


async def test_files_too_large_or_too_long_are_refused_clearly(
    staff: CurrentUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = b"title,scenario\n" + b"x" * imports.MAX_BYTES
    with pytest.raises(InvalidInput, match="larger than 2 MB"):
        await imports.import_cases("huge.csv", huge, dry_run=True, actor=staff)
    monkeypatch.setattr(imports, "MAX_CASES", 2)
    three = b"title,scenario\nA,a\nB,b\nC,c\n"
    with pytest.raises(InvalidInput, match="more than 2 cases"):
        await imports.import_cases("long.csv", three, dry_run=True, actor=staff)
    with pytest.raises(InvalidInput, match="holds more than 2 cases"):
        await imports.import_cases(
            "long.zip", zip_of({f"{n}.md": MARKDOWN_B for n in "abc"}), dry_run=True, actor=staff
        )
    with pytest.raises(InvalidInput, match="not UTF-8"):
        await imports.import_cases(
            "latin.csv", "title,scenario\nCafé,x\n".encode("latin-1"), dry_run=True, actor=staff
        )
    with pytest.raises(InvalidInput, match="scenario missing"):
        await imports.import_cases("cols.csv", b"title,text\nA,a\n", dry_run=True, actor=staff)
    with pytest.raises(InvalidInput, match="not a readable .zip"):
        await imports.import_cases("broken.zip", b"PK\x03\x04 broken", dry_run=True, actor=staff)


async def test_only_office_staff_and_admins_import(database: Any) -> None:
    facilitator = as_user(await make_person("fac@example.org", {"facilitator"}), "facilitator")
    with pytest.raises(Forbidden):
        await imports.import_cases("cases.csv", CSV_FILE, dry_run=True, actor=facilitator)
    admin = as_user(await make_person("admin@example.org", {"admin"}), "admin")
    result = await imports.import_cases("cases.csv", CSV_FILE, dry_run=False, actor=admin)
    assert result.count(imports.RowAction.add) == 2


# -- the pages ------------------------------------------------------------------------------

_FILE_DATA = re.compile(r'name="file_data" value="([^"]*)"')


async def test_pages_upload_preview_then_apply(client: httpx.AsyncClient, database: Any) -> None:
    await make_person("staff@example.org", {"staff"})
    await sign_in(client, "staff@example.org")
    form = await client.get("/cases/import")
    assert form.status_code == 200 and "Import licensed case studies" in form.text
    token = await csrf_token(client, "/cases/import")

    preview = await client.post(
        "/cases/import/preview",
        data={"_csrf_token": token},
        files={"case_file": ("cases.csv", CSV_FILE, "text/csv")},
    )
    assert preview.status_code == 200
    assert "Check the import" in preview.text and "Import these 2 case studies" in preview.text
    carried = _FILE_DATA.search(preview.text)
    assert carried is not None and base64.b64decode(carried[1]) == CSV_FILE
    assert await library() == {}

    applied = await client.post(
        "/cases/import/apply",
        data={"_csrf_token": token, "file_name": "cases.csv", "file_data": carried[1]},
    )
    assert applied.status_code == 302
    assert applied.headers["location"].startswith("/cases")
    assert set(await library()) == {"The missing draft", "Credit on the poster"}
    assert "Imported 2 case studies" in (await client.get("/cases/import")).text

    again = await client.post(
        "/cases/import/preview",
        data={"_csrf_token": token},
        files={"case_file": ("cases.csv", CSV_FILE, "text/csv")},
    )
    assert "Nothing to import" in again.text and "already in the library" in again.text


async def test_pages_show_each_rejected_case_and_apply_nothing(
    client: httpx.AsyncClient, database: Any
) -> None:
    await make_person("staff@example.org", {"staff"})
    await sign_in(client, "staff@example.org")
    token = await csrf_token(client, "/cases/import")
    bad = b"title,scenario,primary competency\nGood,Text,ethics\nBad,,leadership\n"

    preview = await client.post(
        "/cases/import/preview",
        data={"_csrf_token": token},
        files={"case_file": ("cases.csv", bad, "text/csv")},
    )
    assert preview.status_code == 200
    assert "Fix these cases" in preview.text
    assert "unknown competency &#39;leadership&#39;" in preview.text
    assert "scenario: is required" in preview.text
    assert 'action="/cases/import/apply"' not in preview.text

    forced = await client.post(
        "/cases/import/apply",
        data={
            "_csrf_token": token,
            "file_name": "cases.csv",
            "file_data": base64.b64encode(bad).decode(),
        },
    )
    assert forced.status_code == 422
    assert "nothing was imported" in forced.text
    assert await library() == {}

    tampered = await client.post(
        "/cases/import/apply",
        data={"_csrf_token": token, "file_name": "cases.csv", "file_data": "not base64!"},
    )
    assert tampered.status_code == 422 and "choose it again" in tampered.text
    empty = await client.post("/cases/import/preview", data={"_csrf_token": token})
    assert empty.status_code == 422 and "choose a CSV or .zip file" in empty.text


@pytest.mark.parametrize("role", ["participant", "facilitator"])
async def test_pages_refuse_participants_and_facilitators(
    client: httpx.AsyncClient, database: Any, role: str
) -> None:
    await make_person(f"{role}@example.org", {role})
    await sign_in(client, f"{role}@example.org")
    token = await csrf_token(client, "/sign-in")
    body = {
        "_csrf_token": token,
        "file_name": "cases.csv",
        "file_data": base64.b64encode(CSV_FILE).decode(),
    }

    assert (await client.get("/cases/import")).status_code == 403
    assert (await client.post("/cases/import/preview", data=body)).status_code == 403
    assert (await client.post("/cases/import/apply", data=body)).status_code == 403
    assert await library() == {}
