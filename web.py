"""Web plumbing shared by every app: templates, problem details, error pages, security headers,
the health check, and small helpers that pages use to read forms and render."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from litestar import MediaType, Request, Response, get
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from litestar.types import Message, Scope
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString

from database import MAX_ID
from errors import DomainError, InvalidInput, TooManyRequests
from prose import markdown_html
from settings import PROJECT_ROOT

log = logging.getLogger("mentorcircle")

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"
API_PREFIXES = ("/api/", "/health", "/schema")


# -- problem details (RFC 9457) -------------------------------------------------------------


class FieldProblem(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """The body of every API error."""

    title: str
    status: int
    detail: str
    type: str = "about:blank"
    errors: list[FieldProblem] = msgspec.field(default_factory=list)


_DESCRIPTIONS = {
    400: "The request is malformed (a field has the wrong type or shape)",
    401: "No valid API token (Authorization: Bearer ...)",
    403: "The token's owner may not do this",
    404: "Not found, or not visible to the token's owner",
    409: "Conflicts with the current state",
    413: "The request body is larger than this route accepts",
    422: "A value is not acceptable; `errors` names each field",
}


def problem_responses(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI declarations for the problem-details answers a route can give.

    400 is always declared: Litestar answers a malformed parameter with it (and would otherwise
    document its own body instead of ours). A route that names 400 takes a request body, and so
    can also answer 413 when the body is larger than it accepts."""
    codes = tuple(sorted({400, *codes, *((413,) if 400 in codes else ())}))
    return {
        code: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS[code],
            media_type="application/problem+json",
            examples=[Example(value={"title": "...", "status": code, "detail": "..."})],
        )
        for code in codes
    }


def problem(
    status: int, title: str, detail: str, errors: list[FieldProblem] | None = None
) -> Response[Problem]:
    return Response(
        Problem(title=title, status=status, detail=detail, errors=errors or []),
        status_code=status,
        media_type="application/problem+json",
    )


# -- templates ------------------------------------------------------------------------------


