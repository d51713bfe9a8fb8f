"""Forms of the case workspace pages: they parse input; the services decide what is allowed."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from watchhouse.monitoring.models import SourceKind
from watchhouse.monitoring.services.cases import (
    ACCOUNT_NETWORKS,
    MIN_JUSTIFICATION,
    MIN_PREDICATE,
)


class CaseRequestForm(forms.Form):
    number = forms.CharField(label=_("Case number"), max_length=60)
    title = forms.CharField(label=_("Title"), max_length=200)
    predicate = forms.CharField(
        label=_("Criminal predicate"), widget=forms.Textarea(attrs={"rows": 2}),
        min_length=MIN_PREDICATE,
        help_text=_("The criminal activity reasonably suspected (28 CFR Part 23)."),
    )  # fmt: skip
    justification = forms.CharField(
        label=_("Justification"), widget=forms.Textarea(attrs={"rows": 4}),
        min_length=MIN_JUSTIFICATION,
        help_text=_("Why this investigation needs public posts. It is recorded with every "
                    "view, search and export of the case."),
    )  # fmt: skip


class CaseDecisionForm(forms.Form):
    note = forms.CharField(label=_("Note (required to refuse)"), max_length=500, required=False)


class AccountRequestForm(forms.Form):
    network = forms.ChoiceField(
        label=_("Network"),
        choices=[(n.value, n.label) for n in SourceKind if n in ACCOUNT_NETWORKS],
    )
    handle = forms.CharField(label=_("Account"), max_length=300)
    justification = forms.CharField(
        label=_("Why this account"), widget=forms.Textarea(attrs={"rows": 2}), min_length=20
    )


class WitnessSearchForm(forms.Form):
    lat = forms.FloatField(label=_("Incident latitude"), min_value=-90, max_value=90)
    lon = forms.FloatField(label=_("Incident longitude"), min_value=-180, max_value=180)
    at = forms.DateTimeField(
        label=_("Incident time"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    radius_m = forms.IntegerField(label=_("Radius (metres)"), min_value=1, max_value=100_000)
    hours = forms.FloatField(label=_("Hours either side"), min_value=0.1, max_value=24 * 365)
    justification = forms.CharField(
        label=_("Why this search"), widget=forms.Textarea(attrs={"rows": 2}), min_length=20
    )


class ShareForm(forms.Form):
    recipient = forms.CharField(label=_("Recipient outside the agency"), max_length=200)
    purpose = forms.CharField(
        label=_("Purpose"), widget=forms.Textarea(attrs={"rows": 2}), min_length=20
    )
    items = forms.TypedMultipleChoiceField(
        label=_("Items to share"), coerce=int, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, item_choices: list[tuple[int, str]], **kwargs: object
                 ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["items"].choices = item_choices  # type: ignore[attr-defined]


class CloseForm(forms.Form):
    reason = forms.CharField(label=_("Why the case closes"), max_length=500, min_length=10)
