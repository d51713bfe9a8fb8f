"""The console composer: preview counters and reach, save, issue, two-person approval,
update and cancel, the delivery report and its CSV; roles decide who gets in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.alerts.conftest import committed, drain, point, subscribe
from watchhouse.alerts.models import Alert
from watchhouse.notify.models import Delivery

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


def _form(**changes):
    data = {
        "category": "advisory", "event": "Water main break", "cap_category": "Infra",
        "urgency": "Expected", "severity": "Moderate", "certainty": "Observed",
        "response_type": "Avoid",
        "expires": (timezone.localtime() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "en_headline": f"Water main break {SCRIPT}", "en_description": "Crews are on site.",
        "en_sms_text": "Water main break on Elm St. Avoid the area.",
        "en_wea_short": "Water main break, avoid Elm St",
        "circle_lat": "39.955", "circle_lon": "-89.355", "circle_radius_m": "500",
    }  # fmt: skip
    data.update(changes)
    return data


def test_roles_that_do_not_write_alerts_are_kept_out(client, make_staff):
    client.force_login(make_staff("analyst"))
    assert client.get(reverse("console:alerts")).status_code == 403
    assert client.post(reverse("console:alert_new"), _form()).status_code == 403
    assert not Alert.objects.exists()


def test_compose_preview_save_issue_and_report(client, make_staff):
    subscribe(point(39.955, -89.355), email="a@example.org")
    subscribe(point(39.956, -89.356), email="b@example.org")
    pio = make_staff("pio")
    client.force_login(pio)
    preview = client.post(reverse("console:alert_new"), {**_form(), "preview": "1"})
    text = preview.content.decode()
    assert preview.status_code == 200
    assert "Reaches 2 subscriptions with 2 messages" in text and "email 2" in text
    assert "43 / 160" in text and "30 / 90" in text
    assert SCRIPT not in text and not Alert.objects.exists()
    over = client.post(reverse("console:alert_new"),
                       {**_form(en_sms_text="x" * 200), "save": "1"})  # fmt: skip
    assert over.status_code == 400 and "2 parts" in over.content.decode()
    assert not Alert.objects.exists()
    saved = client.post(reverse("console:alert_new"), {**_form(), "save": "1"})
    alert = Alert.objects.get()
    assert saved.url == reverse("console:alert_detail", kwargs={"pk": alert.pk})
    with committed():
        client.post(reverse("console:alert_act", kwargs={"pk": alert.pk, "action": "issue"}))
    drain()
    alert.refresh_from_db()
    assert alert.state == "issued" and Delivery.objects.filter(status="sent").count() == 2
    report = client.get(reverse("console:alert_deliveries", kwargs={"pk": alert.pk}))
    assert "<td>email</td><td>sent</td><td>2</td>" in report.content.decode()
    exported = client.get(reverse("console:alert_deliveries_csv", kwargs={"pk": alert.pk}))
    lines = exported.content.decode().strip().splitlines()
    assert lines[0].startswith("delivery,endpoint,channel") and len(lines) == 3
    assert "@example.org" not in exported.content.decode()

    texts = {"en_headline": "Water back on", "en_description": "Repaired."}
    update = client.post(reverse("console:alert_update", kwargs={"pk": alert.pk}), texts)
    follow = Alert.objects.get(msg_type="Update")
    assert update.url == reverse("console:alert_detail", kwargs={"pk": follow.pk})
    client.post(reverse("console:alert_act", kwargs={"pk": follow.pk, "action": "cancel"}),
                {"note": "Sent in error"})  # fmt: skip
    assert Alert.objects.get(msg_type="Cancel").note == "Sent in error"


def test_alert_needs_a_supervisor_who_did_not_write_it(client, make_staff):
    dispatcher, supervisor = make_staff("dispatcher"), make_staff("supervisor")
    client.force_login(dispatcher)
    urgent = _form(category="alert", urgency="Immediate", severity="Severe")
    client.post(reverse("console:alert_new"), {**urgent, "save": "1"})
    alert = Alert.objects.get()
    page = client.get(reverse("console:alert_detail", kwargs={"pk": alert.pk})).content.decode()
    assert "Submit for approval" in page and "Issue now" not in page
    client.post(reverse("console:alert_act", kwargs={"pk": alert.pk, "action": "issue"}))
    alert.refresh_from_db()
    assert alert.state == "draft"
    client.post(reverse("console:alert_act", kwargs={"pk": alert.pk, "action": "submit"}))
    client.force_login(supervisor)
    page = client.get(reverse("console:alert_detail", kwargs={"pk": alert.pk})).content.decode()
    assert "Approve and issue" in page
    client.post(reverse("console:alert_act", kwargs={"pk": alert.pk, "action": "approve"}))
    alert.refresh_from_db()
    assert (alert.state, alert.approved_by) == ("issued", supervisor)
