"""Posts, their revisions, their media, topics and officer profiles.

A post's public text is Markdown (``body``) rendered once to sanitised HTML (``body_html``)
by the service that saves it. Every save writes a :class:`PostRevision` (a public-records
duty: who changed what and when). Media files are kept twice: the original, for staff only,
under ``WATCHHOUSE_PRIVATE_MEDIA_ROOT`` (never served by the public site), and the public
copies the worker makes from it (resized, metadata stripped, transcoded) under ``MEDIA_ROOT``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from watchhouse.posts.states import PostState


class PostKind(models.TextChoices):
    """What a post is; each kind has its own fields, page layout and publishing policy."""

    UPDATE = "update", _("Update")
    ARTICLE = "article", _("News article")
    SAFETY_TIP = "safety_tip", _("Safety tip")
    EVENT = "event", _("Event")
    APPEAL = "appeal", _("Help us identify")
    MISSING = "missing", _("Missing person")
    STORY = "story", _("Department story")
    VIDEO = "video", _("Video")
    PODCAST = "podcast", _("Podcast episode")


class AppealOutcome(models.TextChoices):
    """How an appeal or missing-person post ended; its faces and names leave the public page."""

    FOUND = "found", _("Found")
    IDENTIFIED = "identified", _("Identified")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Topic(models.Model):
    """A subject posts are tagged with (burglary, road safety, recruitment…)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OfficerProfile(models.Model):
    """An officer as the public meets them: photo, role, beat, bio, achievements, contact."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="officer_profile",
    )  # fmt: skip
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=200, help_text="Rank and role, e.g. 'Sergeant, Beat 3'.")
    badge = models.CharField(max_length=50, blank=True)
    photo = models.ForeignKey(
        "posts.MediaAsset", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    bio = models.TextField(blank=True, help_text="Markdown.")
    bio_html = models.TextField(blank=True, editable=False)
    achievements = models.TextField(blank=True, help_text="Markdown.")
    achievements_html = models.TextField(blank=True, editable=False)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    areas = models.ManyToManyField("geo.Area", blank=True, related_name="officers")
    position = models.PositiveIntegerField(default=0, help_text="Order on the officers page.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class MediaKind(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")
    AUDIO = "audio", _("Audio")


class MediaStatus(models.TextChoices):
    """Where an upload is: stored → processing (worker) → ready, or failed with a reason."""

    UPLOADED = "uploaded", _("Uploaded")
    PROCESSING = "processing", _("Processing")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class MediaAsset(models.Model):
    """One uploaded image, video or audio file and the public copies made from it.

    ``original`` is the file as received (staff only, with its metadata: it may be evidence
    of where and when it was taken); ``sha256`` is its digest at upload. ``renditions`` lists
    the public copies, each ``{"name", "path", "mime", "width", "height", "bytes"}`` with
    ``path`` relative to ``MEDIA_ROOT``; for video, ``poster`` is one of them and ``mp4``
    another; for audio, ``audio``. Processing is claimed by a conditional update
    (``status``, ``claimed_at``), so a worker that dies leaves a row another picks up.
    """

    kind = models.CharField(max_length=10, choices=MediaKind.choices)
    status = models.CharField(
        max_length=12, choices=MediaStatus.choices, default=MediaStatus.UPLOADED
    )
    original = models.CharField(
        max_length=500, help_text="Path relative to WATCHHOUSE_PRIVATE_MEDIA_ROOT."
    )
    original_name = models.CharField(max_length=255, blank=True)
    mime = models.CharField(max_length=100, help_text="Sniffed from the content.")
    bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    renditions = models.JSONField(default=dict, blank=True)
    alt_text = models.CharField(
        max_length=1000, blank=True, help_text="Required before a post with it is published."
    )
    caption = models.CharField(max_length=500, blank=True)
    captions_vtt = models.TextField(blank=True, help_text="WebVTT captions for a video.")
    chapters = models.JSONField(
        default=list, blank=True, help_text="Podcast chapters: [{'start_s': …, 'title': …}]."
    )
    progress = models.FloatField(default=0.0, help_text="0 to 1 while processing.")
    error = models.CharField(max_length=1000, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "claimed_at"], name="posts_media_status")]

    def __str__(self) -> str:
        return f"{self.kind} {self.original_name or self.pk}"


class Post(models.Model):
    """One piece of the department's timeline, of any :class:`PostKind`."""

    kind = models.CharField(max_length=12, choices=PostKind.choices)
    state = models.CharField(max_length=10, choices=PostState.choices, default=PostState.DRAFT)
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200)
    summary = models.CharField(
        max_length=300, blank=True, help_text="For cards, feeds and link previews."
    )
    body = models.TextField(blank=True, help_text="Markdown.")
    body_html = models.TextField(blank=True, editable=False, help_text="Sanitised HTML.")
    language = models.CharField(max_length=10, default="en")
    areas = models.ManyToManyField("geo.Area", blank=True, related_name="posts")
    topics = models.ManyToManyField(Topic, blank=True, related_name="posts")
    media = models.ManyToManyField(
        MediaAsset, through="PostMedia", blank=True, related_name="posts"
    )
    officer = models.ForeignKey(
        OfficerProfile, on_delete=models.SET_NULL, null=True, blank=True, related_name="posts",
        help_text="The officer a spotlight is about.",
    )  # fmt: skip
    # Events.
    event_start = models.DateTimeField(null=True, blank=True)
    event_end = models.DateTimeField(null=True, blank=True)
    event_location = models.CharField(max_length=300, blank=True)
    # Appeals and missing persons.
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="A missing-person post is taken down by then."
    )
    outcome = models.CharField(max_length=12, choices=AppealOutcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    redacted = models.BooleanField(
        default=False, help_text="Faces and names removed from the public page."
    )
    # Workflow.
    version = models.PositiveIntegerField(default=1)
    publish_at = models.DateTimeField(null=True, blank=True, help_text="When scheduled.")
    published_at = models.DateTimeField(null=True, blank=True, help_text="First publication.")
    edited_at = models.DateTimeField(
        null=True, blank=True, help_text="Last change after publication (the 'updated' mark)."
    )
    retracted_at = models.DateTimeField(null=True, blank=True)
    retraction_note = models.TextField(blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="posts"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            models.Index(fields=["state", "-published_at"], name="posts_post_timeline"),
            models.Index(fields=["kind", "state", "-published_at"], name="posts_post_kind"),
            models.Index(fields=["state", "publish_at"], name="posts_post_due"),
        ]

    def __str__(self) -> str:
        return self.title


class MediaRole(models.TextChoices):
    COVER = "cover", _("Cover image")
    GALLERY = "gallery", _("Gallery")
    VIDEO = "video", _("Video")
    AUDIO = "audio", _("Audio")


class PostMedia(models.Model):
    """A media file in a post, in order."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="attachments")
    media = models.ForeignKey(MediaAsset, on_delete=models.PROTECT, related_name="attachments")
    role = models.CharField(max_length=10, choices=MediaRole.choices, default=MediaRole.GALLERY)
    position = models.PositiveIntegerField(default=0)
    # An appeal's faces leave the public page when it is resolved.
    hidden = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["post", "media"], name="posts_postmedia_once")
        ]

    def __str__(self) -> str:
        return f"{self.post_id}:{self.media_id} ({self.role})"


class PostRevision(models.Model):
    """One saved version of a post: what it said, in which state, who saved it and when."""

    post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=PostState.choices)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    # The other fields as they were (areas, topics, media ids, event and appeal fields).
    data = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=300, blank=True, help_text="Why it changed.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["post", "number"]
        constraints = [
            models.UniqueConstraint(fields=["post", "number"], name="posts_revision_once")
        ]

    def __str__(self) -> str:
        return f"{self.post_id} v{self.number}"
