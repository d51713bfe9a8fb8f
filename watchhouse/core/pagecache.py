"""Public pages and feeds rendered once and served from the cache.

Anonymous GETs of an alert page, the news timeline or a feed are what everyone opens at
once, so their bodies are rendered once per (page, language, version) and kept in Django's
cache (locmem in one process, Redis at scale). Pages belong to sections (:data:`ROUTES` maps
path prefixes to the sections their content comes from: an area page shows alerts, posts and
crime figures); each section has a version that changes whenever anything in it changes: the
services call :func:`pages_changed` with the section inside their transaction and the bump
happens on commit.

The versions live where every process of the deployment sees them: in the cache itself when
the cache is shared (Redis), otherwise in small stamp files under ``VAR_DIR`` (a ``stat``
per section and request), so a change made in the worker process (expiry, a scheduled post)
or in another web process reaches every web process at once.

Requests carrying a session cookie (signed-in staff, or anyone with flashed messages) or a
messages cookie are never served from the cache: they get the normal view; nor are requests
with a query string, unless the view says its query string only selects what is shown
(filters, page numbers), in which case the query string is part of the key. The CSRF token
of the language form is not part of the cached body: a placeholder is substituted with the
request's own token on the way out, so the form keeps working.
"""

from __future__ import annotations

import hashlib
import os
import re
import string
import tempfile
import time
import uuid
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie
from django.middleware.csrf import get_token
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date
from django.utils.translation import get_language

from watchhouse.core import metrics

# Stands in for the CSRF token in cached bodies (letters only: survives HTML escaping).
CSRF_PLACEHOLDER = "WatchhouseCsrfTokenPlaceholderX"
# How long browsers and shared caches may reuse a page or feed without asking again.
MAX_AGE_S = 30
# Longest time a rendered body stays in the cache (the version normally retires it first).
TIMEOUT_S = 300
_VERSION_KEY = "pages:version:"
# Path prefixes of cached pages, and the sections whose changes retire them.
ROUTES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/alerts/", ("alerts",)),
    ("/news/", ("posts",)),
    ("/podcast/", ("posts",)),
    ("/officers/", ("posts",)),
    # A neighbourhood's page lists its discussions and open polls (the community section).
    ("/areas/", ("alerts", "posts", "crime", "community")),
    ("/rumors/", ("rumors",)),
)
SECTIONS = frozenset(section for _prefix, sections in ROUTES for section in sections)
# Longest query string kept as part of a key (anything longer goes to Django every time).
QUERY_MAX = 200


def sections_for(path: str) -> tuple[str, ...] | None:
    """The sections of a cached page at ``path``, or None when no cached page lives there."""
    for prefix, sections in ROUTES:
        if path.startswith(prefix):
            return sections
    return None


def _stamp_path(section: str) -> Path:
    return Path(settings.VAR_DIR) / f"pages-{section}.version"


def _shared_cache() -> bool:
    return not isinstance(cache, LocMemCache)


def _section_version(section: str) -> str:
    if _shared_cache():
        version = cache.get(_VERSION_KEY + section)
        if version is None:
            version = uuid.uuid4().hex
            cache.add(_VERSION_KEY + section, version, timeout=None)
            version = cache.get(_VERSION_KEY + section, version)
        return str(version)
    try:
        st = os.stat(_stamp_path(section))
    except FileNotFoundError:
        return "0"
    return f"{st.st_ino:x}.{st.st_mtime_ns:x}.{st.st_size:x}"


def pages_version(sections: tuple[str, ...]) -> str:
    """The current version of every cached page made from ``sections``."""
    return "-".join(_section_version(section) for section in sections)


def _bump(section: str) -> None:
    if _shared_cache():
        cache.set(_VERSION_KEY + section, uuid.uuid4().hex, timeout=None)
        return
    path = _stamp_path(section)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new file replaces the old one atomically: a new inode, so a new version for sure.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".pages-{section}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(uuid.uuid4().hex)
    os.replace(tmp, path)


def pages_changed(section: str) -> None:
    """Retire every cached page made from ``section`` once the current transaction commits."""
    if section not in SECTIONS:
        raise ValueError(f"No cached pages are made from {section!r}.")
    transaction.on_commit(lambda: _bump(section))


def enabled() -> bool:
    """On unless ``WATCHHOUSE_PAGE_CACHE`` says otherwise; off by default under tests, whose
    rolled-back transactions never commit (so never retire a cached page)."""
    return bool(settings.WATCHHOUSE_PAGE_CACHE)


def cacheable(request: HttpRequest, *, query: bool = False) -> bool:
    """True for an anonymous GET/HEAD that the cached body fits exactly (``query``: the view's
    query string only selects what is shown, so it is part of the key)."""
    if not enabled() or request.method not in ("GET", "HEAD"):
        return False
    asked = request.META.get("QUERY_STRING", "")
    if asked and (not query or len(asked) > QUERY_MAX):
        return False
    cookies = request.COOKIES
    return settings.SESSION_COOKIE_NAME not in cookies and "messages" not in cookies


