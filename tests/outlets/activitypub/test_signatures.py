"""HTTP Signatures (draft-cavage) as the fediverse uses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.outlets.activitypub.conftest import _keys
from watchhouse.outlets.activitypub.signatures import (
    SignatureError,
    body_digest,
    check_request,
    parse_signature,
    sign_request,
    verify_signature,
)

URL = "https://social.example/users/alice/inbox?x=1"
TARGET = "/users/alice/inbox?x=1"
BODY = b'{"type":"Create"}'


def _signed(
    body: bytes = BODY, when: datetime | None = None, pem: str | None = None
) -> dict[str, str]:
    private, _public = _keys()
    headers = sign_request(
        method="POST",
        url=URL,
        body=body,
        key_id="https://us.example/a#k",
        private_key_pem=pem or private,
        when=when,
    )
    return {k.lower(): v for k, v in headers.items()}


def _verify(headers: dict[str, str], body: bytes = BODY, public: str | None = None) -> None:
    params = check_request(method="POST", target=TARGET, headers=headers, body=body)
    verify_signature(
        params, method="POST", target=TARGET, headers=headers, public_key_pem=public or _keys()[1]
    )


def test_signed_request_verifies() -> None:
    """A request signed with a key verifies with its public key, over the required headers."""
    private, public = _keys()
    headers = _signed(pem=private)
    params = parse_signature(headers["signature"])
    assert params.headers == ("(request-target)", "host", "date", "digest")
    assert params.algorithm == "rsa-sha256"
    assert headers["host"] == "social.example"
    assert headers["digest"] == body_digest(BODY)
    _verify(headers, public=public)


def test_forged_signature_is_refused() -> None:
    """A signature made with another key does not verify."""
    private, _public = _keys()
    _other_private, other_public = _keys()
    assert other_public != _public
    with pytest.raises(SignatureError, match="does not verify"):
        _verify(_signed(pem=private), public=other_public)


def test_tampered_body_is_refused() -> None:
    """A body changed after signing no longer matches the digest."""
    with pytest.raises(SignatureError, match="Digest"):
        _verify(_signed(), body=b'{"type":"Delete"}')


def test_tampered_digest_is_refused() -> None:
    """A digest replaced to match a changed body breaks the signature."""
    private, public = _keys()
    headers = _signed(pem=private)
    other = b'{"type":"Delete"}'
    headers["digest"] = body_digest(other)
    with pytest.raises(SignatureError, match="does not verify"):
        _verify(headers, body=other, public=public)


@pytest.mark.parametrize("hours", [-13, 13])
def test_stale_or_future_date_is_refused(hours: int) -> None:
    """A Date more than 12 hours away either way is refused."""
    private, public = _keys()
    headers = _signed(pem=private, when=datetime.now(UTC) + timedelta(hours=hours))
    with pytest.raises(SignatureError, match="window"):
        _verify(headers, public=public)


def test_date_inside_window_is_accepted() -> None:
    private, public = _keys()
    _verify(_signed(pem=private, when=datetime.now(UTC) - timedelta(hours=11)), public=public)


def test_hs2019_name_is_accepted_for_rsa() -> None:
    private, public = _keys()
    headers = _signed(pem=private)
    headers["signature"] = headers["signature"].replace('"rsa-sha256"', '"hs2019"')
    _verify(headers, public=public)


def test_signature_must_cover_digest_and_target() -> None:
    """A POST whose signature leaves out the digest (or the target) is refused."""
    private, _public = _keys()
    headers = _signed(pem=private)
    headers["signature"] = headers["signature"].replace(" digest", "")
    with pytest.raises(SignatureError, match="does not cover digest"):
        _verify(headers)
    headers = _signed(pem=private)
    headers["signature"] = headers["signature"].replace("(request-target) ", "")
    with pytest.raises(SignatureError, match="request-target"):
        _verify(headers)


def test_unsigned_and_unknown_algorithm_are_refused() -> None:
    with pytest.raises(SignatureError, match="not signed"):
        check_request(method="POST", target=TARGET, headers={}, body=BODY)
    headers = _signed()
    headers["signature"] = headers["signature"].replace('"rsa-sha256"', '"hmac-sha256"')
    with pytest.raises(SignatureError, match="algorithm"):
        _verify(headers)
