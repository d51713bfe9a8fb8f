"""Fixtures for the community suite: a small jurisdiction of four neighbourhoods, residents
verified in one of them, and staff."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.conftest import committed, drain, queued  # noqa: F401 - re-exported
from watchhouse.community.models import (
    Membership,
    MembershipStatus,
    Resident,
    VerificationMethod,
)
from watchhouse.core import crypto
from watchhouse.geo.models import Area
from watchhouse.geo.services import area_import

# Four square neighbourhoods (name, west, south) sharing edges, 0.01 degrees a side.
NEIGHBOURHOODS = [("Old Mill", -89.36, 39.95), ("Cedar Park", -89.35, 39.95),
                  ("Riverside", -89.36, 39.94), ("Linden Hill", -89.35, 39.94)]  # fmt: skip


def _square(west: float, south: float, size: float = 0.01) -> dict[str, Any]:
    ring = [[west, south], [west + size, south], [west + size, south + size],
            [west, south + size], [west, south]]  # fmt: skip
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def hoods(tmp_path: Path) -> dict[str, Area]:
    """The four neighbourhoods, by name."""
    document = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": name}, "geometry": _square(west, south)}
            for name, west, south in NEIGHBOURHOODS
        ],
    }
    path = tmp_path / "hoods.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    area_import(actor=None, kind="neighbourhood", path=path, jurisdiction="Testford")
    return {a.name: a for a in Area.objects.filter(kind="neighbourhood")}


@pytest.fixture
def make_resident() -> Callable[..., Resident]:
    """A resident, verified (by staff approval) in ``area`` when one is given."""

    def make(email: str = "ana@example.org", area: Area | None = None, **kwargs: Any) -> Resident:
        resident = Resident.objects.create(
            email=email, display_name=kwargs.pop("display_name", email.split("@")[0].title())
        )
        if area is not None:
            Membership.objects.create(
                resident=resident,
                area=area,
                address=crypto.seal("12 Test Street"),
                status=kwargs.pop("status", MembershipStatus.VERIFIED),
                method=VerificationMethod.STAFF,
            )
        return resident

    return make


def signed_in(client: Any, resident: Resident) -> Any:
    """A test client signed in as ``resident`` (as the e-mailed link would)."""
    from watchhouse.community.auth import SESSION_KEY

    session = client.session
    session[SESSION_KEY] = resident.pk
    session.save()
    return client
