"""The public subscription form: places, categories, language, quiet hours, channels."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from watchhouse.geo.models import AreaKind
from watchhouse.geo.selectors import area_list
from watchhouse.notify.models import MAX_PLACES, DigestPeriod, PlaceKind
from watchhouse.notify.services import CATEGORIES, Choices, PlaceSpec

RADIUS_CHOICES = [("0.25", _("¼ mile")), ("0.5", _("½ mile")), ("1", _("1 mile")),
                  ("2", _("2 miles")), ("5", _("5 miles")), ("10", _("10 miles"))]  # fmt: skip
CATEGORY_CHOICES = [
    ("alert", _("Alerts: danger to life or property (always sent, even in quiet hours)")),
    ("advisory", _("Advisories: things to know today")),
    ("community", _("Community news and events")),
    ("traffic", _("Traffic: closures and detours")),
    ("crime_digest", _("Crime digest: what was reported near your places, by e-mail")),
]


class ChoicesForm(forms.Form):
    """Places, categories, language and quiet hours (shared by subscribe and manage)."""

    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)
    lon = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)
    radius = forms.ChoiceField(label=_("Within"), choices=RADIUS_CHOICES, initial="0.5")
    areas = forms.TypedMultipleChoiceField(
        label=_("Neighbourhoods"), required=False, coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    everywhere = forms.BooleanField(label=_("The whole jurisdiction"), required=False)
    categories = forms.MultipleChoiceField(
        label=_("What to hear about"), choices=CATEGORY_CHOICES,
        widget=forms.CheckboxSelectMultiple, initial=["alert", "advisory"],
    )  # fmt: skip
    digest_period = forms.ChoiceField(
        label=_("Send the crime digest"), choices=DigestPeriod.choices,
        initial=DigestPeriod.WEEK, required=False,
    )  # fmt: skip
    language = forms.ChoiceField(label=_("Language of messages"), choices=())
    quiet_start = forms.TimeField(label=_("Quiet from"), required=False,
                                  widget=forms.TimeInput(attrs={"type": "time"}))  # fmt: skip
    quiet_end = forms.TimeField(label=_("Quiet until"), required=False,
                                widget=forms.TimeInput(attrs={"type": "time"}))  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["areas"].choices = [  # type: ignore[attr-defined]
            (a.pk, a.name) for a in area_list(kind=AreaKind.NEIGHBOURHOOD)
        ]
        languages = [(c, n) for c, n in settings.LANGUAGES]
        self.fields["language"].choices = languages  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lat, lon = data.get("lat"), data.get("lon")
        if (lat is None) != (lon is None):
            raise forms.ValidationError(_("Give both the latitude and the longitude of the point."))
        count = (lat is not None) + len(data.get("areas") or []) + bool(data.get("everywhere"))
        if count == 0:
            raise forms.ValidationError(
                _("Choose at least one place: a point, a neighbourhood or the whole jurisdiction.")
            )
        if count > MAX_PLACES:
            raise forms.ValidationError(_("Choose at most %(n)d places.") % {"n": MAX_PLACES})
        if (data.get("quiet_start") is None) != (data.get("quiet_end") is None):
            raise forms.ValidationError(_("Give both ends of the quiet hours, or neither."))
        return data

    def choices(self) -> Choices:
        data = self.cleaned_data
        places: list[PlaceSpec] = []
        if data.get("lat") is not None:
            places.append(PlaceSpec(kind=PlaceKind.POINT, lat=data["lat"], lon=data["lon"],
                                    radius_m=float(data["radius"]) * 1609.344))  # fmt: skip
        places += [PlaceSpec(kind=PlaceKind.AREA, area_id=pk) for pk in data.get("areas") or []]
        if data.get("everywhere"):
            places.append(PlaceSpec(kind=PlaceKind.JURISDICTION))
        return Choices(
            categories=frozenset(c for c in data["categories"] if c in CATEGORIES),
            language=data["language"],
            quiet_start=data.get("quiet_start"),
            quiet_end=data.get("quiet_end"),
            places=tuple(places),
            digest_period=data.get("digest_period") or DigestPeriod.WEEK,
        )


class SubscribeForm(ChoicesForm):
    # The label of the place the address search found, for the subscription's point.
    address_label = ""

    address = forms.CharField(
        label=_("Street address"), required=False, max_length=200,
        help_text=_("For example 1100 Main St. We look it up and use the point with the "
                    "radius below; or give the latitude and longitude instead."),
        widget=forms.TextInput(attrs={"autocomplete": "street-address", "list": "address-options"}),
    )  # fmt: skip
    email = forms.EmailField(label=_("E-mail address"), required=False, max_length=254)
    push_subscription = forms.CharField(required=False, widget=forms.HiddenInput)
    webhook_url = forms.URLField(
        label=_("Partner systems: webhook address"), required=False, max_length=1000,
        assume_scheme="https",
        help_text=_("For schools, hospitals and other partners; messages are signed with "
                    "HMAC-SHA256 and a secret shown once."),
    )  # fmt: skip

    def clean_push_subscription(self) -> dict[str, Any] | None:
        raw = self.cleaned_data.get("push_subscription") or ""
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(_("The browser's subscription could not be read.")) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The browser's subscription could not be read."))
        return value

    def clean(self) -> dict[str, Any]:
        address = (self.cleaned_data.get("address") or "").strip()
        self.address_label = ""
        if address and self.cleaned_data.get("lat") is None:
            # The point is looked up here so that no JavaScript is needed to subscribe by
            # address; a point given as numbers wins.
            from watchhouse.geocode.geocoder import geocode_search

            found = geocode_search(address, 1)
            if not found:
                raise forms.ValidationError(
                    _("No such address was found: check the spelling, or give the latitude "
                      "and longitude of the place."),
                    code="address_unknown",
                )  # fmt: skip
            self.cleaned_data["lat"], self.cleaned_data["lon"] = found[0].lat, found[0].lon
            self.address_label = found[0].label
        data = super().clean()
        if not (data.get("email") or data.get("push_subscription") or data.get("webhook_url")):
            raise forms.ValidationError(
                _("Give an e-mail address or turn on browser notifications.")
            )
        return data

    def choices(self) -> Choices:
        choices = super().choices()
        if not self.address_label:
            return choices
        places = tuple(
            replace(p, label=self.address_label) if p.kind == PlaceKind.POINT else p
            for p in choices.places
        )
        return replace(choices, places=places)
