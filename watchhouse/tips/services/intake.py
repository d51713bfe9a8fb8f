"""What tipsters do: send a tip, come back with the code and passphrase, read the
department's questions, answer and add files.

Tipsters are anonymous: these services write no client address anywhere (their audit entries
are written with the address forgotten) and seal everything the tipster wrote.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.audit.services import audit_record
from watchhouse.core import crypto
from watchhouse.core.context import anonymous_request
from watchhouse.core.errors import InvalidInputError
from watchhouse.geo.points import point_check
from watchhouse.geo.selectors import areas_at
from watchhouse.posts.media.errors import MediaRejectedError
from watchhouse.tips import guard
from watchhouse.tips.intake import SealedUpload, file_classify, staged_move
from watchhouse.tips.models import MessageKind, Tip, TipChannel, TipFile, TipMessage

# Tip codes use Crockford's base32 without the letters people misread (0/O, 1/I/L, U).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
PASSPHRASE_MIN = 10
PASSPHRASE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # noqa: S105 - not a secret
MAX_TEXT = 20_000
# Window of the wrong-passphrase counters, in seconds.
GUESS_WINDOW = 15 * 60


class TipAccessError(InvalidInputError):
    """The tip code and passphrase do not match (which of the two is wrong is not said)."""


class TipLockedError(InvalidInputError):
    """Too many wrong attempts from this client or on this tip code; wait and try again."""


@dataclass(frozen=True)
class TipReceipt:
    """A stored tip and what the tipster needs to come back: shown once, never stored."""

    tip: Tip
    code: str
    passphrase: str


def code_format(raw: str) -> str:
    """A tip code as printed (XXXX-XXXX-XXXX), from what a person typed."""
    clean = "".join(c for c in raw.upper() if c.isalnum())
    return "-".join(clean[i : i + 4] for i in range(0, len(clean), 4))


def _new_code() -> str:
    return code_format("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)))


def passphrase_generate() -> str:
    """Four groups of five letters and digits (100 bits): easy to write down."""
    return "-".join(
        "".join(secrets.choice(PASSPHRASE_ALPHABET) for _ in range(5)) for _ in range(4)
    )


def passphrase_check(passphrase: str) -> str:
    """The passphrase a tipster chose, or an error saying why it is not good enough."""
    passphrase = passphrase.strip()
    if len(passphrase) < PASSPHRASE_MIN:
        raise InvalidInputError(
            _(
                "Choose a passphrase of at least %(n)d characters, or leave it empty to be "
                "given one."
            )
            % {"n": PASSPHRASE_MIN}
        )
    if len(passphrase) > 200:
        raise InvalidInputError(_("The passphrase is too long (200 characters at most)."))
    return passphrase


def _files_check(files: Sequence[SealedUpload]) -> list[tuple[SealedUpload, str, str]]:
    """Classify every file, or refuse them all (and delete them) with every reason."""
    limit = int(settings.WATCHHOUSE_TIPS_MAX_FILES)
    if len(files) > limit:
        for upload in files:
            upload.discard()
        raise InvalidInputError(
            _("Send at most %(n)d files at a time; you can add more later with your tip code.")
            % {"n": limit}
        )
    checked: list[tuple[SealedUpload, str, str]] = []
    problems: list[str] = []
    for upload in files:
        try:
            found = file_classify(upload)
        except MediaRejectedError as exc:
            problems.append(str(exc))
            continue
        checked.append((upload, found.kind, found.mime))
    if problems:
        for upload in files:
            upload.discard()
        raise InvalidInputError(" ".join(problems))
    return checked


def _files_store(
    tip: Tip, checked: list[tuple[SealedUpload, str, str]], message: TipMessage | None
) -> list[TipFile]:
    stored: list[TipFile] = []
    for upload, kind, mime in checked:
        sealed = upload.sealed
        if sealed is None:  # refused earlier by file_classify
            continue
        relative = staged_move(upload, tip.code)
        stored.append(
            TipFile.objects.create(
                tip=tip,
                message=message,
                kind=kind,
                mime=mime,
                size=sealed.size,
                sha256=sealed.sha256,
                path=relative,
                wrapped_key=sealed.wrapped_key,
                name=crypto.seal((upload.name or "")[:255]),
            )
        )
    return stored


def _files_unstore(stored: list[TipFile]) -> None:
    from watchhouse.posts.storage import private_path

    for row in stored:
        private_path(row.path).unlink(missing_ok=True)


def _enqueue_processing(files: list[TipFile]) -> None:
    ids = [f.pk for f in files]

    def enqueue() -> None:
        from watchhouse.tips.tasks import process_tip_file_task

        for file_id in ids:
            process_tip_file_task.enqueue(file_id)

    if ids:
        transaction.on_commit(enqueue)


def _text(value: str, label: str) -> str:
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise InvalidInputError(
            _("%(label)s is too long (%(n)d characters at most).") % {"label": label, "n": MAX_TEXT}
        )
    return value


def tip_submit(
    *,
    what: str,
    where: str = "",
    lat: float | None = None,
    lon: float | None = None,
    when: str = "",
    reference: str = "",
    appeal_id: int | None = None,
    contact: str = "",
    passphrase: str = "",
    wants_reward: bool = False,
    files: Sequence[SealedUpload] = (),
    channel: str = TipChannel.WEB,
    sender_hash: str = "",
) -> TipReceipt:
    """Store a tip, sealed, with its files; return the code and passphrase to show the tipster.

    Everything is checked before anything is written; on any error nothing is kept (staged
    files included). The tip and its files are committed before this returns, so a tipster
    told "received" has a stored tip; processing the files happens afterwards in the worker.
    """
    from watchhouse.posts.models import Post, PostKind

    try:
        what = _text(what, _("What happened"))
        if not what and not files:
            raise InvalidInputError(
                _("Tell us what you know, or attach a photo, video or document.")
            )
        where = _text(where, _("Where"))[:1000]
        when = _text(when, _("When"))[:200]
        reference = _text(reference, _("Reference"))[:200]
        contact = _text(contact, _("Contact details"))[:1000]
        passphrase = passphrase_check(passphrase) if passphrase.strip() else ""
        point: tuple[float, float] | None = None
        if lat is not None and lon is not None:
            point = point_check(lat, lon)
        checked = _files_check(files)
    except BaseException:
        for upload in files:
            upload.discard()
        raise
    given = passphrase or passphrase_generate()
    area = None
    if point is not None:
        found = areas_at(lat=point[0], lon=point[1], kinds=["neighbourhood"])
        area = found["neighbourhood"][0] if found.get("neighbourhood") else None
    appeal = None
    if appeal_id is not None:
        appeal = Post.objects.filter(
            pk=appeal_id, kind__in=[PostKind.APPEAL, PostKind.MISSING]
        ).first()
    content = {
        "what": what,
        "where": where,
        "lat": point[0] if point else None,
        "lon": point[1] if point else None,
        "when": when,
        "reference": reference,
    }
    stored: list[TipFile] = []
    try:
        with anonymous_request():
            for attempt in range(5):
                try:
                    with transaction.atomic():
                        tip = Tip.objects.create(
                            code=_new_code(),
                            passphrase_hash=make_password(given),
                            channel=channel,
                            content=crypto.seal_json(content),
                            contact=crypto.seal(contact),
                            sender_hash=sender_hash,
                            wants_reward=wants_reward,
                            appeal=appeal,
                            area=area,
                        )
                        stored = _files_store(tip, checked, None)
                        audit_record(
                            actor=None,
                            action="tips.receive",
                            obj=tip,
                            data={
                                "channel": channel,
                                "files": [{"sha256": f.sha256, "bytes": f.size} for f in stored],
                            },
                        )
                        _enqueue_processing(stored)
                    break
                except IntegrityError:
                    # A tip code collided (one in 10^17): move the files back and try another.
                    _files_unstore(stored)
                    if attempt == 4:
                        raise
    except BaseException:
        _files_unstore(stored)
        for upload in files:
            upload.discard()
        raise
    return TipReceipt(tip=tip, code=tip.code, passphrase=given)


def tipster_open(*, code: str, passphrase: str, client: str) -> Tip:
    """The tip whose code and passphrase these are, for its tipster.

    Wrong attempts are counted per client and per tip code (under keyed hashes that expire
    with their window); past the limit every attempt is refused before the passphrase is
    checked, so guessing gets nowhere. Raises :class:`TipAccessError` or
    :class:`TipLockedError`.
    """
    limit = int(settings.WATCHHOUSE_TIPS_STATUS_ATTEMPTS)
    formatted = code_format(code)
    if guard.over_limit("guess-client", client, limit=limit, window_seconds=GUESS_WINDOW) or (
        formatted
        and guard.over_limit("guess-code", formatted, limit=limit, window_seconds=GUESS_WINDOW)
    ):
        raise TipLockedError(
            _(
                "Too many wrong attempts. Wait 15 minutes, then try again with your tip code "
                "and passphrase."
            )
        )
    tip = Tip.objects.filter(code=formatted).first() if formatted else None
    # An unknown code costs a hash check as well, so timing does not tell codes apart.
    hashed = tip.passphrase_hash if tip is not None and tip.passphrase_hash else None
    matched = check_password(passphrase.strip(), hashed) if hashed else False
    if hashed is None:
        make_password(passphrase)
    if tip is None or not matched:
        guard.count("guess-client", client, window_seconds=GUESS_WINDOW)
        if formatted:
            guard.count("guess-code", formatted, window_seconds=GUESS_WINDOW)
        raise TipAccessError(
            _("That tip code and passphrase do not match. Check both and try again.")
        )
    return tip


def tipster_dialogue_read(*, tip: Tip) -> list[TipMessage]:
    """The dialogue as the tipster sees it (no internal notes); marks the department's
    messages read."""
    now = timezone.now()
    with anonymous_request(), transaction.atomic():
        unread = TipMessage.objects.filter(tip=tip, kind=MessageKind.TO_TIPSTER, read_at=None)
        opened = unread.update(read_at=now)
        audit_record(actor=None, action="tips.tipster_open", obj=tip, data={"newly_read": opened})
    return list(
        TipMessage.objects.filter(tip=tip)
        .exclude(kind=MessageKind.NOTE)
        .prefetch_related("files")
        .order_by("created_at", "id")
    )


def tipster_reply(*, tip: Tip, body: str, files: Sequence[SealedUpload] = ()) -> TipMessage:
    """Store the tipster's answer (and any files they add) on their tip."""
    try:
        body = _text(body, _("Your answer"))
        if not body and not files:
            raise InvalidInputError(_("Write an answer or attach a file."))
        checked = _files_check(files)
    except BaseException:
        for upload in files:
            upload.discard()
        raise
    stored: list[TipFile] = []
    try:
        with anonymous_request(), transaction.atomic():
            now = timezone.now()
            message = TipMessage.objects.create(
                tip=tip, kind=MessageKind.FROM_TIPSTER, body=crypto.seal(body), created_at=now
            )
            stored = _files_store(tip, checked, message)
            Tip.objects.filter(pk=tip.pk).update(unread_at=now)
            audit_record(
                actor=None,
                action="tips.tipster_reply",
                obj=tip,
                data={
                    "message": message.pk,
                    "files": [{"sha256": f.sha256, "bytes": f.size} for f in stored],
                },
            )
            _enqueue_processing(stored)
    except BaseException:
        _files_unstore(stored)
        for upload in files:
            upload.discard()
        raise
    return message
