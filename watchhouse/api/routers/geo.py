"""Areas of the jurisdiction (filled in by the geo app's work)."""

from ninja import Router

router = Router(tags=["areas"])
