"""Importing an organization's licensed case studies from a file: a CSV (one case a row) or a
.zip of Markdown files (one case a file). Every case is checked and matched against the
library; the preview says case by case what will happen, and applying is all or nothing.

A case already in the library (the same title, from a curriculum) is skipped, so importing the
same file again changes nothing.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, replace
from enum import StrEnum

from case_studies.services import CaseInput, check_case, create_case
from case_studies.tables import CaseStudy, Provenance, Scope
from database import take_turns
from errors import FieldError, Forbidden, InvalidInput
from facilitators import audit
from facilitators.services import CurrentUser
from sessions.curricula import known_competency_codes, list_competencies

MAX_BYTES = 2_000_000  # the uploaded file
MAX_CASES = 500
MAX_MARKDOWN_BYTES = 200_000  # one file inside a .zip
MAX_UNZIPPED_BYTES = 20_000_000
FIELD = "case_file"  # the form field errors about the whole file belong to

# Accepted names of each field, as CSV headers or Markdown header keys, after lower-casing and
# folding "_" and "-" to spaces.
COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("title", "case title", "case"),
    "scenario": ("scenario", "case text", "dilemma"),
    "questions": ("questions", "discussion questions"),
    "facilitator_notes": ("facilitator notes", "notes for facilitators", "facilitator guide"),
    "primary_competency": ("primary competency", "competency", "main competency"),
    "competencies": ("competencies", "secondary competencies", "other competencies"),
    "audiences": ("audiences", "audience"),
    "disciplines": ("disciplines", "discipline"),
    "attribution": ("attribution", "source"),
    "licence": ("licence", "license"),
}
_FIELD_OF = {name: field for field, names in COLUMNS.items() for name in names}
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_SECTION = re.compile(r"^#{1,3}\s+(.+?)\s*#*\s*$")
_QUESTIONS_HEADINGS = {"questions", "discussion questions"}
_NOTES_HEADINGS = {"facilitator notes", "notes for facilitators", "facilitator guide"}


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def _label(field: str) -> str:
    return field.replace("_", " ")


# -- reading a file -------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceCase:
    """One case as the file gives it: where it is (a line, a file in the .zip), what it says,
    and what could not be read."""

    source: str
    data: CaseInput
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseFile:
    name: str
    format: str  # "csv" or "zip"
    cases: tuple[SourceCase, ...]


def _items(text: str) -> tuple[str, ...]:
    """A list cell or header value: items separated by commas, semicolons, | or new lines."""
    return tuple(item.strip() for item in re.split(r"[,;|\n]+", text) if item.strip())


def _question_list(text: str) -> tuple[str, ...]:
    """Questions separated by | or new lines; list markers ("-", "1.") are dropped."""
    parts = re.split(r"\|+|\n+", text)
    return tuple(_LIST_ITEM.sub("", part).strip() for part in parts if part.strip())


def _audience(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def _case_input(values: dict[str, str]) -> CaseInput:
    return CaseInput(
        title=values.get("title", ""),
        scenario=values.get("scenario", ""),
        questions=_question_list(values.get("questions", "")),
        facilitator_notes=values.get("facilitator_notes", ""),
        primary_competency=values.get("primary_competency", "").strip(),
        competencies=_items(values.get("competencies", "")),
        audiences=tuple(_audience(a) for a in _items(values.get("audiences", ""))),
        disciplines=_items(values.get("disciplines", "")),
        attribution=values.get("attribution", ""),
        licence=values.get("licence", ""),
    )


def read_case_file(name: str, data: bytes) -> CaseFile:
    """Every case in the file, read but not yet checked. Raises InvalidInput only for a file
    it cannot read at all (too large, not UTF-8, not a .zip, no header, too many cases)."""
    name = posixpath.basename(name.replace("\\", "/"))[:200] or "upload"
    if len(data) > MAX_BYTES:
        raise InvalidInput.single(FIELD, f"is larger than {MAX_BYTES // 1_000_000} MB")
    if not data.strip():
        raise InvalidInput.single(FIELD, "is empty")
    if data.startswith(b"PK\x03\x04") or name.lower().endswith(".zip"):
        return CaseFile(name, "zip", _read_zip(data))
    return CaseFile(name, "csv", _read_csv(_decode(data, "the file")))


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput.single(
            FIELD, f"{what} is not UTF-8 text: in your spreadsheet, save as 'CSV UTF-8'"
        ) from None


def _read_csv(text: str) -> tuple[SourceCase, ...]:
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as error:
        raise InvalidInput.single(FIELD, f"is not a readable CSV file ({error})") from None
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        field = _FIELD_OF.get(_fold(cell))
        if field is not None and field not in columns:
            columns[field] = index
    missing = [f for f in ("title", "scenario") if f not in columns]
    if missing:
        raise InvalidInput.single(
            FIELD,
            f"the first line must name the columns; {' and '.join(missing)} missing "
            f"(found: {', '.join(h.strip() for h in header if h.strip()) or 'nothing'})",
        )
    cases: list[SourceCase] = []
    ended = reader.line_num
    try:
        for record in reader:
            start, ended = ended + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(cases) >= MAX_CASES:
                raise InvalidInput.single(FIELD, f"has more than {MAX_CASES} cases")
            values = {
                field: record[index] if index < len(record) else ""
                for field, index in columns.items()
            }
            cases.append(SourceCase(f"line {start}", _case_input(values)))
    except csv.Error as error:
        raise InvalidInput.single(
            FIELD, f"line {reader.line_num} cannot be read as CSV ({error})"
        ) from None
    if not cases:
        raise InvalidInput.single(FIELD, "has a header but no cases")
    return tuple(cases)


def _read_zip(data: bytes) -> tuple[SourceCase, ...]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise InvalidInput.single(FIELD, "is not a readable .zip file") from None
    markdown = sorted(
        (
            entry
            for entry in entries
            if not entry.is_dir()
            and not entry.filename.startswith("__MACOSX/")
            and not posixpath.basename(entry.filename).startswith(".")
            and entry.filename.lower().endswith((".md", ".markdown"))
        ),
        key=lambda entry: entry.filename,
    )
    if not markdown:
        raise InvalidInput.single(FIELD, "holds no Markdown files (.md): one case per file")
    if len(markdown) > MAX_CASES:
        raise InvalidInput.single(FIELD, f"holds more than {MAX_CASES} cases")
    cases: list[SourceCase] = []
    unzipped = 0
    for entry in markdown:
        source = entry.filename
        if entry.flag_bits & 0x1:
            raise InvalidInput.single(FIELD, "is password-protected: zip it without a password")
        try:
            with archive.open(entry) as member:
                # Read no more than the limit, whatever size the archive claims.
                content = member.read(MAX_MARKDOWN_BYTES + 1)
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as error:
            cases.append(
                SourceCase(source, CaseInput(title=""), (f"cannot be unzipped ({error})",))
            )
            continue
        unzipped += len(content)
        if unzipped > MAX_UNZIPPED_BYTES:
            raise InvalidInput.single(
                FIELD, f"unzips to more than {MAX_UNZIPPED_BYTES // 1_000_000} MB"
            )
        if len(content) > MAX_MARKDOWN_BYTES:
            cases.append(
                SourceCase(
                    source,
                    CaseInput(title=""),
                    (f"is larger than {MAX_MARKDOWN_BYTES // 1000} KB",),
                )
            )
            continue
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            cases.append(SourceCase(source, CaseInput(title=""), ("is not UTF-8 text",)))
            continue
        cases.append(parse_markdown_case(source, text))
    return tuple(cases)


def parse_markdown_case(source: str, text: str) -> SourceCase:
    """One case from Markdown: a header block of `key: value` lines between two `---` lines,
    then the scenario, then a `## Questions` list and optionally `## Facilitator notes`."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    problems: list[str] = []
    values: dict[str, str] = {}
    body = lines
    if lines and lines[0].strip() == "---":
        closing = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if closing is None:
            problems.append("the header block has no closing '---' line")
            closing = len(lines)
        for number, line in enumerate(lines[1:closing], start=2):
            if not line.strip():
                continue
            key, colon, value = line.partition(":")
            field = _FIELD_OF.get(_fold(key))
            if not colon:
                problems.append(f"line {number}: write the header as 'key: value'")
            elif field is None:
                problems.append(f"line {number}: unknown header field {key.strip()!r}")
            else:
                values[field] = value.strip()
        body = lines[closing + 1 :]
    else:
        problems.append(
            "starts without a header block: a line '---', lines like 'title: ...', and '---' again"
        )
    sections: dict[str, list[str]] = {"scenario": [], "questions": [], "facilitator_notes": []}
    current = "scenario"
    for line in body:
        heading = _SECTION.match(line)
        if heading and _fold(heading[1]) in _QUESTIONS_HEADINGS:
            current = "questions"
            continue
        if heading and _fold(heading[1]) in _NOTES_HEADINGS:
            current = "facilitator_notes"
            continue
        sections[current].append(line)
    scenario = "\n".join(sections["scenario"]).strip()
    # A "# Title" opening the scenario is the title (when the header has none), not text.
    first = scenario.split("\n", 1)
    if first[0].startswith("# "):
        heading_title = first[0][2:].strip()
        if not values.get("title") or values["title"] == heading_title:
            values.setdefault("title", heading_title)
            scenario = first[1].strip() if len(first) > 1 else ""
    values["scenario"] = scenario
    values["facilitator_notes"] = "\n".join(sections["facilitator_notes"]).strip()
    data = _case_input(values)
    listed = _markdown_questions(sections["questions"])
    if listed:
        data = replace(data, questions=listed)
    return SourceCase(source, data, tuple(problems))


