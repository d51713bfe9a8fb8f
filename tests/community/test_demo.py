"""The demo community and rumors load through the services, show every part, and load once."""

from __future__ import annotations

import io

import pytest

from watchhouse.accounts import demo as accounts_demo
from watchhouse.community import demo
from watchhouse.community.models import (
    Ballot,
    Comment,
    Discussion,
    MembershipStatus,
    ServiceRequest,
    Visibility,
)
from watchhouse.geo import demo as geo_demo
from watchhouse.rumors import demo as rumors_demo
from watchhouse.rumors.models import Rumor

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_demo_community_and_rumors_load_once():
    out = io.StringIO()
    geo_demo.load(stdout=out)
    accounts_demo.load(stdout=out)
    for _ in range(2):
        demo.load(stdout=out)
        rumors_demo.load(stdout=out)
    assert "Demo community: already loaded" in out.getvalue()
    assert Discussion.objects.count() == 2
    statuses = set(
        Discussion.objects.get(kind="general").area.memberships.values_list("status", flat=True)
    )
    assert statuses == {MembershipStatus.VERIFIED, MembershipStatus.PENDING}
    assert Comment.objects.filter(visibility=Visibility.HIDDEN).count() == 1
    assert Comment.objects.filter(staff_author__isnull=False).count() == 1
    assert Ballot.objects.count() == 2
    assert set(ServiceRequest.objects.values_list("status", flat=True)) == {"open", "closed"}
    answered = Rumor.objects.filter(answered_at__isnull=False)
    assert answered.count() == 2
    assert answered.filter(correction__isnull=False).count() == 1
