"""Rendering the text and HTML of messages from templates/email/ (every kind, every app). An
unknown variable is an error at render time, never blank text in someone's inbox."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from settings import PROJECT_ROOT


def when(start: dt.datetime, end: dt.datetime, zone: str) -> str:
    tz = ZoneInfo(zone)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    return f"{local_start:%A %d %B %Y, %H:%M}–{local_end:%H:%M} {local_end.tzname()} ({zone})"


def at(moment: dt.datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%A %d %B %Y, %H:%M} {local.tzname()}"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(PROJECT_ROOT / "templates" / "email")),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = when
    env.filters["at"] = at
    return env


def render_message(name: str, context: dict[str, Any]) -> tuple[str, str]:
    """The text and HTML versions of message `name` (templates/email/<name>.txt and .html)."""
    env = _environment()
    return env.get_template(f"{name}.txt").render(context), env.get_template(f"{name}.html").render(
        context
    )
