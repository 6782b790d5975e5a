"""Route guards by role. Cohort-level rules (who sees which cohort) live in sessions.services.

Guards are async: Litestar runs a plain function guard in a worker thread, on every request."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from facilitators.services import CurrentUser


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser:
    """The signed-in user; anonymous visitors are turned away with 401 (pages: the sign-in form)."""
    user = connection.scope.get("user")
    if not isinstance(user, CurrentUser):
        raise NotAuthorizedException("sign in first")
    return user


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    current_user(connection)


async def office_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not current_user(connection).is_office:
        raise PermissionDeniedException("only administrators and office staff may do this")


async def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not current_user(connection).is_admin:
        raise PermissionDeniedException("only administrators may do this")


def provide_user(request: Request[Any, Any, Any]) -> CurrentUser:
    """Dependency `user`: the signed-in user (401 otherwise)."""
    return current_user(request)


def provide_viewer(request: Request[Any, Any, Any]) -> CurrentUser | None:
    """Dependency `viewer`: the signed-in user, or None on public pages."""
    user = request.scope.get("user")
    return user if isinstance(user, CurrentUser) else None
