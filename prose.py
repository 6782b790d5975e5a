"""Markdown written by people (assignment prompts, case studies) turned into safe HTML.

Two layers: markdown-it renders CommonMark with raw HTML switched off (an author's <script> or
<img onerror> comes out as visible text), and nh3 then keeps only the tags, attributes and URL
schemes listed here, so a `javascript:` or `data:` link loses its target whatever produced it.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

TAGS = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # "js-default" is CommonMark plus tables and strikethrough, with HTML input disabled.
    return MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})


def markdown_html(source: str) -> Markup:
    """Safe HTML for `source`; empty text gives empty markup."""
    if not source.strip():
        return Markup("")
    rendered = _parser().render(source)
    cleaned = nh3.clean(
        rendered,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)  # noqa: S704 (cleaned by nh3 just above)