def local_time(value: dt.datetime | None, zone: str = "", fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """A UTC instant in a timezone, with the zone's abbreviation: "Wed 04 Mar 2026, 15:00 CST"."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(ZoneInfo(zone)) if zone else value
    return f"{local.strftime(fmt)} {local.tzname()}"


def time_range(start: dt.datetime, end: dt.datetime, zone: str) -> str:
    """ "Wed 04 Mar 2026, 15:00–16:00 CST"; both abbreviations when a clock change falls
    inside ("01:30 CDT–01:30 CST")."""
    start_local = start.astimezone(ZoneInfo(zone))
    end_local = end.astimezone(ZoneInfo(zone))
    day = start_local.strftime("%a %d %b %Y, %H:%M")
    if start_local.tzname() != end_local.tzname():
        return f"{day} {start_local.tzname()}–{end_local:%H:%M} {end_local.tzname()}"
    return f"{day}–{end_local:%H:%M} {end_local.tzname()}"


@pass_context
def _take_notices(context: Any) -> list[dict[str, str]]:
    """The notices flashed for this browser; showing them uses them up."""
    request = context.get("request")
    session = None if request is None else request.scope.get("session")
    if not isinstance(session, dict):
        return []
    return [
        notice if isinstance(notice, dict) else {"text": str(notice), "kind": "success"}
        for notice in session.pop("notices", [])
    ]


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html", "xml"]),
        # An unknown variable is a bug to surface, never blank text.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_time"] = local_time
    env.filters["time_range"] = time_range
    env.filters["markdown"] = markdown_html
    env.globals["FIELD_LABELS"] = FIELD_LABELS
    env.globals["now"] = lambda: dt.datetime.now(dt.UTC)
    env.globals["notices"] = _take_notices
    env.globals["ROLE_LABELS"] = {
        "admin": "Administrator",
        "staff": "Office staff",
        "facilitator": "Facilitator",
        "participant": "Participant",
    }
    return env


def page(
    template: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> Template:
    return Template(template_name=template, context=dict(context or {}), status_code=status_code)


def download(text: str, filename: str, media_type: str, *, private: bool = False) -> Response[str]:
    """A text file to save (Litestar adds "; charset=utf-8"). `private`: no shared cache keeps a
    copy (notes confidential to a cohort)."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if private:
        headers["Cache-Control"] = "private, no-store"
    return Response(text, media_type=media_type, headers=headers)


def is_api_request(path: str) -> bool:
    return path.startswith(API_PREFIXES)


async def form_data(request: Request[Any, Any, Any]) -> dict[str, str]:
    """A submitted form as plain strings (the last value wins for repeated single fields)."""
    form = await request.form()
    return {key: str(value) for key, value in form.items()}


async def form_lists(request: Request[Any, Any, Any], name: str) -> list[str]:
    form = await request.form()
    return [str(value) for value in form.getall(name)] if name in form else []


def form_field(field: str) -> str:
    """Where a service's field error belongs in a form: "schedule.start_time" -> "start_time",
    "sessions[2].title" -> "title"."""
    return re.sub(r"\[\d+\]$", "", field.split(".")[-1]) or field


def field_errors(error: DomainError) -> dict[str, str]:
    """A domain error as {form field: message}, for showing next to the fields (and all
    together at the top of the form)."""
    if isinstance(error, InvalidInput):
        errors: dict[str, str] = {}
        for item in error.errors:
            errors.setdefault(form_field(item.field), item.message)
        return errors
    return {"_form": error.detail}


def problem_text(error: DomainError) -> str:
    """A refusal as a sentence for a notice: fields named as the form labels them."""
    if isinstance(error, InvalidInput):
        return "; ".join(
            f"{FIELD_LABELS.get(form_field(e.field)) or form_field(e.field).replace('_', ' ').capitalize()}: "
            f"{e.message}"
            for e in error.errors
        )
    return error.detail


def flash(request: Request[Any, Any, Any], message: str, *, problem: bool = False) -> None:
    """A notice for the next page this browser shows: "Saved." in green, or (problem=True) a
    refusal in red."""
    session = dict(request.session) if isinstance(request.session, dict) else {}
    notice = {"text": message, "kind": "error" if problem else "success"}
    session["notices"] = [*session.get("notices", []), notice][-3:]
    request.set_session(session)


# Form fields as people read them, for the error summary at the top of a form.
FIELD_LABELS = {
    "facilitator_ids": "Facilitators",
    "lead_facilitator_id": "Lead facilitator",
    "curriculum_id": "Curriculum template",
    "first_date": "First session date",
    "start_time": "Start time",
    "interval_weeks": "Weeks between sessions",
    "skip_dates": "Skip dates",
    "slots": "Explicit dates",
    "video_url": "Video link",
    "career_stage": "Career stage",
    "current_password": "Current password",
    "new_password": "New password",
    "confirm_password": "New password again",
    "completion_percent": "Share of sessions to attend",
    "assignment_prompt": "Assignment prompt",
    "prompt_lead_minutes": "Prompt lead",
    "scenario": "The dilemma",
    "questions": "Discussion questions",
    "primary_competency": "Main competency",
    "audiences": "The mentee is",
    "disciplines": "Disciplines",
    "checklist": "Checklist",
    "comment": "Comment",
    "scope": "Publish to",
    "case_ids": "Case studies",
    "reminder_minutes": "Reminders",
    "due_date": "Due date",
    "due_time": "Due time",
    "file": "Roster file",
    "_form": "",
}


# -- exception handlers ---------------------------------------------------------------------


def _error_page(
    request: Request[Any, Any, Any], status: int, title: str, detail: str
) -> Response[Any]:
    return Template(
        template_name="errors/error.html",
        context={"status": status, "title": title, "detail": detail},
        status_code=status,
    )


def handle_domain_error(request: Request[Any, Any, Any], error: DomainError) -> Response[Any]:
    if is_api_request(request.url.path):
        errors = (
            [FieldProblem(e.field, e.message) for e in error.errors]
            if isinstance(error, InvalidInput)
            else []
        )
        response = problem(error.status_code, error.title, error.detail, errors)
    else:
        response = _error_page(request, error.status_code, error.title, error.detail)
    if isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


_PLAIN_MESSAGES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"Expected `str` of length >= 1"), lambda m: "is required"),
    (
        re.compile(r"Expected `str` of length >= (\d+)"),
        lambda m: f"needs at least {m[1]} characters",
    ),
    (
        re.compile(r"Expected `str` of length <= (\d+)"),
        lambda m: f"is longer than {m[1]} characters",
    ),
    (
        re.compile(r"Expected `array` of length >= (\d+)"),
        lambda m: f"needs at least {m[1]} item(s)",
    ),
    (re.compile(r"Expected `array` of length <= (\d+)"), lambda m: f"has more than {m[1]} items"),
    (re.compile(r"Expected `int` >= (-?\d+)"), lambda m: f"must be at least {m[1]}"),
    (re.compile(r"Expected `int` <= (-?\d+)"), lambda m: f"must be at most {m[1]}"),
    (
        re.compile(r"Expected `str` matching regex"),
        lambda m: "is not in the expected form (times are HH:MM)",
    ),
    (re.compile(r"Invalid enum value (.+)"), lambda m: f"{m[1]} is not one of the allowed values"),
    (re.compile(r"Invalid RFC3339 encoded date"), lambda m: "is not a date (YYYY-MM-DD)"),
    (re.compile(r"Expected `(\w+)`, got `(\w+)`"), lambda m: f"must be a {m[1]}, not a {m[2]}"),
)
_FIELD_IN_MESSAGE = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")


