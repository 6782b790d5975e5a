"""create_app(): the Litestar application, wired from every app's controllers and pages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from jinja2 import pass_context
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from piccolo.engine import engine_finder

from case_studies import agenda
from case_studies.controllers import CONTROLLERS as CASE_CONTROLLERS
from case_studies.pages import PAGES as CASE_PAGES
from database import pool_is_running
from facilitators.auth import AuthenticationMiddleware, session_config
from facilitators.controllers import MeController
from facilitators.guards import provide_user, provide_viewer
from facilitators.pages import AccountPages, AdminPages, SignInPages
from mail import dispatcher
from mail.setup import configured_transport, dispatch_config, mail_leaves_machine
from sessions import prompt_mail, prompts
from sessions import services as session_services
from sessions.controllers import (
    CohortController,
    CurriculumController,
    OutboxController,
    SessionController,
)
from sessions.pages import PAGES as SESSION_PAGES
from settings import Settings, get_settings
from web import (
    EXCEPTION_HANDLERS,
    STATIC_DIR,
    RedactFeedSecrets,
    add_security_headers,
    health,
    make_environment,
    reject_impossible_input,
)

NOT_AUTHENTICATED = ["^/static/", "^/health", "^/schema", "^/feeds/"]
# The largest request body a route takes unless it says otherwise (the roster and case-study
# uploads do). Room for the largest form (a 60-session curriculum with long prompts); past it
# the answer is 413 (a problem for the API, the error page for pages), before the body is read.
MAX_BODY_BYTES = 2_000_000
# What the dispatcher runs before each round: queue the prompts and reminders that are due.
SCHEDULER_STEPS = (prompts.enqueue_due,)


def connect_apps() -> None:
    """Plug the higher apps' functions into the providers the lower ones declare (sessions
    never imports case_studies): session agendas in prompts and pages, agendas in clones.
    Called by create_app() and by the `mentorcircle dispatch` worker; safe to call again."""
    if agenda.agenda_cases not in prompt_mail.case_lookups:
        prompt_mail.case_lookups.append(agenda.agenda_cases)
    if agenda.copy_agendas not in session_services.clone_hooks:
        session_services.clone_hooks.append(agenda.copy_agendas)


@asynccontextmanager
async def dispatcher_lifespan(app: Litestar) -> AsyncIterator[None]:
    """The outbox dispatcher as a task of the app, unless DISPATCH_IN_APP=false (then run
    `mentorcircle dispatch` workers)."""
    settings = get_settings()
    if not settings.dispatch_in_app:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(
        dispatcher.run(
            configured_transport(settings), dispatch_config(settings), stop, steps=SCHEDULER_STEPS
        )
    )
    try:
        yield
    finally:
        stop.set()
        await task


@asynccontextmanager
async def database_lifespan(app: Litestar) -> AsyncIterator[None]:
    engine = engine_finder()
    assert engine is not None, "piccolo_conf.py defines no engine"
    # Start (and later close) the pool only if nobody else did: a test or a worker may own it.
    started = not pool_is_running(engine)
    if started:
        await engine.start_connection_pool()
    try:
        yield
    finally:
        if started:
            await engine.close_connection_pool()


def _template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = make_environment()

    @pass_context
    def viewer(context: Any) -> Any:
        # Error pages render for unmatched routes too, where no user was resolved.
        request = context.get("request")
        return None if request is None else request.scope.get("user")

    environment.globals["viewer"] = viewer
    environment.globals["mail_leaves_machine"] = mail_leaves_machine(get_settings())
    return TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment))


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    connect_apps()
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactFeedSecrets) for f in access_log.filters):
        access_log.addFilter(RedactFeedSecrets())
    return Litestar(
        route_handlers=[
            health,
            MeController,
            CurriculumController,
            CohortController,
            SessionController,
            OutboxController,
            SignInPages,
            AccountPages,
            AdminPages,
            *SESSION_PAGES,
            *CASE_PAGES,
            *CASE_CONTROLLERS,
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], include_in_schema=False
            ),
        ],
        dependencies={
            "user": Provide(provide_user, sync_to_thread=False),
            "viewer": Provide(provide_viewer, sync_to_thread=False),
        },
        middleware=[
            session_config(settings).middleware,
            DefineMiddleware(AuthenticationMiddleware, exclude=NOT_AUTHENTICATED),
        ],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="mc_csrf",
            cookie_secure=settings.secure_cookies,
            cookie_samesite="lax",
            # Pages carry the token in their forms; no script needs to read the cookie.
            cookie_httponly=True,
            # The API authenticates by Bearer token only and never reads cookies.
            # One-click unsubscribe is a POST from a mail client (RFC 8058): the signed link
            # is its authority, and all it can do is switch one person's reminders off.
            exclude=["^/api/", "^/health", "^/schema", "^/feeds/", "^/reminders/off/"],
        ),
        template_config=_template_config(),
        exception_handlers=EXCEPTION_HANDLERS,
        before_send=[add_security_headers],
        before_request=reject_impossible_input,
        request_max_body_size=MAX_BODY_BYTES,
        lifespan=[database_lifespan, dispatcher_lifespan],
        openapi_config=OpenAPIConfig(
            title="mentorcircle API",
            version="0.1.0",
            description="Cohorts, schedules and rosters of Entering Mentoring learning "
            "communities. Authenticate with a personal API token: Authorization: Bearer mc_...",
            path="/schema",
            # JSON only: the interactive viewers load scripts from CDNs, which the
            # Content-Security-Policy (rightly) refuses.
            render_plugins=[JsonRenderPlugin()],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
        ),
        debug=settings.debug,
    )
