"""Checks on values people type: email addresses, IANA timezones, names."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

from errors import InvalidInput

# Deliberately plain: one @, no spaces or control characters, a dot in the domain. Delivery
# is the real test.
_EMAIL = re.compile(
    r"^[^@\s<>,;\"\x00-\x1f\x7f]+@[^@\s<>,;\"\x00-\x1f\x7f]+\.[^@\s<>,;\".\x00-\x1f\x7f]{2,}$"
)


@lru_cache(maxsize=1)
def _timezones() -> dict[str, str]:
    """IANA names by their lower-case form, so "america/chicago" is understood."""
    return {zone.lower(): zone for zone in zoneinfo.available_timezones()}


def normalize_email(value: str, field: str = "email") -> str:
    email = value.strip()
    if not email:
        raise InvalidInput.single(field, "is required")
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInput.single(field, f"{email!r} is not an email address")
    return email


def check_timezone(value: str, field: str = "timezone", *, allow_empty: bool = False) -> str:
    zone = value.strip()
    if not zone and allow_empty:
        return ""
    canonical = _timezones().get(zone.lower())
    if canonical is None:
        raise InvalidInput.single(
            field, f"{zone!r} is not an IANA timezone (for example America/Chicago)"
        )
    return canonical


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def single_line(value: str, field: str) -> str:
    """Names and titles end up in mail headers and calendar lines: one line, no control
    characters."""
    if _CONTROL.search(value):
        raise InvalidInput.single(field, "must be a single line without control characters")
    return value


def required_text(value: str, field: str, max_length: int) -> str:
    """A name or title: required, one line (it may end up in a mail header), bounded."""
    text = single_line(value.strip(), field)
    if not text:
        raise InvalidInput.single(field, "is required")
    if len(text) > max_length:
        raise InvalidInput.single(field, f"is longer than {max_length} characters")
    return text


def optional_text(value: str | None, field: str, max_length: int) -> str:
    """Free text (lines allowed), bounded; never a NUL character, which no text column takes."""
    text = (value or "").strip()
    if "\x00" in text:
        raise InvalidInput.single(field, "must not hold a NUL character")
    if len(text) > max_length:
        raise InvalidInput.single(field, f"is longer than {max_length} characters")
    return text
