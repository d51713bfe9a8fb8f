"""The fediverse: accounts and relays the department's own named actor follows openly.

Following is done in the open, with the department's actor (the one that publishes its
posts and alerts): a signed Follow to each account (``@user@host`` resolved by WebFinger), and
to each relay the relay protocol's Follow of ``as:Public``. What they then send to our inbox
arrives through :func:`fediverse_received`, called by the outlets' inbox: only from an
account or relay a fediverse source follows, only public notes, and, for relay traffic, only
notes carrying one of the source's hashtags. Replies and mentions addressed to us stay with
the outlets' inbox (the ``inbox`` connector reads them). There are no covert accounts: the
actor is named, and every Follow is visible to the account followed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.connectors.base import (
    Batch,
    Connector,
    check_http_url,
    max_post_chars,
    string_list,
    text_of,
)
from watchhouse.monitoring.models import (
    Following,
    FollowKind,
    FollowState,
    Source,
    SourceKind,
)
from watchhouse.monitoring.posts import MalformedPostError, MediaRef, PublicPost
from watchhouse.outlets.activitypub import documents
from watchhouse.outlets.activitypub.delivery import deliver_to, enqueue_delivery
from watchhouse.outlets.activitypub.inbox import plain_text
from watchhouse.outlets.activitypub.publishing import new_activity_uri
from watchhouse.outlets.activitypub.remote import (
    MAX_DOCUMENT_BYTES,
    TIMEOUT,
    USER_AGENT,
    RemoteFetchError,
    actor_fetch,
    check_address,
    fetch_document,
)
from watchhouse.outlets.activitypub.services import department_actor
from watchhouse.outlets.models import Activity, RemoteActor

logger = logging.getLogger("watchhouse.monitoring")

PUBLIC_ADDRESSES = frozenset({documents.AS_PUBLIC, "as:Public", "Public"})
NOTE_TYPES = frozenset({"Note", "Article", "Question", "Page"})
HANDLE = re.compile(r"^@?(?P<user>[\w.\-]+)@(?P<host>[\w.\-]+(?::\d+)?)$")
HASHTAG = re.compile(r"^#?(?P<tag>\w{1,100})$")
MAX_REDIRECTS = 3


# --- fetching -----------------------------------------------------------------------------


def json_get(url: str, *, params: dict[str, str] | None = None, accept: str) -> Any:
    """GET a JSON document through the outlets' address guard (http(s) only, no private
    addresses unless allowed, every redirect hop checked), with timeouts and a size cap."""
    if params:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
    for _hop in range(MAX_REDIRECTS + 1):
        check_address(url)
        try:
            response = requests.get(
                url, headers={"Accept": accept, "User-Agent": USER_AGENT}, timeout=TIMEOUT,
                stream=True, allow_redirects=False,
            )  # fmt: skip
        except requests.RequestException as error:
            raise RemoteFetchError(
                f"{url[:200]} could not be fetched: {type(error).__name__}"
            ) from error
        with response:
            if response.status_code in (301, 302, 303, 307, 308) and "Location" in response.headers:
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status_code in (404, 410):
                raise RemoteFetchError(f"{url[:200]} is gone ({response.status_code}).", gone=True)
            if response.status_code != 200:
                raise RemoteFetchError(f"{url[:200]} answered {response.status_code}.")
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if "json" not in kind:
                raise RemoteFetchError(f"{url[:200]} answered {kind or 'no type'}, not JSON.")
            body = b""
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise RemoteFetchError(f"{url[:200]} answered a document over the limit.")
        try:
            return json.loads(body)
        except ValueError as error:
            raise RemoteFetchError(f"{url[:200]} answered unreadable JSON.") from error
    raise RemoteFetchError(f"{url[:200]} redirects too often.")


def webfinger_scheme() -> str:
    return str(settings.WATCHHOUSE_MONITORING_WEBFINGER_SCHEME)


def actor_uri_for(account: str) -> str:
    """The ActivityPub actor URI of ``account`` (``@user@host`` through WebFinger, or an actor
    URL as given)."""
    if account.startswith(("https://", "http://")):
        return account
    match = HANDLE.match(account.strip())
    if match is None:
        raise RemoteFetchError(f"{account[:100]} is not @user@host.")
    host = match["host"].lower()
    document = json_get(
        f"{webfinger_scheme()}://{host}/.well-known/webfinger",
        params={"resource": f"acct:{match['user']}@{host}"},
        accept="application/jrd+json, application/json",
    )
    links = document.get("links") if isinstance(document, dict) else None
    for link in links if isinstance(links, list) else []:
        if (
            isinstance(link, dict)
            and link.get("rel") == "self"
            and str(link.get("type", "")).split(";")[0].strip()
            in ("application/activity+json", "application/ld+json")
            and isinstance(link.get("href"), str)
        ):
            return str(link["href"])
    raise RemoteFetchError(f"WebFinger has no ActivityPub actor for {account[:100]}.")


# --- following ----------------------------------------------------------------------------


def _activity(kind: str, *, object_uri: str, obj: dict[str, Any] | str, to: str) -> Activity:
    """A Follow or Undo of the department's actor, recorded (never listed in its public
    outbox) and queued for the target's inbox."""
    local = department_actor()
    now = timezone.now()
    uri = new_activity_uri(local)
    return Activity.objects.create(
        actor=local, uri=uri, type=kind, object_uri=object_uri[:500],
        version=Activity.objects.filter(
            actor=local, object_uri=object_uri[:500], type=kind
        ).count() + 1,
        payload=documents.activity_document(actor=local, uri=uri, kind=kind, obj=obj,
                                            published=now, to=[to], cc=[]),
        published_at=now,
    )  # fmt: skip