def _markdown_questions(lines: list[str]) -> tuple[str, ...]:
    """A Markdown list, one question per item (an item may run over several lines); without
    list markers, one question per line."""
    if not any(_LIST_ITEM.match(line) for line in lines):
        return tuple(line.strip() for line in lines if line.strip())
    questions: list[str] = []
    for line in lines:
        if _LIST_ITEM.match(line):
            questions.append(_LIST_ITEM.sub("", line).strip())
        elif line.strip() and questions:
            questions[-1] = f"{questions[-1]} {line.strip()}"
    return tuple(questions)


# -- what the import does -------------------------------------------------------------------


class RowAction(StrEnum):
    add = "add"
    duplicate = "duplicate"  # already in the library: skipped
    reject = "reject"


@dataclass(frozen=True)
class ImportRow:
    source: str  # "line 4", or the file's path in the .zip
    title: str
    action: RowAction
    primary_competency: str = ""
    questions: int = 0
    reason: str = ""  # why a duplicate is skipped
    problems: tuple[str, ...] = ()  # everything wrong with a rejected case


@dataclass(frozen=True)
class CaseImport:
    file_name: str
    format: str
    rows: tuple[ImportRow, ...]
    applied: bool

    def count(self, action: RowAction) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def rejected(self) -> tuple[ImportRow, ...]:
        return tuple(row for row in self.rows if row.action == RowAction.reject)


