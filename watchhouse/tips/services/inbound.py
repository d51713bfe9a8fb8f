"""SMS and e-mail tips.

SMS: one thread per phone number. The number is never stored: a tip keeps only a keyed hash
of it (:func:`watchhouse.core.crypto.lookup_hash`), enough to find the thread when the same
number texts again. So nothing can be sent to an SMS tipster unasked: the investigators'
questions wait on the tip and go out in the reply to the tipster's next text.

E-mail: ``watchhouse tips smtpd`` receives mail for ``WATCHHOUSE_TIPS_EMAIL_ADDRESS``. A mail
whose subject carries "[Tip CODE]" from the address that sent that tip joins it; any other mail
is a new tip, whose sender address is kept sealed as the tip's contact so the investigators'
questions can be e-mailed back. A mail is answered 250 only once its tip is committed, so the
sending server keeps retrying on any failure and no tip is lost.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import secrets
import signal
import smtplib
import threading
from collections.abc import Mapping, Sequence
from datetime import timedelta
from email import policy
from email.message import EmailMessage as MimeMessage
from email.parser import BytesParser
from email.utils import getaddresses, make_msgid
from typing import Any

import nh3
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import close_old_connections, connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.audit.services import audit_record
from watchhouse.core import crypto
from watchhouse.core.context import anonymous_request
from watchhouse.core.errors import InvalidInputError
from watchhouse.notify.channels.sms import sms_count, sms_keyword
from watchhouse.posts.media.errors import MediaRejectedError
from watchhouse.posts.storage import private_path
from watchhouse.tips import guard
from watchhouse.tips.intake import STAGING, SealedUpload, file_classify
from watchhouse.tips.models import MessageKind, Tip, TipChannel, TipMessage
from watchhouse.tips.services.intake import code_format, tip_submit, tipster_reply
from watchhouse.tips.states import TipState

logger = logging.getLogger(__name__)

# A number that texted a tip within this many days keeps texting into the same tip.
SMS_THREAD_DAYS = 30
# The most SMS segments one reply may take (a segment is 153 GSM-7 or 67 UCS-2 characters).
SMS_MAX_SEGMENTS = 3
# "TIP the van is back", "tip: ...", "Tip - ...": the keyword that opens a tip.
_TIP_KEYWORD = re.compile(r"\s*tip(?![a-z0-9])[\s:.,;!\-]*", re.IGNORECASE)
_STATUS = "STATUS"
# Seconds a media download from Twilio may stall before it is given up.
MEDIA_TIMEOUT = 30
_SUBJECT_CODE = re.compile(r"\[\s*Tip\s+([A-Z0-9]{4}-?[A-Z0-9]{4}-?[A-Z0-9]{4})\s*\]", re.I)
# aiosmtpd holds a whole message in memory while it arrives, so mail is capped well below the
# web form's file limit: base64 makes a file a third larger, plus room for the text.
EMAIL_SIZE_CAP = 64 << 20
_BLOCK_END = re.compile(r"<\s*(br\s*/?|/p|/div|/li|/tr|/h[1-6]|/blockquote)\s*>", re.I)


# --- SMS ---------------------------------------------------------------------------------


def _number_normalise(number: str) -> str:
    """A phone number as digits with its leading +, whatever spacing it arrived with."""
    number = number.strip()
    digits = re.sub(r"\D", "", number)
    return f"+{digits}" if number.startswith("+") else digits


def sms_sender_hash(number: str) -> str:
    """The keyed hash an SMS tip stores instead of its tipster's number."""
    return crypto.lookup_hash(_number_normalise(number), purpose="sms")


def _sms_thread(sender_hash: str) -> Tip | None:
    """The number's open SMS tip with something from the tipster in the last 30 days."""
    cutoff = timezone.now() - timedelta(days=SMS_THREAD_DAYS)
    recent_text = TipMessage.objects.filter(
        tip=OuterRef("pk"), kind=MessageKind.FROM_TIPSTER, created_at__gte=cutoff
    )
    return (
        Tip.objects.filter(channel=TipChannel.SMS, sender_hash=sender_hash)
        .exclude(state=TipState.CLOSED)
        .filter(Q(received_at__gte=cutoff) | Exists(recent_text))
        .order_by("-received_at", "-id")
        .first()
    )


