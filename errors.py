"""Errors a user can cause, raised by services and answered by app.py's handlers.

They carry no HTTP machinery: the API answers them as problem details, pages show them in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with one field (or one row of an upload: field="row 3: email")."""

    field: str
    message: str


class DomainError(Exception):
    status_code = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    status_code = 404
    title = "Not found"


class Forbidden(DomainError):
    status_code = 403
    title = "Forbidden"


class Conflict(DomainError):
    status_code = 409
    title = "Conflict"


class Gone(DomainError):
    """Something that existed and no longer works (a used or expired sign-in link)."""

    status_code = 410
    title = "Gone"


class TooManyRequests(DomainError):
    """A rate limit was reached; `retry_after` says in how many seconds to try again."""

    status_code = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InvalidInput(DomainError):
    """Input that names what is wrong, field by field."""

    status_code = 422
    title = "Invalid input"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        self.errors = errors
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in errors))

    @classmethod
    def single(cls, field: str, message: str) -> InvalidInput:
        return cls([FieldError(field, message)])


class Checks:
    """Collects every field error of a form or body, so the user sees them all at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def check(self, check: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one check; on failure remember its errors and return the input unchanged."""
        try:
            return check(*args, **kwargs)
        except InvalidInput as error:
            self.errors.extend(error.errors)
            return args[0] if args else None  # type: ignore[return-value]

    def done(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)
