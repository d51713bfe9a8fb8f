"""The tips desk in the console: inbox filters and search, the audited tip page, actions,
evidence downloads and export, templates, rewards and the report; other roles kept out."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from django.urls import reverse

from tests.tips.conftest import jpeg_with_gps, sealed_path
from watchhouse.audit.models import AuditEntry
from watchhouse.core import crypto
from watchhouse.posts.storage import private_path
from watchhouse.tips.models import QuestionTemplate, Tip, TipFile
from watchhouse.tips.services import work
from watchhouse.tips.services.intake import tipster_dialogue_read, tipster_reply

pytestmark = pytest.mark.django_db


def _codes(response) -> set[str]:
    text = response.content.decode()
    return {tip.code for tip in Tip.objects.all() if tip.code in text}


def test_inbox_filters_and_sealed_text_search(client, submit, investigator, make_staff) -> None:
    van = submit(what="A blue VAN idles outside the school").tip
    bike = submit(what="Stolen bike resold on Elm").tip
    quiet = submit(what="Noise at night").tip
    work.tip_link_add(actor=investigator, tip=bike, case_number="26-00777")
    work.tip_assign(actor=investigator, tip=bike, assignee=investigator)
    tipster_reply(tip=quiet, body="The car was a red sedan")
    client.force_login(investigator)
    url = reverse("console:tips")

    everything = client.get(url)
    assert everything.status_code == 200 and _codes(everything) == {van.code, bike.code, quiet.code}
    assert "New answer" in everything.content.decode()
    assert _codes(client.get(url, {"q": "blue van"})) == {van.code}
    assert _codes(client.get(url, {"q": "red sedan"})) == {quiet.code}  # a message body
    assert _codes(client.get(url, {"q": "26-00777"})) == {bike.code}  # a case number
    assert _codes(client.get(url, {"q": bike.code[-4:]})) == {bike.code}
    assert _codes(client.get(url, {"state": "assigned"})) == {bike.code}
    assert _codes(client.get(url, {"assignee": "mine"})) == {bike.code}
    assert _codes(client.get(url, {"assignee": "unassigned"})) == {van.code, quiet.code}
    assert _codes(client.get(url, {"unread": "on"})) == {quiet.code}
    assert _codes(client.get(url, {"q": "nothing like this"})) == set()


def test_tip_page_shows_the_tip_and_audits_each_open(client, submit, investigator) -> None:
    tip = submit(what="Saw <b>him</b> at the depot", contact="sam@example.org").tip
    client.force_login(investigator)
    url = reverse("console:tip", args=[tip.pk])
    first = client.get(url)
    text = first.content.decode()
    assert first.status_code == 200
    assert "Saw &lt;b&gt;him&lt;/b&gt; at the depot" in text and "sam@example.org" in text
    client.get(url)
    reads = AuditEntry.objects.filter(action="tips.read", object_id=str(tip.pk))
    assert reads.count() == 2 and {e.actor_label for e in reads} == {"det.rivera"}


def test_actions_change_the_tip_and_refusals_change_nothing(
    client, submit, investigator, make_staff
) -> None:
    tip = submit().tip
    other = make_staff("investigator", username="det.chen")
    client.force_login(investigator)

    def act(action: str, **data: str):
        return client.post(reverse("console:tip_act", args=[tip.pk, action]), data, follow=True)

    act("triage", priority="3")
    act("assign", assignee=str(other.pk))
    tip.refresh_from_db()
    assert (tip.state, tip.priority, tip.assignee) == ("assigned", 3, other)
    refused = act("reopen")
    assert "Only a closed tip can be reopened." in refused.content.decode()
    act("message", body="Which way did he go?")
    act("note", body="Check the CCTV")
    act("close", outcome="useful")
    tip.refresh_from_db()
    assert (tip.state, tip.outcome) == ("closed", "useful")
    assert [m.read_body() for m in tipster_dialogue_read(tip=tip)] == ["Which way did he go?"]
    wrong = act("merge", into="ZZZZ-ZZZZ-ZZZZ")
    assert "No tip has that code." in wrong.content.decode()
    tip.refresh_from_db()
    assert tip.merged_into is None


def test_template_fills_the_message_without_javascript(client, submit, investigator) -> None:
    tip = submit().tip
    template = QuestionTemplate.objects.create(title="Vehicle", body="What was the plate?")
    client.force_login(investigator)
    page = client.get(reverse("console:tip", args=[tip.pk]), {"template": template.pk})
    assert ">What was the plate?</textarea>" in page.content.decode()
    client.post(reverse("console:tip_templates"), {"create": "1", "title": "Time", "body": "When?"})
    assert QuestionTemplate.objects.filter(title="Time", active=True).exists()


@pytest.mark.parametrize("role", ["analyst", "pio", "dispatcher"])
def test_other_roles_get_forbidden(client, submit, make_staff, role, tmp_path) -> None:
    tip = submit(files=[sealed_path(jpeg_with_gps(tmp_path / "p.jpg"))]).tip
    file = TipFile.objects.get(tip=tip)
    client.force_login(make_staff(role))
    pages = [
        client.get(reverse("console:tips")),
        client.get(reverse("console:tip", args=[tip.pk])),
        client.post(reverse("console:tip_act", args=[tip.pk, "triage"])),
        client.post(reverse("console:tip_export", args=[tip.pk]), {"reason": "x"}),
        client.post(reverse("console:tip_file_original", args=[file.pk]), {"reason": "x"}),
        client.get(reverse("console:tip_file_preview", args=[file.pk])),
        client.get(reverse("console:tip_file_metadata", args=[file.pk])),
        client.get(reverse("console:tips_report")),
        client.get(reverse("console:tip_reward_claim")),
    ]
    assert [p.status_code for p in pages] == [403] * len(pages)
    tip.refresh_from_db()
    assert tip.state == "new"
    assert not AuditEntry.objects.filter(actor__isnull=False).exists()


def test_export_download_is_a_valid_zip(client, submit, investigator, tmp_path) -> None:
    photo = jpeg_with_gps(tmp_path / "p.jpg")
    tip = submit(files=[sealed_path(photo)]).tip
    client.force_login(investigator)
    url = reverse("console:tip_export", args=[tip.pk])
    missing = client.post(url, {"reason": ""}, follow=True)
    assert "Say why you export the evidence" in missing.content.decode()
    assert not AuditEntry.objects.filter(action="tips.export").exists()
    response = client.post(url, {"reason": "For the DA"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert f"tip-{tip.code}-evidence.zip" in response["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        assert zf.testzip() is None
        original = next(n for n in zf.namelist() if n.startswith("originals/"))
        assert zf.read(original) == photo.read_bytes()
        assert {"manifest.json", "manifest.csv", "tip.txt"} <= set(zf.namelist())


def test_original_download_and_preview(client, submit, investigator, tmp_path) -> None:
    from PIL import Image

    photo = jpeg_with_gps(tmp_path / "p.jpg")
    tip = submit(files=[sealed_path(photo)]).tip
    file = TipFile.objects.get(tip=tip)
    client.force_login(investigator)
    original = reverse("console:tip_file_original", args=[file.pk])
    assert "Say why" in client.post(original, {"reason": ""}, follow=True).content.decode()
    response = client.post(original, {"reason": "Enhance"})
    data = b"".join(response.streaming_content)
    assert hashlib.sha256(data).hexdigest() == file.sha256
    assert "attachment" in response["Content-Disposition"]

    preview = reverse("console:tip_file_preview", args=[file.pk])
    assert client.get(preview).status_code == 404
    small = tmp_path / "small.jpg"
    Image.new("RGB", (32, 24)).save(small, "JPEG")
    relative = f"tips/previews/{tip.code}/{file.pk}"
    sealed = crypto.seal_file(private_path(relative), [small.read_bytes()])
    TipFile.objects.filter(pk=file.pk).update(
        preview_path=relative, preview_key=sealed.wrapped_key, preview_mime="image/jpeg"
    )
    shown = client.get(preview)
    assert shown["Content-Type"] == "image/jpeg"
    assert b"".join(shown.streaming_content) == small.read_bytes()
    page = client.get(reverse("console:tip", args=[tip.pk])).content.decode()
    assert f'<img src="{preview}"' in page
    actions = set(
        AuditEntry.objects.filter(object_type="tips.tipfile").values_list("action", flat=True)
    )
    assert actions == {"tips.file_download", "tips.file_view"}


def test_reward_approve_then_claim_by_a_supervisor(
    client, submit, investigator, supervisor
) -> None:
    tip = submit(contact="ask for Sam").tip
    client.force_login(investigator)
    client.post(
        reverse("console:tip_act", args=[tip.pk, "reward"]),
        {"amount": "500", "instructions": "Call 555-0100 and give the code."},
    )
    page = client.get(reverse("console:tip", args=[tip.pk])).content.decode()
    assert "R-****-****-****" in page and not work.REWARD_CODE.search(page)
    code = work.REWARD_CODE.search(tipster_dialogue_read(tip=tip)[0].read_body()).group(0)  # type: ignore[union-attr]
    client.force_login(supervisor)
    claimed = client.post(reverse("console:tip_reward_claim"), {"code": code})
    text = claimed.content.decode()
    assert claimed.status_code == 200 and "500.00" in text and tip.code in text
    assert "Sam" not in text
    again = client.post(reverse("console:tip_reward_claim"), {"code": code})
    assert again.status_code == 400 and "already paid" in again.content.decode()


def test_report_and_section(client, submit, investigator) -> None:
    submit()
    client.force_login(investigator)
    report = client.get(reverse("console:tips_report"))
    assert report.status_code == 200 and "Still untriaged" in report.content.decode()
    home = client.get(reverse("console:home")).content.decode()
    assert reverse("console:tips") in home


def test_inbox_queries_do_not_grow_with_the_number_of_tips(
    client, submit, investigator, tmp_path
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(investigator)
    photo = jpeg_with_gps(tmp_path / "p.jpg")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("console:tips")).status_code == 200
        return len(queries)

    submit(files=[sealed_path(photo)])
    few = count()
    for _ in range(5):
        tip = submit(files=[sealed_path(photo)]).tip
        work.tip_assign(actor=investigator, tip=tip, assignee=investigator)
    assert count() == few
