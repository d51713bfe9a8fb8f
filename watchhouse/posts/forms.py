"""The console's forms for posts, media, officers and topics. They parse what staff typed into
the services' field objects; every rule about what is allowed lives in the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from watchhouse.geo.models import Area
from watchhouse.posts.models import (
    MediaAsset,
    MediaKind,
    MediaRole,
    OfficerProfile,
    Post,
    PostKind,
    Topic,
)
from watchhouse.posts.services import Attachment, OfficerFields, PostFields

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeInput(forms.DateTimeInput):
    """A browser date-and-time picker, in the site's local time."""

    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=DATETIME_FORMAT, **kwargs)


def _when(required: bool = False, label: Any = None, help_text: Any = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        required=required,
        label=label,
        help_text=help_text,
        widget=LocalDateTimeInput(),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M"],
    )


class MediaChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"#{obj.pk} {obj.original_name or obj.kind} ({obj.get_status_display()})"


class MediaChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"#{obj.pk} {obj.original_name or obj.kind} ({obj.get_status_display()})"


class PostForm(forms.Form):
    """A post of any kind; fields marked with ``kinds`` only matter to those kinds."""

    kind = forms.ChoiceField(label=_("Kind"), choices=PostKind.choices)
    title = forms.CharField(label=_("Title"), max_length=200)
    summary = forms.CharField(
        label=_("Summary"),
        max_length=300,
        required=False,
        help_text=_("For cards, feeds and link previews."),
    )
    body = forms.CharField(
        label=_("Text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text=_("Markdown: **bold**, *italic*, [link](https://…), lists and tables."),
    )
    language = forms.ChoiceField(label=_("Language"), choices=())
    areas = forms.ModelMultipleChoiceField(
        label=_("Areas"), queryset=Area.objects.none(), required=False
    )
    topics = forms.ModelMultipleChoiceField(
        label=_("Topics"), queryset=Topic.objects.none(), required=False
    )
    officer = forms.ModelChoiceField(
        label=_("Officer (spotlight)"), queryset=OfficerProfile.objects.none(), required=False
    )
    event_start = _when(label=_("Starts (events)"))
    event_end = _when(label=_("Ends (events)"))
    event_location = forms.CharField(label=_("Place (events)"), max_length=300, required=False)
    expires_at = _when(
        label=_("Taken down at (missing persons)"),
        help_text=_("Empty: the default number of days after publication."),
    )
    cover = MediaChoice(label=_("Cover image"), queryset=MediaAsset.objects.none(), required=False)
    video = MediaChoice(label=_("Video"), queryset=MediaAsset.objects.none(), required=False)
    audio = MediaChoice(label=_("Audio"), queryset=MediaAsset.objects.none(), required=False)
    gallery = MediaChoices(
        label=_("More pictures and videos"), queryset=MediaAsset.objects.none(), required=False
    )
    note = forms.CharField(
        label=_("What changed and why"),
        max_length=300,
        required=False,
        help_text=_("Needed for a change to a published post; kept in its history."),
    )

    # Which kinds each kind-specific field belongs to (the composer hides the others).
    KIND_FIELDS: dict[str, tuple[str, ...]] = {
        "event_start": (PostKind.EVENT,),
        "event_end": (PostKind.EVENT,),
        "event_location": (PostKind.EVENT,),
        "expires_at": (PostKind.MISSING,),
        "officer": (PostKind.STORY,),
        "video": (PostKind.VIDEO,),
        "audio": (PostKind.PODCAST,),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = settings.LANGUAGES  # type: ignore[attr-defined]
        self.fields["areas"].queryset = Area.objects.order_by("kind", "name")  # type: ignore[attr-defined]
        self.fields["topics"].queryset = Topic.objects.order_by("name")  # type: ignore[attr-defined]
        self.fields["officer"].queryset = OfficerProfile.objects.all()  # type: ignore[attr-defined]
        media = MediaAsset.objects.order_by("-created_at")
        for name, kinds in (
            ("cover", [MediaKind.IMAGE]),
            ("video", [MediaKind.VIDEO]),
            ("audio", [MediaKind.AUDIO]),
            ("gallery", [MediaKind.IMAGE, MediaKind.VIDEO]),
        ):
            self.fields[name].queryset = media.filter(kind__in=kinds)  # type: ignore[attr-defined]

    def kind_specific(self) -> list[tuple[Any, str]]:
        """(bound field, space-separated kinds) of the kind-specific fields."""
        return [(self[name], " ".join(kinds)) for name, kinds in self.KIND_FIELDS.items()]

    def post_fields(self) -> PostFields:
        data = self.cleaned_data
        attachments: list[Attachment] = []
        for name, role in (
            ("cover", MediaRole.COVER),
            ("video", MediaRole.VIDEO),
            ("audio", MediaRole.AUDIO),
        ):
            if data.get(name) is not None:
                attachments.append(Attachment(media_id=data[name].pk, role=role))
        chosen = {a.media_id for a in attachments}
        for media in data.get("gallery") or []:
            if media.pk not in chosen:
                attachments.append(Attachment(media_id=media.pk, role=MediaRole.GALLERY))
        officer = data.get("officer")
        return PostFields(
            kind=data["kind"],
            title=data["title"],
            summary=data.get("summary", ""),
            body=data.get("body", ""),
            language=data["language"],
            area_ids=tuple(a.pk for a in data.get("areas") or []),
            topic_ids=tuple(t.pk for t in data.get("topics") or []),
            officer_id=officer.pk if officer is not None else None,
            event_start=data.get("event_start"),
            event_end=data.get("event_end"),
            event_location=data.get("event_location", ""),
            expires_at=data.get("expires_at"),
            attachments=tuple(attachments),
        )


def post_initial(post: Post) -> dict[str, Any]:
    """The composer's fields filled in from ``post``."""
    attachments = list(post.attachments.select_related("media").order_by("position", "pk"))

    def first(role: str) -> int | None:
        return next((a.media_id for a in attachments if a.role == role), None)

    return {
        "kind": post.kind,
        "title": post.title,
        "summary": post.summary,
        "body": post.body,
        "language": post.language,
        "areas": list(post.areas.values_list("pk", flat=True)),
        "topics": list(post.topics.values_list("pk", flat=True)),
        "officer": post.officer_id,
        "event_start": post.event_start,
        "event_end": post.event_end,
        "event_location": post.event_location,
        "expires_at": post.expires_at,
        "cover": first(MediaRole.COVER),
        "video": first(MediaRole.VIDEO),
        "audio": first(MediaRole.AUDIO),
        "gallery": [a.media_id for a in attachments if a.role == MediaRole.GALLERY],
    }


class ScheduleForm(forms.Form):
    publish_at = _when(required=True, label=_("Publish at"))


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=())

    def __init__(self, *args: Any, kind: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from watchhouse.posts.models import AppealOutcome

        found = AppealOutcome.FOUND if kind == PostKind.MISSING else AppealOutcome.IDENTIFIED
        self.fields["outcome"].choices = [  # type: ignore[attr-defined]
            (found, AppealOutcome(found).label),
            (AppealOutcome.WITHDRAWN, AppealOutcome.WITHDRAWN.label),
        ]


class MediaUploadForm(forms.Form):
    file = forms.FileField(label=_("File"), help_text=_("A photo, video or audio file."))
    alt_text = forms.CharField(
        label=_("Alt text"),
        max_length=1000,
        required=False,
        help_text=_("What the picture shows, for people who cannot see it."),
    )
    caption = forms.CharField(label=_("Caption"), max_length=500, required=False)


class MediaEditForm(forms.Form):
    alt_text = forms.CharField(label=_("Alt text"), max_length=1000, required=False)
    caption = forms.CharField(label=_("Caption"), max_length=500, required=False)
    chapters = forms.CharField(
        label=_("Chapters (audio)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One a line: start (mm:ss or h:mm:ss), a space, the title."),
    )

    def clean_chapters(self) -> list[dict[str, Any]]:
        chapters = []
        for number, line in enumerate(self.cleaned_data["chapters"].splitlines(), start=1):
            if not line.strip():
                continue
            start, _space, title = line.strip().partition(" ")
            try:
                parts = [float(p) for p in start.split(":")]
            except ValueError:
                parts = []
            if not 2 <= len(parts) <= 3 or not title.strip():
                raise forms.ValidationError(
                    _("Line %(n)d: write the start as mm:ss, then the title.") % {"n": number}
                )
            seconds = sum(value * 60**power for power, value in enumerate(reversed(parts)))
            chapters.append({"start_s": seconds, "title": title.strip()})
        return chapters


def chapters_text(chapters: list[dict[str, Any]]) -> str:
    """Chapters as the edit form shows them."""
    lines = []
    for chapter in chapters:
        total = int(chapter.get("start_s", 0))
        lines.append(f"{total // 60:02d}:{total % 60:02d} {chapter.get('title', '')}")
    return "\n".join(lines)


class CaptionsForm(forms.Form):
    captions = forms.FileField(label=_("Captions file (WebVTT or SubRip)"))


class OfficerForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    title = forms.CharField(label=_("Rank and role"), max_length=200)
    badge = forms.CharField(label=_("Badge"), max_length=50, required=False)
    bio = forms.CharField(label=_("Biography (Markdown)"), widget=forms.Textarea, required=False)
    achievements = forms.CharField(
        label=_("Achievements (Markdown)"), widget=forms.Textarea, required=False
    )
    contact_email = forms.EmailField(label=_("Contact e-mail"), required=False)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=40, required=False)
    areas = forms.ModelMultipleChoiceField(
        label=_("Beat and areas"), queryset=Area.objects.none(), required=False
    )
    photo = MediaChoice(label=_("Photo"), queryset=MediaAsset.objects.none(), required=False)
    position = forms.IntegerField(label=_("Order on the page"), min_value=0, initial=0)
    active = forms.BooleanField(label=_("Shown on the officers page"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["areas"].queryset = Area.objects.order_by("kind", "name")  # type: ignore[attr-defined]
        self.fields["photo"].queryset = MediaAsset.objects.filter(kind=MediaKind.IMAGE)  # type: ignore[attr-defined]

    def officer_fields(self, *, user_id: int | None = None) -> OfficerFields:
        data = self.cleaned_data
        photo = data.get("photo")
        return OfficerFields(
            name=data["name"],
            title=data["title"],
            badge=data.get("badge", ""),
            bio=data.get("bio", ""),
            achievements=data.get("achievements", ""),
            contact_email=data.get("contact_email", ""),
            contact_phone=data.get("contact_phone", ""),
            area_ids=tuple(a.pk for a in data.get("areas") or []),
            photo_id=photo.pk if photo is not None else None,
            position=data.get("position") or 0,
            active=bool(data.get("active")),
            user_id=user_id,
        )


def officer_initial(officer: OfficerProfile) -> dict[str, Any]:
    return {
        "name": officer.name,
        "title": officer.title,
        "badge": officer.badge,
        "bio": officer.bio,
        "achievements": officer.achievements,
        "contact_email": officer.contact_email,
        "contact_phone": officer.contact_phone,
        "areas": list(officer.areas.values_list("pk", flat=True)),
        "photo": officer.photo_id,
        "position": officer.position,
        "active": officer.active,
    }


class TopicForm(forms.Form):
    name = forms.CharField(label=_("New topic"), max_length=100)
