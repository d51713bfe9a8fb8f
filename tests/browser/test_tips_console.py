"""An investigator works a tip in the console: sign in with the second factor, find the tip
in the inbox, triage it, and ask the tipster a question from a template."""

from __future__ import annotations

from django.urls import reverse
from playwright.sync_api import expect

from watchhouse.accounts.roles import Role
from watchhouse.accounts.services import totp_device_create
from watchhouse.audit.models import AuditEntry
from watchhouse.tips.models import QuestionTemplate, Tip
from watchhouse.tips.services.intake import tip_submit, tipster_dialogue_read


def test_investigator_triages_a_tip_and_asks_from_a_template(page, make_staff, sign_in, settings):
    settings.WATCHHOUSE_MFA_REQUIRED = True
    receipt = tip_submit(what="A grey pickup drops boxes behind the pharmacy every night.")
    QuestionTemplate.objects.create(title="Vehicle", body="Did you see the licence plate?")
    detective = make_staff(Role.INVESTIGATOR, username="det.rivera")
    sign_in(page, detective, totp_device_create(actor=None, user=detective))

    page.get_by_role("link", name="Tips").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tips")
    page.get_by_label("Search").fill("grey pickup")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name=receipt.code).click()
    expect(page.locator("main")).to_contain_text("behind the pharmacy")

    page.get_by_label("Priority").first.select_option(label="High")
    page.get_by_role("button", name="Triage").click()
    expect(page.locator("#tip-state")).to_have_text("Triaged")

    page.get_by_label("Question template").select_option(label="Vehicle")
    page.get_by_role("button", name="Use template").click()
    body = page.get_by_label("Question or reply to the tipster")
    expect(body).to_have_value("Did you see the licence plate?")
    page.get_by_role("button", name="Send to the tipster").click()
    expect(page.locator("main")).to_contain_text("Sent to the tipster.")

    tip = Tip.objects.get(pk=receipt.tip.pk)
    assert (tip.state, tip.get_priority_display()) == ("triaged", "High")
    assert [m.read_body() for m in tipster_dialogue_read(tip=tip)] == [
        "Did you see the licence plate?"
    ]
    assert AuditEntry.objects.filter(action="tips.read", actor=detective).count() >= 3
    assert reverse("console:tip", args=[tip.pk]) in page.url
