"""Alert templates: prepared messages a composer starts from, with ``{placeholders}``.

A placeholder is a lower-case name in braces (``{location}``, ``{suspect}``); filling a
template replaces each by the value given, as plain text. Nothing else in braces is allowed,
so a template can never reach into Python's formatting machinery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from watchhouse.accounts.roles import require_role
from watchhouse.alerts.models import AlertTemplate
from watchhouse.alerts.policy import COMPOSER_ROLES, POLICY
from watchhouse.alerts.services import AlertFields, AlertRefusedError, fields_problems
from watchhouse.alerts.validation import language_names
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

TEXT_FIELDS = ("headline", "description", "instruction", "sms_text", "wea_short", "wea_long")
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,39})\}")
_BRACES = re.compile(r"\{[^{}]*\}?|\}")
# Longest an alert made from a template may run by default, in hours (30 days).
MAX_EXPIRES_HOURS = 720


@dataclass(frozen=True)
class TemplateFields:
    """The message-wide fields of a template."""

    name: str
    category: str
    event: str
    urgency: str
    severity: str
    certainty: str
    cap_category: str = "Security"
    response_type: str = ""
    same_code: str = ""
    expires_hours: int = 4


def placeholders(texts: dict[str, dict[str, str]]) -> list[str]:
    """The placeholder names the texts use, in order of first use."""
    names: list[str] = []
    for language_texts in texts.values():
        for field in TEXT_FIELDS:
            for name in PLACEHOLDER.findall(language_texts.get(field, "")):
                if name not in names:
                    names.append(name)
    return names


def texts_problems(texts: dict[str, dict[str, str]]) -> list[str]:
    """What is wrong with a template's texts (empty when nothing is)."""
    if not texts:
        return ["A template needs its texts in at least one language."]
    problems = []
    known = language_names()
    for language, values in texts.items():
        if language not in known:
            problems.append(f"Unknown language {language!r}.")
            continue
        for field in ("headline", "description"):
            if not str(values.get(field, "")).strip():
                problems.append(f"{known[language]}: the {field} is empty.")
        for field in TEXT_FIELDS:
            for bad in _BRACES.findall(PLACEHOLDER.sub("", str(values.get(field, "")))):
                problems.append(
                    f"{known[language]}: {bad!r} in the {field.replace('_', ' ')} is not a "
                    "placeholder; write one as a lower-case name in braces, like {location}."
                )
    return problems


def alert_template_list() -> QuerySet[AlertTemplate]:
    """Every template, by name."""
    return AlertTemplate.objects.order_by("name")


def alert_template_save(
    *,
    actor: User | None,
    fields: TemplateFields,
    texts: dict[str, dict[str, str]],
    template: AlertTemplate | None = None,
) -> AlertTemplate:
    """Create (or, given ``template``, change) a template; refuses with every problem.

    The actor must be allowed to issue the template's category (``None``: the command line
    or the demo)."""
    if actor is not None:
        roles = POLICY[fields.category].issuers if fields.category in POLICY else COMPOSER_ROLES
        require_role(actor, *roles, action="write templates of this category")
    problems = []
    if not fields.name.strip():
        problems.append("Give the template a name.")
    if not 1 <= fields.expires_hours <= MAX_EXPIRES_HOURS:
        problems.append(f"Alerts from a template run 1 to {MAX_EXPIRES_HOURS} hours.")
    check = AlertFields(
        category=fields.category, event=fields.event, urgency=fields.urgency,
        severity=fields.severity, certainty=fields.certainty,
        expires=timezone.now() + timedelta(hours=1), cap_category=fields.cap_category,
        response_type=fields.response_type, same_code=fields.same_code,
    )  # fmt: skip
    problems += fields_problems(check) + texts_problems(texts)
    duplicate = AlertTemplate.objects.filter(name=fields.name.strip())
    if template is not None:
        duplicate = duplicate.exclude(pk=template.pk)
    if duplicate.exists():
        problems.append(f"There is a template called {fields.name.strip()!r} already.")
    if problems:
        raise AlertRefusedError(problems)
    clean = {
        language: {f: str(values.get(f, "")).strip() for f in TEXT_FIELDS}
        for language, values in texts.items()
    }
    with transaction.atomic():
        template = template or AlertTemplate(created_by=actor)
        for name, value in vars(fields).items():
            setattr(template, name, value.strip() if isinstance(value, str) else value)
        template.same_code = template.same_code.upper()
        template.texts = clean
        template.save()
        audit_record(
            actor=actor,
            action="alerts.template_save",
            obj=template,
            data={"name": template.name, "languages": sorted(clean)},
        )
    return template


