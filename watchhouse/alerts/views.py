"""Public alert pages, the CAP documents, and the Atom and JSON feeds."""

from __future__ import annotations

import json
from dataclasses import dataclass

import shapely
from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.alerts import selectors
from watchhouse.alerts.cap import CAP_MEDIA_TYPE
from watchhouse.alerts.capfeed import CapFeedEntry, cap_atom_render
from watchhouse.alerts.models import Alert, AlertInfo
from watchhouse.core import pagecache
from watchhouse.geo.models import Area
from watchhouse.geo.svg import svg_map

# Messages in each feed and on each page of the list.
FEED_SIZE = 50
PAGE_SIZE = 30
# Share of the alert area's size shown around it on its map.
MAP_MARGIN = 0.5


@dataclass(frozen=True)
class Shown:
    """A message with its texts in the reader's language."""

    alert: Alert
    info: AlertInfo | None


def _shown(alerts: list[Alert]) -> list[Shown]:
    return [Shown(a, selectors.info_for_language(a)) for a in alerts]


def alert_list(request: HttpRequest) -> HttpResponse:
    current = list(selectors.alert_current_list())
    current_ids = {a.pk for a in current}
    page = Paginator(selectors.alert_public_list().exclude(pk__in=current_ids), PAGE_SIZE)
    past = page.get_page(request.GET.get("page"))
    return render(
        request,
        "alerts/list.html",
        {"current": _shown(current), "past": past, "past_shown": _shown(list(past))},
    )


def _get(pk: int) -> Alert:
    try:
        return selectors.alert_public_get(pk)
    except Alert.DoesNotExist as exc:
        raise Http404("No such alert.") from exc


def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return pagecache.serve(
        request, f"detail:{pk}", lambda: _alert_detail(request, pk), per_visitor=True
    )


def _alert_detail(request: HttpRequest, pk: int) -> tuple[HttpResponse, float]:
    alert = _get(pk)
    shapes = [a.shapely_geometry for a in alert.areas.all()]
    union = shapely.union_all(shapes)
    min_lon, min_lat, max_lon, max_lat = union.bounds
    reach_lon, reach_lat = (max_lon - min_lon) * MAP_MARGIN, (max_lat - min_lat) * MAP_MARGIN
    frame = (min_lon - reach_lon, min_lat - reach_lat, max_lon + reach_lon, max_lat + reach_lat)
    around = Area.objects.filter(
        kind="neighbourhood", min_lat__lte=frame[3], max_lat__gte=frame[1],
        min_lon__lte=frame[2], max_lon__gte=frame[0],
    ).only("name", "geometry")  # fmt: skip
    drawing = svg_map(
        [(a.shape, "", a.name) for a in around]
        + [
            (s, "current", area.description)
            for s, area in zip(shapes, alert.areas.all(), strict=True)
        ],
        bounds=frame,
        pad=0.0,
    )
    chain = selectors.alert_chain(alert)
    now = timezone.now()
    in_force = alert.state == "issued" and alert.expires > now
    extra = {"csrf_token": pagecache.CSRF_PLACEHOLDER} if pagecache.cacheable(request) else {}
    response = render(
        request,
        "alerts/detail.html",
        {
            **extra,
            "alert": alert,
            "info": selectors.info_for_language(alert),
            "infos": list(alert.infos.all()),
            "areas": list(alert.areas.all()),
            "map": drawing,
            "chain": _shown(chain) if len(chain) > 1 else [],
            "in_force": in_force,
        },
    )
    # The page says "in force" until the alert expires, even before the expiry task runs.
    fresh_s = (alert.expires - now).total_seconds() if in_force else float(pagecache.TIMEOUT_S)
    return response, fresh_s


def alert_cap(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _get(pk)
    response = HttpResponse(alert.cap_xml.encode("utf-8"), content_type=CAP_MEDIA_TYPE)
    response["Content-Disposition"] = f'inline; filename="alert-{alert.pk}.cap"'
    return response


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _feed_alerts() -> list[Shown]:
    return _shown(list(selectors.alert_public_list()[:FEED_SIZE]))


def feed_atom(request: HttpRequest) -> HttpResponse:
    return pagecache.serve(request, "feed.atom", lambda: (_feed_atom(), float(pagecache.TIMEOUT_S)))


def _feed_atom() -> HttpResponse:
    shown = _feed_alerts()
    entries = [
        CapFeedEntry(
            entry_id=_absolute(s.alert.get_absolute_url()),
            updated=s.alert.ended_at or s.alert.issued_at or s.alert.created_at,
            title=s.info.headline if s.info else s.alert.event,
            cap_url=_absolute(reverse("alerts:cap", kwargs={"pk": s.alert.pk})),
            summary=s.info.description if s.info else "",
        )
        for s in shown
    ]
    updated = max((e.updated for e in entries), default=timezone.now())
    body = cap_atom_render(
        feed_id=_absolute(reverse("alerts:feed_atom")),
        title=_("Alerts from %(agency)s") % {"agency": settings.WATCHHOUSE_AGENCY_NAME},
        self_url=_absolute(reverse("alerts:feed_atom")),
        author=settings.WATCHHOUSE_AGENCY_NAME,
        updated=updated,
        entries=entries,
    )
    return HttpResponse(body, content_type="application/atom+xml; charset=utf-8")


def feed_json(request: HttpRequest) -> HttpResponse:
    return pagecache.serve(request, "feed.json", lambda: (_feed_json(), float(pagecache.TIMEOUT_S)))


def _feed_json() -> HttpResponse:
    items = []
    for s in _feed_alerts():
        alert = s.alert
        items.append(
            {
                "id": _absolute(alert.get_absolute_url()),
                "url": _absolute(alert.get_absolute_url()),
                "title": s.info.headline if s.info else alert.event,
                "content_text": "\n\n".join(
                    p for p in ((s.info.description, s.info.instruction) if s.info else ()) if p
                ),
                "date_published": alert.issued_at.isoformat() if alert.issued_at else None,
                "date_modified": (
                    alert.ended_at or alert.issued_at or alert.created_at
                ).isoformat(),
                "language": s.info.language if s.info else None,
                "tags": [alert.category, alert.msg_type, alert.state],
                "attachments": [
                    {
                        "url": _absolute(reverse("alerts:cap", kwargs={"pk": alert.pk})),
                        "mime_type": CAP_MEDIA_TYPE,
                        "title": "CAP 1.2",
                    }
                ],
                "_cap": {"identifier": alert.identifier, "expires": alert.expires.isoformat()},
            }
        )
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": _("Alerts from %(agency)s") % {"agency": settings.WATCHHOUSE_AGENCY_NAME},
        "home_page_url": _absolute(reverse("alerts:list")),
        "feed_url": _absolute(reverse("alerts:feed_json")),
        "authors": [{"name": settings.WATCHHOUSE_AGENCY_NAME}],
        "items": items,
    }
    return HttpResponse(
        json.dumps(feed, ensure_ascii=False, indent=1),
        content_type="application/feed+json; charset=utf-8",
    )
