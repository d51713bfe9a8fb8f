"""Fixtures for the tips suite: private storage of the test's own, investigators, sealed
uploads made from real bytes, and a submitted tip."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.conftest import committed, drain, queued  # noqa: F401 - re-exported
from tests.mediafiles import jpeg_with_gps, video_file  # noqa: F401 - re-exported
from watchhouse.accounts.roles import Role
from watchhouse.core import crypto
from watchhouse.posts.storage import private_path
from watchhouse.tips.intake import STAGING, SealedUpload
from watchhouse.tips.services.intake import TipReceipt, tip_submit


@pytest.fixture(autouse=True)
def media_roots(settings: Any, tmp_path: Path) -> tuple[Path, Path]:
    public, private = tmp_path / "media", tmp_path / "private"
    public.mkdir()
    private.mkdir()
    settings.MEDIA_ROOT = public
    settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT = private
    return public, private


@pytest.fixture
def investigator(make_staff: Callable[..., Any]) -> Any:
    return make_staff(Role.INVESTIGATOR, username="det.rivera")


@pytest.fixture
def supervisor(make_staff: Callable[..., Any]) -> Any:
    return make_staff(Role.SUPERVISOR, username="sgt.okafor")


def sealed_upload(data: bytes | Iterable[bytes], name: str = "photo.jpg") -> SealedUpload:
    """What the upload handler makes of a file a tipster sends: sealed into staging."""
    relative = f"{STAGING}/{secrets.token_hex(16)}"
    chunks = [data] if isinstance(data, bytes) else list(data)
    sealed = crypto.seal_file(private_path(relative), chunks)
    return SealedUpload(name=name, relative=relative, sealed=sealed)


def sealed_path(path: Path) -> SealedUpload:
    """A sealed upload of the file at ``path``."""
    return sealed_upload(path.read_bytes(), name=path.name)


@pytest.fixture
def submit() -> Callable[..., TipReceipt]:
    """Send a tip as the public form would (default: a short text, no files)."""

    def make(**changes: Any) -> TipReceipt:
        fields: dict[str, Any] = {"what": "Saw the man from the appeal at the bus stop."}
        fields.update(changes)
        return tip_submit(**fields)

    return make
