"""An alert as a CAP 1.2 message (:mod:`watchhouse.alerts.cap` renders and checks it)."""

from __future__ import annotations

from urllib.parse import urlsplit

import shapely
from django.conf import settings
from django.utils import timezone
from shapely.geometry.base import BaseGeometry

from watchhouse.alerts.cap import CapAlert, CapArea, CapInfo
from watchhouse.alerts.models import Alert, AlertArea, AreaShape
from watchhouse.alerts.validation import MAX_POLYGON_POINTS

# CAP <code> of messages that follow the IPAWS profile.
IPAWS_CODE = "IPAWSv1.0"


def alert_sender() -> str:
    """The CAP sender of this agency's messages (``WATCHHOUSE_ALERT_SENDER``)."""
    configured = getattr(settings, "WATCHHOUSE_ALERT_SENDER", "")
    if configured:
        return str(configured)
    host = urlsplit(settings.SITE_URL).hostname or "watchhouse.invalid"
    return f"alerts@{host}"


def _cap_language(code: str, *, ipaws: bool) -> str:
    # IPAWS asks for a region (en-US); plain CAP takes the site's codes as they are.
    if ipaws and "-" not in code:
        return f"{code}-US"
    return code


def _rings(geometry: BaseGeometry) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Outer rings of a (multi)polygon as closed (lat, lon) rings of at most 100 points.

    An area from the jurisdiction's boundary file may have thousands of corners; it is
    simplified just enough to fit (holes are not expressible in CAP and are left out).
    """
    rings = []
    for part in shapely.get_parts(geometry):
        ring = part.exterior
        tolerance = 1e-5
        while len(ring.coords) > MAX_POLYGON_POINTS:
            ring = shapely.simplify(part, tolerance, preserve_topology=True).exterior
            tolerance *= 2
        rings.append(tuple((round(lat, 6), round(lon, 6)) for lon, lat in ring.coords))
    return tuple(rings)


def _cap_area(area: AlertArea, *, geocodes: tuple[tuple[str, str], ...]) -> CapArea:
    lat, lon, radius = area.circle_lat, area.circle_lon, area.circle_radius_m
    if area.shape == AreaShape.CIRCLE and lat is not None and lon is not None and radius:
        return CapArea(
            area_desc=area.description,
            circles=((lat, lon, round(radius / 1000, 3)),),
            geocodes=geocodes,
        )
    return CapArea(
        area_desc=area.description, polygons=_rings(area.shapely_geometry), geocodes=geocodes
    )


def alert_cap(alert: Alert) -> CapAlert:
    """The CAP message of an issued (or about to be issued) alert."""
    sender = alert_sender()
    same_geocode = str(getattr(settings, "WATCHHOUSE_ALERT_SAME_GEOCODE", "") or "")
    geocodes = (("SAME", same_geocode),) if same_geocode else ()
    areas = tuple(_cap_area(a, geocodes=geocodes) for a in alert.areas.all())
    references = []
    earlier = alert.references
    while earlier is not None:
        references.append((sender, earlier.identifier, earlier.issued_at or earlier.created_at))
        earlier = earlier.references
    infos = []
    for info in alert.infos.all():
        parameters = []
        if info.wea_short:
            parameters.append(("CMAMtext", info.wea_short))
        if info.wea_long:
            parameters.append(("CMAMlongtext", info.wea_long))
        infos.append(
            CapInfo(
                language=_cap_language(info.language, ipaws=alert.ipaws),
                categories=(alert.cap_category,),
                event=alert.event,
                urgency=alert.urgency,
                severity=alert.severity,
                certainty=alert.certainty,
                headline=info.headline,
                description=info.description,
                instruction=info.instruction,
                web=alert.web or f"{settings.SITE_URL}{alert.get_absolute_url()}",
                contact=alert.contact,
                sender_name=settings.WATCHHOUSE_AGENCY_NAME,
                response_types=(alert.response_type,) if alert.response_type else (),
                effective=alert.issued_at,
                onset=alert.issued_at,
                expires=alert.expires,
                event_codes=(("SAME", alert.same_code),) if alert.same_code else (),
                parameters=tuple(parameters),
                areas=areas,
            )
        )
    return CapAlert(
        identifier=alert.identifier,
        sender=sender,
        sent=alert.issued_at or timezone.now().replace(microsecond=0),
        status=alert.status,
        msg_type=alert.msg_type,
        scope="Public",
        references=tuple(reversed(references)),
        codes=(IPAWS_CODE,) if alert.ipaws else (),
        note=alert.note,
        infos=tuple(infos),
    )