def follow_send(source: Source, target_uri: str, kind: str) -> Following:
    """Follow ``target_uri`` (an account's or a relay's actor) for ``source``: fetch the actor,
    record a Follow and queue it for delivery after commit."""
    remote = actor_fetch(target_uri)
    inbox = remote.inbox or remote.shared_inbox
    if not inbox:
        raise RemoteFetchError(f"{target_uri[:200]} has no inbox.")
    # A relay is followed by asking for the public stream (the relay protocol's Follow).
    obj = documents.AS_PUBLIC if kind == FollowKind.RELAY else remote.uri
    with transaction.atomic():
        activity = _activity("Follow", object_uri=remote.uri, obj=obj, to=remote.uri)
        deliver_to(activity, inbox)
        following, _created = Following.objects.update_or_create(
            source=source, target_uri=remote.uri,
            defaults={"kind": kind, "state": FollowState.PENDING,
                      "follow_activity_id": activity.uri},
        )  # fmt: skip
        enqueue_delivery(activity.pk)
    return following


def unfollow_send(following: Following) -> None:
    """Undo ``following``'s Follow (queued for delivery after commit) and forget it."""
    follow = Activity.objects.filter(uri=following.follow_activity_id).first()
    remote = RemoteActor.objects.filter(uri=following.target_uri).first()
    with transaction.atomic():
        if follow is not None and remote is not None and (remote.inbox or remote.shared_inbox):
            body = {k: v for k, v in follow.payload.items() if k != "@context"}
            undo = _activity("Undo", object_uri=following.target_uri, obj=body,
                             to=following.target_uri)  # fmt: skip
            deliver_to(undo, remote.inbox or remote.shared_inbox)
            enqueue_delivery(undo.pk)
        following.delete()


def following_sync(source: Source) -> dict[str, list[str]]:
    """Make what ``source`` follows match its config: Follow new accounts and relays, Undo
    those removed (or all, when the source is switched off). Returns what was followed,
    unfollowed and could not be reached (each failure logged and kept in ``last_error``)."""
    config = FediverseConnector.validate_config(dict(source.config or {}))
    wanted: dict[str, str] = {}
    failed: list[str] = []
    if source.enabled:
        for account in config["accounts"]:
            try:
                wanted[actor_uri_for(account)] = FollowKind.ACCOUNT
            except RemoteFetchError as error:
                logger.warning("Cannot follow %s: %s", account, error)
                failed.append(account)
        for relay in config["relays"]:
            wanted[relay] = FollowKind.RELAY
    current = {f.target_uri: f for f in Following.objects.filter(source=source)}
    followed, unfollowed = [], []
    for uri, kind in wanted.items():
        if uri in current and current[uri].state != FollowState.REJECTED:
            continue
        try:
            follow_send(source, uri, kind)
            followed.append(uri)
        except RemoteFetchError as error:
            logger.warning("Cannot follow %s: %s", uri, error)
            failed.append(uri)
    # An account that could not be resolved now may still be wanted: keep its follow.
    unresolved = bool(failed)
    for uri, following in current.items():
        if uri not in wanted and not (unresolved and following.kind == FollowKind.ACCOUNT):
            unfollow_send(following)
            unfollowed.append(uri)
    Source.objects.filter(pk=source.pk).update(
        last_error=(_("Could not follow: %(t)s") % {"t": ", ".join(failed)})[:500] if failed else ""
    )
    return {"followed": followed, "unfollowed": unfollowed, "failed": failed}


