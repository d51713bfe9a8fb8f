"""The console's audit pages: supervisors filter entries and verify the chain."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.urls import reverse

from watchhouse.audit.models import AuditEntry
from watchhouse.audit.services import audit_record

pytestmark = pytest.mark.django_db


def _entries():
    with transaction.atomic():
        audit_record(actor=None, action="geo.area_import", object_type="geo.area", object_id=7)
        audit_record(actor=None, action="accounts.login", object_type="accounts.user", object_id=1)
        audit_record(
            actor=None, action="tips.read", object_id=3, justification="case 2026-118 follow-up"
        )


def test_supervisor_filters_entries(client, make_staff):
    client.force_login(make_staff("supervisor"))
    _entries()
    page = client.get(reverse("console:audit"), {"action": "geo."}).content.decode()
    assert "geo.area_import" in page and "accounts.login" not in page
    page = client.get(reverse("console:audit"), {"text": "2026-118"}).content.decode()
    assert "tips.read" in page and "geo.area_import" not in page
    assert "1 entry" in page


def test_bad_filter_is_reported(client, make_staff):
    client.force_login(make_staff("supervisor"))
    response = client.get(reverse("console:audit"), {"since": "last tuesday"})
    assert response.status_code == 400
    assert "Enter a valid date/time" in response.content.decode()


def test_verify_button_reports_intact_and_broken_chain(client, make_staff):
    client.force_login(make_staff("supervisor"))
    _entries()
    page = client.post(reverse("console:audit_verify")).content.decode()
    assert "Intact: 3 entries verified" in page
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET object_id = '8' WHERE seq = 1")
    page = client.post(reverse("console:audit_verify")).content.decode()
    assert "Broken at entry #1" in page


def test_html_in_entries_is_shown_as_text(client, make_staff):
    client.force_login(make_staff("admin"))
    with transaction.atomic():
        audit_record(actor=None, action="x", justification="<script>alert(1)</script>")
    page = client.get(reverse("console:audit")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
