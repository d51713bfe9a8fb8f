"""Public-post monitoring: sources, watch rules, matches, stories, and case workspaces.

Only what matters is kept. A post reaches the database when a watch rule or the classifier
matched it (:class:`MatchedPost`, with one :class:`Match` per reason) or when an investigator
collected it into an approved case (:class:`CaseItem`); everything else is counted in
:class:`StreamCount` and forgotten.

Person-centred work lives in :class:`Case` workspaces, which open only with a case number, a
justification, a 28 CFR Part 23 criminal predicate and a supervisor's approval. Approvals that
policy gives to a second person are :class:`Approval` rows; what leaves the agency is in the
:class:`Dissemination` log.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SourceKind(models.TextChoices):
    FEDIVERSE = "fediverse", _("Fediverse (accounts, hashtags and relays we follow)")
    JETSTREAM = "jetstream", _("Bluesky Jetstream")
    RSS = "rss", _("RSS/Atom feed")
    INBOX = "inbox", _("Outlets' inbox (replies and mentions)")
    FILE = "file", _("File import (JSONL/CSV)")


class Source(models.Model):
    """One configured stream of public posts.

    ``config`` holds what the connector needs (a feed URL; Jetstream's endpoint, collections and
    account DIDs; the hashtags and accounts the department's actor follows). ``cursor`` is where
    reading got to; it is saved in the transaction that stores the batch's matches, so a worker
    that dies re-reads from the last committed point and no match is lost.
    """

    kind = models.CharField(max_length=12, choices=SourceKind.choices)
    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True)
    cursor = models.CharField(max_length=500, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Landmark(models.Model):
    """A place the agency names for place extraction (a school, a stadium, a mall), beside its
    areas and the streets of its address index."""

    name = models.CharField(max_length=200, unique=True)
    aliases = models.JSONField(default=list, blank=True)
    lat = models.FloatField()
    lon = models.FloatField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RuleState(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    ACTIVE = "active", _("Active")
    REFUSED = "refused", _("Refused")
    DISABLED = "disabled", _("Switched off")


class WatchRule(models.Model):
    """What to look for, why, whose it is and until when.

    A post matches when every part that is set holds: any of ``phrases`` (Aho-Corasick over
    normalised text), the boolean ``expression`` (``fire AND (smoke OR flames) AND NOT drill``),
    the place (``area`` or the circle ``lat``/``lon``/``radius_m``, against coordinates the post
    carries or places it names), ``languages``, the time window, and ``min_score`` for the
    classifier. ``authors`` makes it a watch on individuals, which needs a second person.
    Rules touching protected activity are refused unless a supervisor records a criminal nexus
    (``override_nexus``).
    """

    name = models.CharField(max_length=120)
    purpose = models.TextField(help_text="Why the agency watches for this.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=RuleState.choices, default=RuleState.PENDING)
    phrases = models.JSONField(default=list, blank=True)
    expression = models.CharField(max_length=1000, blank=True)
    area = models.ForeignKey(
        "geo.Area", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    radius_m = models.PositiveIntegerField(null=True, blank=True)
    languages = models.JSONField(default=list, blank=True)
    authors = models.JSONField(default=list, blank=True)
    # A watch on individuals (``authors``) belongs to an open case: the purpose gate.
    case = models.ForeignKey(
        "Case", on_delete=models.CASCADE, null=True, blank=True, related_name="rules"
    )
    min_score = models.FloatField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    override_nexus = models.TextField(blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refused_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "expires_at"], name="monitoring_rule_live")]

    def __str__(self) -> str:
        return self.name

    @property
    def person_centred(self) -> bool:
        return bool(self.authors)

    def is_live(self, at: object | None = None) -> bool:
        now = at or timezone.now()
        return (
            self.state == RuleState.ACTIVE
            and self.expires_at > now  # type: ignore[operator]
            and (self.starts_at is None or self.starts_at <= now)  # type: ignore[operator]
        )


class Story(models.Model):
    """Near-duplicate posts (retweets, copies, quotes) clustered so an analyst reads one.

    ``signature`` is the MinHash/shingle key of the first post; ``lawful_assembly`` marks an
    event staff declared a lawful assembly: its posts are counted, never shown with authors.
    """

    signature = models.CharField(max_length=64, db_index=True)
    title = models.CharField(max_length=300)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    post_count = models.PositiveIntegerField(default=0)
    top_score = models.FloatField(default=0)
    lawful_assembly = models.BooleanField(default=False)
    lawful_assembly_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name_plural = "stories"

    def __str__(self) -> str:
        return self.title


class ReviewState(models.TextChoices):
    NEW = "new", _("New")
    ACTIONED = "actioned", _("Passed on")
    DISMISSED = "dismissed", _("Dismissed")


class MatchedPost(models.Model):
    """A public post that matched something, kept for an analyst to review.

    ``places`` lists the places found (name, kind, lat, lon); ``score`` is the classifier's
    emergency-relevance score. Unreviewed posts are purged after the retention the policy sets.
    """

    source = models.ForeignKey(Source, on_delete=models.PROTECT, null=True, related_name="+")
    source_kind = models.CharField(max_length=12, choices=SourceKind.choices)
    remote_id = models.CharField(max_length=500)
    url = models.URLField(max_length=500, blank=True)
    author_handle = models.CharField(max_length=300, blank=True)
    author_name = models.CharField(max_length=300, blank=True)
    text = models.TextField()
    language = models.CharField(max_length=16, blank=True)
    posted_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    media = models.JSONField(default=list, blank=True)
    places = models.JSONField(default=list, blank=True)
    score = models.FloatField(null=True, blank=True)
    category = models.CharField(max_length=60, blank=True)
    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="posts")
    review = models.CharField(max_length=10, choices=ReviewState.choices, default=ReviewState.NEW)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["review", "-received_at"], name="monitoring_queue"),
            models.Index(fields=["posted_at"], name="monitoring_post_time"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source_kind", "remote_id"], name="monitoring_post_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.author_handle}: {self.text[:60]}"


class Match(models.Model):
    """One reason a post was kept: a rule (with the phrases and place that fired) or the
    classifier on its own."""

    post = models.ForeignKey(MatchedPost, on_delete=models.CASCADE, related_name="matches")
    rule = models.ForeignKey(
        WatchRule, on_delete=models.PROTECT, null=True, blank=True, related_name="matches"
    )
    reason = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["post", "rule"], name="monitoring_match_once")
        ]

    def __str__(self) -> str:
        return f"{self.post_id}: {self.rule or 'classifier'}"


class StreamCount(models.Model):
    """Per-hour counters of what the stream did: received, matched, discarded, duplicates,
    shed under load, refused as malformed or oversized."""

    hour = models.DateTimeField()
    source_kind = models.CharField(max_length=12, choices=SourceKind.choices)
    name = models.CharField(max_length=20)
    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-hour", "source_kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "source_kind", "name"], name="monitoring_count_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.source_kind} {self.name}={self.value}"


class CaseState(models.TextChoices):
    REQUESTED = "requested", _("Waiting for a supervisor")
    OPEN = "open", _("Open")
    REFUSED = "refused", _("Refused")
    CLOSED = "closed", _("Closed")
    PURGED = "purged", _("Purged")


class Case(models.Model):
    """An investigation workspace: the purpose gate for every person-centred query.

    It opens only with a case number, a written justification, a criminal ``predicate`` (28 CFR
    Part 23: the criminal activity reasonably suspected) and a supervisor's approval. Its data is
    purged when it closes (after ``WATCHHOUSE_MONITORING_CLOSED_RETENTION_DAYS``) or at
    ``review_by`` (five years for criminal intelligence), leaving ``tombstone``: the hashes of
    what was held.
    """

    number = models.CharField(max_length=60, unique=True)
    title = models.CharField(max_length=200)
    justification = models.TextField()
    predicate = models.TextField()
    state = models.CharField(max_length=10, choices=CaseState.choices, default=CaseState.REQUESTED)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    refused_reason = models.CharField(max_length=500, blank=True)
    review_by = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    tombstone = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class ApprovalKind(models.TextChoices):
    WATCH_ACCOUNT = "account", _("Watch on a named account")
    LOOKBACK = "lookback", _("Search beyond the policy's window")
    EXPORT = "export", _("Export outside the agency")
    RULE_OVERRIDE = "override", _("Rule on protected activity")


class ApprovalState(models.TextChoices):
    PENDING = "pending", _("Waiting")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")


class Approval(models.Model):
    """A request that policy gives to a second person; ``request`` holds what will be done."""

    kind = models.CharField(max_length=10, choices=ApprovalKind.choices)
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="approvals"
    )
    rule = models.ForeignKey(
        WatchRule, on_delete=models.CASCADE, null=True, blank=True, related_name="approvals"
    )
    request = models.JSONField(default=dict)
    justification = models.TextField()
    state = models.CharField(
        max_length=10, choices=ApprovalState.choices, default=ApprovalState.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_state_display()})"


class CaseAccount(models.Model):
    """A named public account whose own posts a case collects (after a second person agrees)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="accounts")
    network = models.CharField(max_length=12, choices=SourceKind.choices)
    handle = models.CharField(max_length=300)
    approval = models.OneToOneField(Approval, on_delete=models.PROTECT, related_name="account")
    collected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["handle"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "network", "handle"], name="monitoring_case_account_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.network}:{self.handle}"


