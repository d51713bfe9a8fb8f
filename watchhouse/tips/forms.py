"""The tipster's forms: a tip, the tip code and passphrase, an answer.

Files are not form fields: the views take them from ``request.FILES`` as the sealing upload
handler left them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from watchhouse.tips.services.intake import MAX_TEXT

# Attributes that keep phones from "correcting" or remembering codes and passphrases.
_SECRET_ATTRS = {
    "autocomplete": "off",
    "autocapitalize": "none",
    "autocorrect": "off",
    "spellcheck": "false",
}


class TipForm(forms.Form):
    """What a tipster tells: what, where, when, what it is about, how to reach them."""

    what = forms.CharField(
        label=_("What happened?"),
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("As much as you remember: who, what, vehicles, clothing, names."),
    )
    where = forms.CharField(
        label=_("Where?"),
        required=False,
        max_length=1000,
        help_text=_("An address, a corner, or a description of the place."),
    )
    where_unknown = forms.BooleanField(label=_("I don't know where"), required=False)
    lat = forms.FloatField(
        label=_("Latitude"),
        required=False,
        min_value=-90,
        max_value=90,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    lon = forms.FloatField(
        label=_("Longitude"),
        required=False,
        min_value=-180,
        max_value=180,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    when = forms.CharField(
        label=_("When?"),
        required=False,
        max_length=200,
        help_text=_("A date and time, or words such as 'last Friday around 9 pm'."),
    )
    appeal = forms.IntegerField(required=False, widget=forms.HiddenInput)
    reference = forms.CharField(
        label=_("Case number or reference, if you know one"),
        required=False,
        max_length=200,
    )
    give_contact = forms.BooleanField(
        label=_("I want to give contact details"),
        required=False,
    )
    contact = forms.CharField(
        label=_("How we can reach you"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("A name, phone number or e-mail address: only what you are comfortable with."),
    )
    passphrase = forms.CharField(
        label=_("Your own passphrase (optional)"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs=_SECRET_ATTRS),
        help_text=_(
            "At least 10 characters. Leave it empty and you will be given one. With your tip "
            "code it lets you come back to read our questions."
        ),
    )
    wants_reward = forms.BooleanField(label=_("I may want a reward"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        """Drop the place when the tipster does not know it, and the contact details unless
        they chose to give them; a map point needs both coordinates."""
        data = super().clean() or {}
        if data.get("where_unknown"):
            data.update(where="", lat=None, lon=None)
        if (data.get("lat") is None) != (data.get("lon") is None):
            self.add_error("lon", _("Give both latitude and longitude, or leave both empty."))
        if not data.get("give_contact"):
            data["contact"] = ""
        return data


class StatusForm(forms.Form):
    """The tip code and passphrase a tipster was given."""

    code = forms.CharField(
        label=_("Tip code"),
        max_length=40,
        widget=forms.TextInput(attrs=_SECRET_ATTRS),
    )
    passphrase = forms.CharField(
        label=_("Passphrase"),
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(attrs=_SECRET_ATTRS),
    )


class ReplyForm(forms.Form):
    """The tipster's answer to the department."""

    body = forms.CharField(
        label=_("Your answer"),
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