def template_fill(template: AlertTemplate, values: dict[str, str]) -> dict[str, dict[str, str]]:
    """The template's texts with every placeholder replaced; raises InvalidInputError naming
    the placeholders that have no value."""
    missing = [n for n in placeholders(template.texts) if not str(values.get(n, "")).strip()]
    if missing:
        raise InvalidInputError("Fill in: " + ", ".join(n.replace("_", " ") for n in missing) + ".")

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]).strip(), text)

    return {
        language: {f: fill(texts.get(f, "")) for f in TEXT_FIELDS}
        for language, texts in template.texts.items()
    }


def template_initial(template: AlertTemplate, values: dict[str, str]) -> dict[str, Any]:
    """The composer's starting values for an alert made from ``template``."""
    initial: dict[str, Any] = {
        name: getattr(template, name)
        for name in ("category", "event", "cap_category", "urgency", "severity", "certainty",
                     "response_type", "same_code")
    }  # fmt: skip
    initial["expires"] = timezone.localtime(
        timezone.now() + timedelta(hours=template.expires_hours)
    ).replace(second=0, microsecond=0)
    for language, texts in template_fill(template, values).items():
        for field, text in texts.items():
            initial[f"{language}_{field}"] = text
    return initial


DEMO_TEMPLATES: list[tuple[TemplateFields, dict[str, dict[str, str]]]] = [
    (
        TemplateFields(
            name="Armed robbery — shelter in place", category="alert", event="Armed robbery",
            urgency="Immediate", severity="Severe", certainty="Observed",
            response_type="Shelter", same_code="LAE", expires_hours=2,
        ),
        {
            "en": {
                "headline": "Armed robbery near {location}: stay inside",
                "description": "An armed robbery happened near {location}. The suspect: "
                "{suspect}. Police are searching the area.",
                "instruction": "Stay indoors and lock your doors. Call 911 with any sighting; "
                "do not approach.",
                "sms_text": "ALERT: Armed robbery near {location}. Stay inside. Call 911 with "
                "sightings.",
                "wea_short": "Armed suspect near {location}. Stay inside.",
            },
            "es": {
                "headline": "Robo a mano armada cerca de {location}: quédese adentro",
                "description": "Hubo un robo a mano armada cerca de {location}. El "
                "sospechoso: {suspect}. La policía busca en la zona.",
                "instruction": "Quédese adentro y cierre las puertas. Llame al 911.",
                "sms_text": "ALERTA: Robo armado cerca de {location}. Quedese adentro.",
            },
        },
    ),
    (
        TemplateFields(
            name="Missing child", category="alert", event="Missing child",
            urgency="Immediate", severity="Severe", certainty="Observed",
            response_type="Monitor", same_code="CAE", expires_hours=12,
        ),
        {
            "en": {
                "headline": "Missing child: {name}, last seen near {location}",
                "description": "{name}, {description}, was last seen near {location} at "
                "{time}.",
                "instruction": "If you see {name}, call 911 at once and stay with the child "
                "if it is safe.",
                "sms_text": "MISSING CHILD: {name}, last seen near {location}. Call 911.",
            },
        },
    ),
    (
        TemplateFields(
            name="Road closure", category="traffic", event="Road closure",
            urgency="Expected", severity="Minor", certainty="Observed",
            cap_category="Transport", response_type="Avoid", expires_hours=6,
        ),
        {
            "en": {
                "headline": "{road} closed: {reason}",
                "description": "{road} is closed between {from_street} and {to_street} "
                "because of {reason}, until {until}.",
                "instruction": "Use {detour}.",
                "sms_text": "{road} closed {from_street}-{to_street}. Use {detour}.",
            },
        },
    ),
]  # fmt: skip


def demo_load(*, stdout: Any) -> None:
    """Create the demo templates that do not exist yet."""
    made = 0
    for fields, texts in DEMO_TEMPLATES:
        if not AlertTemplate.objects.filter(name=fields.name).exists():
            alert_template_save(actor=None, fields=fields, texts=texts)
            made += 1
    stdout.write(f"Demo alert templates: {made} new of {len(DEMO_TEMPLATES)}.")
