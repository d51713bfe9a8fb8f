"""Template tags that put posts on other apps' pages (the home page's latest news)."""

from __future__ import annotations

from typing import Any

from django import template

from watchhouse.posts.public import card, timeline_page

register = template.Library()

# Latest posts shown on the home page.
HOME_POST_LIMIT = 3


@register.inclusion_tag("posts/_latest.html")
def latest_posts(limit: int = HOME_POST_LIMIT) -> dict[str, Any]:
    """The newest listed posts as cards, with a link to the timeline."""
    return {"latest_posts": [card(p) for p in timeline_page(size=limit).posts]}
