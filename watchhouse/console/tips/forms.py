"""Forms of the tips console: inbox filters, and the inputs of each action on a tip."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import Role
from watchhouse.tips.models import TipChannel, TipPriority
from watchhouse.tips.selectors import MINE, UNASSIGNED, TipFilters
from watchhouse.tips.states import TipOutcome, TipState


def investigators() -> list[User]:
    """Active staff who can be given tips."""
    return list(
        User.objects.filter(
            is_active=True, is_staff=True, role_assignments__role=Role.INVESTIGATOR
        ).distinct()
    )


def _any(choices: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    return [("", _("Any")), *choices]


class TipFilterForm(forms.Form):
    """The inbox's filters and search (a GET form; every field optional)."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    state = forms.ChoiceField(label=_("State"), required=False, choices=_any(TipState.choices))
    outcome = forms.ChoiceField(
        label=_("Outcome"), required=False, choices=_any(TipOutcome.choices)
    )
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=_any(TipPriority.choices),
    )
    assignee = forms.ChoiceField(label=_("Assigned to"), required=False)
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=_any(TipChannel.choices)
    )
    area = forms.IntegerField(label=_("Area id"), required=False, widget=forms.HiddenInput)
    appeal = forms.IntegerField(label=_("Appeal id"), required=False, widget=forms.HiddenInput)
    has_files = forms.ChoiceField(
        label=_("Files"),
        required=False,
        choices=[("", _("Any")), ("yes", _("With files")), ("no", _("Without files"))],
    )
    unread = forms.BooleanField(label=_("Unread answers only"), required=False)
    received_from = forms.DateField(
        label=_("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    received_to = forms.DateField(
        label=_("Received to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [  # type: ignore[attr-defined]
            ("", _("Anyone")),
            (MINE, _("Me")),
            (UNASSIGNED, _("Nobody")),
            *[(str(u.pk), u.get_username()) for u in investigators()],
        ]

    def filters(self) -> TipFilters:
        """The filters asked for (invalid fields are ignored)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        has_files = {"yes": True, "no": False}.get(data.get("has_files") or "")
        return TipFilters(
            state=data.get("state") or "",
            outcome=data.get("outcome") or "",
            priority=data.get("priority"),
            assignee=data.get("assignee") or "",
            channel=data.get("channel") or "",
            area_id=data.get("area"),
            appeal_id=data.get("appeal"),
            has_files=has_files,
            unread=bool(data.get("unread")),
            received_from=data.get("received_from"),
            received_to=data.get("received_to"),
            text=data.get("q") or "",
        )


class QuestionTemplateForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=100)
    body = forms.CharField(
        label=_("Question"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )


class RewardClaimForm(forms.Form):
    code = forms.CharField(label=_("Reward code"), max_length=40)
