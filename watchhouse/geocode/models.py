"""The agency's own address points: what the local geocoder searches."""

from __future__ import annotations

from django.db import models

from watchhouse.geo.models import LocatedModel


class AddressPoint(LocatedModel):
    """One street address (normalised: upper case, USPS street types and directionals) at a
    point. ``house_number`` is empty for a street given without a number, which still counts
    towards the street's centre."""

    address = models.CharField(max_length=200, unique=True)
    house_number = models.PositiveIntegerField(null=True, blank=True)
    street = models.CharField(max_length=200)
    source = models.CharField(max_length=100, help_text="The file or format it came from.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["street", "house_number"]
        indexes = [
            models.Index(fields=["street", "house_number"], name="geocode_addr_street_number")
        ]

    def __str__(self) -> str:
        return self.address
