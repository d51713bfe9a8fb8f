"""The public address search: JSON for the subscribe page's suggestions."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from watchhouse.geocode.geocoder import MAX_QUERY, geocode_search
from watchhouse.notify.ratelimit import client_hit

# Shortest query searched; shorter ones would match half the index.
MIN_QUERY = 3


@require_GET
def search(request: HttpRequest) -> JsonResponse:
    """Up to five places for ``?q=``, best first: ``{"query", "results": [{label, lat, lon,
    source}]}``; 429 when one client searches too often."""
    limit = int(getattr(settings, "WATCHHOUSE_GEOCODE_RATE_LIMIT", 60))
    window = int(getattr(settings, "WATCHHOUSE_GEOCODE_RATE_WINDOW_SECONDS", 60))
    client = str(request.META.get("REMOTE_ADDR", ""))
    if not client_hit("geocode", client, limit=limit, window_seconds=window):
        response = JsonResponse(
            {"error": "Too many searches from this address; wait a minute."}, status=429
        )
        response["Retry-After"] = str(window)
        return response
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    results = geocode_search(query, 5) if len(query) >= MIN_QUERY else []
    return JsonResponse(
        {
            "query": query,
            "results": [
                {
                    "label": r.label,
                    "lat": round(r.lat, 6),
                    "lon": round(r.lon, 6),
                    "source": r.source,
                }
                for r in results
            ],
        }  # fmt: skip
    )
