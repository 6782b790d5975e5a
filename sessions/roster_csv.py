"""Reading a roster spreadsheet saved as CSV: header names matched case-insensitively, extra
columns ignored, UTF-8 with or without BOM, comma or semicolon. Every row is checked; the
problems are listed row by row so the office can fix the file in one go."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from errors import InvalidInput
from facilitators.services import email_key
from facilitators.tables import CareerStage
from facilitators.validation import check_timezone, normalize_email

MAX_BYTES = 1_000_000
MAX_ROWS = 2_000

# Accepted header names for each field, after lower-casing and folding "_" and "-" to spaces.
COLUMNS = {
    "email": ("email", "e mail", "email address", "mail"),
    "name": ("name", "full name", "participant", "participant name"),
    "department": ("department", "dept", "unit"),
    "career_stage": ("career stage", "stage", "position", "rank"),
    "timezone": ("timezone", "time zone", "tz"),
}
CAREER_STAGES = {
    "": "",
    "faculty": "faculty",
    "professor": "faculty",
    "postdoc": "postdoc",
    "postdoctoral": "postdoc",
    "postdoctoral fellow": "postdoc",
    "graduate student": "graduate_student",
    "grad student": "graduate_student",
    "graduate_student": "graduate_student",
    "staff scientist": "staff_scientist",
    "staff_scientist": "staff_scientist",
    "other": "other",
}
assert set(CAREER_STAGES.values()) == {s.value for s in CareerStage}


@dataclass(frozen=True)
class RosterRow:
    line: int
    email: str
    name: str
    department: str
    career_stage: str
    timezone: str


@dataclass(frozen=True)
class RowProblem:
    line: int
    email: str
    reason: str


@dataclass(frozen=True)
class ParsedRoster:
    rows: tuple[RosterRow, ...]
    problems: tuple[RowProblem, ...]


def _fold(header: str) -> str:
    return re.sub(r"[\s_\-]+", " ", header.strip().lower())


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise InvalidInput.single("file", f"is larger than {MAX_BYTES // 1_000_000} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput.single(
            "file", "is not UTF-8 text: in your spreadsheet, save as 'CSV UTF-8'"
        ) from None
    if "\x00" in text:  # most often a UTF-16 export
        raise InvalidInput.single(
            "file", "holds NUL characters: in your spreadsheet, save as 'CSV UTF-8'"
        )
    return text


def _columns(header: list[str]) -> dict[str, int]:
    folded = [_fold(h) for h in header]
    found: dict[str, int] = {}
    for field, names in COLUMNS.items():
        for index, name in enumerate(folded):
            if name in names and field not in found:
                found[field] = index
    missing = [f for f in ("email", "name") if f not in found]
    if missing:
        raise InvalidInput.single(
            "file",
            f"the first line must name the columns; {' and '.join(missing)} missing "
            f"(found: {', '.join(h.strip() for h in header if h.strip()) or 'nothing'})",
        )
    return found


def parse_roster(data: bytes) -> ParsedRoster:
    """Every row of the file, checked. Raises InvalidInput only for a file it cannot read."""
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput.single("file", "is empty") from None
    except csv.Error as error:
        raise InvalidInput.single("file", f"is not a readable CSV file ({error})") from None
    columns = _columns(header)
    rows: list[RosterRow] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) + len(problems) >= MAX_ROWS:
                raise InvalidInput.single("file", f"has more than {MAX_ROWS} rows")
            checked = _check_row(line, record, columns, seen)
            if isinstance(checked, RowProblem):
                problems.append(checked)
            else:
                rows.append(checked)
                seen[email_key(checked.email)] = line
    except csv.Error as error:
        raise InvalidInput.single(
            "file", f"line {reader.line_num} cannot be read as CSV ({error})"
        ) from None
    if not rows and not problems:
        raise InvalidInput.single("file", "has a header but no participants")
    return ParsedRoster(tuple(rows), tuple(problems))


def _cell(record: list[str], columns: dict[str, int], field: str) -> str:
    index = columns.get(field)
    return record[index].strip() if index is not None and index < len(record) else ""


def _check_row(
    line: int, record: list[str], columns: dict[str, int], seen: dict[str, int]
) -> RosterRow | RowProblem:
    raw_email = _cell(record, columns, "email")
    try:
        email = normalize_email(raw_email)
    except InvalidInput as error:
        return RowProblem(line, raw_email, f"bad email: {error.errors[0].message}")
    if email_key(email) in seen:
        return RowProblem(
            line, email, f"duplicate in the file: same email as line {seen[email_key(email)]}"
        )
    name = _cell(record, columns, "name")
    if not name:
        return RowProblem(line, email, "the name is empty")
    if len(name) > 200:
        return RowProblem(line, email, "the name is longer than 200 characters")
    stage_text = _fold(_cell(record, columns, "career_stage"))
    if stage_text not in CAREER_STAGES:
        return RowProblem(
            line,
            email,
            f"unknown career stage {stage_text!r} (use faculty, postdoc, graduate student, "
            "staff scientist or other)",
        )
    zone = _cell(record, columns, "timezone")
    try:
        zone = check_timezone(zone, allow_empty=True)
    except InvalidInput:
        return RowProblem(
            line, email, f"unknown timezone {zone!r} (use a name like America/Chicago)"
        )
    department = _cell(record, columns, "department")[:200]
    return RosterRow(line, email, name, department, CAREER_STAGES[stage_text], zone)
