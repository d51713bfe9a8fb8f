"""Public area pages: the list of neighbourhoods (and other areas), and a page per area."""

from __future__ import annotations

from dataclasses import dataclass, field

import shapely
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from watchhouse.alerts import selectors as alert_selectors
from watchhouse.community.selectors.residents import area_community, seconds_until
from watchhouse.core import pagecache
from watchhouse.geo import selectors
from watchhouse.geo.models import Area, AreaKind, Jurisdiction
from watchhouse.geo.svg import SvgMap, svg_map
from watchhouse.posts import public as posts_public

# Share of an area that an area of another kind must cover to be listed as overlapping it.
OVERLAP_SHARE = 0.01
# Degrees within which two areas of a kind count as bordering each other (about a metre).
BORDER_DEG = 1e-5
# Headings of the lists of areas of each kind.
KIND_PLURALS = {
    AreaKind.NEIGHBOURHOOD: _("Neighbourhoods"),
    AreaKind.BEAT: _("Police beats"),
    AreaKind.DISTRICT: _("Police districts"),
    AreaKind.WARD: _("Wards"),
    AreaKind.CUSTOM: _("Other areas"),
}
# How much of the surroundings the map of one area shows, as a share of the area's size.
MAP_MARGIN = 0.25


@dataclass
class KindGroup:
    kind: str
    label: str
    areas: list[Area] = field(default_factory=list)


@dataclass
class JurisdictionAreas:
    jurisdiction: Jurisdiction
    groups: list[KindGroup] = field(default_factory=list)
    overview: SvgMap | None = None
    overview_kind: str = ""


@dataclass(frozen=True)
class Overlap:
    area: Area
    percent: int


def area_list(request: HttpRequest) -> HttpResponse:
    places: dict[int, JurisdictionAreas] = {}
    for area in selectors.area_list():
        place = places.setdefault(area.jurisdiction_id, JurisdictionAreas(area.jurisdiction))
        if not place.groups or place.groups[-1].kind != area.kind:
            place.groups.append(KindGroup(area.kind, str(KIND_PLURALS[AreaKind(area.kind)])))
        place.groups[-1].areas.append(area)
    for place in places.values():
        place.groups.sort(key=lambda g: AreaKind.values.index(g.kind))
        first = place.groups[0]
        place.overview_kind = first.label
        shapes = Area.objects.filter(jurisdiction=place.jurisdiction, kind=first.kind).only(
            "name", "geometry"
        )
        place.overview = svg_map((a.shape, "", a.name) for a in shapes)
    return render(request, "web/areas/list.html", {"places": list(places.values())})


def area_detail(request: HttpRequest, kind: str, slug: str) -> HttpResponse:
    """An area's page, from the shared page cache for anonymous visitors. The key holds the
    posts' listing stamp, so a post tagged with the area shows even if its change was not
    reported to the cache."""
    if not pagecache.cacheable(request):
        return _area_detail(request, kind, slug, {})[0]
    changed = posts_public.listing_changed()
    return pagecache.serve(
        request,
        f"area:{kind}:{slug}:{changed.isoformat() if changed else '-'}",
        lambda: _area_detail(request, kind, slug, {"csrf_token": pagecache.CSRF_PLACEHOLDER}),
        per_visitor=True,
    )


def _area_detail(
    request: HttpRequest, kind: str, slug: str, extra: dict[str, object]
) -> tuple[HttpResponse, float]:
    """The page, and how many seconds it stays true (until a poll on it opens or closes, or
    an event on it ends). It is the same for every visitor: the page cache serves it to all."""
    if kind not in AreaKind.values:
        raise Http404("No such kind of area.")
    try:
        area = selectors.area_get(kind=kind, slug=slug)
    except Area.DoesNotExist as exc:
        raise Http404(str(exc)) from exc
    shape = area.shape
    shapely.prepare(shape)
    borders, overlaps, same_kind = [], [], []
    for other in selectors.area_neighbours(area):
        if other.kind == area.kind:
            same_kind.append(other)
            if shapely.dwithin(other.shape, shape, BORDER_DEG):
                borders.append(other)
        elif shape.area > 0:
            share = shapely.intersection(other.shape, shape).area / shape.area
            if share >= OVERLAP_SHARE:
                overlaps.append(Overlap(other, round(share * 100)))
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    reach_lon, reach_lat = (max_lon - min_lon) * MAP_MARGIN, (max_lat - min_lat) * MAP_MARGIN
    frame = (min_lon - reach_lon, min_lat - reach_lat, max_lon + reach_lon, max_lat + reach_lat)
    drawing = svg_map(
        [(o.shape, "", o.name) for o in same_kind] + [(shape, "current", area.name)],
        bounds=frame,
        pad=0.0,
    )
    # A neighbourhood's discussions, open polls and upcoming events.
    community = area_community(area) if area.kind == AreaKind.NEIGHBOURHOOD else None
    fresh_s = seconds_until(
        community.fresh_until if community else None, longest=float(pagecache.TIMEOUT_S)
    )
    response = render(
        request,
        "web/areas/detail.html",
        {
            **extra,
            "community": community,
            "area": area,
            "kind_label": area.get_kind_display(),
            "map": drawing,
            "borders": borders,
            # Alerts of the last month whose target touches the area, in the reader's language.
            "area_alerts": [
                {"alert": a, "info": alert_selectors.info_for_language(a)}
                for a in alert_selectors.alert_public_for_area(shape)
            ],
            # Posts tagged with the area and its beat officers (watchhouse.posts.public).
            "area_cards": [posts_public.card(p) for p in posts_public.area_posts(area)],
            "area_officers": posts_public.area_officers(area),
            "overlaps": sorted(
                overlaps, key=lambda o: (AreaKind.values.index(o.area.kind), o.area.name)
            ),
        },
    )
    return response, fresh_s
