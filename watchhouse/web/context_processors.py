"""Values every template may use."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, Any]:
    return {"agency_name": settings.WATCHHOUSE_AGENCY_NAME, "site_url": settings.SITE_URL}
