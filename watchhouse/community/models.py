"""Residents and their neighbourhoods, conversation and its moderation, polls, and community
reports (Open311 GeoReport v2).

Residents have no password: they sign in by a one-time link sent to their e-mail. A resident
joins a neighbourhood with an address inside it (kept sealed) and is verified by a code mailed
on a postcard or by a member of staff; until then they can read but not post. Moderation hides
(with a reason from the published policy, shown to the author and counted in the public log)
rather than deletes; deletion is kept for unlawful content, with the reason recorded. Every
decision is a :class:`ModerationDecision` row as well as an audit entry.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from watchhouse.core import crypto


class Resident(models.Model):
    """A person who signed in with their e-mail address (no password)."""

    email = models.EmailField(unique=True, help_text="Lower-cased.")
    display_name = models.CharField(max_length=60)
    language = models.CharField(max_length=10, default="en")
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["display_name", "id"]

    def __str__(self) -> str:
        return self.display_name


class SignInLink(models.Model):
    """A one-time sign-in link: only the SHA-256 of its token is stored; it expires and works
    once."""

    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["email", "created_at"])]

    def __str__(self) -> str:
        return f"sign-in link for {self.email}"


class MembershipStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for verification")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Not verified")
    LEFT = "left", _("Left")


class VerificationMethod(models.TextChoices):
    POSTCARD = "postcard", _("Code mailed on a postcard")
    STAFF = "staff", _("Approved by staff")


class PostcardBatch(models.Model):
    """Postcards printed together (one PDF) for staff to mail."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    printed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Postcard batch {self.pk}"


class Membership(models.Model):
    """A resident's claim to live in a neighbourhood, and how it was verified.

    ``address`` is sealed (only staff who verify see it); ``postcard_code_hash`` is the keyed
    hash of the code printed on the postcard.
    """

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="memberships")
    area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="memberships")
    address = models.TextField(help_text="Sealed street address.")
    status = models.CharField(
        max_length=10, choices=MembershipStatus.choices, default=MembershipStatus.PENDING
    )
    method = models.CharField(max_length=10, choices=VerificationMethod.choices, blank=True)
    postcard_code_hash = models.CharField(max_length=64, blank=True)
    postcard_batch = models.ForeignKey(
        PostcardBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="memberships"
    )
    postcard_attempts = models.PositiveSmallIntegerField(default=0)
    requested_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "area"],
                condition=~Q(status="left"),
                name="community_one_membership_per_area",
            )
        ]

    def __str__(self) -> str:
        return f"{self.resident} in {self.area}"

    def read_address(self) -> str:
        return crypto.unseal(self.address)


class Visibility(models.TextChoices):
    """Where a resident's words are in moderation."""

    VISIBLE = "visible", _("Visible")
    PENDING = "pending", _("Hidden pending review")
    HIDDEN = "hidden", _("Hidden")
    DELETED = "deleted", _("Deleted (unlawful)")


class ModerationReason(models.TextChoices):
    """The published moderation policy's reasons (see /community/moderation/)."""

    OFF_TOPIC = "off_topic", _("Off topic for this conversation")
    SPAM = "spam", _("Spam or advertising")
    HARASSMENT = "harassment", _("Targets a private person with abuse")
    PROFILING = "profiling", _("Describes a person by race or ethnicity, not behaviour")
    PERSONAL_INFO = "personal_info", _("Shares someone's private information")
    OPEN_CASE = "open_case", _("Could harm an open investigation or a victim")
    # Unlawful content: the only reasons for which anything is deleted.
    THREAT = "threat", _("A true threat of violence (unlawful)")
    DOXXING = "doxxing", _("Doxxing: publishes a person's home address to target them (unlawful)")
    CSAM = "csam", _("Child sexual abuse material (unlawful)")


UNLAWFUL_REASONS = frozenset(
    {ModerationReason.THREAT, ModerationReason.DOXXING, ModerationReason.CSAM}
)


class DiscussionKind(models.TextChoices):
    GENERAL = "general", _("Neighbourhood conversation")
    SAFETY = "safety", _("Safety concern or suspicious activity")


class Discussion(models.Model):
    """A conversation a verified resident starts in their neighbourhood.

    A safety concern that mentions a person carries the behaviour and clothing the form asked
    for before any description of the person.
    """

    area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="discussions")
    author = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="discussions")
    kind = models.CharField(
        max_length=10, choices=DiscussionKind.choices, default=DiscussionKind.GENERAL
    )
    title = models.CharField(max_length=150)
    body = models.TextField()
    behaviour = models.TextField(blank=True, help_text="What the person did.")
    clothing = models.TextField(blank=True)
    person_description = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.VISIBLE, db_index=True
    )
    hidden_reason = models.CharField(max_length=20, choices=ModerationReason.choices, blank=True)
    flag_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class Comment(models.Model):
    """A comment on an agency post or in a discussion, by a resident or by the agency.

    Exactly one of ``post`` and ``discussion`` is set; exactly one of ``author`` (a resident)
    and ``staff_author`` (the agency replying as the agency).
    """

    post = models.ForeignKey(
        "posts.Post", null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    discussion = models.ForeignKey(
        Discussion, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    author = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="comments"
    )
    staff_author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField()
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.VISIBLE, db_index=True
    )
    hidden_reason = models.CharField(max_length=20, choices=ModerationReason.choices, blank=True)
    flag_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(post__isnull=False) & Q(discussion__isnull=True))
                | (Q(post__isnull=True) & Q(discussion__isnull=False)),
                name="community_comment_one_target",
            ),
            models.CheckConstraint(
                condition=(Q(author__isnull=False) & Q(staff_author__isnull=True))
                | (Q(author__isnull=True) & Q(staff_author__isnull=False)),
                name="community_comment_one_author",
            ),
        ]

    def __str__(self) -> str:
        return f"comment {self.pk}"

    @property
    def by_agency(self) -> bool:
        return self.staff_author_id is not None


