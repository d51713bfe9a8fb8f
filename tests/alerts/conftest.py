"""Fixtures of the alert and subscription tests: a small town, staff, alerts, subscriptions,
and running queued tasks in-process."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import TestCase
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from watchhouse.alerts.services import AlertFields, alert_create
from watchhouse.alerts.validation import AreaSpec, InfoText
from watchhouse.geo.models import Area
from watchhouse.geo.services import area_import
from watchhouse.notify.models import Endpoint, Subscription
from watchhouse.notify.services import Choices, PlaceSpec, subscription_create

# Four square neighbourhoods (name, west, south), 0.01 degrees (about 0.85 x 1.1 km) each.
BLOCKS = [("Old Mill", -89.36, 39.95), ("Cedar Park", -89.35, 39.95),
          ("Riverside", -89.36, 39.94), ("Linden Hill", -89.35, 39.94)]  # fmt: skip
SIZE = 0.01
# A polygon whose edges cross.
BOWTIE = {"type": "Polygon", "coordinates": [[[-89.36, 39.94], [-89.35, 39.95], [-89.35, 39.94],
                                              [-89.36, 39.95], [-89.36, 39.94]]]}  # fmt: skip


def square(west: float, south: float, size: float = SIZE) -> dict[str, Any]:
    ring = [[west, south], [west + size, south], [west + size, south + size],
            [west, south + size], [west, south]]  # fmt: skip
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def town(tmp_path: Path) -> dict[str, Area]:
    """Four neighbourhoods of Testford, by name."""
    return town_create(tmp_path)


def town_create(tmp_path: Path) -> dict[str, Area]:
    """Import Testford's four neighbourhoods; return them by name."""
    document = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": name}, "geometry": square(w, s)}
            for name, w, s in BLOCKS
        ],
    }
    path = tmp_path / "town.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    area_import(actor=None, kind="neighbourhood", path=path, jurisdiction="Testford")
    return {a.name: a for a in Area.objects.all()}


def fields(**changes: Any) -> AlertFields:
    values: dict[str, Any] = {
        "category": "advisory",
        "event": "Road closure",
        "urgency": "Expected",
        "severity": "Moderate",
        "certainty": "Likely",
        "expires": timezone.now() + timedelta(hours=4),
        "cap_category": "Safety",
    }
    values.update(changes)
    return AlertFields(**values)


def info(**changes: Any) -> InfoText:
    values: dict[str, Any] = {
        "language": "en",
        "headline": "Main Street closed",
        "description": "Main Street is closed between 1st and 3rd for a water main repair.",
        "instruction": "Use Oak Avenue.",
        "sms_text": "Main St closed 1st-3rd. Use Oak Ave.",
        "wea_short": "Main St closed; use Oak Ave",
        "wea_long": "Main Street is closed between 1st and 3rd. Use Oak Avenue.",
    }
    values.update(changes)
    return InfoText(**values)


def circle(lat: float = 39.955, lon: float = -89.355, radius_m: float = 300.0) -> AreaSpec:
    return AreaSpec(description="Near the mill", circle_lat=lat, circle_lon=lon,
                    circle_radius_m=radius_m)  # fmt: skip


@pytest.fixture
def make_alert(make_staff: Callable[..., Any]) -> Callable[..., Any]:
    """Create a draft alert (by a new dispatcher unless ``actor`` is given)."""

    def make(actor: Any = None, *, infos: list[InfoText] | None = None,
             areas: list[AreaSpec] | None = None, **changes: Any) -> Any:  # fmt: skip
        actor = actor or make_staff("dispatcher")
        return alert_create(
            actor=actor, fields=fields(**changes), infos=infos or [info()],
            areas=areas or [circle()],
        )  # fmt: skip

    return make


def subscribe(
    *places: PlaceSpec,
    email: str = "",
    categories: tuple[str, ...] = ("alert", "advisory"),
    language: str = "en",
    confirmed: bool = True,
    **extra: Any,
) -> Subscription:
    """A subscription (e-mail confirmed unless told otherwise)."""
    subscription, endpoints = subscription_create(
        choices=Choices(categories=frozenset(categories), language=language, places=places,
                        **extra),
        email=email or f"r{Subscription.objects.count()}@example.org",
    )  # fmt: skip
    if confirmed:
        Endpoint.objects.filter(pk__in=[e.pk for e in endpoints]).update(
            confirmed_at=timezone.now()
        )
        Subscription.objects.filter(pk=subscription.pk).update(status="active")
        subscription.refresh_from_db()
    return subscription


def point(lat: float, lon: float, miles: float = 0.25) -> PlaceSpec:
    return PlaceSpec(kind="point", lat=lat, lon=lon, radius_m=miles * 1609.344)


def queued(task_name: str) -> list[list[Any]]:
    """Arguments of the ready tasks of ``task_name`` (the function's name), oldest first."""
    return [
        r.args_kwargs["args"]
        for r in DBTaskResult.objects.filter(task_path__endswith=f".{task_name}").order_by(
            "enqueued_at"
        )
    ]


def drain(*, limit: int = 100) -> int:
    """Run queued tasks that are due, in-process, until none is left; return how many ran."""
    ran = 0
    while ran < limit:
        result = DBTaskResult.objects.ready().order_by("enqueued_at").first()
        if result is None:
            return ran
        DBTaskResult.objects.filter(pk=result.pk).update(status="RUNNING")
        args = result.args_kwargs
        with TestCase.captureOnCommitCallbacks(execute=True):
            value = result.task.call(*args["args"], **args["kwargs"])
        DBTaskResult.objects.filter(pk=result.pk).update(status="SUCCESSFUL", return_value=value)
        ran += 1
    raise AssertionError("Tasks kept coming: more than the limit ran.")


def committed() -> Any:
    """Run the on-commit callbacks of what happens inside (the test's transaction never
    commits)."""
    return TestCase.captureOnCommitCallbacks(execute=True)
