"""Reading roster files the way offices actually save them."""

from __future__ import annotations

import pytest

from errors import InvalidInput
from sessions.roster_csv import parse_roster


def test_headers_in_any_case_extra_columns_and_a_bom() -> None:
    data = (
        "\ufeffE-Mail,Full Name,Dept,Office,Career Stage,Time Zone\r\n"
        "ada@example.edu,Ada Lovelace,Mathematics,B12,Faculty,Europe/London\r\n".encode()
    )
    parsed = parse_roster(data)
    assert parsed.problems == ()
    (row,) = parsed.rows
    assert (row.line, row.email, row.name, row.department, row.career_stage, row.timezone) == (
        2,
        "ada@example.edu",
        "Ada Lovelace",
        "Mathematics",
        "faculty",
        "Europe/London",
    )


def test_semicolon_separated_files_with_quoted_fields() -> None:
    data = b'email;name;department\n"kim@example.edu";"Kim, Daniel";"Computer Science"\n'
    (row,) = parse_roster(data).rows
    assert (row.name, row.department) == ("Kim, Daniel", "Computer Science")


def test_each_bad_row_is_listed_with_its_line_and_reason() -> None:
    data = (
        b"email,name,career stage,timezone\n"
        b"good@example.edu,Good,postdoc,\n"
        b"not-an-email,Bad Email,,\n"
        b"GOOD@example.edu,Twice,,\n"
        b"zone@example.edu,Zone,,Mars/Base\n"
        b"stage@example.edu,Stage,wizard,\n"
        b"noname@example.edu,,,\n"
        b",,,\n"
    )
    parsed = parse_roster(data)
    assert [r.email for r in parsed.rows] == ["good@example.edu"]
    assert [(p.line, p.reason.split(":")[0].split(" (")[0]) for p in parsed.problems] == [
        (3, "bad email"),
        (4, "duplicate in the file"),
        (5, "unknown timezone 'Mars/Base'"),
        (6, "unknown career stage 'wizard'"),
        (7, "the name is empty"),
    ]
    assert parsed.problems[1].reason == "duplicate in the file: same email as line 2"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"name,department\nAda,Maths\n", "email missing"),
        (b"email,name\n", "has a header but no participants"),
        ("email,name\nx@example.edu,Ren\u00e9\n".encode("latin-1"), "is not UTF-8 text"),
        (b"email,name\n" + b"a" * 1_000_001, "is larger than 1 MB"),
    ],
)
def test_files_that_cannot_be_read_say_why(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_roster(data)
