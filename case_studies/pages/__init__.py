"""The case-study app's HTML pages, one module per area."""

from typing import Any

PAGES: list[Any] = []
