"""Alert services: roles, the two-person rule, issue, update, cancel, expiry; every change
audited and its follow-up work queued; bad input refused with nothing changed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.alerts.conftest import BOWTIE, circle, fields, info, queued, square
from watchhouse.alerts.cap import cap_parse, cap_schema_errors
from watchhouse.alerts.models import Alert, AlertArea, AlertCell, AlertInfo
from watchhouse.alerts.services import (
    AlertRefusedError,
    alert_approve,
    alert_cancel,
    alert_create,
    alert_expire,
    alert_issue,
    alert_issue_update,
    alert_submit,
    alert_update_draft,
)
from watchhouse.alerts.states import AlertState
from watchhouse.alerts.validation import AreaSpec
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import IllegalTransitionError, InvalidInputError, NotPermittedError

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, int, int, int, int]:
    return (Alert.objects.count(), AlertInfo.objects.count(), AlertArea.objects.count(),
            AlertCell.objects.count(), AuditEntry.objects.count())  # fmt: skip


def test_create_stores_a_draft_and_audits(make_staff):
    """A draft keeps every field, text and area, and the audit log names the author."""
    pio = make_staff("pio")
    alert = alert_create(actor=pio, fields=fields(), infos=[info()], areas=[circle()])
    assert alert.state == AlertState.DRAFT
    assert alert.identifier.startswith("watchhouse-")
    assert [i.headline for i in alert.infos.all()] == ["Main Street closed"]
    area = alert.areas.get()
    assert (area.shape, area.circle_radius_m) == ("circle", 300.0)
    assert area.min_lat < 39.955 < area.max_lat
    entry = AuditEntry.objects.get(action="alerts.create")
    assert (entry.actor_id, entry.object_id) == (pio.pk, str(alert.pk))


@pytest.mark.parametrize(
    ("role", "category", "allowed"),
    [
        ("pio", "advisory", True),
        ("pio", "traffic", True),
        ("pio", "community", True),
        ("pio", "alert", False),
        ("dispatcher", "alert", True),
        ("supervisor", "alert", True),
        ("analyst", "advisory", False),
        ("investigator", "traffic", False),
    ],
)
def test_roles_decide_who_writes_which_category(make_staff, role, category, allowed):
    """The policy table decides which roles may write which category."""
    actor = make_staff(role)
    before = _counts()
    if allowed:
        alert_create(actor=actor, fields=fields(category=category), infos=[info()],
                     areas=[circle()])  # fmt: skip
        assert Alert.objects.count() == before[0] + 1
    else:
        with pytest.raises(NotPermittedError):
            alert_create(actor=actor, fields=fields(category=category), infos=[info()],
                         areas=[circle()])  # fmt: skip
        assert _counts() == before


def test_advisory_is_issued_at_once_with_frozen_valid_cap_and_queued_work(
    make_alert, make_staff, django_capture_on_commit_callbacks
):
    """Issuing validates, freezes a schema-valid CAP document, audits, and after commit
    queues recipient resolution and the scheduled expiry."""
    pio = make_staff("pio")
    alert = make_alert(pio)
    with django_capture_on_commit_callbacks(execute=True):
        alert = alert_issue(actor=pio, alert=alert)
    assert alert.state == AlertState.ISSUED
    assert alert.issued_by == pio and alert.issued_at.microsecond == 0
    document = alert.cap_xml.encode()
    assert cap_schema_errors(document) == []
    parsed = cap_parse(document)
    assert (parsed.identifier, parsed.msg_type, parsed.status) == (
        alert.identifier,
        "Alert",
        "Actual",
    )
    assert parsed.infos[0].headline == "Main Street closed"
    assert parsed.infos[0].parameter("CMAMtext") == "Main St closed; use Oak Ave"
    assert parsed.infos[0].areas[0].circles[0][2] == pytest.approx(0.3)
    assert AlertCell.objects.filter(alert=alert).exists()
    entry = AuditEntry.objects.get(action="alerts.issue")
    assert entry.actor_id == pio.pk and entry.data["identifier"] == alert.identifier
    assert queued("resolve_alert_recipients_task") == [[alert.pk]]
    assert queued("expire_alert_task") == [[alert.pk]]


def test_nothing_is_queued_when_the_issue_fails(make_alert, make_staff,
                                                django_capture_on_commit_callbacks):  # fmt: skip
    """A refused issue changes nothing and queues nothing."""
    pio = make_staff("pio")
    alert = make_alert(pio)
    Alert.objects.filter(pk=alert.pk).update(expires=timezone.now() - timedelta(minutes=1))
    before = _counts()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(AlertRefusedError, match="expiry time is in the past"),
    ):
        alert_issue(actor=pio, alert=alert)
    assert callbacks == []
    assert _counts() == before
    alert.refresh_from_db()
    assert alert.state == AlertState.DRAFT and alert.cap_xml == ""


def test_alert_category_needs_a_second_person(make_alert, make_staff,
                                              django_capture_on_commit_callbacks):  # fmt: skip
    """An Alert cannot be issued alone: it is submitted, and a supervisor who did not write
    it approves, which issues it."""
    dispatcher = make_staff("dispatcher")
    alert = make_alert(dispatcher, category="alert", urgency="Immediate", severity="Severe",
                       certainty="Observed", event="Armed robbery")  # fmt: skip
    with pytest.raises(NotPermittedError, match="second person"):
        alert_issue(actor=dispatcher, alert=alert)
    alert_submit(actor=dispatcher, alert=alert)
    assert AuditEntry.objects.filter(action="alerts.submit", object_id=str(alert.pk)).exists()
    # The author cannot approve even holding the supervisor role.
    both = make_staff("dispatcher", "supervisor")
    own = make_alert(both, category="alert")
    alert_submit(actor=both, alert=own)
    with pytest.raises(NotPermittedError, match="you wrote"):
        alert_approve(actor=both, alert=own)
    # A dispatcher is not an approver.
    with pytest.raises(NotPermittedError):
        alert_approve(actor=make_staff("dispatcher"), alert=alert)
    supervisor = make_staff("supervisor")
    with django_capture_on_commit_callbacks(execute=True):
        issued = alert_approve(actor=supervisor, alert=alert)
    assert issued.state == AlertState.ISSUED
    assert (issued.approved_by, issued.issued_by) == (supervisor, supervisor)
    actions = list(
        AuditEntry.objects.filter(object_id=str(alert.pk), object_type="alerts.alert")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["alerts.create", "alerts.submit", "alerts.approve", "alerts.issue"]
    assert queued("resolve_alert_recipients_task") == [[alert.pk]]


def test_update_and_cancel_reference_the_chain(make_alert, make_staff,
                                               django_capture_on_commit_callbacks):  # fmt: skip
    """An update (all clear) supersedes the alert and references it; a cancel references
    both; each is audited and queues its own deliveries."""
    dispatcher = make_staff("dispatcher")
    first = make_alert(dispatcher, category="traffic")
    with django_capture_on_commit_callbacks(execute=True):
        alert_issue(actor=dispatcher, alert=first)
        update = alert_issue_update(
            actor=dispatcher, alert=first,
            infos=[info(headline="All clear: Main Street open", sms_text="Main St open again")],
        )  # fmt: skip
    first.refresh_from_db()
    assert first.state == AlertState.UPDATED and first.ended_at is not None
    assert (update.msg_type, update.references_id, update.state) == ("Update", first.pk, "issued")
    assert update.areas.count() == 1
    parsed = cap_parse(update.cap_xml.encode())
    assert [ref[1] for ref in parsed.references] == [first.identifier]
    with pytest.raises(InvalidInputError, match="current message"):
        alert_cancel(actor=dispatcher, alert=first)
    with django_capture_on_commit_callbacks(execute=True):
        cancel = alert_cancel(actor=dispatcher, alert=update, note="Issued in error.")
    update.refresh_from_db()
    assert update.state == AlertState.CANCELLED
    parsed = cap_parse(cancel.cap_xml.encode())
    assert parsed.msg_type == "Cancel" and parsed.note == "Issued in error."
    assert [ref[1] for ref in parsed.references] == [first.identifier, update.identifier]
    assert cap_schema_errors(cancel.cap_xml.encode()) == []
    assert {"alerts.issue_update", "alerts.cancel"} <= set(
        AuditEntry.objects.values_list("action", flat=True)
    )
    assert queued("resolve_alert_recipients_task") == [[first.pk], [update.pk], [cancel.pk]]


def test_only_issuers_of_the_category_may_update_or_cancel(make_alert, make_staff):
    dispatcher = make_staff("dispatcher")
    alert = make_alert(dispatcher)
    alert_issue(actor=dispatcher, alert=alert)
    before = _counts()
    with pytest.raises(NotPermittedError):
        alert_cancel(actor=make_staff("analyst"), alert=alert)
    with pytest.raises(NotPermittedError):
        alert_issue_update(actor=make_staff("investigator"), alert=alert, infos=[info()])
    assert _counts() == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"areas": [AreaSpec(polygon_geojson=json.dumps(BOWTIE))]}, "crosses itself"),
        (
            {
                "areas": [
                    AreaSpec(
                        polygon_geojson=json.dumps(
                            {
                                "type": "Polygon",
                                "coordinates": [
                                    [[-89.36, 39.94], [-89.35, 39.94], [-89.36, 39.94]]
                                ],
                            }
                        )
                    )
                ]
            },
            "empty",
        ),
        (
            {
                "areas": [
                    AreaSpec(
                        polygon_geojson=json.dumps(
                            {
                                "type": "Polygon",
                                "coordinates": [
                                    [
                                        [-89.36, 39.94],
                                        [-89.35, 39.94],
                                        [-89.35, 39.95],
                                        [-89.36, 39.95],
                                    ]
                                ],
                            }
                        )
                    )
                ]
            },
            "not closed",
        ),
        ({"areas": [AreaSpec(polygon_geojson="{not json")]}, "not valid GeoJSON"),
        ({"areas": []}, "at least one area"),
        ({"areas": [AreaSpec(circle_lat=39.95, circle_lon=-89.35, circle_radius_m=0)]}, "radius"),
        ({"areas": [AreaSpec(area_id=999999)]}, "no area"),
        ({"expires": "past"}, "in the past"),
        ({"infos": [info(language="xx")]}, "Unknown language"),
        ({"infos": [info(sms_text="x" * 161)]}, "text message needs 2 parts"),
        ({"infos": [info(sms_text="Évacuez 😀 " + "ж" * 62)]}, "UCS-2"),
        ({"infos": [info(wea_short="x" * 91)]}, "short WEA text has 91"),
        ({"infos": [info(wea_long="x" * 361)]}, "long WEA text has 361"),
        ({"infos": [info(headline="")]}, "headline is empty"),
        ({"infos": []}, "at least one language"),
        ({"infos": [info(), info()]}, "given twice"),
        ({"category": "panic"}, "Unknown category"),
        ({"urgency": "Now"}, "Unknown urgency"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(make_staff, kwargs, message):
    """Each kind of bad input gets an error saying what is wrong; nothing is stored."""
    supervisor = make_staff("supervisor")
    changes = dict(kwargs)
    infos = changes.pop("infos", [info()])
    areas = changes.pop("areas", [circle()])
    if changes.get("expires") == "past":
        changes["expires"] = timezone.now() - timedelta(hours=1)
    before = _counts()
    with pytest.raises(InvalidInputError, match=message):
        alert_create(actor=supervisor, fields=fields(**changes), infos=infos, areas=areas)
    assert _counts() == before


def test_polygon_and_area_targets_give_valid_cap(make_alert, make_staff, town):
    """A drawn polygon and a neighbourhood both become closed CAP polygons."""
    pio = make_staff("pio")
    alert = make_alert(
        pio,
        areas=[AreaSpec(polygon_geojson=json.dumps(square(-89.358, 39.951, 0.004))),
               AreaSpec(area_id=town["Riverside"].pk)],
    )  # fmt: skip
    alert = alert_issue(actor=pio, alert=alert)
    parsed = cap_parse(alert.cap_xml.encode())
    areas = parsed.infos[0].areas
    assert [a.area_desc for a in areas] == ["Drawn area", "Riverside"]
    for area in areas:
        ring = area.polygons[0]
        assert ring[0] == ring[-1] and len(ring) >= 4


def test_draft_update_only_while_draft(make_alert, make_staff):
    pio = make_staff("pio")
    alert = make_alert(pio)
    alert_update_draft(actor=pio, alert=alert, fields=fields(event="Parade"),
                       infos=[info(headline="Parade on Main")])  # fmt: skip
    alert.refresh_from_db()
    assert alert.event == "Parade" and alert.infos.get().headline == "Parade on Main"
    assert AuditEntry.objects.filter(action="alerts.update_draft").count() == 1
    alert_issue(actor=pio, alert=alert)
    with pytest.raises(InvalidInputError, match="Only a draft"):
        alert_update_draft(actor=pio, alert=alert, fields=fields(), infos=[info()])


def test_expiry_marks_issued_alerts_expired_once(make_alert, make_staff):
    pio = make_staff("pio")
    alert = make_alert(pio)
    alert_issue(actor=pio, alert=alert)
    assert alert_expire(alert_id=alert.pk) is False  # not yet
    later = alert.expires + timedelta(seconds=1)
    assert alert_expire(alert_id=alert.pk, now=later) is True
    assert alert_expire(alert_id=alert.pk, now=later) is False
    alert.refresh_from_db()
    assert alert.state == AlertState.EXPIRED
    assert AuditEntry.objects.filter(action="alerts.expire").count() == 1
    with pytest.raises(IllegalTransitionError):
        alert_issue(actor=pio, alert=alert)
