"""The request being served, as seen by code far from the view (services, audit, logs)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestContext:
    """Who and where a piece of work comes from."""

    request_id: str = ""
    source_ip: str | None = None


# RequestContext is frozen, so sharing one default instance is safe.
_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "watchhouse_request",
    default=RequestContext(),  # noqa: B039
)


def current_request() -> RequestContext:
    """Return the context of the request (or command) being served."""
    return _current.get()


def set_current_request(ctx: RequestContext) -> contextvars.Token[RequestContext]:
    """Make ``ctx`` current; pass the returned token to :func:`reset_current_request`."""
    return _current.set(ctx)


def reset_current_request(token: contextvars.Token[RequestContext]) -> None:
    """Restore the context that was current before :func:`set_current_request`."""
    _current.reset(token)


@contextmanager
def anonymous_request() -> Iterator[None]:
    """Forget the client address for the work inside: an anonymous tipster's actions are
    audited without it."""
    token = _current.set(replace(_current.get(), source_ip=None))
    try:
        yield
    finally:
        _current.reset(token)
