"""The demo alerts load over the demo city, validate as CAP, and load only once."""

from __future__ import annotations

import io

import pytest

from watchhouse.accounts import demo as accounts_demo
from watchhouse.alerts import demo
from watchhouse.alerts.cap import cap_schema_errors
from watchhouse.alerts.models import Alert
from watchhouse.geo import demo as geo_demo
from watchhouse.notify.models import Subscription

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_demo_loads_once():
    out = io.StringIO()
    geo_demo.load(stdout=out)
    accounts_demo.load(stdout=out)
    demo.load(stdout=out)
    demo.load(stdout=out)
    assert "already loaded" in out.getvalue()
    assert sorted(Alert.objects.values_list("category", "msg_type", "state")) == [
        ("advisory", "Alert", "issued"),
        ("alert", "Alert", "updated"),
        ("alert", "Update", "issued"),
        ("traffic", "Alert", "issued"),
    ]
    assert all(cap_schema_errors(a.cap_xml.encode()) == [] for a in Alert.objects.all())
    assert Subscription.objects.filter(status="active").count() == 3
