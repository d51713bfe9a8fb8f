"""Address search behind one interface: the agency's own address points by default, and
geopy-backed providers (Nominatim, the US Census geocoder) where the deployment has internet.

``WATCHHOUSE_GEOCODER`` picks the provider ("local", "nominatim" or "census"); when a remote
provider fails, the search falls back to the local index, so address search never depends on
another party being up. Picking a point on the map needs none of this.
"""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db.models import Avg, Count, Q

from watchhouse.core.errors import WatchhouseError
from watchhouse.geocode.models import AddressPoint

logger = logging.getLogger(__name__)

# Longest query searched, in characters.
MAX_QUERY = 200
# Most results any search returns.
MAX_RESULTS = 10

# USPS Publication 28 street suffixes (the common ones) and directionals.
STREET_TYPES = {
    "ALLEY": "ALY", "AVENUE": "AVE", "AV": "AVE", "BOULEVARD": "BLVD", "CIRCLE": "CIR",
    "COURT": "CT", "DRIVE": "DR", "EXPRESSWAY": "EXPY", "FREEWAY": "FWY", "HIGHWAY": "HWY",
    "LANE": "LN", "PARKWAY": "PKWY", "PLACE": "PL", "PLAZA": "PLZ", "ROAD": "RD",
    "SQUARE": "SQ", "STREET": "ST", "STR": "ST", "TERRACE": "TER", "TRAIL": "TRL",
    "WAY": "WAY",
}  # fmt: skip
DIRECTIONALS = {
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
    "NORTHEAST": "NE", "NORTHWEST": "NW", "SOUTHEAST": "SE", "SOUTHWEST": "SW",
}  # fmt: skip
_HOUSE = re.compile(r"(\d{1,6})[A-Z]?(?:-\d+)?\s+(.+)")
_INTERSECTION = re.compile(r"/|@|\bAND\b|&")


class GeocoderUnavailableError(WatchhouseError):
    """The configured provider cannot answer (not installed, offline, refused)."""


@dataclass(frozen=True)
class GeocodeResult:
    """A place an address search found."""

    label: str
    lat: float
    lon: float
    source: str


class Geocoder(Protocol):
    """Anything that turns an address typed by a person into places, best first."""

    def search(self, query: str, limit: int = 5) -> list[GeocodeResult]: ...


def address_normalise(text: str) -> str:
    """``text`` as the index stores addresses: upper case, without punctuation, with street
    types and directionals abbreviated ("3812 North Grand Boulevard" → "3812 N GRAND BLVD").

    Only the part before the first comma counts (city, state and ZIP code are dropped).
    """
    text = text.split(",", 1)[0].upper()
    text = re.sub(r"[.#']", "", text)
    words = re.sub(r"[^A-Z0-9/@&-]+", " ", text).split()
    out = []
    for position, word in enumerate(words):
        if word in DIRECTIONALS:
            word = DIRECTIONALS[word]
        elif word in STREET_TYPES and position > 0:
            word = STREET_TYPES[word]
        out.append(word)
    return " ".join(out)


def address_split(normalised: str) -> tuple[int | None, str]:
    """The house number (None without one) and the street of a normalised address."""
    match = _HOUSE.fullmatch(normalised)
    if match is None:
        return None, normalised
    return int(match.group(1)), match.group(2)


def is_intersection(normalised: str) -> bool:
    """True for "OLIVE ST / 19TH ST" and the like, which are no street address."""
    return bool(_INTERSECTION.search(normalised))


class LocalGeocoder:
    """Searches the agency's address points: the exact address, else the nearest house
    number on the same street, else the street's centre; streets match by their start when
    the typed name is incomplete ("1915 olive" finds OLIVE ST)."""

    source = "local"

    def search(self, query: str, limit: int = 5) -> list[GeocodeResult]:
        normalised = address_normalise(query[:MAX_QUERY])
        if not normalised:
            return []
        limit = max(1, min(limit, MAX_RESULTS))
        number, street = address_split(normalised)
        ranked = []
        for name in self._streets(street, limit):
            found = self._on_street(name, number)
            if found is not None:
                ranked.append(found)
        # The exact address first, then the nearest numbers, then streets' centres.
        ranked.sort(key=lambda item: item[0])
        results = [result for _, result in ranked]
        if number is None and len(results) < limit:
            # A name alone may be the start of an address: "4601 MAR" while typing.
            seen = {r.label for r in results}
            for point in AddressPoint.objects.filter(address__startswith=normalised)[:limit]:
                if point.address not in seen and point.lat is not None and point.lon is not None:
                    results.append(GeocodeResult(point.address, point.lat, point.lon, self.source))
        return results[:limit]

    def _streets(self, street: str, limit: int) -> list[str]:
        """The street named exactly, and streets whose names it may be the incomplete form
        of: "OLIVE" for OLIVE ST, "GRAND" for N GRAND BLVD."""
        match = Q(street__startswith=f"{street} ")
        if street.split(" ", 1)[0] not in DIRECTIONALS.values():
            for directional in sorted(set(DIRECTIONALS.values())):
                match |= Q(street=f"{directional} {street}")
                match |= Q(street__startswith=f"{directional} {street} ")
        exact = [street] if AddressPoint.objects.filter(street=street).exists() else []
        others = (
            AddressPoint.objects.filter(match)
            .values_list("street", flat=True)
            .distinct()
            .order_by("street")[:limit]
        )
        return exact + list(others)

    def _on_street(self, street: str, number: int | None) -> tuple[float, GeocodeResult] | None:
        """The best point of ``street`` for ``number`` with its rank (0: the exact address;
        then the distance in house numbers; a street's centre last)."""
        points = AddressPoint.objects.filter(street=street, lat__isnull=False, lon__isnull=False)
        if number is not None:
            below = points.filter(house_number__lte=number).order_by("-house_number").first()
            above = points.filter(house_number__gt=number).order_by("house_number").first()
            near = [p for p in (below, above) if p is not None and p.house_number is not None]
            if near:
                best = min(near, key=lambda p: abs((p.house_number or 0) - number))
                distance = abs((best.house_number or 0) - number)
                label = best.address if distance == 0 else f"{best.address} (nearest to {number})"
                result = GeocodeResult(label, best.lat, best.lon, self.source)  # type: ignore[arg-type]
                return float(distance), result
        centre = points.aggregate(lat=Avg("lat"), lon=Avg("lon"), n=Count("id"))
        if not centre["n"]:
            return None
        result = GeocodeResult(street, float(centre["lat"]), float(centre["lon"]), self.source)
        return float("inf"), result