def follow_answered(activity: dict[str, Any], remote: RemoteActor) -> bool:
    """Record an Accept or Reject of one of our Follows; whether it was one."""
    obj = activity.get("object")
    follow_id = obj.get("id") if isinstance(obj, dict) else obj
    if not isinstance(follow_id, str) or not follow_id:
        return False
    state = FollowState.ACCEPTED if activity.get("type") == "Accept" else FollowState.REJECTED
    updated = Following.objects.filter(follow_activity_id=follow_id, target_uri=remote.uri).update(
        state=state
    )
    if updated:
        logger.info("%s answered our Follow: %s", remote.uri, state)
    return bool(updated)


# --- receiving ----------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _ref(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id") or value.get("href")
    return value if isinstance(value, str) else ""


def is_public(note: dict[str, Any]) -> bool:
    addressed = {_ref(a) for a in _as_list(note.get("to")) + _as_list(note.get("cc"))}
    return bool(addressed & PUBLIC_ADDRESSES)


def note_hashtags(note: dict[str, Any]) -> set[str]:
    """The note's hashtags, casefolded, without ``#``."""
    tags = set()
    for tag in _as_list(note.get("tag")):
        if (
            isinstance(tag, dict)
            and tag.get("type") == "Hashtag"
            and isinstance(tag.get("name"), str)
        ):
            tags.add(tag["name"].lstrip("#").casefold())
    return tags


def _coordinates(note: dict[str, Any]) -> tuple[float | None, float | None]:
    for place in _as_list(note.get("location")):
        if not isinstance(place, dict):
            continue
        try:
            lat, lon = float(place["latitude"]), float(place["longitude"])
        except (KeyError, TypeError, ValueError):
            continue
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return lat, lon
    return None, None


def _media(note: dict[str, Any]) -> tuple[MediaRef, ...]:
    found = []
    for item in _as_list(note.get("attachment"))[:10]:
        if not isinstance(item, dict):
            continue
        url = item.get("url")
        if isinstance(url, list):
            url = url[0] if url else ""
        url = _ref(url) if isinstance(url, dict) else url
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            continue
        media_type = str(item.get("mediaType") or "")
        kind = (
            "video"
            if item.get("type") == "Video" or media_type.startswith("video/")
            else (
                "image"
                if item.get("type") == "Image" or media_type.startswith("image/")
                else "other"
            )
        )
        alt = text_of(item.get("name"))
        found.append(MediaRef(url[:500], kind, alt[:2000]))
    return tuple(found)


def note_post(
    note: dict[str, Any], *, author: RemoteActor | None, author_uri: str = ""
) -> PublicPost:
    """A public Note as a :class:`PublicPost`; raise :class:`MalformedPostError`."""
    note_id = _ref(note)
    if not note_id.startswith(("http://", "https://")) or note.get("type") not in NOTE_TYPES:
        raise MalformedPostError("not a note")
    content = note.get("content")
    text = plain_text(content) if isinstance(content, str) else ""
    if isinstance(note.get("summary"), str) and note["summary"].strip():
        # A content warning is part of what the author said.
        text = f"{plain_text(note['summary'])}\n\n{text}".strip()
    if not text:
        raise MalformedPostError("no text")
    published = (
        parse_datetime(note["published"]) if isinstance(note.get("published"), str) else None
    )
    languages = note.get("contentMap")
    language = next(iter(languages), "") if isinstance(languages, dict) and languages else ""
    url = note.get("url")
    url = _ref(url[0] if isinstance(url, list) and url else url)
    lat, lon = _coordinates(note)
    handle = author.handle if author is not None else ""
    if not handle:
        split = urlsplit(author_uri or _ref(note.get("attributedTo")))
        handle = (
            f"{split.path.rstrip('/').rsplit('/', 1)[-1]}@{split.netloc}" if split.netloc else ""
        )
    return PublicPost(
        source=SourceKind.FEDIVERSE,
        remote_id=note_id[:500],
        text=text,
        posted_at=published
        if isinstance(published, datetime) and published.tzinfo
        else timezone.now(),
        author_handle=handle[:300],
        author_name=(author.name if author is not None else "")[:300],
        url=(url if url.startswith(("http://", "https://")) else note_id)[:500],
        language=str(language)[:16],
        lat=lat,
        lon=lon,
        media=_media(note),
        raw={"id": note_id[:500], "attributedTo": _ref(note.get("attributedTo"))[:500]},
    )


