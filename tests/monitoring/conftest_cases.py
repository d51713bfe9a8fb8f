"""Fixtures of the case-workspace tests (loaded with ``pytest_plugins``): the people of a
case, and a loopback web server standing in for the internet."""

from __future__ import annotations

import types
from typing import Any

import pytest

from tests.monitoring.cases_support import WebServer


@pytest.fixture
def web(settings: Any, tmp_path: Any) -> Any:
    settings.WATCHHOUSE_AP_ALLOW_PRIVATE = True  # the loopback server is "the internet" here
    settings.WATCHHOUSE_MONITORING_EVIDENCE_DIR = tmp_path / "evidence"
    with WebServer() as server:
        yield server


@pytest.fixture
def people(make_staff: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        investigator=make_staff("investigator"),
        colleague=make_staff("investigator"),
        supervisor=make_staff("supervisor"),
        analyst=make_staff("analyst"),
    )
