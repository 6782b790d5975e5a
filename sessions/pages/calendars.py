"""Calendar files: the secret subscription feeds, a session's .ics download, and the pages'
buttons that show and regenerate feed URLs."""

from __future__ import annotations

from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from facilitators.guards import office_only, signed_in
from facilitators.services import CurrentUser
from sessions import feeds, services
from web import flash, page

ICS = "text/calendar"  # Litestar adds "; charset=utf-8"


def _not_modified(request: Request[Any, Any, Any], feed: feeds.Feed) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return (
            feed.etag in {tag.strip() for tag in if_none_match.split(",")}
            or if_none_match.strip() == "*"
        )
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return feed.last_modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


class FeedController(Controller):
    """Subscription feeds: the secret in the URL is the only key (no cookie, no token)."""

    path = "/feeds"
    include_in_schema = False

    @get("/{name:str}")
    async def feed(self, name: FromPath[str], request: Request[Any, Any, Any]) -> Response[bytes]:
        feed = await feeds.feed_for(name)
        headers = {
            "ETag": feed.etag,
            "Last-Modified": format_datetime(feed.last_modified, usegmt=True),
            "Cache-Control": "private, max-age=3600",
            # The URL is the secret: never pass it on in a Referer.
            "Referrer-Policy": "no-referrer",
        }
        if _not_modified(request, feed):
            return Response(b"", status_code=304, headers=headers)
        return Response(
            feed.body,
            media_type=ICS,
            headers={**headers, "Content-Disposition": 'inline; filename="mentorcircle.ics"'},
        )


class CalendarPages(Controller):
    include_in_schema = False
    guards = [signed_in]

    @get("/sessions/{session_id:int}/calendar.ics")
    async def download(
        self, session_id: FromPath[int], user: NamedDependency[CurrentUser]
    ) -> Response[bytes]:
        await services.require_session(user, session_id)
        return Response(
            await feeds.session_download(session_id),
            media_type=ICS,
            headers={"Content-Disposition": f'attachment; filename="session-{session_id}.ics"'},
        )

    @get("/calendar")
    async def calendar_page(self, user: NamedDependency[CurrentUser]) -> Template:
        return page(
            "sessions/calendar.html", {"links": await feeds.person_feed_links(user.person_id)}
        )

    @post("/calendar/regenerate")
    async def regenerate_mine(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Redirect:
        await feeds.regenerate_person_feed(user)
        flash(
            request,
            "A new feed address is ready; the old one no longer works. Update your calendar's subscription.",
        )
        return Redirect(path="/calendar")

    @post("/cohorts/{cohort_id:int}/feed", guards=[office_only])
    async def regenerate_cohort(
        self,
        cohort_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        await services.require_cohort(user, cohort_id)
        await feeds.regenerate_cohort_feed(cohort_id, actor=user)
        flash(request, "The cohort's feed has a new address; the old one no longer works.")
        return Redirect(path=f"/cohorts/{cohort_id}#calendar")
