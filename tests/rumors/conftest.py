"""Fixtures for the rumors suite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.alerts.conftest import committed, drain, queued  # noqa: F401 - re-exported
from watchhouse.accounts.roles import Role


@pytest.fixture(autouse=True)
def media_roots(settings: Any, tmp_path: Any) -> None:
    public, private = tmp_path / "media", tmp_path / "private"
    public.mkdir()
    private.mkdir()
    settings.MEDIA_ROOT = public
    settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT = private


@pytest.fixture
def pio(make_staff: Callable[..., Any]) -> Any:
    return make_staff(Role.PIO, username="pat.pio")


@pytest.fixture
def supervisor(make_staff: Callable[..., Any]) -> Any:
    return make_staff(Role.SUPERVISOR, username="sam.supervisor")