@dataclass(frozen=True)
class PlannedCase:
    result: ImportRow
    data: CaseInput | None = None  # checked, for the cases to add


async def _competency_codes_by_name() -> dict[str, str]:
    """Codes by code, name and older name (folded), so files may name competencies in words."""
    found: dict[str, str] = {}
    for competency in await list_competencies():
        for name in (competency.code, competency.name, *competency.aliases):
            found.setdefault(_fold(name), competency.code)
    return found


def _with_codes(data: CaseInput, codes: dict[str, str]) -> CaseInput:
    def code(text: str) -> str:
        return codes.get(_fold(text), text) if text.strip() else text

    return replace(
        data,
        primary_competency=code(data.primary_competency),
        competencies=tuple(code(c) for c in data.competencies),
    )


async def _plan(cases: tuple[SourceCase, ...]) -> list[PlannedCase]:
    """What applying would do, case by case: check each, then match it by its exact title
    against the library's curriculum cases and against the cases above it in the file."""
    codes = await known_competency_codes()
    by_name = await _competency_codes_by_name()
    titles = list({case.data.title.strip() for case in cases if case.data.title.strip()})
    existing = (
        {
            row["title"]: row
            for row in await CaseStudy.select(
                CaseStudy.id, CaseStudy.title, CaseStudy.status
            ).where(
                (CaseStudy.provenance == Provenance.curriculum.value)
                & CaseStudy.title.is_in(titles)
            )
        }
        if titles
        else {}
    )
    seen: dict[str, str] = {}
    plan: list[PlannedCase] = []
    for case in cases:
        data = _with_codes(case.data, by_name)
        title = data.title.strip()
        problems = list(case.problems)
        checked: CaseInput | None = None
        try:
            checked = check_case(data, codes)
        except InvalidInput as error:
            problems += [f"{_label(e.field)}: {e.message}" for e in error.errors]
        if title in seen:
            problems.append(f"the file has a case with this title already ({seen[title]})")
        elif title:
            seen[title] = case.source
        row = ImportRow(
            case.source,
            title,
            RowAction.add,
            data.primary_competency,
            len([q for q in data.questions if q.strip()]),
        )
        if problems or checked is None:
            plan.append(
                PlannedCase(replace(row, action=RowAction.reject, problems=tuple(problems)))
            )
        elif checked.title in existing:
            match = existing[checked.title]
            plan.append(
                PlannedCase(
                    replace(
                        row,
                        action=RowAction.duplicate,
                        reason=f"already in the library (case {match['id']}, "
                        f"{match['status'].replace('_', ' ')}): skipped",
                    )
                )
            )
        else:
            plan.append(PlannedCase(row, checked))
    return plan