def _geopy_geocoders() -> Any:
    try:
        return importlib.import_module("geopy.geocoders")
    except ImportError:
        raise GeocoderUnavailableError(
            "WATCHHOUSE_GEOCODER names a geopy provider but geopy is not installed "
            "(pip install geopy), or set WATCHHOUSE_GEOCODER=local."
        ) from None


class _GeopyGeocoder:
    """A geopy provider; any failure of it raises :class:`GeocoderUnavailableError`."""

    source = "geopy"

    def __init__(self, provider: Any, **options: Any) -> None:
        self._provider = provider
        self._options = options

    def search(self, query: str, limit: int = 5) -> list[GeocodeResult]:
        query = query.strip()[:MAX_QUERY]
        if not query:
            return []
        limit = max(1, min(limit, MAX_RESULTS))
        try:
            found = self._provider.geocode(query, exactly_one=False, **self._options) or []
        except Exception as exc:  # noqa: BLE001 - geopy raises many kinds; all mean "unavailable"
            raise GeocoderUnavailableError(f"{self.source} did not answer: {exc}") from exc
        return [
            GeocodeResult(str(place.address), float(place.latitude), float(place.longitude),
                          self.source)
            for place in list(found)[:limit]
        ]  # fmt: skip


class NominatimGeocoder(_GeopyGeocoder):
    """OpenStreetMap's Nominatim (mind its usage policy: one request per second, a real
    user agent; ``WATCHHOUSE_GEOCODER_URL`` points at a self-hosted instance)."""

    source = "nominatim"

    def __init__(self, *, user_agent: str, domain: str = "", timeout: float = 5.0,
                 country_codes: str = "us") -> None:  # fmt: skip
        geocoders = _geopy_geocoders()
        options: dict[str, Any] = {"user_agent": user_agent, "timeout": timeout}
        if domain:
            options["domain"] = domain
        super().__init__(geocoders.Nominatim(**options), country_codes=country_codes)


class CensusGeocoder(_GeopyGeocoder):
    """The US Census Bureau's geocoder (public, no key; US addresses only)."""

    source = "census"

    def __init__(self, *, user_agent: str, timeout: float = 5.0) -> None:
        geocoders = _geopy_geocoders()
        super().__init__(geocoders.USCensus(user_agent=user_agent, timeout=timeout))


def geocoder_configured() -> Geocoder:
    """The provider ``WATCHHOUSE_GEOCODER`` names; raises GeocoderUnavailableError when it
    cannot be built (unknown name, geopy missing)."""
    name = str(getattr(settings, "WATCHHOUSE_GEOCODER", "local") or "local")
    user_agent = str(
        getattr(settings, "WATCHHOUSE_GEOCODER_USER_AGENT", "")
        or f"Watchhouse ({settings.WATCHHOUSE_AGENCY_NAME})"
    )
    timeout = float(getattr(settings, "WATCHHOUSE_GEOCODER_TIMEOUT_SECONDS", 5))
    if name == "local":
        return LocalGeocoder()
    if name == "nominatim":
        domain = str(getattr(settings, "WATCHHOUSE_GEOCODER_URL", "") or "")
        return NominatimGeocoder(user_agent=user_agent, domain=domain, timeout=timeout)
    if name == "census":
        return CensusGeocoder(user_agent=user_agent, timeout=timeout)
    raise GeocoderUnavailableError(
        f"Unknown WATCHHOUSE_GEOCODER {name!r}; choose local, nominatim or census."
    )


def geocode_search(query: str, limit: int = 5) -> list[GeocodeResult]:
    """Places matching ``query``, best first, from the configured provider; the local index
    answers when that provider is unavailable or finds nothing."""
    local = LocalGeocoder()
    try:
        provider = geocoder_configured()
    except GeocoderUnavailableError as exc:
        logger.error("Address search uses the local index: %s", exc)
        return local.search(query, limit)
    if isinstance(provider, LocalGeocoder):
        return provider.search(query, limit)
    try:
        return provider.search(query, limit) or local.search(query, limit)
    except GeocoderUnavailableError as exc:
        logger.warning("Address search fell back to the local index: %s", exc)
        return local.search(query, limit)