def _announced_note(activity: dict[str, Any], remote: RemoteActor) -> dict[str, Any] | None:
    """The note an Announce carries. A note embedded by another server than its own is
    fetched from its origin instead: a relay must not be able to put words in anyone's
    mouth."""
    obj = activity.get("object")
    if isinstance(obj, dict) and obj.get("type") == "Create":
        obj = obj.get("object")  # a relay announcing the whole Create
    if isinstance(obj, dict) and urlsplit(_ref(obj)).netloc != urlsplit(remote.uri).netloc:
        obj = _ref(obj)
    if isinstance(obj, str):
        uri = obj
        try:
            obj = fetch_document(uri, signer=department_actor())
        except RemoteFetchError as error:
            logger.info("Announced object %s could not be fetched: %s", uri[:200], error)
            return None
        if _ref(obj) != uri:
            logger.info("Announced object %s answered as another object", uri[:200])
            return None
    return obj if isinstance(obj, dict) else None


def fediverse_received(activity: dict[str, Any], remote: RemoteActor) -> bool:
    """Take a Create or Announce from an account or relay a fediverse source follows into the
    stream (public notes only; relay notes only with one of the source's hashtags). Returns
    whether it was taken; anything else is ignored (logged)."""
    follows = list(
        Following.objects.filter(
            target_uri=remote.uri, source__enabled=True, source__kind=SourceKind.FEDIVERSE
        )
        .exclude(state=FollowState.REJECTED)
        .select_related("source")
        .order_by("source_id")
    )
    if not follows:
        logger.info("%s from %s, whom no source follows, ignored", activity.get("type"), remote.uri)
        return False
    if activity.get("type") == "Create":
        note = activity.get("object")
        author: RemoteActor | None = remote
    else:
        note = _announced_note(activity, remote)
        author = None
    if not isinstance(note, dict) or not is_public(note):
        logger.info("A non-public or unreadable object from %s ignored", remote.uri)
        return False
    author_uri = _ref(note.get("attributedTo"))
    if author is None and author_uri:
        author = RemoteActor.objects.filter(uri=author_uri).first()
    try:
        post = note_post(note, author=author, author_uri=author_uri)
    except MalformedPostError as error:
        logger.info("A note from %s refused: %s", remote.uri, error)
        return False
    if len(post.text) > max_post_chars():
        logger.info("A giant note from %s refused (%s characters)", remote.uri, len(post.text))
        return False
    tags = note_hashtags(note) | {t.casefold() for t in re.findall(r"#(\w+)", post.text)}
    for following in follows:
        wanted = set(following.source.config.get("hashtags") or [])
        if following.kind == FollowKind.RELAY and wanted and not (tags & wanted):
            continue
        post.source_id = following.source_id
        from watchhouse.monitoring.runner import posts_ingest

        posts_ingest([post], source=following.source)
        return True
    logger.info("A relayed note from %s without a followed hashtag ignored", remote.uri)
    return False


class FediverseConnector(Connector):
    kind: ClassVar[str] = SourceKind.FEDIVERSE
    terms: ClassVar[str] = (
        "ActivityPub: only what is addressed to the department or public from accounts and "
        "relays it openly follows with its own named actor; no covert accounts, no fetching "
        "of pages."
    )

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        accounts = string_list(config.get("accounts"), field="accounts", limit=1000)
        for account in accounts:
            if account.startswith(("http://", "https://")):
                check_http_url(account, field=_("An account address"))
            elif HANDLE.match(account) is None:
                raise InvalidInputError(
                    _("%(a)s is not an account (@user@host or its address).") % {"a": account}
                )
        relays = [
            check_http_url(r, field=_("A relay address"))
            for r in string_list(config.get("relays"), field="relays", limit=100)
        ]
        hashtags = []
        for tag in string_list(config.get("hashtags"), field="hashtags", limit=1000):
            match = HASHTAG.match(tag)
            if match is None:
                raise InvalidInputError(_("%(t)s is not a hashtag.") % {"t": tag})
            hashtags.append(match["tag"].casefold())
        if not accounts and not relays:
            raise InvalidInputError(_("A fediverse source follows at least one account or relay."))
        return {"accounts": accounts, "relays": relays, "hashtags": list(dict.fromkeys(hashtags))}

    def read(self, cursor: str, *, stop: threading.Event) -> Iterator[Batch]:
        """Nothing to pull: what the followed accounts and relays send is pushed to the inbox,
        which hands it to :func:`fediverse_received`."""
        return iter(())