class Flag(models.Model):
    """A resident's report that a comment or discussion breaks the policy."""

    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="flags"
    )
    discussion = models.ForeignKey(
        Discussion, null=True, blank=True, on_delete=models.CASCADE, related_name="flags"
    )
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="flags")
    reason = models.CharField(max_length=20, choices=ModerationReason.choices)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["comment", "resident"],
                condition=Q(comment__isnull=False),
                name="community_one_flag_per_comment",
            ),
            models.UniqueConstraint(
                fields=["discussion", "resident"],
                condition=Q(discussion__isnull=False),
                name="community_one_flag_per_discussion",
            ),
        ]

    def __str__(self) -> str:
        return f"flag {self.pk} ({self.reason})"


class ModerationAction(models.TextChoices):
    AUTO_HIDE = "auto_hide", _("Hidden pending review (flags)")
    HIDE = "hide", _("Hidden")
    RESTORE = "restore", _("Restored")
    DELETE = "delete", _("Deleted (unlawful)")
    DISMISS = "dismiss", _("Flags dismissed")


class ModerationDecision(models.Model):
    """A moderation decision, kept as a record (counted in the public moderation log)."""

    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    discussion = models.ForeignKey(
        Discussion, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    action = models.CharField(max_length=10, choices=ModerationAction.choices)
    reason = models.CharField(max_length=20, choices=ModerationReason.choices, blank=True)
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.reason})"


class ProfilingTerm(models.Model):
    """A word or phrase that, in a description of a person, describes race or ethnicity rather
    than behaviour; staff tune the list."""

    term = models.CharField(max_length=60, unique=True)
    note = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["term"]

    def __str__(self) -> str:
        return self.term


class Poll(models.Model):
    """An agency poll for one neighbourhood (``area``) or the whole city (``area`` empty)."""

    question = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    area = models.ForeignKey(
        "geo.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="polls"
    )
    multiple = models.BooleanField(default=False, help_text="Voters may pick several choices.")
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-opens_at", "-id"]

    def __str__(self) -> str:
        return self.question

    def is_open(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return self.opens_at <= now < self.closes_at


class PollChoice(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="choices")
    label = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.label


class Ballot(models.Model):
    """One verified resident's vote in a poll (one per resident), with the neighbourhood they
    voted from, for results by neighbourhood."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="ballots")
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="ballots")
    area = models.ForeignKey("geo.Area", on_delete=models.PROTECT, related_name="+")
    choices = models.ManyToManyField(PollChoice, related_name="ballots")
    cast_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "resident"], name="community_one_ballot")
        ]

    def __str__(self) -> str:
        return f"ballot {self.pk} in {self.poll_id}"


class PostView(models.Model):
    """Views of a post on the department's own site, per day and channel (no cookies, nothing
    about the reader)."""

    post = models.ForeignKey("posts.Post", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    channel = models.CharField(max_length=20, default="web")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "day", "channel"], name="community_view_day")
        ]

    def __str__(self) -> str:
        return f"{self.count} views of {self.post_id} on {self.day}"


# --- community reports (Open311 GeoReport v2) --------------------------------------------------


class ServiceType(models.Model):
    """A kind of non-emergency report (Open311 "service"): graffiti, abandoned vehicle..."""

    code = models.SlugField(max_length=40, unique=True, help_text="Open311 service_code.")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    group = models.CharField(max_length=60, blank=True)
    keywords = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ReportStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class ServiceRequest(models.Model):
    """A community report (Open311 "service request"), from the public form or the API.

    The reporter's e-mail, name and phone are sealed and never published; the public sees the
    report's description, place, status and the agency's notes.
    """

    service = models.ForeignKey(ServiceType, on_delete=models.PROTECT, related_name="requests")
    token = models.CharField(max_length=40, unique=True, help_text="Open311 token.")
    description = models.TextField(blank=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    address = models.CharField(max_length=300, blank=True)
    area = models.ForeignKey(
        "geo.Area", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    media_url = models.URLField(blank=True)
    reporter = models.TextField(blank=True, help_text="Sealed JSON: email, name, phone.")
    status = models.CharField(
        max_length=10, choices=ReportStatus.choices, default=ReportStatus.OPEN, db_index=True
    )
    status_notes = models.TextField(blank=True)
    agency_responsible = models.CharField(max_length=100, blank=True)
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    expected_at = models.DateTimeField(null=True, blank=True)
    api_key = models.ForeignKey(
        "community.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"report {self.pk} ({self.service_id})"

    def read_reporter(self) -> dict[str, Any]:
        value = crypto.unseal_json(self.reporter, {})
        return value if isinstance(value, dict) else {}


class ApiKey(models.Model):
    """An Open311 API key for posting reports: only a SHA-256 of the key is stored."""

    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