def _etag(digest: str, request: HttpRequest, per_visitor: bool) -> str:
    if not per_visitor:
        return f'"{digest}"'
    # The page carries the visitor's CSRF token: the tag also follows the visitor's secret
    # (get_token has made sure there is one, sent as a cookie with this response).
    secret = request.META.get("CSRF_COOKIE", "")
    mixed = hashlib.blake2b(f"{digest}:{secret}".encode(), digest_size=12).hexdigest()
    return f'W/"{mixed}"'


def _not_modified(request: HttpRequest, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def serve(
    request: HttpRequest,
    name: str,
    render: Callable[[], tuple[HttpResponse, float]],
    *,
    per_visitor: bool = False,
    query: bool = False,
) -> HttpResponse:
    """The response ``render`` builds for ``name``, rendered once per language, version and,
    with ``query``, query string (see :func:`cacheable`). The request's path must be under
    one of :data:`ROUTES`, whose sections make the version.

    ``render`` returns the full response and how many seconds it stays true at most (an
    alert page stops saying "in force" when the alert expires); only a 200 is kept.
    ``per_visitor`` bodies hold :data:`CSRF_PLACEHOLDER` where the visitor's CSRF token goes
    (HTML pages with a form).
    """
    sections = sections_for(request.path_info)
    if sections is None:
        raise ValueError(f"{request.path_info} is not under a cached route (pagecache.ROUTES).")
    if not cacheable(request, query=query):
        return render()[0]
    asked = request.META.get("QUERY_STRING", "")
    key = (
        f"pages:page:{request.path_info}?{asked}:{name}:{get_language()}:{pages_version(sections)}"
    )
    now = time.time()
    entry = cache.get(key)
    if entry is None or entry[3] <= now:
        response, fresh_s = render()
        fresh_s = min(fresh_s, TIMEOUT_S)
        if response.status_code != 200 or response.streaming or fresh_s < 1:
            return response
        body = response.content
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        entry = (body, response["Content-Type"], digest, now + fresh_s)
        cache.set(key, entry, timeout=int(fresh_s))
    body, content_type, digest, until = entry
    token = get_token(request) if per_visitor else ""
    etag = _etag(digest, request, per_visitor)
    if _not_modified(request, etag):
        response = HttpResponse(status=304)
    else:
        if per_visitor:
            body = body.replace(CSRF_PLACEHOLDER.encode(), token.encode())
        response = HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    if request.META.get(_FRONT_FLAG) and not (per_visitor and settings.CSRF_USE_SESSIONS):
        # Tell the fast path in front (PageCacheApp) it may replay this response.
        match = request.resolver_match
        route = match.view_name if match and match.view_name else "unmatched"
        response[MARK_HEADER] = f"{route} {int(per_visitor)} {key}"
    # A page holding the visitor's CSRF token must not be shared between visitors.
    scope = "private" if per_visitor else "public"
    response["Cache-Control"] = f"{scope}, max-age={int(min(MAX_AGE_S, until - now))}"
    patch_vary_headers(response, ("Accept-Language", "Cookie"))
    return response


# --- In front of Django: cached hits without the middleware stack ----------------------------

# Marks a response ``serve`` may replay (value: the cache key of its body); never sent out.
MARK_HEADER = "X-Watchhouse-Page-Cache"
_FAST_PREFIX = "pages:fast:"
_FRONT_FLAG = "watchhouse.page_cache"
_DROPPED = {"set-cookie", "x-request-id", "etag", "cache-control", "content-length"}
_CSRF_CHARS = string.ascii_letters + string.digits
_CSRF_INDEX = {c: i for i, c in enumerate(_CSRF_CHARS)}
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
StartResponse = Callable[..., Any]


def _random_chars(count: int) -> str:
    """``count`` uniformly random letters and digits from the OS's generator."""
    out: list[str] = []
    while len(out) < count:
        # 248 = 4 x 62: bytes below it map onto the 62 characters without bias.
        out.extend(_CSRF_CHARS[b % 62] for b in os.urandom(count * 2) if b < 248)
    return "".join(out[:count])


def _mask(secret: str) -> str:
    """Django's CSRF token for ``secret``: a fresh mask and the secret ciphered with it."""
    mask = _random_chars(len(secret))
    cipher = "".join(
        _CSRF_CHARS[(_CSRF_INDEX[s] + _CSRF_INDEX[m]) % 62]
        for s, m in zip(secret, mask, strict=True)
    )
    return mask + cipher


def _csrf_cookie_header(secret: str) -> str:
    cookie: SimpleCookie = SimpleCookie()
    name = settings.CSRF_COOKIE_NAME
    cookie[name] = secret
    morsel = cookie[name]
    if settings.CSRF_COOKIE_AGE is not None:
        morsel["max-age"] = settings.CSRF_COOKIE_AGE
        morsel["expires"] = http_date(time.time() + settings.CSRF_COOKIE_AGE)
    morsel["path"] = settings.CSRF_COOKIE_PATH
    if settings.CSRF_COOKIE_DOMAIN:
        morsel["domain"] = settings.CSRF_COOKIE_DOMAIN
    if settings.CSRF_COOKIE_SECURE:
        morsel["secure"] = True
    if settings.CSRF_COOKIE_HTTPONLY:
        morsel["httponly"] = True
    if settings.CSRF_COOKIE_SAMESITE:
        morsel["samesite"] = settings.CSRF_COOKIE_SAMESITE
    return morsel.OutputString()


def _fast_key(environ: dict[str, Any], cookies: dict[str, str]) -> str | None:
    """The key of a request the fast path may answer, or None."""
    if not enabled() or environ.get("REQUEST_METHOD") != "GET":
        return None
    path = environ.get("PATH_INFO", "")
    sections = sections_for(path)
    asked = environ.get("QUERY_STRING", "")
    if sections is None or len(asked) > QUERY_MAX:
        return None
    if settings.SESSION_COOKIE_NAME in cookies or "messages" in cookies:
        return None
    # Everything Django decides the answer by: host, scheme, language cookie and header.
    parts = (
        path,
        asked,
        environ.get("HTTP_HOST", ""),
        environ.get("wsgi.url_scheme", ""),
        environ.get("HTTP_X_FORWARDED_PROTO", ""),
        environ.get("HTTP_ACCEPT_LANGUAGE", ""),
        cookies.get(settings.LANGUAGE_COOKIE_NAME, ""),
        pages_version(sections),
    )
    return _FAST_PREFIX + hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()


def _cookies(environ: dict[str, Any]) -> dict[str, str]:
    raw = environ.get("HTTP_COOKIE", "")
    return parse_cookie(raw) if raw else {}


class PageCacheApp:
    """WSGI wrapper: replays cached public pages and feeds to anonymous GETs.

    The first request for a (path, host, language, version) goes through Django and its whole
    middleware stack; when the view served it from the page cache (``serve`` marks such
    responses), the headers the stack added are kept. Later requests get those headers and
    the cached body with a new request id, the visitor's own CSRF token (a new CSRF cookie
    when the visitor has none, as Django would set) and a conditional GET check, without the
    stack. Anything else (staff, sessions, messages, query strings, POSTs) goes to Django.
    """

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        cookies = _cookies(environ)
        key = _fast_key(environ, cookies)
        if key is None:
            return self.app(environ, start_response)
        fast = cache.get(key)
        entry = cache.get(fast[0]) if fast is not None else None
        now = time.time()
        if fast is None or entry is None or entry[3] <= now:
            environ[_FRONT_FLAG] = True
            return self._through(key, environ, start_response)
        _page_key, headers, route, per_visitor = fast
        body, _content_type, digest, until = entry
        extra: list[tuple[str, str]] = []
        if per_visitor:
            secret = cookies.get(settings.CSRF_COOKIE_NAME, "")
            if len(secret) != 32 or any(c not in _CSRF_INDEX for c in secret):
                secret = _random_chars(32)
                extra.append(("Set-Cookie", _csrf_cookie_header(secret)))
            mixed = hashlib.blake2b(f"{digest}:{secret}".encode(), digest_size=12).hexdigest()
            etag = f'W/"{mixed}"'
        else:
            etag = f'"{digest}"'
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        extra.append(("X-Request-ID", incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex))
        extra.append(("ETag", etag))
        scope = "private" if per_visitor else "public"
        extra.append(("Cache-Control", f"{scope}, max-age={int(min(MAX_AGE_S, until - now))}"))
        match = environ.get("HTTP_IF_NONE_MATCH", "")
        if match and (
            match.strip() == "*"
            or any(
                t.strip().removeprefix("W/") == etag.removeprefix("W/") for t in match.split(",")
            )
        ):
            status, payload = "304 Not Modified", b""
            kept = [(n, v) for n, v in headers if n.lower() != "content-type"]
        else:
            status, kept = "200 OK", list(headers)
            payload = (
                body.replace(CSRF_PLACEHOLDER.encode(), _mask(secret).encode())
                if per_visitor
                else body
            )
            kept.append(("Content-Length", str(len(payload))))
        metrics.REQUESTS.labels("GET", route, status[:3]).inc()
        start_response(status, kept + extra)
        return [payload]

    def _through(self, key: str, environ: dict[str, Any], start_response: StartResponse) -> Any:
        """Let Django answer; remember the headers of a response it served from the cache."""
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, headers]
            kept = [(n, v) for n, v in headers if n != MARK_HEADER]
            return (
                start_response(status, kept, exc_info) if exc_info else start_response(status, kept)
            )

        result = self.app(environ, capture)
        if captured and captured[0].startswith("200"):
            marks = [v for n, v in captured[1] if n == MARK_HEADER]
            if marks:
                route, per_visitor, page_key = marks[0].split(" ", 2)
                headers = [(n, v) for n, v in captured[1] if n.lower() not in _DROPPED]
                headers = [(n, v) for n, v in headers if n != MARK_HEADER]
                cache.set(key, (page_key, headers, route, per_visitor == "1"), TIMEOUT_S)
        return result
