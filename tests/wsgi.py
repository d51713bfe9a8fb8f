"""Calling a WSGI application (the page cache's fast path in front of Django) as a server
would, in tests."""

from __future__ import annotations

import io
import sys
from typing import Any


def call(app: Any, path: str, **headers: str) -> tuple[str, dict[str, list[str]], bytes]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> None:
        seen["status"] = status
        seen["headers"] = {}
        for name, value in response_headers:
            seen["headers"].setdefault(name.lower(), []).append(value)

    result = app(environ, start_response)
    body = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return seen["status"], seen["headers"], body
