"""The alert composer's form: message fields, texts per language, target area."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from watchhouse.alerts.models import (
    Alert,
    CapCategory,
    Category,
    Certainty,
    ResponseType,
    Severity,
    Urgency,
)
from watchhouse.alerts.services import AlertFields
from watchhouse.alerts.validation import AreaSpec, InfoText
from watchhouse.geo.selectors import area_list

TEXT_FIELDS = ("headline", "description", "instruction", "sms_text", "wea_short", "wea_long")


class AreaForm(forms.Form):
    """Where an alert goes and its category: all its reach depends on."""

    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    area_ids = forms.TypedMultipleChoiceField(
        label=_("Areas"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    circle_lat = forms.FloatField(label=_("Circle centre latitude"), required=False)
    circle_lon = forms.FloatField(label=_("Circle centre longitude"), required=False)
    circle_radius_m = forms.FloatField(label=_("Radius (metres)"), required=False)
    polygon_geojson = forms.CharField(
        label=_("Polygon (GeoJSON)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area_ids"].choices = [  # type: ignore[attr-defined]
            (a.pk, f"{a.name} ({a.get_kind_display()})") for a in area_list()
        ]

    def areas(self) -> list[AreaSpec]:
        """The areas as given; each polygon of a GeoJSON MultiPolygon is an area of its own."""
        data = self.cleaned_data
        specs = [AreaSpec(area_id=pk) for pk in data.get("area_ids") or []]
        if data.get("circle_radius_m") is not None:
            specs.append(
                AreaSpec(
                    circle_lat=data.get("circle_lat"),
                    circle_lon=data.get("circle_lon"),
                    circle_radius_m=data["circle_radius_m"],
                )
            )
        if (data.get("polygon_geojson") or "").strip():
            specs.extend(
                AreaSpec(polygon_geojson=text) for text in polygon_texts(data["polygon_geojson"])
            )
        return specs


def polygon_texts(text: str) -> list[str]:
    """Each polygon of a GeoJSON MultiPolygon (or a Feature of one) as a GeoJSON Polygon; any
    other text as it is, for :func:`~watchhouse.alerts.validation.area_build` to judge."""
    try:
        document: Any = json.loads(text)
    except ValueError:
        return [text]
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = document.get("geometry")
    if not isinstance(document, dict) or document.get("type") != "MultiPolygon":
        return [text]
    polygons = document.get("coordinates")
    if not isinstance(polygons, list) or not polygons:
        return [text]
    return [json.dumps({"type": "Polygon", "coordinates": rings}) for rings in polygons]


class ComposerForm(AreaForm):
    """Everything the composer asks: the message, its texts in each language, and where."""

    event = forms.CharField(label=_("Event"), max_length=120)
    cap_category = forms.ChoiceField(
        label=_("CAP category"), choices=CapCategory.choices, initial=CapCategory.SECURITY
    )
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices)
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices)
    certainty = forms.ChoiceField(label=_("Certainty"), choices=Certainty.choices)
    response_type = forms.ChoiceField(
        label=_("Response"), choices=ResponseType.choices, required=False
    )
    expires = forms.DateTimeField(
        label=_("Expires (local time)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    web = forms.URLField(label=_("Web link"), required=False, assume_scheme="https")
    contact = forms.CharField(label=_("Contact"), max_length=200, required=False)
    ipaws = forms.BooleanField(label=_("Follow the IPAWS profile"), required=False)
    same_code = forms.CharField(label=_("SAME event code"), max_length=3, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.languages = [(code, str(name)) for code, name in settings.LANGUAGES]
        for number, (code, name) in enumerate(self.languages):
            required = number == 0
            self.fields[f"{code}_headline"] = forms.CharField(
                label=_("Headline (%(lang)s)") % {"lang": name}, max_length=160, required=required
            )
            self.fields[f"{code}_description"] = forms.CharField(
                label=_("Description (%(lang)s)") % {"lang": name},
                widget=forms.Textarea(attrs={"rows": 4}),
                required=required,
            )
            self.fields[f"{code}_instruction"] = forms.CharField(
                label=_("Instructions (%(lang)s)") % {"lang": name},
                widget=forms.Textarea(attrs={"rows": 2}),
                required=False,
            )
            self.fields[f"{code}_sms_text"] = forms.CharField(
                label=_("Text message (%(lang)s)") % {"lang": name},
                max_length=1600,
                required=False,
                widget=forms.Textarea(attrs={"rows": 2, "data-counter": "sms"}),
            )
            self.fields[f"{code}_wea_short"] = forms.CharField(
                label=_("WEA short, 90 (%(lang)s)") % {"lang": name},
                max_length=400,
                required=False,
            )
            self.fields[f"{code}_wea_long"] = forms.CharField(
                label=_("WEA long, 360 (%(lang)s)") % {"lang": name},
                max_length=1000,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
            )

    def language_fields(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        return [
            (code, name, [self[f"{code}_{f}"] for f in TEXT_FIELDS])
            for code, name in self.languages
        ]

    def alert_fields(self) -> AlertFields:
        data = self.cleaned_data
        expires = data["expires"]
        if timezone.is_naive(expires):
            expires = timezone.make_aware(expires)
        return AlertFields(
            category=data["category"],
            event=data["event"],
            urgency=data["urgency"],
            severity=data["severity"],
            certainty=data["certainty"],
            expires=expires,
            cap_category=data["cap_category"],
            response_type=data.get("response_type") or "",
            same_code=data.get("same_code") or "",
            web=data.get("web") or "",
            contact=data.get("contact") or "",
            ipaws=bool(data.get("ipaws")),
        )

    def infos(self) -> list[InfoText]:
        data = self.cleaned_data
        return [
            InfoText(language=code, **{f: data.get(f"{code}_{f}") or "" for f in TEXT_FIELDS})
            for code, _ in self.languages
            if data.get(f"{code}_headline")
        ]


def composer_initial(alert: Alert) -> dict[str, Any]:
    """The form's values for an existing alert."""
    initial: dict[str, Any] = {
        name: getattr(alert, name)
        for name in ("category", "event", "cap_category", "urgency", "severity", "certainty",
                     "response_type", "web", "contact", "ipaws", "same_code")
    }  # fmt: skip
    initial["expires"] = timezone.localtime(alert.expires)
    for info in alert.infos.all():
        for name in TEXT_FIELDS:
            initial[f"{info.language}_{name}"] = getattr(info, name)
    areas = list(alert.areas.all())
    initial["area_ids"] = [a.geo_area_id for a in areas if a.geo_area_id]
    circle = next((a for a in areas if a.shape == "circle"), None)
    if circle is not None:
        initial.update(
            circle_lat=circle.circle_lat,
            circle_lon=circle.circle_lon,
            circle_radius_m=circle.circle_radius_m,
        )
    polygons = [a.polygon_geojson for a in areas if a.shape == "polygon"]
    if len(polygons) == 1:
        initial["polygon_geojson"] = polygons[0]
    elif polygons:
        initial["polygon_geojson"] = json.dumps(
            {
                "type": "MultiPolygon",
                "coordinates": [json.loads(text)["coordinates"] for text in polygons],
            }
        )
    return initial


class UpdateForm(forms.Form):
    """The texts of an update (the rest is the earlier message's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.languages = [(code, str(name)) for code, name in settings.LANGUAGES]
        for number, (code, name) in enumerate(self.languages):
            self.fields[f"{code}_headline"] = forms.CharField(
                label=_("Headline (%(lang)s)") % {"lang": name}, max_length=160,
                required=number == 0,
            )  # fmt: skip
            self.fields[f"{code}_description"] = forms.CharField(
                label=_("Description (%(lang)s)") % {"lang": name},
                widget=forms.Textarea(attrs={"rows": 3}), required=number == 0,
            )  # fmt: skip
            self.fields[f"{code}_sms_text"] = forms.CharField(
                label=_("Text message (%(lang)s)") % {"lang": name}, required=False,
                max_length=1600,
            )  # fmt: skip

    def infos(self) -> list[InfoText]:
        data = self.cleaned_data
        return [
            InfoText(
                language=code,
                headline=data[f"{code}_headline"],
                description=data.get(f"{code}_description") or "",
                sms_text=data.get(f"{code}_sms_text") or "",
            )
            for code, _ in self.languages
            if data.get(f"{code}_headline")
        ]
