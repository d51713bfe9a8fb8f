"""The JSON API: OpenAPI document, token auth, clear JSON errors, role checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from watchhouse.accounts.models import ApiToken
from watchhouse.accounts.services import api_token_create
from watchhouse.audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def bearer(make_staff):
    def make(*roles):
        user = make_staff(*roles)
        _, raw = api_token_create(actor=None, user=user, name="test", days=1)
        return user, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    return make


def test_openapi_document_is_public_and_valid(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/me" in doc["paths"]
    assert "/api/v1/audit/entries" in doc["paths"]
    assert doc["components"]["securitySchemes"]["StaffToken"] == {
        "type": "http",
        "scheme": "bearer",
    }


def test_missing_token_is_a_clear_401(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert "Bearer" in response.json()["detail"]


def test_expired_token_says_so(client, bearer):
    user, headers = bearer("analyst")
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get("/api/v1/me", **headers)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_me_lists_roles(client, bearer):
    user, headers = bearer("analyst", "pio")
    response = client.get("/api/v1/me", **headers)
    assert response.status_code == 200
    assert response.json() == {
        "username": user.username,
        "full_name": user.get_full_name(),
        "roles": ["analyst", "pio"],
    }


def test_audit_entries_need_a_supervisor(client, bearer):
    _, pio = bearer("pio")
    response = client.get("/api/v1/audit/entries", **pio)
    assert response.status_code == 403
    assert "Supervisor" in response.json()["detail"]
    _, supervisor = bearer("supervisor")
    with transaction.atomic():
        audit_record(actor=None, action="test.thing", object_type="x", object_id=1)
    response = client.get("/api/v1/audit/entries?action=test.", **supervisor)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["items"][0]["action"] == "test.thing"
    verify = client.post("/api/v1/audit/verify", **supervisor)
    assert verify.json()["ok"] is True


def test_bad_query_is_a_clear_422(client, bearer):
    _, supervisor = bearer("supervisor")
    response = client.get("/api/v1/audit/entries?since=yesterday", **supervisor)
    assert response.status_code == 422
    assert "since" in response.json()["detail"]
