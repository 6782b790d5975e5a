"""The case-study app's JSON API."""

from typing import Any

CONTROLLERS: list[Any] = []