def _validation_errors(error: ValidationException) -> list[FieldProblem]:
    """Litestar's (msgspec's) validation errors, reworded for people and named by field."""
    problems = []
    for item in error.extra or []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "is invalid"))
        field = str(item.get("key") or item.get("source") or "body")
        named = _FIELD_IN_MESSAGE.search(message)
        if named:
            prefix = message[named.end() :].partition("- at `$.")[2].rstrip("`")
            field = f"{prefix}.{named[1]}" if prefix else named[1]
            message = "is required" if "missing" in message else "is not a field this accepts"
        else:
            for pattern, plain in _PLAIN_MESSAGES:
                found = pattern.search(message)
                if found:
                    message = plain(found)
                    break
        problems.append(FieldProblem(field, message))
    return problems


_TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
    429: "Too many requests",
}


def handle_http_exception(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    status = error.status_code
    title = _TITLES.get(status, "Error")
    detail = error.detail or title
    if status >= 500:
        log.error("HTTP %s on %s: %s", status, loggable(request.url.path), detail)
        detail = "Something went wrong on our side. It has been logged."
    if is_api_request(request.url.path):
        errors = _validation_errors(error) if isinstance(error, ValidationException) else []
        if errors and all(e.field not in {"body", "data"} for e in errors):
            # A well-formed body with unacceptable values: the same 422 the services give.
            status, title = 422, "Invalid input"
        if errors:
            detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        response = problem(status, title, detail, errors)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="mentorcircle"'
        return response
    if isinstance(error, NotAuthorizedException):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(path="/sign-in", query_params={"next": target})
    if status == 403 and "CSRF" in detail:
        detail = "This form has expired or came from another site. Go back, reload the page and try again."
    return _error_page(request, status, title, detail)


# Paths whose last segment is a secret: calendar feeds and emailed sign-in links.
_SECRET_PATH = re.compile(r"(/feeds/|/sign-in/link/)[^/\s?]+")


def loggable(path: str) -> str:
    """A path fit for logs: feed URLs and sign-in links carry their secret, which never goes to
    a log."""
    return _SECRET_PATH.sub(r"\1[secret]", path)


class RedactFeedSecrets(logging.Filter):
    """For uvicorn's access log, whose records carry the request path in their arguments: feed
    secrets and sign-in link tokens are replaced by [secret]."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(loggable(a) if isinstance(a, str) else a for a in record.args)
        return True


# PostgreSQL's "invalid byte sequence" (SQLSTATE 22021): text holding NUL, which no text
# column takes. Inputs are checked for it; this answers one that a check missed.
_NUL_IN_TEXT = "22021"


def handle_server_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    if getattr(error, "sqlstate", None) == _NUL_IN_TEXT:
        log.warning(
            "A NUL character reached the database on %s %s (no check caught it)",
            request.method,
            loggable(request.url.path),
        )
        detail = "The request holds a NUL character, which no field accepts."
        if is_api_request(request.url.path):
            return problem(422, "Invalid input", detail)
        return _error_page(request, 400, "Bad request", detail)
    log.exception(
        "Unhandled error on %s %s", request.method, loggable(request.url.path), exc_info=error
    )
    detail = "Something went wrong on our side. It has been logged."
    if is_api_request(request.url.path):
        return problem(500, "Internal server error", detail)
    return _error_page(request, 500, "Internal server error", detail)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: handle_domain_error,
    HTTPException: handle_http_exception,
    Exception: handle_server_error,
}


# -- ids that no row can have (MAX_ID) --------------------------------------------------------

# Integer query parameters that name a row, or count rows: bounded, so that a number no row can
# have is a 422 naming the parameter (and the API schema says so).
QueryId = Annotated[int, QueryParameter(ge=1, le=MAX_ID)]
OptionalQueryId = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]
QueryOffset = Annotated[int, QueryParameter(ge=0, le=MAX_ID)]


async def reject_impossible_input(request: Request[Any, Any, Any]) -> None:
    """A `before_request` hook for what no route can take:
    - an integer path parameter that no row can have is a 404 (a problem for the API, the
      error page for pages), like any id that does not exist;
    - a text path parameter holding a NUL character is a 404 too (nothing is named so);
    - a NUL character in a query parameter is a 422 naming the parameter (no text the office
      keeps holds one, and PostgreSQL cannot compare text with it); in its name, a 422 too.
    """
    for value in request.path_params.values():
        if isinstance(value, int) and not -MAX_ID <= value <= MAX_ID:
            raise NotFoundException()
        if isinstance(value, str) and "\x00" in value:
            raise NotFoundException()
    query = request.scope["query_string"]
    if b"%00" in query or b"\x00" in query:
        named = sorted(
            {
                name.replace("\x00", "\\x00")
                for name, item in request.query_params.multi_items()
                if "\x00" in name or "\x00" in item
            }
        )
        raise ValidationException(
            "A query parameter holds a NUL character.",
            extra=[{"key": name, "message": "must not hold a NUL character"} for name in named],
        )


# -- security headers -----------------------------------------------------------------------

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Feed URLs carry secrets in their path: never send a path to another origin.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


_RAW_SECURITY_HEADERS = [
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in SECURITY_HEADERS.items()
]


async def add_security_headers(message: Message, scope: Scope) -> None:
    """A `before_send` hook: it sees every response, the router's own 404 and 405 included.
    A header the response set itself stays as it is."""
    if message["type"] != "http.response.start":
        return
    headers = [(bytes(name), bytes(value)) for name, value in message.get("headers", ())]
    present = {name.lower() for name, _ in headers}
    headers += [header for header in _RAW_SECURITY_HEADERS if header[0] not in present]
    if scope["path"].startswith(("/sign-in", "/account", "/admin")):
        headers = [h for h in headers if h[0].lower() != b"cache-control"]
        headers.append((b"cache-control", b"no-store"))
    message["headers"] = headers


# -- health ---------------------------------------------------------------------------------


class Health(msgspec.Struct):
    status: str
    database: str
    engine: str


@get(
    "/health",
    summary="Is the app up and its database reachable?",
    tags=["health"],
    responses={
        503: ResponseSpec(data_container=Health, description="The database is not reachable")
    },
)
async def health() -> Response[Health]:
    engine = engine_finder()
    assert engine is not None
    try:
        await engine.run_querystring(QueryString("SELECT 1"))
    except Exception as error:
        log.warning("health check failed: %s", error)
        return Response(Health("error", "unreachable", engine.engine_type), status_code=503)
    return Response(Health("ok", "ok", engine.engine_type), media_type=MediaType.JSON)


def static_path() -> Path:
    return STATIC_DIR
