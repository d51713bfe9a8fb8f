"""The console's outlet form (credential fields per network, written only) and the inbox
filters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from watchhouse.alerts.models import Category
from watchhouse.geo.models import Area
from watchhouse.outlets.models import Network, Outlet
from watchhouse.outlets.networks.registry import ACCOUNT_LABELS, CREDENTIAL_FIELDS
from watchhouse.outlets.services.outlets import CROSSPOST_NETWORKS, OutletFields
from watchhouse.posts.models import PostKind

CREDENTIAL_PREFIX = "credential_"


class OutletForm(forms.Form):
    """One outlet of one network. Credential fields never show what is stored: left empty,
    the stored value stays."""

    name = forms.CharField(label=_("Name"), max_length=100)
    account = forms.CharField(label=_("Account"), max_length=200, required=False)
    api_base = forms.URLField(
        label=_("API address"), max_length=300, required=False, assume_scheme="https",
        help_text=_("Leave empty for the network's public service; give your own server's "
                    "address (a Mastodon server, a Bluesky PDS, the partner's webhook)."),
    )  # fmt: skip
    enabled = forms.BooleanField(label=_("Send posts and alerts here"), required=False)
    post_kinds = forms.MultipleChoiceField(
        label=_("Post kinds"), required=False, choices=PostKind.choices,
        widget=forms.CheckboxSelectMultiple, help_text=_("None ticked: every kind."),
    )  # fmt: skip
    alert_categories = forms.MultipleChoiceField(
        label=_("Alert categories"), required=False, choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Alerts go out here only for the categories ticked."),
    )  # fmt: skip

    def __init__(self, *args: Any, network: str, has_credentials: bool = False,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        if network not in CROSSPOST_NETWORKS:
            raise ValueError(f"No outlet form for network {network!r}.")
        self.network = network
        self.fields["account"].label = ACCOUNT_LABELS.get(network, _("Account"))
        keep = _("Stored; leave empty to keep it.") if has_credentials else ""
        for name, label in CREDENTIAL_FIELDS.get(network, []):
            self.fields[CREDENTIAL_PREFIX + name] = forms.CharField(
                label=label, required=False, max_length=4000, strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                help_text=keep,
            )  # fmt: skip

    @property
    def network_label(self) -> str:
        return str(Network(self.network).label)

    def credential_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.fields if n.startswith(CREDENTIAL_PREFIX)]

    def plain_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.fields if not n.startswith(CREDENTIAL_PREFIX)]

    def outlet_fields(self) -> OutletFields:
        data = self.cleaned_data
        return OutletFields(
            network=self.network,
            name=data["name"],
            account=data.get("account") or "",
            api_base=data.get("api_base") or "",
            enabled=bool(data.get("enabled")),
            post_kinds=tuple(data.get("post_kinds") or ()),
            alert_categories=tuple(data.get("alert_categories") or ()),
            credentials={
                n.removeprefix(CREDENTIAL_PREFIX): v
                for n, v in data.items()
                if n.startswith(CREDENTIAL_PREFIX) and v
            },
        )


def outlet_initial(outlet: Outlet) -> dict[str, Any]:
    """The form's values for ``outlet`` (never its credentials)."""
    return {
        "name": outlet.name,
        "account": outlet.account,
        "api_base": outlet.api_base,
        "enabled": outlet.enabled,
        "post_kinds": list(outlet.post_kinds or []),
        "alert_categories": list(outlet.alert_categories or []),
    }


class InboxFilterForm(forms.Form):
    """The inbox's filters (GET; every field optional)."""

    network = forms.ChoiceField(
        label=_("Network"), required=False, choices=[("", _("Any")), *Network.choices]
    )
    post = forms.IntegerField(label=_("Post number"), required=False, min_value=1)

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {"network": data.get("network") or "", "post_id": data.get("post")}


class AreaActorForm(forms.Form):
    """Give an area (a neighbourhood, a beat, a district) its own fediverse account."""

    area = forms.ModelChoiceField(label=_("Area"), queryset=Area.objects.order_by("kind", "name"))
    username = forms.SlugField(
        label=_("Account name"), max_length=60, required=False,
        help_text=_("Followed as @name@this site; empty: the area's short name."),
    )  # fmt: skip
    alert_categories = forms.MultipleChoiceField(
        label=_("Alert categories"), required=False, choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Alerts of these categories are posted by this account too."),
    )  # fmt: skip