def _fits(text: str) -> bool:
    return sms_count(text).segments <= SMS_MAX_SEGMENTS


def _shorten(text: str, room: str) -> str:
    """The longest start of ``text`` that, ended with an ellipsis, still fits beside ``room``."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(room + text[:middle].rstrip() + "…"):
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…"


def _sms_reply_with_questions(tip: Tip, head: str) -> str:
    """``head`` followed by the department's unread questions, as many as fit in
    :data:`SMS_MAX_SEGMENTS`; the questions sent are marked read and delivered."""
    more_note = " " + _("More questions: text STATUS again.")
    with anonymous_request(), transaction.atomic():
        Tip.objects.select_for_update().filter(pk=tip.pk).first()
        pending = list(
            TipMessage.objects.filter(tip=tip, kind=MessageKind.TO_TIPSTER, read_at=None).order_by(
                "created_at", "id"
            )
        )
        reply = head
        sent: list[int] = []
        shortened: list[int] = []
        for index, message in enumerate(pending):
            last = index == len(pending) - 1
            line = " " + _("Question: %(text)s") % {"text": " ".join(message.read_body().split())}
            tail = "" if last else more_note
            if _fits(reply + line + tail):
                reply += line
                sent.append(message.pk)
                continue
            if sent:
                # The rest waits for the next STATUS.
                reply += more_note
                break
            # A question too long for one reply on its own goes out shortened.
            reply += _shorten(line, reply + tail) + tail
            sent.append(message.pk)
            shortened.append(message.pk)
            break
        if sent:
            now = timezone.now()
            TipMessage.objects.filter(pk__in=sent).exclude(pk__in=shortened).update(
                read_at=now, delivery="sent"
            )
            TipMessage.objects.filter(pk__in=shortened).update(
                read_at=now, delivery="sent shortened to fit a text message"
            )
            audit_record(
                actor=None,
                action="tips.tipster_open",
                obj=tip,
                data={"newly_read": len(sent), "channel": TipChannel.SMS},
            )
    return reply


def sms_tip_handle(
    *, from_number: str, to_number: str, body: str, media: Sequence[SealedUpload] = ()
) -> str | None:
    """Take a text that is a tip, or part of one; return the reply to send, or None when the
    text is not for tips (the alerts handling answers it then).

    A text is for tips when it was sent to ``WATCHHOUSE_TIPS_SMS_NUMBER``, starts with TIP, or
    comes from a number with an open tip of the last 30 days. The carrier keywords (STOP,
    START, HELP and their synonyms) are never tips. The number itself is stored nowhere: the
    tip keeps its keyed hash. Media not taken (because the text is not a tip) is deleted.
    """
    try:
        return _sms_tip_handle(from_number, to_number, body, media)
    except BaseException:
        for upload in media:
            upload.discard()
        raise


def _sms_tip_handle(
    from_number: str, to_number: str, body: str, media: Sequence[SealedUpload]
) -> str | None:
    number = _number_normalise(from_number)
    if len(number.lstrip("+")) < 3:
        raise InvalidInputError(_("The text has no sender number."))
    if sms_keyword(body) is not None:
        for upload in media:
            upload.discard()
        return None
    agency = settings.WATCHHOUSE_AGENCY_NAME
    tips_number = _number_normalise(str(settings.WATCHHOUSE_TIPS_SMS_NUMBER or ""))
    to_tips = bool(tips_number) and _number_normalise(to_number) == tips_number
    keyword = _TIP_KEYWORD.match(body)
    text = body[keyword.end() :].strip() if keyword else body.strip()
    sender_hash = sms_sender_hash(number)
    thread = _sms_thread(sender_hash)
    status = " ".join(body.split()).upper() == _STATUS
    if thread is None and not (keyword or to_tips):
        for upload in media:
            upload.discard()
        return None
    kept, refused = _attachments_sort(list(media))
    media = kept
    # STATUS with a photo is a photo to add, not a request for questions.
    status = status and not media
    not_kept = " " + _("A photo could not be kept.") if refused else ""
    if thread is None and status:
        return _("%(agency)s: there is no open tip from this number. Text TIP and what you saw "
                 "to send one.") % {"agency": agency}  # fmt: skip
    if thread is None:
        if not text and not media:
            return _("%(agency)s tips: text TIP followed by what you saw (you may add photos). "
                     "Emergency? Call 911.") % {"agency": agency}  # fmt: skip
        limit = int(settings.WATCHHOUSE_TIPS_PER_HOUR)
        if guard.over_limit("sms-tip", sender_hash, limit=limit, window_seconds=3600):
            for upload in media:
                upload.discard()
            return _("%(agency)s: too many tips from this number this hour. Try again later. "
                     "Emergency? Call 911.") % {"agency": agency}  # fmt: skip
        receipt = tip_submit(
            what=text, files=media, channel=TipChannel.SMS, sender_hash=sender_hash
        )
        guard.count("sms-tip", sender_hash, window_seconds=3600)
        return (
            _(
                "%(agency)s: tip received, code %(code)s. Text this number again to add "
                "information. Text STATUS to read questions. Emergency? Call 911."
            )
            % {"agency": agency, "code": receipt.code}
            + not_kept
        )
    if status or (not text and not media):
        head = _("Tip %(code)s:") % {"code": thread.code}
        reply = _sms_reply_with_questions(thread, head)
        if reply == head:
            return _("Tip %(code)s: no new questions.") % {"code": thread.code}
        return reply
    tipster_reply(tip=thread, body=text, files=media)
    head = _("Added to tip %(code)s.") % {"code": thread.code} + not_kept
    return _sms_reply_with_questions(thread, head)


def sms_media_fetch(params: Mapping[str, str]) -> list[SealedUpload]:
    """Download the photos of an MMS Twilio posted (``MediaUrl0``… with
    ``NumMedia``), each sealed into staging as it streams in; files over the size limit
    come back refused (``too_large``), as from the web form.

    Only URLs under ``TWILIO_BASE_URL`` are fetched (with the account's credentials), so a
    forwarded request cannot make the site fetch anything else.
    """
    try:
        count = min(int(params.get("NumMedia") or 0), int(settings.WATCHHOUSE_TIPS_MAX_FILES))
    except ValueError:
        return []
    base = str(settings.TWILIO_BASE_URL).rstrip("/") + "/"
    auth = (str(settings.TWILIO_ACCOUNT_SID), str(settings.TWILIO_AUTH_TOKEN))
    limit = int(settings.WATCHHOUSE_TIPS_MAX_FILE_BYTES)
    uploads: list[SealedUpload] = []
    try:
        with requests.Session() as session:
            session.auth = auth
            for index in range(count):
                url = params.get(f"MediaUrl{index}", "")
                if not url.startswith(base):
                    continue
                try:
                    uploads.append(_media_download(session, url, f"mms-{index + 1}", limit))
                except (requests.RequestException, OSError) as exc:
                    # The text still counts; the photo is lost, and the log says why.
                    logger.warning("MMS media %d could not be fetched: %s", index, exc)
    except BaseException:
        for upload in uploads:
            upload.discard()
        raise
    return uploads


def _media_download(session: requests.Session, url: str, name: str, limit: int) -> SealedUpload:
    relative = f"{STAGING}/{secrets.token_hex(16)}"
    writer = crypto.SealingWriter(private_path(relative))
    try:
        with session.get(url, stream=True, timeout=MEDIA_TIMEOUT) as response:
            response.raise_for_status()
            for chunk in response.iter_content(chunk_size=256 * 1024):
                if writer.size + len(chunk) > limit:
                    writer.abort()
                    return SealedUpload(name=name, relative="", sealed=None)
                writer.write(chunk)
        return SealedUpload(name=name, relative=relative, sealed=writer.close())
    except BaseException:
        writer.abort()
        raise


# --- e-mail ------------------------------------------------------------------------------


def email_sender_hash(address: str) -> str:
    """The keyed hash an e-mail tip keeps to recognise its tipster's replies."""
    return crypto.lookup_hash(address.strip().lower(), purpose="email")


def _sender_address(message: MimeMessage, envelope_sender: str) -> str:
    """The address a reply should go to: the From header's, else the envelope sender."""
    for _name, address in getaddresses([str(message.get("From", ""))]):
        if "@" in address:
            return address.strip()
    return envelope_sender.strip()


def _html_text(markup: str) -> str:
    """Readable text of an HTML body: tags dropped (script and style with their content),
    line breaks kept where blocks ended."""
    marked = _BLOCK_END.sub("\n", markup)
    return html.unescape(nh3.clean(marked, tags=set()))


def _body_text(message: MimeMessage) -> tuple[str, Any]:
    """The text the sender wrote, and the MIME part it came from (None when there is none)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None or not isinstance(part, MimeMessage):
        return "", None
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return "", part
    if part.get_content_subtype() == "html":
        content = _html_text(content)
    lines = [line.rstrip() for line in content.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), part


def _attachments(message: MimeMessage, body_part: Any) -> list[SealedUpload]:
    """Every part that is not the body, sealed into staging."""
    limit = int(settings.WATCHHOUSE_TIPS_MAX_FILE_BYTES)
    uploads: list[SealedUpload] = []
    try:
        for index, part in enumerate(message.walk()):
            if part.is_multipart() or part is body_part:
                continue
            if part.get_content_maintype() == "text" and not part.is_attachment():
                continue  # the other form of the body (text beside HTML)
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            name = str(part.get_filename() or f"attachment-{index}")[:255]
            relative = f"{STAGING}/{secrets.token_hex(16)}"
            if len(payload) > limit:
                uploads.append(SealedUpload(name=name, relative="", sealed=None))
                continue
            sealed = crypto.seal_file(
                private_path(relative),
                (payload[i : i + crypto.CHUNK] for i in range(0, len(payload), crypto.CHUNK)),
            )
            uploads.append(SealedUpload(name=name, relative=relative, sealed=sealed))
    except BaseException:
        for upload in uploads:
            upload.discard()
        raise
    return uploads


def _attachments_sort(uploads: list[SealedUpload]) -> tuple[list[SealedUpload], list[str]]:
    """The attachments that can be kept, and a sentence for each one that cannot (those are
    deleted now). A mail cannot be sent again like a form, so the rest is still taken."""
    kept: list[SealedUpload] = []
    refused: list[str] = []
    limit = int(settings.WATCHHOUSE_TIPS_MAX_FILES)
    for upload in uploads:
        try:
            file_classify(upload)
        except MediaRejectedError as exc:
            refused.append(str(exc))
            upload.discard()
            continue
        if len(kept) >= limit:
            refused.append(
                _("%(name)s: only %(n)d files are kept from one e-mail.")
                % {"name": upload.name, "n": limit}
            )
            upload.discard()
            continue
        kept.append(upload)
    return kept, refused


def _auto_reply_allowed(message: MimeMessage, address: str, envelope_sender: str) -> bool:
    """RFC 3834: never answer automatic mail, lists or bounces (it would start a loop)."""
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        "@" in address
        and envelope_sender.strip() not in ("", "<>")
        and auto in ("", "no")
        and precedence not in ("bulk", "list", "junk")
        and not message.get("List-Id")
        and not address.lower().startswith(("mailer-daemon@", "postmaster@"))
    )


def _mail_domain() -> str:
    sender = str(settings.WATCHHOUSE_TIPS_EMAIL_ADDRESS or settings.DEFAULT_FROM_EMAIL)
    return sender.rpartition("@")[2].strip(">") or "watchhouse.invalid"


def _mail_send(*, subject: str, body: str, to: str, message_id: str = "") -> None:
    tips_address = str(settings.WATCHHOUSE_TIPS_EMAIL_ADDRESS or "")
    headers = {"Auto-Submitted": "auto-replied"}
    if message_id:
        headers["Message-ID"] = message_id
    EmailMessage(
        subject=subject,
        body=body,
        to=[to],
        reply_to=[tips_address] if tips_address else None,
        headers=headers,
    ).send()


def _auto_reply(*, tip: Tip, address: str, new: bool, refused: list[str]) -> None:
    """Tell an e-mail tipster their tip was taken, and which attachments were not; a failure
    to send is logged, never raised: the tip is already stored."""
    agency = settings.WATCHHOUSE_AGENCY_NAME
    lines = []
    if new:
        lines.append(
            _("%(agency)s received your tip. Its code is %(code)s.")
            % {"agency": agency, "code": tip.code}
        )
        lines.append(
            _(
                "To add information or photos, reply to this e-mail, keeping [Tip %(code)s] in "
                "the subject. If investigators have questions they will write to you here."
            )
            % {"code": tip.code}
        )
    else:
        lines.append(_("Your message was added to tip %(code)s.") % {"code": tip.code})
    if refused:
        lines.append(_("These attachments were not kept:"))
        lines.extend(f"- {reason}" for reason in refused)
    lines.append(_("Emergency? Call 911."))
    subject = _("[Tip %(code)s] Your tip was received") % {"code": tip.code}
    try:
        _mail_send(subject=subject, body="\n\n".join(lines), to=address)
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning(
            "The auto-reply to e-mail tip %s was not sent: %s", tip.pk, _mail_error(exc, address)
        )


def email_tip_receive(*, raw: bytes, sender: str) -> Tip:
    """Store a tip that came by e-mail (or add it to the tip it answers); return the tip.

    A subject carrying "[Tip CODE]" from the address that sent tip CODE adds a message to it;
    anything else is a new tip, its sender's address sealed as the contact and kept as a keyed
    hash. The text body is taken (HTML converted to text, never stored as HTML), attachments
    sealed; attachments that cannot be kept are dropped and listed in the auto-reply. Raises
    :class:`InvalidInputError` for a mail with nothing to keep. The tip is committed before
    this returns.
    """
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not isinstance(message, MimeMessage):
        raise InvalidInputError(_("The message is not an e-mail."))
    address = _sender_address(message, sender)
    text, body_part = _body_text(message)
    uploads = _attachments(message, body_part)
    kept, refused = _attachments_sort(uploads)
    try:
        subject = " ".join(str(message.get("Subject", "")).split())
        found = _SUBJECT_CODE.search(subject)
        sender_hash = email_sender_hash(address) if "@" in address else ""
        thread = None
        if found and sender_hash:
            thread = Tip.objects.filter(
                code=code_format(found.group(1)),
                channel=TipChannel.EMAIL,
                sender_hash=sender_hash,
            ).first()
        if thread is not None:
            if not text and not kept:
                raise InvalidInputError(
                    " ".join([_("The e-mail holds nothing that can be kept."), *refused])
                )
            tipster_reply(tip=thread, body=text, files=kept)
            tip = thread
        else:
            # The subject is often the tipster's own summary; keep it with the text.
            if subject and not found:
                text = f"{subject}\n\n{text}".strip()
            if not text and not kept:
                raise InvalidInputError(
                    " ".join([_("The e-mail holds nothing that can be kept."), *refused])
                )
            tip = tip_submit(
                what=text,
                contact=address if "@" in address else "",
                files=kept,
                channel=TipChannel.EMAIL,
                sender_hash=sender_hash,
            ).tip
    except BaseException:
        for upload in kept:
            upload.discard()
        raise
    if _auto_reply_allowed(message, address, sender) and (thread is None or refused):
        _auto_reply(tip=tip, address=address, new=thread is None, refused=refused)
    return tip


def _mail_error(exc: Exception, address: str) -> str:
    """What went wrong sending mail, without the tipster's address (servers often quote it,
    and the error is stored in the clear)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = "; ".join(
            f"{code} {reply.decode('utf-8', 'replace')}" for code, reply in exc.recipients.values()
        )
    elif isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = f"{exc.smtp_code} " + (
            reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        )
    else:
        text = str(exc) or type(exc).__name__
    if address:
        text = re.sub(re.escape(address), "[address]", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def _permanent(exc: smtplib.SMTPException) -> bool:
    """Whether the mail server refused for good (a 5xx answer) rather than for now."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in exc.recipients.values())
    code = getattr(exc, "smtp_code", 0)
    return isinstance(code, int) and code >= 500


def _delivery_record(message: TipMessage, delivery: str) -> None:
    with transaction.atomic():
        TipMessage.objects.filter(pk=message.pk).update(delivery=delivery[:200])
        audit_record(
            actor=None,
            action="tips.message_deliver",
            obj=message.tip,
            data={"message": message.pk, "delivery": delivery[:200]},
        )


def tip_message_deliver(*, message_id: int) -> str:
    """E-mail a message to its e-mail tipster, once; return how it went.

    A message already sent is not sent again. A refusal for good (5xx, no address) is
    recorded and returned; a transient failure (the mail server unreachable, 4xx) is recorded
    and raised, so the task is retried.
    """
    message = TipMessage.objects.select_related("tip").filter(pk=message_id).first()
    if message is None:
        return "no such message"
    if message.delivery == "sent":
        return "already sent"
    tip = message.tip
    if message.kind != MessageKind.TO_TIPSTER or tip.channel != TipChannel.EMAIL:
        return "not a message to an e-mail tipster"
    address = tip.read_contact().strip()
    if "@" not in address:
        _delivery_record(message, "no e-mail address to send to")
        return "no e-mail address to send to"
    agency = settings.WATCHHOUSE_AGENCY_NAME
    body = "\n\n".join(
        [
            _("%(agency)s has a question about your tip %(code)s:")
            % {"agency": agency, "code": tip.code},
            message.read_body(),
            _(
                "Reply to this e-mail to answer, keeping [Tip %(code)s] in the subject. "
                "Emergency? Call 911."
            )
            % {"code": tip.code},
        ]
    )
    token = crypto.lookup_hash(str(message.pk), purpose="message-id")[:24]
    try:
        _mail_send(
            subject=_("[Tip %(code)s] A question about your tip") % {"code": tip.code},
            body=body,
            to=address,
            # Stable, so a resend after a lost answer is recognisably the same message.
            message_id=make_msgid(idstring=f"tip{message.pk}.{token}", domain=_mail_domain()),
        )
    except smtplib.SMTPException as exc:
        error = _mail_error(exc, address)
        if _permanent(exc):
            _delivery_record(message, f"refused: {error}")
            return f"refused: {error}"
        _delivery_record(message, f"will retry: {error}")
        raise
    except OSError as exc:
        _delivery_record(message, f"will retry: {_mail_error(exc, address)}")
        raise
    _delivery_record(message, "sent")
    return "sent"


# --- receiving mail ----------------------------------------------------------------------


def email_size_limit() -> int:
    """The largest mail the tip mail server takes, in bytes."""
    one_file = int(settings.WATCHHOUSE_TIPS_MAX_FILE_BYTES) * 4 // 3 + (1 << 20)
    return min(one_file, EMAIL_SIZE_CAP)


def _smtp_reply_text(text: str) -> str:
    """One line of printable ASCII, as an SMTP reply must be."""
    flat = " ".join(text.split())
    return flat.encode("ascii", "replace").decode("ascii")[:400]


class TipMailHandler:
    """aiosmtpd handler: takes mail for the tips address only and stores each as a tip."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        wanted = str(settings.WATCHHOUSE_TIPS_EMAIL_ADDRESS or "").strip().lower()
        if not wanted or address.strip().lower() != wanted:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        sender = str(envelope.mail_from or "")
        loop = asyncio.get_running_loop()
        try:
            tip_id = await loop.run_in_executor(None, _receive_in_thread, raw, sender)
        except InvalidInputError as exc:
            return f"550 5.6.0 {_smtp_reply_text(str(exc))}"
        except Exception:
            logger.exception("An e-mail tip could not be stored; the sender will retry.")
            return "451 4.3.0 The tip could not be stored now; try again later"
        return f"250 2.0.0 Tip received ({tip_id})"


def _receive_in_thread(raw: bytes, sender: str) -> int:
    """Store the tip in a worker thread with its own database connection, closed afterwards:
    mail comes seldom, and a connection left idle in an executor thread would go stale."""
    close_old_connections()
    try:
        return email_tip_receive(raw=raw, sender=sender).pk
    finally:
        connections.close_all()


def tip_mail_controller(*, host: str, port: int) -> Controller:
    """An aiosmtpd controller (not started) serving :class:`TipMailHandler`."""
    return Controller(
        TipMailHandler(),
        hostname=host,
        port=port,
        data_size_limit=email_size_limit(),
        server_hostname=_mail_domain(),
    )


def smtpd_serve(*, host: str, port: int) -> None:
    """Receive tips by e-mail on ``host:port`` until SIGINT or SIGTERM."""
    if not settings.WATCHHOUSE_TIPS_EMAIL_ADDRESS:
        raise InvalidInputError(
            "Set WATCHHOUSE_TIPS_EMAIL_ADDRESS to the address tips are sent to."
        )
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    controller = tip_mail_controller(host=host, port=port)
    controller.start()
    logger.info(
        "Receiving e-mail tips for %s on %s:%d",
        settings.WATCHHOUSE_TIPS_EMAIL_ADDRESS,
        host,
        port,
    )
    try:
        stopping.wait()
    finally:
        controller.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
