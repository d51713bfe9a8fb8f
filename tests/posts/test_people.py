"""Officer profiles and topics: who may keep them, safe HTML from their Markdown, areas,
unique addresses, and an audit entry for each change."""

from __future__ import annotations

import pytest

from tests.alerts.conftest import town_create
from tests.posts.conftest import ready_media
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.posts.models import OfficerProfile, Topic
from watchhouse.posts.services import OfficerFields, officer_create, officer_update, topic_create

pytestmark = pytest.mark.django_db


def _fields(**changes) -> OfficerFields:
    values = {"name": "Officer Dana Cruz", "title": "Patrol officer, Beat 2"}
    values.update(changes)
    return OfficerFields(**values)


def test_an_officer_profile_is_created_with_safe_html_areas_and_an_audit_entry(pio, tmp_path):
    town = town_create(tmp_path)
    photo = ready_media(pio)
    officer = officer_create(
        actor=pio,
        fields=_fields(
            bio="Walks **Old Mill**. <img src=x onerror=alert(1)>",
            achievements="- Medal [link](javascript:alert(1))",
            area_ids=(town["Old Mill"].pk,),
            photo_id=photo.pk,
        ),
    )
    assert officer.slug == "officer-dana-cruz" and officer.photo == photo
    assert "<strong>Old Mill</strong>" in officer.bio_html and "<img" not in officer.bio_html
    assert "href" not in officer.achievements_html
    assert list(officer.areas.all()) == [town["Old Mill"]]
    (entry,) = AuditEntry.objects.filter(action="posts.officer_create")
    assert entry.actor_id == pio.pk and entry.data == {"areas": 1}
    twin = officer_create(actor=pio, fields=_fields())
    assert twin.slug == "officer-dana-cruz-2"


def test_an_officer_update_keeps_the_address(supervisor):
    officer = officer_create(actor=supervisor, fields=_fields())
    officer = officer_update(
        actor=supervisor, officer=officer, fields=_fields(name="Sgt. Dana Cruz", active=False)
    )
    assert officer.name == "Sgt. Dana Cruz" and officer.slug == "officer-dana-cruz"
    assert not officer.active
    assert AuditEntry.objects.filter(action="posts.officer_update").count() == 1


@pytest.mark.parametrize("role", ["dispatcher", "analyst"])
def test_other_roles_cannot_keep_profiles_or_topics(make_staff, supervisor, role):
    actor = make_staff(role)
    with pytest.raises(NotPermittedError):
        officer_create(actor=actor, fields=_fields())
    officer = officer_create(actor=supervisor, fields=_fields())
    with pytest.raises(NotPermittedError):
        officer_update(actor=actor, officer=officer, fields=_fields(name="X"))
    with pytest.raises(NotPermittedError):
        topic_create(actor=actor, name="Road safety")
    assert OfficerProfile.objects.get().name == "Officer Dana Cruz"
    assert not Topic.objects.exists()


def test_bad_officer_fields_are_refused(pio):
    video = ready_media(pio, kind="video")
    with pytest.raises(InvalidInputError):
        officer_create(actor=pio, fields=_fields(name=" ", photo_id=video.pk, area_ids=(999,)))
    assert not OfficerProfile.objects.exists()


def test_topics_have_unique_names_in_any_case(pio):
    topic = topic_create(actor=pio, name="  Road   safety ")
    assert (topic.name, topic.slug) == ("Road safety", "road-safety")
    with pytest.raises(InvalidInputError):
        topic_create(actor=pio, name="ROAD SAFETY")
    assert AuditEntry.objects.filter(action="posts.topic_create").count() == 1
