"""Demo alerts and subscriptions over Alderford (run after the geo and accounts demos).

Loading again changes nothing: the demo alerts are found by their events.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.utils import timezone

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import Role
from watchhouse.accounts.services import staff_create
from watchhouse.alerts.models import Alert
from watchhouse.alerts.services import (
    AlertFields,
    alert_approve,
    alert_create,
    alert_issue,
    alert_issue_update,
    alert_submit,
)
from watchhouse.alerts.validation import AreaSpec, InfoText
from watchhouse.geo.demo import CENTRE, JURISDICTION
from watchhouse.geo.models import Area
from watchhouse.notify.models import Endpoint, Subscription, SubscriptionStatus
from watchhouse.notify.services import Choices, PlaceSpec, subscription_create

ROBBERY = "Armed robbery"
DEMO_SUBSCRIBERS = [
    ("ana@example.invalid", "es", (PlaceSpec(kind="point", lat=CENTRE[0] + 0.004,
                                             lon=CENTRE[1] + 0.004, radius_m=805.0),)),
    ("ben@example.invalid", "en", (PlaceSpec(kind="jurisdiction"),)),
    ("cy@example.invalid", "en", (PlaceSpec(kind="point", lat=CENTRE[0] - 0.03,
                                            lon=CENTRE[1] - 0.03, radius_m=402.4),)),
]  # fmt: skip


def _supervisor() -> User:
    user = User.objects.filter(username="duty-supervisor").first()
    if user is None:
        user, _ = staff_create(
            actor=None, username="duty-supervisor", email="duty-supervisor@police.invalid",
            roles=[Role.SUPERVISOR], first_name="Sam", last_name="Sergeant",
        )  # fmt: skip
    return user


def _subscribers() -> int:
    made = 0
    for email, language, places in DEMO_SUBSCRIBERS:
        if Endpoint.objects.filter(channel="email", address=email).exists():
            continue
        # Ana also takes the weekly crime digest of her street.
        digest = {"crime_digest"} if email.startswith("ana@") else set()
        subscription, endpoints = subscription_create(
            choices=Choices(categories=frozenset({"alert", "advisory", "traffic", *digest}),
                            language=language, places=places),
            email=email,
        )  # fmt: skip
        # Demo addresses cannot receive mail: mark them confirmed.
        Endpoint.objects.filter(pk__in=[e.pk for e in endpoints]).update(
            confirmed_at=timezone.now()
        )
        Subscription.objects.filter(pk=subscription.pk).update(
            status=SubscriptionStatus.ACTIVE, confirmed_at=timezone.now()
        )
        made += 1
    return made


def load(*, stdout: Any) -> None:
    """Create demo subscriptions and alerts (an Alert with its all-clear, an Advisory and a
    Traffic alert), once."""
    made = _subscribers()
    if Alert.objects.filter(event=ROBBERY).exists():
        stdout.write(f"Demo alerts: already loaded ({made} new subscriptions).")
        return
    author = User.objects.filter(username="demo").first()
    if author is None:
        stdout.write("Demo alerts: skipped (load the demo staff first).")
        return
    lat, lon = CENTRE
    expires = timezone.now() + timedelta(days=2)
    robbery = alert_create(
        actor=author,
        fields=AlertFields(category="alert", event=ROBBERY, urgency="Immediate",
                           severity="Severe", certainty="Observed", expires=expires,
                           response_type="Shelter", same_code="LAE"),
        infos=[
            InfoText(language="en", headline="Armed robbery: suspect fleeing on foot",
                     description="An armed robbery happened at the Quick Stop on Main Street. "
                     "The suspect fled on foot northbound: male, about 30, grey hoodie.",
                     instruction="Stay indoors and lock your doors. Call 911 with any sighting.",
                     sms_text="ALERT: Armed robbery near Main St. Suspect on foot, grey hoodie. "
                     "Stay inside. Call 911 with sightings.",
                     wea_short="Armed suspect near Main St. Stay inside.",
                     wea_long="Armed robbery near Main Street. Suspect fled on foot, grey "
                     "hoodie. Stay indoors, lock doors, call 911 with sightings."),
            InfoText(language="es", headline="Robo a mano armada: sospechoso huye a pie",
                     description="Hubo un robo a mano armada en Main Street. El sospechoso "
                     "huyó a pie hacia el norte: hombre, unos 30 años, sudadera gris.",
                     instruction="Quédese adentro y cierre las puertas. Llame al 911.",
                     sms_text="ALERTA: Robo armado cerca de Main St. Quedese adentro. "
                     "Llame al 911."),
        ],
        areas=[AreaSpec(description="One mile around Main Street", circle_lat=lat + 0.004,
                        circle_lon=lon + 0.004, circle_radius_m=1609.344)],
    )  # fmt: skip
    alert_submit(actor=author, alert=robbery)
    robbery = alert_approve(actor=_supervisor(), alert=robbery)
    alert_issue_update(
        actor=author, alert=robbery,
        infos=[InfoText(language="en", headline="All clear: suspect in custody",
                        description="The suspect is in custody. You may resume normal "
                        "activity.", sms_text="ALL CLEAR: suspect in custody."),
               InfoText(language="es", headline="Todo despejado: sospechoso detenido",
                        description="El sospechoso está detenido.",
                        sms_text="TODO DESPEJADO: sospechoso detenido.")],
    )  # fmt: skip
    old_town = Area.objects.filter(jurisdiction__name=JURISDICTION, name="Old Town").first()
    area = (
        AreaSpec(area_id=old_town.pk)
        if old_town
        else AreaSpec(circle_lat=lat, circle_lon=lon, circle_radius_m=1000)
    )
    advisory = alert_create(
        actor=author,
        fields=AlertFields(category="advisory", event="Boil water advisory", urgency="Expected",
                           severity="Moderate", certainty="Likely", expires=expires,
                           cap_category="Health"),
        infos=[InfoText(language="en", headline="Boil water before drinking",
                        description="A water main break may have let dirt into the pipes.",
                        instruction="Boil water for one minute before drinking or cooking.")],
        areas=[area],
    )  # fmt: skip
    alert_issue(actor=author, alert=advisory)
    square = [[lon - 0.01, lat - 0.002], [lon + 0.01, lat - 0.002], [lon + 0.01, lat + 0.002],
              [lon - 0.01, lat + 0.002], [lon - 0.01, lat - 0.002]]  # fmt: skip
    traffic = alert_create(
        actor=author,
        fields=AlertFields(category="traffic", event="Road closure", urgency="Expected",
                           severity="Minor", certainty="Observed", expires=expires,
                           cap_category="Transport", response_type="Avoid"),
        infos=[InfoText(language="en", headline="Main Street closed for the parade",
                        description="Main Street is closed from 1st to 9th until 4 pm.",
                        instruction="Use Oak Avenue.")],
        areas=[AreaSpec(description="Main Street, 1st to 9th",
                        polygon_geojson=json.dumps({"type": "Polygon", "coordinates": [square]}))],
    )  # fmt: skip
    alert_issue(actor=author, alert=traffic)
    stdout.write(
        f"Demo alerts: 4 messages (an Alert and its all-clear, an Advisory, a Traffic alert); "
        f"{made} new subscriptions. See /alerts/."
    )
