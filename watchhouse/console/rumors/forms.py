"""Forms of the rumor tracker: filters, a new rumor, its details, and a new incident."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from watchhouse.rumors.models import Incident, RumorStatus

_WHEN = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class RumorFilterForm(forms.Form):
    """The tracker's filters (a GET form; every field optional)."""

    status = forms.ChoiceField(
        label=_("Verdict"), required=False, choices=[("", _("Any")), *RumorStatus.choices]
    )
    incident = forms.ModelChoiceField(
        label=_("Incident"), required=False, queryset=Incident.objects.all(), empty_label=_("Any")
    )
    unanswered = forms.BooleanField(label=_("Unanswered only"), required=False)

    def filters(self) -> dict[str, Any]:
        """The filters asked for (invalid fields are ignored)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {
            "status": data.get("status") or "",
            "incident": data.get("incident"),
            "unanswered": bool(data.get("unanswered")),
        }


class RumorForm(forms.Form):
    """A rumor's claim and where it came from (opening one, or correcting it)."""

    claim = forms.CharField(
        label=_("Claim"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )
    first_seen_at = forms.DateTimeField(label=_("First seen"), widget=_WHEN)
    first_seen_where = forms.CharField(
        label=_("Where it was first seen"),
        required=False,
        max_length=300,
        help_text=_("Network, group, page or place."),
    )
    incident = forms.ModelChoiceField(
        label=_("Incident"), required=False, queryset=Incident.objects.all(), empty_label=_("None")
    )


class RumorOpenForm(RumorForm):
    links = forms.CharField(
        label=_("Links where it was seen"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One http(s) address a line."),
    )

    def link_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("links", "").splitlines()]


class IncidentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
