"""Investigators reading a tip and talking to its tipster."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.audit.services import audit_record
from watchhouse.core import crypto
from watchhouse.core.errors import InvalidInputError
from watchhouse.tips.models import MessageKind, Tip, TipChannel, TipMessage
from watchhouse.tips.policy import require_investigator

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

MAX_MESSAGE = 5000


def tip_read(*, actor: User, tip: Tip, purpose: str = "open") -> dict[str, Any]:
    """What the tipster wrote and the contact details they gave, for an investigator; the read
    is audited, and opening the tip marks the tipster's messages read."""
    require_investigator(actor, action="read tips")
    now = timezone.now()
    with transaction.atomic():
        TipMessage.objects.filter(tip=tip, kind=MessageKind.FROM_TIPSTER, read_at=None).update(
            read_at=now
        )
        Tip.objects.filter(pk=tip.pk).update(unread_at=None)
        audit_record(actor=actor, action="tips.read", obj=tip, data={"purpose": purpose})
    content = tip.read_content()
    content["contact"] = tip.read_contact()
    return content


def _body(body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidInputError(_("Write the message first."))
    if len(body) > MAX_MESSAGE:
        raise InvalidInputError(_("A message is at most %(n)d characters.") % {"n": MAX_MESSAGE})
    return body


def tip_message_send(*, actor: User, tip: Tip, body: str) -> TipMessage:
    """Put a question or reply in the tipster's dialogue.

    A web tipster reads it at /tips/status; an e-mail tipster is sent it by the worker; an SMS
    tipster gets it in the answer to their next text (the number is not kept, so nothing can
    be sent to it unasked).
    """
    require_investigator(actor, action="write to tipsters")
    body = _body(body)
    with transaction.atomic():
        locked = Tip.objects.select_for_update().get(pk=tip.pk)
        now = timezone.now()
        message = TipMessage.objects.create(
            tip=locked,
            kind=MessageKind.TO_TIPSTER,
            body=crypto.seal(body),
            author=actor,
            created_at=now,
        )
        if locked.first_reply_at is None:
            locked.first_reply_at = now
            locked.save(update_fields=["first_reply_at"])
        audit_record(
            actor=actor, action="tips.message_send", obj=locked, data={"message": message.pk}
        )
        if locked.channel == TipChannel.EMAIL:
            message_id = message.pk

            def enqueue() -> None:
                from watchhouse.tips.tasks import deliver_tip_message_task

                deliver_tip_message_task.enqueue(message_id)

            transaction.on_commit(enqueue)
    tip.first_reply_at = locked.first_reply_at
    return message


def tip_note_add(*, actor: User, tip: Tip, body: str) -> TipMessage:
    """Add an internal note to a tip: seen by investigators, never by the tipster."""
    require_investigator(actor, action="add notes to tips")
    body = _body(body)
    with transaction.atomic():
        note = TipMessage.objects.create(
            tip=tip, kind=MessageKind.NOTE, body=crypto.seal(body), author=actor
        )
        audit_record(actor=actor, action="tips.note_add", obj=tip, data={"message": note.pk})
    return note
