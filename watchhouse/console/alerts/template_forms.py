"""The form of an alert template: message-wide fields and per-language texts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from watchhouse.alerts.models import (
    CapCategory,
    Category,
    Certainty,
    ResponseType,
    Severity,
    Urgency,
)
from watchhouse.alerts.templating import MAX_EXPIRES_HOURS, TEXT_FIELDS, TemplateFields

TEXT_LABELS = {
    "headline": _("Headline"), "description": _("Description"),
    "instruction": _("Instructions"), "sms_text": _("Text message"),
    "wea_short": _("WEA short, 90"), "wea_long": _("WEA long, 360"),
}  # fmt: skip


class TemplateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
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
    same_code = forms.CharField(label=_("SAME event code"), max_length=3, required=False)
    expires_hours = forms.IntegerField(
        label=_("Runs for (hours)"), min_value=1, max_value=MAX_EXPIRES_HOURS, initial=4
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.languages = [(code, str(name)) for code, name in settings.LANGUAGES]
        for number, (code, name) in enumerate(self.languages):
            for field in TEXT_FIELDS:
                long = field in ("description", "instruction", "wea_long")
                self.fields[f"{code}_{field}"] = forms.CharField(
                    label=f"{TEXT_LABELS[field]} ({name})",
                    required=number == 0 and field in ("headline", "description"),
                    max_length=1600,
                    widget=forms.Textarea(attrs={"rows": 3}) if long else forms.TextInput(),
                )

    def message_fields(self) -> list[forms.BoundField]:
        codes = tuple(f"{code}_" for code, _name in self.languages)
        return [self[name] for name in self.fields if not name.startswith(codes)]

    def language_fields(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        return [
            (code, name, [self[f"{code}_{f}"] for f in TEXT_FIELDS])
            for code, name in self.languages
        ]

    def template_fields(self) -> TemplateFields:
        data = self.cleaned_data
        return TemplateFields(
            name=data["name"], category=data["category"], event=data["event"],
            urgency=data["urgency"], severity=data["severity"], certainty=data["certainty"],
            cap_category=data["cap_category"], response_type=data.get("response_type") or "",
            same_code=data.get("same_code") or "", expires_hours=data["expires_hours"],
        )  # fmt: skip

    def texts(self) -> dict[str, dict[str, str]]:
        data = self.cleaned_data
        return {
            code: {f: data.get(f"{code}_{f}") or "" for f in TEXT_FIELDS}
            for code, _name in self.languages
            if data.get(f"{code}_headline")
        }
