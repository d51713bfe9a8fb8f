"""Every network has an adapter, defaults and the fields its credentials need."""

from __future__ import annotations

from typing import Any

import pytest

from tests.outlets.fakes import (
    BlueskyPds,
    FacebookGraph,
    MastodonServer,
    PartnerWebhook,
    XApi,
    make_outlet,
)
from watchhouse.core.crypto import seal_json, unseal_json
from watchhouse.outlets.models import Network
from watchhouse.outlets.networks.base import OutletError
from watchhouse.outlets.networks.registry import (
    CREDENTIAL_FIELDS,
    DEFAULT_API_BASE,
    LIMITS,
    adapter_class,
    adapter_for,
)

CROSS_POSTING = [n for n in Network.values if n != Network.ACTIVITYPUB]


def test_every_cross_posting_network_is_covered() -> None:
    for network in CROSS_POSTING:
        cls = adapter_class(network)
        assert cls.network == network
        assert isinstance(cls.can_edit, bool)
        assert network in DEFAULT_API_BASE
        assert network in LIMITS
        assert CREDENTIAL_FIELDS[network]
    assert not adapter_class("x").can_edit
    assert not adapter_class("bluesky").can_edit
    with pytest.raises(OutletError):
        adapter_class("activitypub")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("network", "server_class"),
    [
        ("facebook", FacebookGraph),
        ("x", XApi),
        ("bluesky", BlueskyPds),
        ("mastodon", MastodonServer),
        ("webhook", PartnerWebhook),
    ],
)
def test_every_adapter_checks_its_connection(network: str, server_class: Any) -> None:
    """An outlet made with make_outlet works end to end through adapter_for."""
    with server_class() as server:
        outlet = make_outlet(network, server)
        assert set(dict(CREDENTIAL_FIELDS[network])) >= set(unseal_json(outlet.credentials))
        result = adapter_for(outlet).check()
        assert result.ok, result.message


@pytest.mark.django_db
def test_credentials_that_are_not_an_object_are_refused(staff: Any) -> None:
    with XApi() as api:
        outlet = make_outlet("x", api, credentials=["not", "an", "object"])
        outlet.credentials = seal_json(["not", "an", "object"])
        with pytest.raises(OutletError) as error:
            adapter_for(outlet)
        assert error.value.kind == "auth"
