"""Playwright fixtures: Debian's Chromium against pytest-django's live server.

The browser is never downloaded: tests drive ``/usr/bin/chromium`` (``apt-get install
chromium``) and axe-core comes from ``node_modules`` (``make install``). When either is missing
the tests skip, or fail in CI (``WATCHHOUSE_REQUIRE_ALL=1``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django_otp.oath import totp

from tests.conftest import need
from tests.factories import PASSWORD
from watchhouse.geo.selectors import area_list
from watchhouse.geo.services import area_import

CHROMIUM = Path("/usr/bin/chromium")
AXE_SCRIPT = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Milliseconds a page action or navigation may take before the test fails.
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless Chromium for the browser tests.

    Playwright's sync API keeps an asyncio event loop running in the test thread, so Django
    would refuse the tests' own database calls (factories, selectors) as "async unsafe"; they
    are plain synchronous calls, and the live server answers requests in its own thread, so
    the check is switched off while Playwright runs, and restored afterwards.
    """
    need(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_context(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """Open a fresh browser context (own cookies) on the live server; all close at the end."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("base_url", live_server.url)
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., Any]) -> Any:
    """A page in a fresh context, JavaScript on, strict CSP as served."""
    return new_context().new_page()


@pytest.fixture
def axe_script() -> Path:
    """axe-core's browser bundle, installed from the npm registry."""
    need(AXE_SCRIPT.exists(), f"{AXE_SCRIPT} is missing (make install runs npm ci)")
    return AXE_SCRIPT


# Four square neighbourhoods (name, west, south) sharing edges, and one ward over all of them.
NEIGHBOURHOODS = [("Old Mill", -89.36, 39.95), ("Cedar Park", -89.35, 39.95),
                  ("Riverside", -89.36, 39.94), ("Linden Hill", -89.35, 39.94)]  # fmt: skip
SIZE = 0.01


def _square(west: float, south: float, size: float) -> dict[str, Any]:
    ring = [[west, south], [west + size, south], [west + size, south + size],
            [west, south + size], [west, south]]  # fmt: skip
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def areas(tmp_path: Path) -> list[Any]:
    """A small jurisdiction imported as an administrator would: neighbourhoods and a ward."""
    layers = {
        "neighbourhood": [
            (name, _square(west, south, SIZE), 1000 * i)
            for i, (name, west, south) in enumerate(NEIGHBOURHOODS, start=1)
        ],
        "ward": [("Ward 1", _square(-89.36, 39.94, 2 * SIZE), None)],
    }
    for kind, features in layers.items():
        path = tmp_path / f"{kind}.geojson"
        document = {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {"name": name, "population": people},
                 "geometry": geometry}
                for name, geometry, people in features
            ],
        }  # fmt: skip
        path.write_text(json.dumps(document), encoding="utf-8")
        area_import(actor=None, kind=kind, path=path, jurisdiction="Testford")
    return list(area_list())


def totp_now(device: Any) -> str:
    """The code the member's authenticator app shows right now."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def password_step(page: Any, username: str, password: str = PASSWORD) -> None:
    """Fill in the first sign-in page and submit it."""
    page.goto(reverse("accounts:login"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()


@pytest.fixture
def sign_in() -> Callable[[Any, Any, Any], None]:
    """Sign ``user`` in through both pages with the code of their TOTP ``device``."""

    def run(page: Any, user: Any, device: Any) -> None:
        password_step(page, user.username)
        page.wait_for_url(f"**{reverse('accounts:verify')}")
        page.get_by_label("Code from your authenticator app").fill(totp_now(device))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**{reverse('console:home')}")

    return run
