"""Fetching documents from other servers: actors and their keys, cached in
:class:`~watchhouse.outlets.models.RemoteActor`.

Every fetch is guarded: only http(s), never a private, loopback or link-local address
(unless ``WATCHHOUSE_AP_ALLOW_PRIVATE``, for tests on loopback), a connect and a read
timeout, a size limit, and only ActivityPub JSON in answer (a server answering with an HTML
page is refused with a clear error, not parsed).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from typing import Any
from urllib.parse import urldefrag, urlsplit

import requests
from django.conf import settings
from django.utils import timezone

from watchhouse.outlets.activitypub.signatures import sign_request
from watchhouse.outlets.models import LocalActor, RemoteActor

logger = logging.getLogger("watchhouse.outlets.activitypub")

TIMEOUT = (5, 10)  # connect, read (seconds)
MAX_DOCUMENT_BYTES = 1024 * 1024
AP_ACCEPT = (
    'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/'
    'activitystreams"'
)
AP_TYPES = ("application/activity+json", "application/ld+json")
USER_AGENT = "Watchhouse (+ActivityPub)"
ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})


class RemoteFetchError(Exception):
    """A remote document could not be had: refused address, timeout, HTTP error, HTML or
    unreadable JSON. ``gone`` when the server said 410 Gone (or 404)."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


def allow_private() -> bool:
    return bool(getattr(settings, "WATCHHOUSE_AP_ALLOW_PRIVATE", False))


def check_address(url: str) -> None:
    """Refuse URLs that are not http(s) or whose host resolves to a non-public address."""
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise RemoteFetchError(f"Not an http(s) URL: {url[:200]}")
    if allow_private():
        return
    try:
        infos = socket.getaddrinfo(split.hostname, split.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise RemoteFetchError(f"Cannot resolve {split.hostname}: {error}") from error
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise RemoteFetchError(f"Refused: {split.hostname} resolves to a private address.")


_session = requests.Session()


def fetch_document(url: str, *, signer: LocalActor | None = None) -> dict[str, Any]:
    """GET an ActivityPub document (signed by ``signer`` when given, for servers in
    authorized-fetch mode) and return it as a dict."""
    check_address(url)
    headers = {"Accept": AP_ACCEPT, "User-Agent": USER_AGENT}
    if signer is not None:
        from watchhouse.outlets.activitypub.documents import key_id, private_key_pem

        headers.update(
            sign_request(method="GET", url=url, body=None, key_id=key_id(signer),
                         private_key_pem=private_key_pem(signer))
        )  # fmt: skip
    try:
        with _session.get(
            url, headers=headers, timeout=TIMEOUT, stream=True, allow_redirects=False
        ) as response:
            if response.status_code in (404, 410):
                raise RemoteFetchError(f"{url[:200]} is gone ({response.status_code}).", gone=True)
            if response.status_code != 200:
                raise RemoteFetchError(f"{url[:200]} answered {response.status_code}.")
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind not in AP_TYPES and kind != "application/json":
                raise RemoteFetchError(
                    f"{url[:200]} answered {kind or 'no type'}, not an ActivityPub document."
                )
            body = b""
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise RemoteFetchError(f"{url[:200]} answered a document over the limit.")
    except requests.RequestException as error:
        raise RemoteFetchError(
            f"{url[:200]} could not be fetched: {type(error).__name__}"
        ) from error
    try:
        document = json.loads(body)
    except ValueError as error:
        raise RemoteFetchError(f"{url[:200]} answered unreadable JSON.") from error
    if not isinstance(document, dict):
        raise RemoteFetchError(f"{url[:200]} answered JSON that is not an object.")
    return document


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _url(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("href") or value.get("id")
    if isinstance(value, list) and value:
        return _url(value[0])
    if isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) <= 500:
        return value
    return ""


def actor_fields(document: dict[str, Any]) -> dict[str, Any]:
    """What a RemoteActor keeps of an actor document; raise when it is not an actor."""
    kind = document.get("type")
    uri = _url(document.get("id"))
    if kind not in ACTOR_TYPES or not uri:
        raise RemoteFetchError("The document is not an actor.")
    key = document.get("publicKey")
    if isinstance(key, list):
        key = next((k for k in key if isinstance(k, dict)), None)
    if not isinstance(key, dict) or not isinstance(key.get("publicKeyPem"), str):
        raise RemoteFetchError(f"The actor {uri[:200]} has no public key.")
    if key.get("owner") not in (None, uri):
        raise RemoteFetchError(f"The key of {uri[:200]} belongs to someone else.")
    endpoints = document.get("endpoints") if isinstance(document.get("endpoints"), dict) else {}
    username = _text(document.get("preferredUsername"), 200)
    host = urlsplit(uri).netloc
    return {
        "uri": uri,
        "inbox": _url(document.get("inbox")),
        "shared_inbox": _url((endpoints or {}).get("sharedInbox")),
        "key_id": _url(key.get("id")) or uri,
        "public_key_pem": key["publicKeyPem"][:10000],
        "handle": f"{username}@{host}" if username else "",
        "name": _text(document.get("name"), 300),
        "url": _url(document.get("url")),
    }


def actor_store(fields: dict[str, Any]) -> RemoteActor:
    """Create or refresh the cached actor from parsed fields."""
    remote, _created = RemoteActor.objects.update_or_create(
        uri=fields["uri"],
        defaults={**{k: v for k, v in fields.items() if k != "uri"},
                  "fetched_at": timezone.now(), "gone_at": None},
    )  # fmt: skip
    return remote


def actor_fetch(uri: str, *, refresh: bool = False) -> RemoteActor:
    """The actor ``uri``, from the cache unless ``refresh`` (or never fetched)."""
    if not refresh:
        cached = RemoteActor.objects.filter(uri=uri).exclude(public_key_pem="").first()
        if cached is not None:
            return cached
    from watchhouse.outlets.activitypub.services import department_actor

    document = fetch_document(uri, signer=department_actor())
    fields = actor_fields(document)
    if fields["uri"] != uri:
        # The document must be the actor asked for, or anyone could plant a key for another.
        raise RemoteFetchError(f"{uri[:200]} answered with another actor's document.")
    return actor_store(fields)


def key_owner(key_id: str, *, refresh: bool = False) -> RemoteActor:
    """The actor holding the key ``key_id`` (usually ``<actor>#main-key``)."""
    if not refresh:
        cached = RemoteActor.objects.filter(key_id=key_id).exclude(public_key_pem="").first()
        if cached is not None:
            return cached
    url = urldefrag(key_id).url
    cached = RemoteActor.objects.filter(key_id=key_id).first()
    if cached is not None:
        return actor_fetch(cached.uri, refresh=True)
    from watchhouse.outlets.activitypub.services import department_actor

    document = fetch_document(url, signer=department_actor())
    if document.get("type") not in ACTOR_TYPES:
        # A key document (e.g. {"id", "owner", "publicKeyPem"}): the owner is the actor.
        owner = _url(document.get("owner"))
        if not owner:
            raise RemoteFetchError(f"{url[:200]} is neither an actor nor a key.")
        remote = actor_fetch(owner, refresh=True)
    else:
        fields = actor_fields(document)
        if urldefrag(fields["uri"]).url != url and urldefrag(fields["key_id"]).url != url:
            raise RemoteFetchError(f"{url[:200]} answered with another actor's document.")
        remote = actor_store(fields)
    if remote.key_id != key_id:
        raise RemoteFetchError(f"The actor at {url[:200]} does not hold the key {key_id[:200]}.")
    return remote
