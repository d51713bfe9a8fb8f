"""Full-text search over listed posts: one interface, SQLite FTS5 or PostgreSQL full-text.

Migration 0002 builds the index: on SQLite an FTS5 external-content table kept in step with
``posts_post`` by triggers (Porter stemming, accents folded); on PostgreSQL a stored generated
column of :data:`PG_DOCUMENT` (English stemming, title weighted above summary above body) with
a GIN index. Both rank title matches first, among the :data:`RANKED_MATCHES` newest matches.
What a visitor types is never passed through as query syntax: on SQLite
each word is quoted as an FTS5 string, on PostgreSQL ``websearch_to_tsquery`` accepts any text.
"""

from __future__ import annotations

import re

from django.db import connection

from watchhouse.posts.models import Post
from watchhouse.posts.public import post_listed, visible_media_prefetch
from watchhouse.posts.states import LISTED_STATES

# The FTS5 table on SQLite (see migration 0002).
SQLITE_TABLE = "posts_post_fts"
# The weighted document on PostgreSQL, kept by migration 0002 in a stored generated column
# (so ranking reads it instead of re-parsing every matching post) with a GIN index.
PG_COLUMN = "search_document"
PG_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'C')"
)
# Matches ranked per query: the newest ones. A word found in most posts would otherwise cost a
# ranking of the whole archive on every search; news readers want recent posts first anyway.
RANKED_MATCHES = 200
# Longest query looked at, and most words in it; the rest is ignored.
MAX_QUERY_CHARS = 200
MAX_WORDS = 12
_WORD = re.compile(r"\w+", re.UNICODE)


def fts5_query(q: str) -> str:
    """``q`` as an FTS5 query that only ever means "all these words": each word a quoted
    string (operators, parentheses and quotes typed by a visitor are just text)."""
    words = _WORD.findall(q[:MAX_QUERY_CHARS])[:MAX_WORDS]
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def _matching_ids(q: str, limit: int, offset: int) -> list[int]:
    states = sorted(LISTED_STATES)
    marks = ", ".join(["%s"] * len(states))
    if connection.vendor == "sqlite":
        query = fts5_query(q)
        if not query:
            return []
        # Column weights: title 10, summary 4, body 1 (bm25 is lower for better matches).
        sql = (
            "SELECT p.id FROM ("  # noqa: S608 - only constants are formatted in
            f"SELECT rowid AS id, bm25({SQLITE_TABLE}, 10.0, 4.0, 1.0) AS score "
            f"FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH %s ORDER BY rowid DESC LIMIT %s"
            ") m JOIN posts_post p ON p.id = m.id "
            f"WHERE p.state IN ({marks}) AND p.redacted = %s "
            "ORDER BY m.score, p.published_at DESC, p.id DESC LIMIT %s OFFSET %s"
        )
        params: list[str | int] = [query, RANKED_MATCHES, *states, False, limit, offset]
    elif connection.vendor == "postgresql":
        text = q[:MAX_QUERY_CHARS].replace("\x00", " ").strip()
        if not text:
            return []
        sql = (
            "SELECT m.id FROM ("  # noqa: S608 - only constants are formatted in
            f"SELECT p.id, p.published_at, ts_rank(p.{PG_COLUMN}, query) AS score "
            "FROM posts_post p, websearch_to_tsquery('english'::regconfig, %s) query "
            f"WHERE p.{PG_COLUMN} @@ query AND p.state IN ({marks}) AND p.redacted = %s "
            "ORDER BY p.id DESC LIMIT %s"
            ") m ORDER BY m.score DESC, m.published_at DESC, m.id DESC LIMIT %s OFFSET %s"
        )
        params = [text, *states, False, RANKED_MATCHES, limit, offset]
    else:  # Another backend: plain substring search on the title, unranked.
        return list(
            post_listed()
            .filter(title__icontains=q[:MAX_QUERY_CHARS])
            .values_list("pk", flat=True)[offset : offset + limit]
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def post_search(q: str, *, limit: int, offset: int = 0) -> list[Post]:
    """Listed posts matching every word of ``q``, best match first, with their visible media
    (a resolved appeal is never found: its text may name the person).

    Never raises on what a visitor typed: text with no words finds nothing.
    """
    ids = _matching_ids(q, max(0, limit), max(0, offset))
    if not ids:
        return []
    # Looked up by id alone: given the state too, SQLite's planner walks the state index over
    # the whole archive. The states were checked by the search; they are checked again here.
    posts = Post.objects.filter(pk__in=ids).order_by().prefetch_related(visible_media_prefetch())
    found = {p.pk: p for p in posts if p.state in LISTED_STATES and not p.redacted}
    return [found[pk] for pk in ids if pk in found]
