"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache as django_cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from tests.factories import StaffFactory
from watchhouse.core.pagecache import PageCacheApp

REQUIRE_ALL = os.environ.get("WATCHHOUSE_REQUIRE_ALL") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip the test when ``condition`` is false, or fail it in CI (WATCHHOUSE_REQUIRE_ALL=1)."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"Required in CI but missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _database_task_queue(settings) -> None:
    """Tasks a test enqueues land in the test database, where it can run them in-process;
    the RQ backend has tests of its own (tests/core/test_worker.py) that switch to it."""
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    settings.WATCHHOUSE_TASK_BACKEND = "database"


@pytest.fixture
def shared_data() -> Path:
    """The real data folder beside the checkout (../shared/data)."""
    path = Path(settings.WATCHHOUSE_SHARED_DATA)
    need(path.is_dir(), f"the shared data folder {path} is not beside this checkout")
    return path


@pytest.fixture
def make_staff() -> Callable[..., object]:
    """Create a staff member holding the given roles."""

    def make(*roles: str, **kwargs: object) -> object:
        return StaffFactory(roles=list(roles), **kwargs)

    return make


@pytest.fixture
def front() -> Iterator[PageCacheApp]:
    """Django behind the page cache's fast path, as ``watchhouse serve`` runs it."""
    # As Django's test client does: keep the test's transaction open across requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield PageCacheApp(WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def page_cache_on(settings: Any, tmp_path: Path) -> Iterator[None]:
    """The public page cache switched on (it is off under test), empty, with its version
    stamps in a folder of the test's own."""
    settings.WATCHHOUSE_PAGE_CACHE = True
    settings.VAR_DIR = tmp_path
    django_cache.clear()
    yield
    django_cache.clear()
