"""Alert templates: creating one (placeholders checked), the demo templates, and using one
in the console to open a filled-in composer that saves a draft."""

from __future__ import annotations

from io import StringIO
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from watchhouse.alerts.models import Alert, AlertTemplate
from watchhouse.alerts.services import AlertRefusedError
from watchhouse.alerts.templating import (
    DEMO_TEMPLATES,
    TemplateFields,
    alert_template_save,
    demo_load,
    placeholders,
    template_fill,
)
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError

pytestmark = pytest.mark.django_db

FIELDS = TemplateFields(
    name="Gas leak", category="advisory", event="Gas leak", urgency="Immediate",
    severity="Severe", certainty="Observed", cap_category="Safety", response_type="Evacuate",
)  # fmt: skip
TEXTS = {"en": {"headline": "Gas leak at {location}",
                "description": "A gas main broke at {location}. Crews expect {duration}.",
                "sms_text": "Gas leak at {location}: keep away."}}  # fmt: skip


def test_save_checks_texts_roles_and_names(make_staff):
    pio = make_staff("pio")
    template = alert_template_save(actor=pio, fields=FIELDS, texts=TEXTS)
    assert placeholders(template.texts) == ["location", "duration"]
    assert AuditEntry.objects.get(action="alerts.template_save").data["name"] == "Gas leak"
    with pytest.raises(AlertRefusedError) as refused:
        alert_template_save(
            actor=pio, fields=FIELDS,
            texts={"en": {"headline": "At {Location} {0.__class__}", "description": ""},
                   "xx": {"headline": "?"}},
        )  # fmt: skip
    problems = " ".join(refused.value.problems)
    assert "'{Location}'" in problems and "'{0.__class__}'" in problems
    assert "description is empty" in problems and "Unknown language 'xx'" in problems
    assert "already" in problems
    with pytest.raises(NotPermittedError):
        alert_template_save(actor=pio, fields=FIELDS.__class__(**{**vars(FIELDS),
                            "name": "Alert one", "category": "alert"}), texts=TEXTS)  # fmt: skip
    assert AlertTemplate.objects.count() == 1


def test_fill_replaces_placeholders_as_text(make_staff):
    template = alert_template_save(actor=None, fields=FIELDS, texts=TEXTS)
    with pytest.raises(InvalidInputError, match="Fill in: duration"):
        template_fill(template, {"location": "Elm St"})
    filled = template_fill(template, {"location": "Elm & 5th {duration}", "duration": "2 hours"})
    assert filled["en"]["headline"] == "Gas leak at Elm & 5th {duration}"
    assert filled["en"]["description"].endswith("Crews expect 2 hours.")


def test_demo_templates_load_once():
    out = StringIO()
    demo_load(stdout=out)
    demo_load(stdout=out)
    names = set(AlertTemplate.objects.values_list("name", flat=True))
    assert names == {"Armed robbery — shelter in place", "Missing child", "Road closure"}
    assert len(DEMO_TEMPLATES) == 3
    robbery = AlertTemplate.objects.get(name__startswith="Armed robbery")
    assert set(robbery.texts) == {"en", "es"}
    assert placeholders(robbery.texts) == ["location", "suspect"]


def test_console_creates_and_uses_a_template(client, make_staff):
    dispatcher = make_staff("dispatcher")
    client.force_login(dispatcher)
    assert client.get(reverse("console:alert_templates")).status_code == 200
    form = {"name": "Gas leak", "category": "advisory", "event": "Gas leak",
            "cap_category": "Safety", "urgency": "Immediate", "severity": "Severe",
            "certainty": "Observed", "response_type": "Evacuate", "expires_hours": "3",
            "en_headline": TEXTS["en"]["headline"], "en_description": TEXTS["en"]["description"],
            "en_sms_text": TEXTS["en"]["sms_text"]}  # fmt: skip
    bad = client.post(reverse("console:alert_template_new"), {**form, "en_headline": "At {x.y}"})
    assert bad.status_code == 400 and "is not a placeholder" in bad.content.decode()
    saved = client.post(reverse("console:alert_template_new"), form)
    assert saved.status_code == 302
    template = AlertTemplate.objects.get()
    listing = client.get(reverse("console:alert_templates")).content.decode()
    assert "Gas leak" in listing
    use = reverse("console:alert_template_use", kwargs={"pk": template.pk})
    asking = client.get(use)
    assert 'name="location"' in asking.content.decode()
    assert 'name="duration"' in asking.content.decode()
    values = {"location": "Elm <b>St</b>", "duration": "two hours"}
    composer = client.get(f"{use}?{urlencode(values)}")
    text = composer.content.decode()
    assert composer.status_code == 200
    assert "Gas leak at Elm &lt;b&gt;St&lt;/b&gt;" in text and "<b>St</b>" not in text
    composed = {
        **{k: v for k, v in composer.context["form"].initial.items() if isinstance(v, str)},
        "expires": composer.context["form"].initial["expires"].strftime("%Y-%m-%dT%H:%M"),
        "circle_lat": "39.955", "circle_lon": "-89.355", "circle_radius_m": "500",
        "save": "1",
    }  # fmt: skip
    draft = client.post(f"{use}?{urlencode(values)}", composed)
    alert = Alert.objects.get()
    assert draft.url == reverse("console:alert_detail", kwargs={"pk": alert.pk})
    assert alert.state == "draft" and alert.response_type == "Evacuate"
    assert alert.infos.get().headline == "Gas leak at Elm <b>St</b>"
    client.force_login(make_staff("analyst"))
    assert client.get(use).status_code == 403
