"""The JSON API's shapes for people and access."""

from __future__ import annotations

from msgspec import Struct


class MeOut(Struct):
    person_id: int
    name: str
    email: str
    roles: list[str]
