"""Fixtures for the residents' tests: address points for the geocoder, a clean rate-limit
cache, and reading links out of e-mail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from watchhouse.geocode.services import address_import

# Inside Old Mill (west -89.36, south 39.95, 0.01 degrees a side), and far outside every
# neighbourhood.
ADDRESSES = [
    ("12 MILL ST", 39.955, -89.355),
    ("14 MILL ST", 39.9552, -89.3548),
    ("3 FARAWAY RD", 40.5, -88.5),
]


@pytest.fixture
def addresses(tmp_path: Path, db: Any) -> None:
    """The address points the local geocoder finds, imported as ``watchhouse
    import-addresses`` does."""
    path = tmp_path / "addresses.csv"
    lines = ["address,lat,lon"] + [f"{a},{lat},{lon}" for a, lat, lon in ADDRESSES]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    address_import(actor=None, path=path, format="csv")


@pytest.fixture
def fresh_limits() -> Iterator[None]:
    """Rate-limit counters from other tests forgotten."""
    cache.clear()
    yield
    cache.clear()


def link_in(message: EmailMessage) -> str:
    """The path (with query) of the sign-in link in ``message``."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(r"https?://[^/\s]+(/community/sign-in/\S+)", body.get_content())
    assert match, body.get_content()
    return match.group(1)


def without_tokens(html: bytes) -> str:
    """The page with its per-request CSRF tokens blanked (to compare two answers)."""
    return re.sub(r'(csrfmiddlewaretoken" value=")[^"]+', r"\1", html.decode())
