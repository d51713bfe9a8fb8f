"""HTTP Signatures as the fediverse uses them (draft-cavage-http-signatures-12, the form
Mastodon, Misskey, Pleroma and Fedify accept), written on ``cryptography``.

A signed request carries ``Date``, ``Digest: SHA-256=<base64>`` of its body and
``Signature: keyId="…",algorithm="rsa-sha256",headers="(request-target) host date digest",
signature="…"``. Verification refuses a request whose digest does not match its body, whose
date is outside the allowed window, or whose signature does not cover the request target,
host and date (and digest when there is a body). ``hs2019`` is accepted as an algorithm name
for RSA keys, as Mastodon does.

Checked and not used: ``httpsig`` (unmaintained since 2018, no hs2019), ``requests-http-
signature`` (RFC 9421 / HMAC first) and ``http-message-signatures`` (RFC 9421, which the
fediverse does not speak yet).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# How far a request's Date may be from our clock, either way.
DATE_WINDOW = timedelta(hours=12)
# Headers a signature must cover (digest too when the request has a body).
REQUIRED_HEADERS = ("(request-target)", "host", "date")
ALGORITHMS = frozenset({"rsa-sha256", "hs2019"})
_PARAM = re.compile(r'\s*([a-zA-Z]+)\s*=\s*"([^"]*)"\s*,?')


class SignatureError(Exception):
    """A request's signature, digest or date does not hold; the message says which."""


@dataclass(frozen=True)
class SignatureParams:
    key_id: str
    algorithm: str
    headers: tuple[str, ...]
    signature: bytes


def new_key_pair() -> tuple[str, str]:
    """A fresh RSA-2048 key pair as (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private, public


@lru_cache(maxsize=64)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SignatureError("Only RSA keys are supported.")
    return key


@lru_cache(maxsize=1024)
def load_public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except ValueError as error:
        raise SignatureError(f"Unreadable public key: {error}") from error
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("Only RSA keys are supported.")
    return key


def body_digest(body: bytes) -> str:
    """The ``Digest`` header value of ``body``."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def http_date(when: datetime | None = None) -> str:
    return format_datetime((when or datetime.now(UTC)).astimezone(UTC), usegmt=True)


def _signing_string(
    names: tuple[str, ...], method: str, target: str, headers: dict[str, str]
) -> str:
    lines = []
    for name in names:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {target}")
        else:
            if name not in headers:
                raise SignatureError(f"The signed header {name!r} is missing.")
            lines.append(f"{name}: {headers[name]}")
    return "\n".join(lines)


def sign_request(
    *, method: str, url: str, body: bytes | None, key_id: str, private_key_pem: str,
    when: datetime | None = None,
) -> dict[str, str]:  # fmt: skip
    """The headers that sign a request to ``url``: Host, Date, Digest (with a body) and
    Signature, with ``rsa-sha256`` over ``(request-target) host date [digest]``."""
    split = urlsplit(url)
    target = split.path or "/"
    if split.query:
        target += "?" + split.query
    headers = {"host": split.netloc, "date": http_date(when)}
    names: tuple[str, ...] = REQUIRED_HEADERS
    if body is not None:
        headers["digest"] = body_digest(body)
        names = (*names, "digest")
    text = _signing_string(names, method, target, headers)
    raw = load_private_key(private_key_pem).sign(
        text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
    )
    signature = (
        f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(names)}",'
        f'signature="{base64.b64encode(raw).decode("ascii")}"'
    )
    result = {"Host": headers["host"], "Date": headers["date"], "Signature": signature}
    if body is not None:
        result["Digest"] = headers["digest"]
    return result


def parse_signature(value: str) -> SignatureParams:
    """The parameters of a ``Signature`` header (or of ``Authorization: Signature …``)."""
    value = value.strip()
    if value.lower().startswith("signature "):
        value = value[len("signature ") :]
    params = {m.group(1).lower(): m.group(2) for m in _PARAM.finditer(value)}
    if "keyid" not in params or "signature" not in params:
        raise SignatureError("The Signature header lacks keyId or signature.")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in ALGORITHMS:
        raise SignatureError(f"Unsupported signature algorithm {algorithm!r}.")
    names = tuple(params.get("headers", "date").lower().split())
    try:
        raw = base64.b64decode(params["signature"], validate=True)
    except ValueError as error:
        raise SignatureError("The signature is not base64.") from error
    return SignatureParams(params["keyid"], algorithm, names, raw)


def check_request(
    *, method: str, target: str, headers: dict[str, str], body: bytes,
    now: datetime | None = None,
) -> SignatureParams:  # fmt: skip
    """Check everything but the signature itself: the signature covers what it must, the
    digest matches ``body`` and the date is within the window. ``headers`` have lower-case
    names; ``target`` is the path with its query string. Return the signature's parameters."""
    value = headers.get("signature") or headers.get("authorization", "")
    if not value:
        raise SignatureError("The request is not signed.")
    params = parse_signature(value)
    needed = set(REQUIRED_HEADERS)
    if method.upper() == "POST":
        needed.add("digest")
    missing = needed - set(params.headers)
    if missing:
        raise SignatureError(f"The signature does not cover {', '.join(sorted(missing))}.")
    if "digest" in params.headers:
        digest = headers.get("digest", "")
        algorithm, _, encoded = digest.partition("=")
        if algorithm.strip().upper() != "SHA-256":
            raise SignatureError("The Digest header is not SHA-256.")
        if encoded.strip() != body_digest(body).partition("=")[2]:
            raise SignatureError("The Digest header does not match the body.")
    try:
        date = parsedate_to_datetime(headers.get("date", ""))
    except (TypeError, ValueError) as error:
        raise SignatureError("The Date header is missing or malformed.") from error
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    if abs((now or datetime.now(UTC)) - date) > DATE_WINDOW:
        raise SignatureError("The Date header is outside the allowed window.")
    return params


def verify_signature(
    params: SignatureParams, *, method: str, target: str, headers: dict[str, str],
    public_key_pem: str,
) -> None:  # fmt: skip
    """Raise :class:`SignatureError` unless the signature was made by ``public_key_pem``."""
    text = _signing_string(params.headers, method, target, headers)
    try:
        load_public_key(public_key_pem).verify(
            params.signature, text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature as error:
        raise SignatureError("The signature does not verify with the actor's key.") from error