class CaseItem(models.Model):
    """A public post held by a case: the timeline and the map are built from these.

    ``places`` holds every place the post mentions, carries or shows in an image's EXIF, each
    with how it was found. ``sha256`` is over the canonical JSON of the post as collected.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="items")
    source_kind = models.CharField(max_length=12, choices=SourceKind.choices)
    remote_id = models.CharField(max_length=500)
    url = models.URLField(max_length=500, blank=True)
    author_handle = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    posted_at = models.DateTimeField()
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    media = models.JSONField(default=list, blank=True)
    places = models.JSONField(default=list, blank=True)
    sha256 = models.CharField(max_length=64)
    collected_at = models.DateTimeField(default=timezone.now)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["posted_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "source_kind", "remote_id"], name="monitoring_case_item_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.author_handle} {self.posted_at:%Y-%m-%d %H:%M}"


class Evidence(models.Model):
    """A preserved post: a WARC file (request and response records) with its SHA-256 and, when a
    time-stamping authority is configured, an RFC 3161 token over that hash."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence")
    item = models.ForeignKey(CaseItem, on_delete=models.CASCADE, related_name="evidence")
    warc_path = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    timestamp_token = models.BinaryField(null=True, blank=True)
    timestamped_at = models.DateTimeField(null=True, blank=True)
    preserved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    preserved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["preserved_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.sha256[:12]}"


class Dissemination(models.Model):
    """What left the agency, to whom, why and on whose approval (28 CFR 23.20(g))."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="disseminations")
    recipient = models.CharField(max_length=200)
    purpose = models.TextField()
    what = models.JSONField(default=list)
    sha256 = models.CharField(max_length=64, blank=True)
    approval = models.OneToOneField(
        Approval, on_delete=models.PROTECT, related_name="dissemination"
    )
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    shared_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-shared_at"]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.recipient}"


class FollowKind(models.TextChoices):
    ACCOUNT = "account", _("Account")
    RELAY = "relay", _("Relay")


class FollowState(models.TextChoices):
    PENDING = "pending", _("Waiting for an answer")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class Following(models.Model):
    """An account or relay the department's own named actor follows openly for a fediverse
    source; only what arrives from these (and is public) enters the stream."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="following")
    target_uri = models.URLField(max_length=500)
    kind = models.CharField(max_length=8, choices=FollowKind.choices)
    state = models.CharField(max_length=8, choices=FollowState.choices, default=FollowState.PENDING)
    follow_activity_id = models.URLField(max_length=500, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["target_uri"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "target_uri"], name="monitoring_following_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.target_uri} ({self.state})"
