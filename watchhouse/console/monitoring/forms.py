"""The monitoring console's forms: watch rules (with the override request), sources per kind
(plain fields, one item a line, never JSON), landmarks and decisions on approvals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from watchhouse.geo.models import Area
from watchhouse.monitoring.models import Case, CaseState, SourceKind


def lines(text: str) -> list[str]:
    """The non-empty lines of ``text``, stripped, in order, without repeats."""
    seen: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line and line not in seen:
            seen.append(line)
    return seen


def _split(text: str) -> list[str]:
    return lines(text.replace(",", "\n"))


class LinesField(forms.CharField):
    """A textarea read as a list: one item a line."""

    widget = forms.Textarea(attrs={"rows": 4})

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        return lines(super().to_python(value) or "")

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list | tuple) else value


class RuleForm(forms.Form):
    """A watch rule: what, why, where, in which languages, from whom, and until when."""

    name = forms.CharField(label=_("Name"), max_length=120)
    purpose = forms.CharField(
        label=_("Purpose"), widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Why the agency watches for this (shown on the record)."),
    )  # fmt: skip
    phrases = LinesField(
        label=_("Phrases"), required=False,
        help_text=_("One a line; any of them matches (case, accents and look-alike letters are "
                    "ignored)."),
    )  # fmt: skip
    expression = forms.CharField(
        label=_("Expression"), max_length=1000, required=False,
        help_text=_("Optional: fire AND (smoke OR flames) AND NOT drill"),
    )  # fmt: skip
    area = forms.ModelChoiceField(
        label=_("Area"), queryset=Area.objects.none(), required=False,
        empty_label=_("Anywhere"),
    )  # fmt: skip
    lat = forms.FloatField(label=_("Circle centre latitude"), required=False)
    lon = forms.FloatField(label=_("Circle centre longitude"), required=False)
    radius_m = forms.IntegerField(label=_("Circle radius (metres)"), required=False, min_value=1)
    languages = forms.CharField(
        label=_("Languages"), max_length=200, required=False,
        help_text=_("Language codes, comma-separated (en, es); empty: any language."),
    )  # fmt: skip
    authors = LinesField(
        label=_("Accounts"), required=False,
        help_text=_("Only for a watch on named accounts: one handle a line. Needs an open case "
                    "and a second person's approval."),
    )  # fmt: skip
    case = forms.ModelChoiceField(
        label=_("Case"), queryset=Case.objects.none(), required=False, empty_label=_("None"),
    )  # fmt: skip
    min_score = forms.FloatField(
        label=_("Minimum classifier score"), required=False, min_value=0, max_value=1,
        help_text=_("0 to 1; empty: the classifier does not decide."),
    )  # fmt: skip
    starts_at = forms.DateTimeField(
        label=_("Starts"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )  # fmt: skip
    expires_at = forms.DateTimeField(
        label=_("Expires"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Every rule ends; renew it if it is still needed."),
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault(
            "expires_at", (timezone.localtime() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
        )
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = Area.objects.order_by("kind", "name")  # type: ignore[attr-defined]
        self.fields["case"].queryset = Case.objects.filter(state=CaseState.OPEN)  # type: ignore[attr-defined]

    def groups(self) -> list[tuple[Any, list[forms.BoundField]]]:
        """The fields in the fieldsets the page shows."""
        return [
            (_("What and why"), [self[n] for n in ("name", "purpose", "phrases", "expression")]),
            (_("Where, in which languages, from whom"),
             [self[n] for n in ("area", "lat", "lon", "radius_m", "languages", "authors", "case",
                                "min_score")]),
            (_("When"), [self[n] for n in ("starts_at", "expires_at")]),
        ]  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        circle = [data.get("lat"), data.get("lon"), data.get("radius_m")]
        if any(v is not None for v in circle) and not all(v is not None for v in circle):
            raise forms.ValidationError(_("A circle needs a latitude, a longitude and a radius."))
        return data

    def rule_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``rule_create`` (and of the override request)."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "purpose": data["purpose"],
            "phrases": data["phrases"],
            "expression": data["expression"],
            "area_id": data["area"].pk if data.get("area") else None,
            "lat": data.get("lat"),
            "lon": data.get("lon"),
            "radius_m": data.get("radius_m"),
            "languages": tuple(_split(data.get("languages") or "")),
            "authors": tuple(data["authors"]),
            "case_id": data["case"].pk if data.get("case") else None,
            "min_score": data.get("min_score"),
            "starts_at": data.get("starts_at"),
            "expires_at": data["expires_at"],
        }


class OverrideForm(forms.Form):
    """The criminal nexus a supervisor must see before a rule on protected activity runs."""

    nexus = forms.CharField(
        label=_("Criminal nexus"), widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text=_("The criminal activity reasonably suspected that this rule concerns. A "
                    "supervisor decides; the override is counted on the transparency page."),
    )  # fmt: skip


# (field, label, help, kinds) for the source form; list fields are read one item a line.
SOURCE_FIELDS: list[tuple[str, Any, Any, tuple[str, ...], bool]] = [
    ("urls", _("Feed addresses"), _("One RSS or Atom feed URL a line."), (SourceKind.RSS,),
     True),
    ("endpoint", _("Jetstream endpoint"),
     _("wss://jetstream2.us-east.bsky.network/subscribe or your own."),
     (SourceKind.JETSTREAM,), False),
    ("collections", _("Collections"), _("One a line; empty: app.bsky.feed.post."),
     (SourceKind.JETSTREAM,), True),
    ("dids", _("Account DIDs"), _("One a line (did:plc:…); empty: every public post."),
     (SourceKind.JETSTREAM,), True),
    ("accounts", _("Accounts to follow"), _("One a line: user@server."),
     (SourceKind.FEDIVERSE,), True),
    ("relays", _("Relays to subscribe to"), _("One a line: the relay's actor or inbox URL."),
     (SourceKind.FEDIVERSE,), True),
    ("hashtags", _("Hashtags"), _("One a line, without #."), (SourceKind.FEDIVERSE,), True),
    ("path", _("File"), _("A JSONL or CSV file on the server."), (SourceKind.FILE,), False),
]  # fmt: skip


class SourceForm(forms.Form):
    """A source of one kind with only that kind's fields; lists are one item a line."""

    name = forms.CharField(label=_("Name"), max_length=100)
    enabled = forms.BooleanField(label=_("Switched on"), required=False)

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kind not in SourceKind.values:
            raise ValueError(f"No source form for kind {kind!r}.")
        self.kind = kind
        for name, label, help_text, kinds, many in SOURCE_FIELDS:
            if kind not in kinds:
                continue
            if many:
                self.fields[name] = LinesField(label=label, help_text=help_text, required=False)
            else:
                self.fields[name] = forms.CharField(
                    label=label, help_text=help_text, max_length=500, required=False
                )

    @property
    def kind_label(self) -> str:
        return str(SourceKind(self.kind).label)

    def config(self) -> dict[str, Any]:
        """The connector's configuration from the kind's fields (empty ones left out)."""
        return {
            name: self.cleaned_data[name]
            for name, *_rest in SOURCE_FIELDS
            if name in self.cleaned_data and self.cleaned_data[name] not in ("", [])
        }


def source_initial(source: Any) -> dict[str, Any]:
    """The form's starting values for an existing source."""
    initial: dict[str, Any] = {"name": source.name, "enabled": source.enabled}
    for name, *_rest in SOURCE_FIELDS:
        if name in source.config:
            initial[name] = source.config[name]
    return initial


class LandmarkForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    aliases = LinesField(label=_("Other names"), required=False, help_text=_("One a line."))
    lat = forms.FloatField(label=_("Latitude"), min_value=-90, max_value=90)
    lon = forms.FloatField(label=_("Longitude"), min_value=-180, max_value=180)


class DecisionForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), max_length=500, required=False,
        help_text=_("Required when refusing: say why."),
    )  # fmt: skip
