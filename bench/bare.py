"""The framework's ceiling for bench/pages.py: a bare Litestar handler returning a tiny JSON
body, served by the same uvicorn settings as the app (uvicorn bench.bare:create_app --factory)."""

from __future__ import annotations

from litestar import Litestar, get


@get("/", sync_to_thread=False)
def tiny() -> dict[str, bool]:
    return {"ok": True}


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app() -> Litestar:
    return Litestar(route_handlers=[tiny, health])
