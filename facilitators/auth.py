"""Who is making a request: signed cookie sessions for pages, Bearer API tokens for /api.

The JSON API never reads cookies, so a cross-site form cannot use a signed-in browser against it
(and CSRF checks are needed only for pages).
"""

from __future__ import annotations

import hashlib
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.session.client_side import CookieBackendConfig

from facilitators.services import CurrentUser, SignIn, user_for_session, user_for_token
from settings import Settings

SESSION_COOKIE = "mc_session"


def session_config(settings: Settings) -> CookieBackendConfig:
    # The cookie is encrypted and signed (AES-GCM) with a key derived from SECRET_KEY, so
    # every app instance that shares SECRET_KEY accepts it.
    key = hashlib.sha256(b"mentorcircle-session:" + settings.secret_key.encode()).digest()
    return CookieBackendConfig(
        secret=key,
        key=SESSION_COOKIE,
        max_age=settings.session_max_age,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        exclude=["^/static", "^/api/", "^/health", "^/schema", "^/feeds/"],
    )


def start_session(connection: ASGIConnection[Any, Any, Any, Any], sign_in: SignIn) -> None:
    connection.set_session({"pid": sign_in.user.person_id, "gen": sign_in.session_generation})


def end_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    connection.clear_session()


class AuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Sets `request.user` to a CurrentUser, or None for an anonymous visitor."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        if connection.scope["path"].startswith("/api/"):
            return AuthenticationResult(user=await self._token_user(connection), auth=None)
        session = connection.scope.get("session") or {}
        user: CurrentUser | None = None
        if isinstance(session, dict) and isinstance(session.get("pid"), int):
            user = await user_for_session(session["pid"], int(session.get("gen", -1)))
            if user is None:
                connection.clear_session()
        return AuthenticationResult(user=user, auth=None)

    @staticmethod
    async def _token_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
        header = connection.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("use Authorization: Bearer <API token>")
        user = await user_for_token(token.strip())
        if user is None:
            raise NotAuthorizedException("the API token is unknown or revoked")
        return user
