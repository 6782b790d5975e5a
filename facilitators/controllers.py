"""JSON API for people and access."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from facilitators.guards import signed_in
from facilitators.schemas import MeOut
from facilitators.services import CurrentUser
from web import problem_responses


class MeController(Controller):
    path = "/api/me"
    tags = ["people"]
    guards = [signed_in]
    security = [{"bearer": []}]

    @get("/", summary="Who the API token belongs to", responses=problem_responses(401))
    async def me(self, user: NamedDependency[CurrentUser]) -> MeOut:
        return MeOut(user.person_id, user.name, user.email, sorted(user.roles))
