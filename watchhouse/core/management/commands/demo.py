"""`watchhouse demo`: load the demo data every capability shows at first start (idempotent)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.core.management.base import BaseCommand

# Each app's demo module has ``load(*, stdout)``; order matters (areas before what uses them).
DEMO_MODULES = [
    "watchhouse.geo.demo",
    "watchhouse.geocode.demo",
    "watchhouse.crimemap.demo",
    "watchhouse.accounts.demo",
    "watchhouse.alerts.demo",
    "watchhouse.alerts.template_demo",
    "watchhouse.posts.demo",
    "watchhouse.tips.demo",
    "watchhouse.community.demo",
    "watchhouse.rumors.demo",
    "watchhouse.outlets.demo",
    "watchhouse.monitoring.demo",
]


class Command(BaseCommand):
    help = "Load demo data: areas, staff, subscriptions and alerts (safe to re-run)."

    def handle(self, *args: Any, **opts: Any) -> None:
        for path in DEMO_MODULES:
            import_module(path).load(stdout=self.stdout)
