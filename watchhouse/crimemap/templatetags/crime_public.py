"""The crime section of the public area pages: ``{% crime_area_section area %}``."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict

from watchhouse.crimemap.views_public import area_section
from watchhouse.geo.models import Area

register = template.Library()


@register.inclusion_tag("crimemap/_area_section.html")
def crime_area_section(area: Area) -> dict[str, Any]:
    """The area's summary for the latest days of data, and a link to its crime page."""
    return area_section(area, QueryDict())
