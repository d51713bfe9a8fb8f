"""Where the department's posts and alerts go besides its own site.

Two kinds of reach, kept apart because they work differently:

- **Cross-posting outlets** (:class:`Outlet`): an account the agency keeps on another network
  (a Facebook Page, an X account, a Bluesky account, a Mastodon account on an existing server)
  or a partner's signed webhook. Each post or alert sent there has one :class:`RemoteCopy`
  per outlet: what the network was last told (``done_version``), what it should show now
  (``want_version``, 0 for "taken down"), the remote id and URL, attempts and the last error.
  A reconciler brings a copy from where it is to where it should be, so an edit or a
  retraction travels the same way as the first publication, and running it again is harmless.

- **The department on the fediverse** (:class:`LocalActor`): the agency's own ActivityPub
  actors at its own domain. Remote servers follow them (:class:`Follower`); each publication,
  edit or retraction is one :class:`Activity` in the outbox, delivered once per shared inbox
  (:class:`ApDelivery`), with :class:`ApServer` keeping each server's failures so dead
  servers are given up by policy.

What comes back (replies, comments, mentions) from any of them is an :class:`InboundItem`,
kept as a record with the post or alert it answers.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Network(models.TextChoices):
    FACEBOOK = "facebook", _("Facebook Page")
    X = "x", _("X")
    BLUESKY = "bluesky", _("Bluesky")
    MASTODON = "mastodon", _("Mastodon account")
    WEBHOOK = "webhook", _("Signed webhook")
    ACTIVITYPUB = "activitypub", _("Fediverse (our own actor)")


class Outlet(models.Model):
    """One account on one network that posts and alerts are cross-posted to.

    ``credentials`` is a sealed JSON object (:func:`watchhouse.core.crypto.seal_json`): page
    tokens, API keys, app passwords, webhook secrets never sit in the database in clear.
    ``api_base`` is the network's API root (its public default unless the agency runs its own,
    e.g. its Mastodon server or Bluesky PDS; tests point it at a loopback server).
    """

    network = models.CharField(max_length=12, choices=Network.choices)
    name = models.CharField(max_length=100, help_text="What staff call it, e.g. 'Facebook Page'.")
    enabled = models.BooleanField(default=True)
    api_base = models.URLField(max_length=300)
    account = models.CharField(
        max_length=200, blank=True, help_text="Page id, handle or account name on the network."
    )
    credentials = models.TextField(blank=True, help_text="Sealed JSON.")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    expiry_warned_at = models.DateTimeField(null=True, blank=True)
    # Which post kinds go out here (empty: every kind) and which alert categories.
    post_kinds = models.JSONField(default=list, blank=True)
    alert_categories = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    check_ok = models.BooleanField(null=True, blank=True)
    check_message = models.CharField(max_length=500, blank=True)
    # Where inbound collection (comments, replies, mentions) got to: a network cursor.
    inbound_cursor = models.CharField(max_length=500, blank=True)
    inbound_checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["network", "name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "name"], name="outlets_outlet_name_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_network_display()}: {self.name}"


class CopyStatus(models.TextChoices):
    """pending (work to do) → sending (claimed) → synced, or failed (gave up; staff retry)."""

    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SYNCED = "synced", _("Up to date")
    FAILED = "failed", _("Failed")


class RemoteCopy(models.Model):
    """A post's or an alert's copy on one outlet, and where it stands.

    ``want_version`` is the post version the network should show (0: none, taken down);
    ``done_version`` the version it was last given (0: never published or deleted). The copy
    is synced when the two agree. ``parts`` lists what the network holds for it, in order
    (a thread's posts, uploaded media): ``[{"id", "url", "kind"}]``. ``notice`` says what was
    left when the network could not delete or edit (e.g. a reply saying it was retracted).
    A worker claims a copy by a conditional update (``status`` sending, ``claim_token``,
    ``claimed_at``); a claim older than the worker lease belonged to a dead worker.
    """

    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, related_name="copies")
    post = models.ForeignKey(
        "posts.Post", on_delete=models.PROTECT, null=True, blank=True, related_name="copies"
    )
    alert = models.ForeignKey(
        "alerts.Alert", on_delete=models.PROTECT, null=True, blank=True, related_name="copies"
    )
    status = models.CharField(max_length=8, choices=CopyStatus.choices, default=CopyStatus.PENDING)
    want_version = models.PositiveIntegerField(default=1)
    done_version = models.PositiveIntegerField(default=0)
    remote_id = models.CharField(max_length=300, blank=True)
    remote_url = models.URLField(max_length=500, blank=True)
    parts = models.JSONField(default=list, blank=True)
    notice = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "remote copies"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outlets_copy_due")]
        constraints = [
            models.UniqueConstraint(fields=["outlet", "post"], name="outlets_copy_post_once"),
            models.UniqueConstraint(fields=["outlet", "alert"], name="outlets_copy_alert_once"),
            models.CheckConstraint(
                condition=models.Q(post__isnull=True) ^ models.Q(alert__isnull=True),
                name="outlets_copy_of_one",
            ),
        ]

    def __str__(self) -> str:
        what = f"post {self.post_id}" if self.post_id else f"alert {self.alert_id}"
        return f"{what} on {self.outlet_id} ({self.status})"

    @property
    def synced(self) -> bool:
        return self.want_version == self.done_version


class ActorKind(models.TextChoices):
    ORGANIZATION = "Organization", _("Organization")
    SERVICE = "Service", _("Service")


class LocalActor(models.Model):
    """One of the department's own ActivityPub actors, ``@username@<site domain>``.

    The department itself is the actor with no area; an area's or unit's actor carries
    ``area`` and publishes the posts tagged with it. ``private_key`` is a sealed PEM.
    On key rotation the old public key stays in ``previous_keys`` (``[{"id", "pem"}]``) so
    signatures made just before it still verify for servers that cached it.
    """

    username = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(
        max_length=12, choices=ActorKind.choices, default=ActorKind.ORGANIZATION
    )
    name = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    area = models.ForeignKey(
        "geo.Area", on_delete=models.PROTECT, null=True, blank=True, related_name="actors"
    )
    icon = models.ForeignKey(
        "posts.MediaAsset", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    public_key_pem = models.TextField()
    private_key = models.TextField(help_text="Sealed PEM.")
    key_generation = models.PositiveIntegerField(default=1)
    previous_keys = models.JSONField(default=list, blank=True)
    alert_categories = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["area_id", "username"]

    def __str__(self) -> str:
        return f"@{self.username}"


class RemoteActor(models.Model):
    """An actor on another server we have met (a follower, a replier), with its key.

    ``public_key_pem`` is cached from the actor document; a signature that fails with the
    cached key makes one fresh fetch (key rotation) before the request is refused.
    """

    uri = models.URLField(max_length=500, unique=True)
    inbox = models.URLField(max_length=500, blank=True)
    shared_inbox = models.URLField(max_length=500, blank=True)
    key_id = models.URLField(max_length=500, blank=True)
    public_key_pem = models.TextField(blank=True)
    handle = models.CharField(max_length=300, blank=True, help_text="user@domain")
    name = models.CharField(max_length=300, blank=True)
    url = models.URLField(max_length=500, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["uri"]

    def __str__(self) -> str:
        return self.handle or self.uri

    @property
    def delivery_inbox(self) -> str:
        return self.shared_inbox or self.inbox


class Follower(models.Model):
    """A remote actor following one of ours; the Follow was accepted when it was stored."""

    actor = models.ForeignKey(LocalActor, on_delete=models.CASCADE, related_name="followers")
    remote = models.ForeignKey(RemoteActor, on_delete=models.CASCADE, related_name="following")
    follow_uri = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["actor", "remote"], name="outlets_follower_once")
        ]

    def __str__(self) -> str:
        return f"{self.remote} follows {self.actor}"


class ActivityType(models.TextChoices):
    CREATE = "Create", _("Create")
    UPDATE = "Update", _("Update")
    DELETE = "Delete", _("Delete")
    ACCEPT = "Accept", _("Accept")


class Activity(models.Model):
    """One activity in an actor's outbox, frozen as sent (``payload``, the JSON-LD document).

    A post publishes one Create; each later version one Update; a retraction one Delete of
    the object, which then answers with a Tombstone. Accepts of Follows are activities too,
    delivered to the follower's own inbox, but not listed in the public outbox.
    """

    actor = models.ForeignKey(LocalActor, on_delete=models.PROTECT, related_name="activities")
    uri = models.URLField(max_length=500, unique=True)
    type = models.CharField(max_length=8, choices=ActivityType.choices)
    object_uri = models.URLField(max_length=500)
    post = models.ForeignKey(
        "posts.Post", on_delete=models.PROTECT, null=True, blank=True, related_name="activities"
    )
    alert = models.ForeignKey(
        "alerts.Alert", on_delete=models.PROTECT, null=True, blank=True, related_name="activities"
    )
    version = models.PositiveIntegerField(default=1)
    payload = models.JSONField()
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [models.Index(fields=["actor", "-published_at"], name="outlets_outbox")]
        constraints = [
            models.UniqueConstraint(
                fields=["actor", "object_uri", "type", "version"], name="outlets_activity_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.object_uri}"


class ApDeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    GIVEN_UP = "given_up", _("Given up (server dead)")


class ApDelivery(models.Model):
    """One activity to one inbox (a server's shared inbox when it has one): one signed POST
    however many of its users follow us. Claimed by a conditional update, like every send."""

    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="deliveries")
    inbox = models.URLField(max_length=500)
    server = models.ForeignKey("ApServer", on_delete=models.PROTECT, related_name="deliveries")
    status = models.CharField(
        max_length=10, choices=ApDeliveryStatus.choices, default=ApDeliveryStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=64, blank=True)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["activity", "id"]
        verbose_name_plural = "ActivityPub deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outlets_apdelivery_due")
        ]
        constraints = [
            models.UniqueConstraint(fields=["activity", "inbox"], name="outlets_apdelivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.activity_id} → {self.inbox} ({self.status})"


class ApServer(models.Model):
    """A remote server (by host) and how deliveries to it have gone; a server failing for
    longer than the policy allows is given up (``dead_since``) until it answers again."""

    host = models.CharField(max_length=255, unique=True)
    failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    dead_since = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return self.host


class InboundKind(models.TextChoices):
    REPLY = "reply", _("Reply")
    MENTION = "mention", _("Mention")
    COMMENT = "comment", _("Comment")


class InboundItem(models.Model):
    """A reply, comment or mention from any outlet or the fediverse, kept as a record.

    ``post``/``alert``/``copy`` say what it answers when that is known. ``text`` is plain text
    (remote HTML is reduced to text before it is stored); ``raw`` the document as received.
    """

    network = models.CharField(max_length=12, choices=Network.choices)
    outlet = models.ForeignKey(
        Outlet, on_delete=models.PROTECT, null=True, blank=True, related_name="inbound"
    )
    actor = models.ForeignKey(
        LocalActor, on_delete=models.PROTECT, null=True, blank=True, related_name="inbound"
    )
    remote_id = models.CharField(max_length=500)
    kind = models.CharField(max_length=8, choices=InboundKind.choices)
    author_name = models.CharField(max_length=300, blank=True)
    author_handle = models.CharField(max_length=300, blank=True)
    author_url = models.URLField(max_length=500, blank=True)
    text = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    in_reply_to = models.CharField(max_length=500, blank=True)
    post = models.ForeignKey(
        "posts.Post", on_delete=models.PROTECT, null=True, blank=True, related_name="inbound"
    )
    alert = models.ForeignKey(
        "alerts.Alert", on_delete=models.PROTECT, null=True, blank=True, related_name="inbound"
    )
    copy = models.ForeignKey(
        RemoteCopy, on_delete=models.PROTECT, null=True, blank=True, related_name="inbound"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    deleted_remotely_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["-received_at"], name="outlets_inbound_recent")]
        constraints = [
            models.UniqueConstraint(fields=["network", "remote_id"], name="outlets_inbound_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} from {self.author_handle or self.author_name}"


class SeenActivity(models.Model):
    """Ids of activities already taken at our inboxes, so a replayed one is refused."""

    uri = models.URLField(max_length=500, unique=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["received_at"], name="outlets_seen_age")]

    def __str__(self) -> str:
        return self.uri