class CasesRejected(InvalidInput):
    """Applying a file with rejected cases: nothing changed; `preview` says case by case why."""

    def __init__(self, preview: CaseImport) -> None:
        self.preview = preview
        rejected = preview.rejected
        super().__init__(
            [FieldError(r.source, "; ".join(r.problems)) for r in rejected],
            detail=f"{len(rejected)} case(s) need fixing; nothing was imported",
        )


async def import_cases(
    file_name: str, data: bytes, *, dry_run: bool, actor: CurrentUser
) -> CaseImport:
    """Preview (dry run) or apply a file of licensed cases: each is added to the library,
    published, as curriculum material. Applying is all or nothing: with any rejected case
    nothing changes, and the error lists the cases to fix."""
    if not actor.is_office:
        raise Forbidden("only office staff and administrators import case studies")
    case_file = read_case_file(file_name, data)
    if dry_run:
        plan = await _plan(case_file.cases)
        return CaseImport(
            case_file.name, case_file.format, tuple(p.result for p in plan), applied=False
        )
    async with CaseStudy._meta.db.transaction():
        # Two imports at once would both find a title new: the second waits for the first.
        await take_turns("case-import")
        plan = await _plan(case_file.cases)
        result = CaseImport(
            case_file.name, case_file.format, tuple(p.result for p in plan), applied=True
        )
        if result.rejected:
            raise CasesRejected(replace(result, applied=False))
        for item in plan:
            if item.data is not None:
                await create_case(
                    item.data,
                    actor=actor,
                    provenance=Provenance.curriculum.value,
                    scope=Scope.library.value,
                    publish=True,
                )
        added = result.count(RowAction.add)
        if added:
            await audit.record(
                actor.person_id,
                "case.import",
                "case_study",
                None,
                summary=f"Imported {added} case studies from {case_file.name!r} "
                f"({result.count(RowAction.duplicate)} already in the library)",
            )
    return result
