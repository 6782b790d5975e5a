"""Hypothesis on the parsers that read what people upload or type: the roster CSV, the schedule
rule (form fields, then the generator), and the case-study import (CSV, Markdown, .zip).

Whatever the input, they either return a result or raise InvalidInput with a message for a
field; never another exception (which would be a 500 on the page or the API). Example counts
are bounded (FUZZ_PARSER_EXAMPLES, default 300 per test) so the run stays short.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from case_studies.imports import parse_markdown_case, read_case_file
from errors import InvalidInput
from sessions.pages.forms import schedule_from_form
from sessions.roster_csv import parse_roster
from sessions.schedule import ScheduleRule, SessionPlan, Slot, generate

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_PARSER_EXAMPLES", "300")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text that looks a little like the real thing: separators, quotes, BOMs, digits of every script.
CSV_ALPHABET = st.sampled_from(
    list(',;"\n\r\t |-_.:@')
    + list("emailnamedeptcareerstagetimezone")
    + ["\ufeff", "\x00", "٣", "é"]
)
CSV_HEADERS = [
    "email,name",
    "Email;Name;Career stage;Time zone",
    "E-mail,Full name,Department,TZ",
    "\ufeffemail,name,stage",
]


def _messages(error: InvalidInput) -> list[str]:
    assert error.errors, "an InvalidInput names at least one field"
    for problem in error.errors:
        assert problem.field and problem.message
    return [problem.message for problem in error.errors]


# -- the roster CSV ---------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=2000))
@example(data=b"")
@example(data=b"\xff\xfe\x00e")
@example(data=b'email,name\n"unterminated,x\n')
@example(data=b"email,name\n" + b"x" * 200_000)
def test_roster_csv_from_any_bytes(data: bytes) -> None:
    try:
        parsed = parse_roster(data)
    except InvalidInput as error:
        _messages(error)
        return
    assert parsed.rows or parsed.problems


@FUZZ
@given(
    header=st.sampled_from(CSV_HEADERS),
    body=st.text(CSV_ALPHABET, max_size=400) | st.text(max_size=400),
)
@example(header="email,name", body="\na@b.org,A\n\x00,\x00")
@example(header="email,name", body="\na@b.org,A,faculty,Mars/Olympus\n")
@example(header="email;name;timezone", body="\na@b.org;A;" + "x" * 5000 + "\n")
def test_roster_csv_with_a_header_and_any_rows(header: str, body: str) -> None:
    try:
        parsed = parse_roster((header + body).encode("utf-8", "surrogatepass"))
    except InvalidInput as error:
        _messages(error)
        return
    for row in parsed.rows:
        assert "@" in row.email and row.name
    for problem in parsed.problems:
        assert problem.reason


# -- the schedule rule: form fields, then the generator ---------------------------------------

FORM_TEXT = st.text(st.sampled_from(list("0123456789-:, ;\n\t") + ["٣", "T", "x"]), max_size=40)
DATES = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))


@st.composite
def schedule_forms(draw: st.DrawFn) -> dict[str, Any]:
    """The schedule fields of the cohort form: often well-formed, sometimes anything."""
    date_text = draw(st.one_of(DATES.map(dt.date.isoformat), FORM_TEXT, st.text(max_size=20)))
    time_text = draw(
        st.one_of(st.times().map(lambda t: t.strftime("%H:%M")), FORM_TEXT, st.text(max_size=8))
    )
    slot_line = st.tuples(DATES, st.times(), st.integers(-10, 1000)).map(
        lambda s: f"{s[0].isoformat()} {s[1].strftime('%H:%M')} {s[2]}"
    )
    slots = draw(
        st.one_of(
            st.just(""),
            st.lists(slot_line, max_size=6).map("\n".join),
            FORM_TEXT,
            st.text(max_size=60),
        )
    )
    number = st.one_of(st.integers(-5, 700).map(str), FORM_TEXT, st.just(""))
    return {
        "first_date": draw(st.one_of(st.just(""), st.just(date_text))),
        "start_time": time_text,
        "interval_weeks": draw(number),
        "weekday": draw(st.sampled_from(["", "monday", "Sunday ", "funday", "٣"])),
        "skip_dates": draw(st.lists(DATES.map(dt.date.isoformat), max_size=4).map(", ".join)),
        "minutes": draw(number),
        "count": draw(number),
        "slots": slots,
    }


PLANS = [SessionPlan(f"Session {n}", 60, (), "", "") for n in range(1, 9)]


@FUZZ
@given(
    form=schedule_forms(),
    with_template=st.booleans(),
    zone=st.sampled_from(
        ["America/Chicago", "Europe/London", "Australia/Lord_Howe", "Pacific/Kiritimati", "UTC"]
    ),
)
@example(
    form={"first_date": "9999-12-25", "start_time": "15:00", "count": "8"},
    with_template=False,
    zone="UTC",
)
@example(
    form={"first_date": "0001-01-01", "start_time": "00:00", "count": "2"},
    with_template=False,
    zone="America/Chicago",
)
@example(form={"first_date": "2027-01-04", "start_time": "١٥:٠٠"}, with_template=True, zone="UTC")
@example(form={"first_date": "2027-01-04", "start_time": "1٣:00"}, with_template=True, zone="UTC")
@example(form={"slots": "9999-12-31 23:30 600"}, with_template=False, zone="Pacific/Kiritimati")
def test_schedule_form_and_generation_never_crash(
    form: dict[str, Any], with_template: bool, zone: str
) -> None:
    try:
        rule = schedule_from_form(form)
        if rule is None:
            return
        schedule = generate(PLANS if with_template else [], rule, zone)
    except InvalidInput as error:
        _messages(error)
        return
    starts = [s.starts_at for s in schedule.sessions]
    assert starts == sorted(starts)
    assert all(s.ends_at > s.starts_at for s in schedule.sessions)


@FUZZ
@given(
    first=DATES,
    at=st.times(),
    interval=st.integers(-3, 12),
    weekday=st.none() | st.integers(0, 6),
    skips=st.frozensets(DATES, max_size=5),
    minutes=st.none() | st.integers(-30, 800),
    count=st.none() | st.integers(0, 80),
    slots=st.lists(
        st.builds(Slot, DATES, st.times(), st.none() | st.integers(-30, 800)), max_size=10
    ),
    explicit=st.booleans(),
)
def test_schedule_rules_as_the_api_gives_them(
    first: dt.date,
    at: dt.time,
    interval: int,
    weekday: int | None,
    skips: frozenset[dt.date],
    minutes: int | None,
    count: int | None,
    slots: list[Slot],
    explicit: bool,
) -> None:
    """The API builds a ScheduleRule from typed JSON (any date msgspec accepts): the generator
    must refuse what it cannot lay out, not overflow."""
    rule = (
        ScheduleRule(slots=tuple(slots), skip_dates=skips, minutes=minutes)
        if explicit
        else ScheduleRule(first, at, interval, weekday, skips, minutes, count)
    )
    try:
        generate([], rule, "America/Chicago")
    except InvalidInput as error:
        _messages(error)


# -- the case-study import --------------------------------------------------------------------

CASE_HEADERS = ["title,scenario", "Title;Scenario;Questions;Audiences", "case,dilemma,competency"]


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@FUZZ
@given(
    name=st.sampled_from(["cases.csv", "cases.zip", "", "../../etc/passwd", "a\\b.ZIP"])
    | st.text(max_size=30),
    data=st.binary(max_size=2000)
    | st.tuples(st.sampled_from(CASE_HEADERS), st.text(max_size=300)).map(
        lambda t: (t[0] + "\n" + t[1]).encode("utf-8", "surrogatepass")
    ),
)
@example(name="x.zip", data=b"PK\x03\x04garbage")
@example(name="x.csv", data=b"PK\x03\x04")
@example(name="x.csv", data=b"title,scenario\n" + b"a," * 100_000)
def test_case_import_from_any_file(name: str, data: bytes) -> None:
    try:
        read = read_case_file(name, data)
    except InvalidInput as error:
        _messages(error)
        return
    assert read.format in {"csv", "zip"} and read.cases


@FUZZ
@given(
    files=st.dictionaries(
        st.lists(
            st.sampled_from(["a", "b", ".", "/", "_", "~", "__MACOSX/", ".md", "é"]),
            min_size=1,
            max_size=8,
        ).map("".join),
        st.binary(max_size=300)
        | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        max_size=5,
    )
)
def test_case_import_from_any_zip(files: dict[str, bytes]) -> None:
    try:
        read = read_case_file("cases.zip", _zip(files))
    except InvalidInput as error:
        _messages(error)
        return
    for case in read.cases:
        assert case.source


MARKDOWN_LINES = st.sampled_from(
    [
        "---",
        "title: A",
        "primary competency: x",
        "audiences: graduate, postdoc",
        "## Questions",
        "- Why?",
        "1. How?",
        "## Facilitator notes",
        "# Heading",
        ":",
        "title",
        "",
        "  - more",
    ]
) | st.text(max_size=40)


@FUZZ
@given(lines=st.lists(MARKDOWN_LINES, max_size=20), newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_markdown_cases_from_any_lines(lines: list[str], newline: str) -> None:
    case = parse_markdown_case("case.md", newline.join(lines))
    assert isinstance(case.problems, tuple)
    assert all(isinstance(q, str) and q for q in case.data.questions)
