"""Writing, approving, issuing, updating and cancelling alerts.

Every service checks the actor's roles against :mod:`watchhouse.alerts.policy`, runs in one
transaction, writes its audit entry there, and enqueues follow-up work (recipient resolution,
scheduled expiry) only once the transaction has committed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from watchhouse.accounts.roles import require_role
from watchhouse.alerts.cap import cap_problems, cap_render, cap_schema_errors, ipaws_profile_errors
from watchhouse.alerts.documents import alert_cap
from watchhouse.alerts.models import (
    Alert,
    AlertArea,
    AlertCell,
    AlertInfo,
    CapCategory,
    CapStatus,
    Category,
    Certainty,
    MsgType,
    ResponseType,
    Severity,
    Urgency,
)
from watchhouse.alerts.policy import policy_for
from watchhouse.alerts.states import AlertState, transition_check
from watchhouse.alerts.validation import (
    AreaSpec,
    InfoText,
    area_build,
    areas_union,
    infos_problems,
)
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.core.pagecache import pages_changed
from watchhouse.geo.points import polygon_cells

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

# How far in the future an alert may expire at most.
MAX_LIFETIME = timedelta(days=30)


class AlertRefusedError(InvalidInputError):
    """An alert failed the checks before issue; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(" ".join(problems))


@dataclass(frozen=True)
class AlertFields:
    """The message-wide fields a composer sets."""

    category: str
    event: str
    urgency: str
    severity: str
    certainty: str
    expires: datetime
    cap_category: str = CapCategory.SECURITY
    response_type: str = ""
    same_code: str = ""
    web: str = ""
    contact: str = ""
    status: str = CapStatus.ACTUAL
    ipaws: bool = False


def _require_issuer(actor: User | None, category: str, action: str) -> None:
    require_role(actor, *policy_for(category).issuers, action=action)


def _choice(value: str, choices: Any, label: str) -> list[str]:
    if value not in choices.values:
        return [f"Unknown {label} {value!r}; choose one of: {', '.join(choices.values)}."]
    return []


def fields_problems(fields: AlertFields, *, now: datetime | None = None) -> list[str]:
    """What is wrong with the message-wide fields (empty when nothing is)."""
    now = now or timezone.now()
    problems = (
        _choice(fields.category, Category, "category")
        + _choice(fields.urgency, Urgency, "urgency")
        + _choice(fields.severity, Severity, "severity")
        + _choice(fields.certainty, Certainty, "certainty")
        + _choice(fields.cap_category, CapCategory, "CAP category")
        + _choice(fields.response_type, ResponseType, "response")
        + _choice(fields.status, CapStatus, "CAP status")
    )
    if not fields.event.strip():
        problems.append("Say what the event is (for example 'Armed robbery').")
    if fields.same_code and not (len(fields.same_code) == 3 and fields.same_code.isalpha()):
        problems.append("A SAME event code is three letters, for example CEM.")
    if timezone.is_naive(fields.expires):
        problems.append("The expiry time needs a time zone.")
    elif fields.expires <= now:
        problems.append("The expiry time is in the past; an alert must expire in the future.")
    elif fields.expires > now + MAX_LIFETIME:
        problems.append("An alert may run for 30 days at most.")
    return problems


def _refuse_if(problems: list[str]) -> None:
    if problems:
        raise AlertRefusedError(problems)


def _store_texts(alert: Alert, infos: list[InfoText], specs: list[AreaSpec] | None) -> None:
    alert.infos.all().delete()
    AlertInfo.objects.bulk_create(
        AlertInfo(
            alert=alert,
            language=i.language,
            headline=i.headline.strip(),
            description=i.description.strip(),
            instruction=i.instruction.strip(),
            sms_text=i.sms_text.strip(),
            wea_short=i.wea_short.strip(),
            wea_long=i.wea_long.strip(),
        )
        for i in infos
    )
    if specs is not None:
        built = _build_areas(specs)
        alert.areas.all().delete()
        for area in built:
            area.alert = alert
        AlertArea.objects.bulk_create(built)


def _build_areas(specs: list[AreaSpec]) -> list[AlertArea]:
    if not specs:
        raise AlertRefusedError(["An alert needs at least one area."])
    return [area_build(spec) for spec in specs]


def _apply_fields(alert: Alert, fields: AlertFields) -> None:
    alert.category = fields.category
    alert.event = fields.event.strip()
    alert.urgency = fields.urgency
    alert.severity = fields.severity
    alert.certainty = fields.certainty
    alert.expires = fields.expires
    alert.cap_category = fields.cap_category
    alert.response_type = fields.response_type
    alert.same_code = fields.same_code.upper()
    alert.web = fields.web.strip()
    alert.contact = fields.contact.strip()
    alert.status = fields.status
    alert.ipaws = fields.ipaws


def _new_identifier() -> str:
    return f"watchhouse-{uuid.uuid4()}"


def alert_create(
    *, actor: User, fields: AlertFields, infos: list[InfoText], areas: list[AreaSpec]
) -> Alert:
    """Store a draft alert; raises AlertRefusedError listing every problem (nothing stored)."""
    if fields.category in Category.values:
        _require_issuer(actor, fields.category, "write alerts of this category")
    _refuse_if(fields_problems(fields) + infos_problems(infos))
    built = _build_areas(areas)
    with transaction.atomic():
        alert = Alert(identifier=_new_identifier(), created_by=actor, state=AlertState.DRAFT)
        _apply_fields(alert, fields)
        alert.save()
        _store_texts(alert, infos, None)
        for area in built:
            area.alert = alert
        AlertArea.objects.bulk_create(built)
        audit_record(
            actor=actor,
            action="alerts.create",
            obj=alert,
            data={"category": alert.category, "languages": [i.language for i in infos]},
        )
    return alert


def alert_update_draft(
    *,
    actor: User,
    alert: Alert,
    fields: AlertFields,
    infos: list[InfoText],
    areas: list[AreaSpec] | None = None,
) -> Alert:
    """Change a draft's fields, texts and (when given) areas."""
    _require_issuer(actor, alert.category, "change alerts of this category")
    if fields.category in Category.values:
        _require_issuer(actor, fields.category, "write alerts of this category")
    _refuse_if(fields_problems(fields) + infos_problems(infos))
    if areas is not None:
        _build_areas(areas)
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.state != AlertState.DRAFT:
            raise InvalidInputError("Only a draft can be changed; this alert is not one.")
        _apply_fields(alert, fields)
        alert.save()
        _store_texts(alert, infos, areas)
        audit_record(actor=actor, action="alerts.update_draft", obj=alert)
    return alert


def alert_problems(alert: Alert, *, now: datetime | None = None) -> list[str]:
    """Everything that stops ``alert`` from being issued as it stands (empty: it can go)."""
    fields = AlertFields(
        category=alert.category, event=alert.event, urgency=alert.urgency,
        severity=alert.severity, certainty=alert.certainty, expires=alert.expires,
        cap_category=alert.cap_category, response_type=alert.response_type,
        same_code=alert.same_code, web=alert.web, contact=alert.contact, status=alert.status,
        ipaws=alert.ipaws,
    )  # fmt: skip
    infos = [
        InfoText(
            language=i.language, headline=i.headline, description=i.description,
            instruction=i.instruction, sms_text=i.sms_text, wea_short=i.wea_short,
            wea_long=i.wea_long,
        )
        for i in alert.infos.all()
    ]  # fmt: skip
    problems = fields_problems(fields, now=now) + infos_problems(infos)
    areas = list(alert.areas.all())
    if not areas:
        problems.append("An alert needs at least one area.")
    for area in areas:
        geometry = area.shapely_geometry
        if geometry.is_empty or not geometry.is_valid or geometry.area <= 0:
            problems.append(f"The area {area.description!r} is empty or crosses itself.")
    if alert.ipaws:
        if not alert.same_code:
            problems.append("The IPAWS profile needs a SAME event code.")
        if not any(i.wea_short for i in infos):
            problems.append("The IPAWS profile needs the short WEA text.")
    return problems


def _cap_freeze(alert: Alert) -> str:
    """Render the CAP document; refuse when it does not validate."""
    message = alert_cap(alert)
    errors = [f"CAP: {e}" for e in cap_problems(message)]
    _refuse_if(errors)
    document = cap_render(message)
    errors = [f"CAP: {e}" for e in cap_schema_errors(document)]
    if alert.ipaws:
        errors += [f"IPAWS: {e}" for e in ipaws_profile_errors(message)]
    _refuse_if(errors)
    return document.decode("utf-8")


def _issue(actor: User, alert: Alert, *, action: str) -> Alert:
    """Issue a locked alert inside the caller's transaction."""
    now = timezone.now().replace(microsecond=0)
    _refuse_if(alert_problems(alert, now=now))
    transition_check(alert.state, AlertState.ISSUED)
    alert.state = AlertState.ISSUED
    alert.issued_at = now
    alert.issued_by = actor
    alert.cap_xml = _cap_freeze(alert)
    alert.save()
    shape = areas_union(list(alert.areas.all()))
    AlertCell.objects.bulk_create(
        [AlertCell(alert=alert, cell=c.cell, interior=c.interior) for c in polygon_cells(shape)],
        batch_size=2000,
        ignore_conflicts=True,
    )
    earlier = alert.references
    if earlier is not None:
        earlier = Alert.objects.select_for_update().get(pk=earlier.pk)
        target = AlertState.CANCELLED if alert.msg_type == MsgType.CANCEL else AlertState.UPDATED
        transition_check(earlier.state, target)
        earlier.state = target
        earlier.ended_at = now
        earlier.save(update_fields=["state", "ended_at", "updated_at"])
    audit_record(
        actor=actor,
        action=action,
        obj=alert,
        data={
            "identifier": alert.identifier,
            "msg_type": alert.msg_type,
            "category": alert.category,
            "references": earlier.identifier if earlier is not None else None,
            "approved_by": alert.approved_by_id,
        },
    )
    alert_id = alert.pk
    expires = alert.expires

    def enqueue() -> None:
        from watchhouse.alerts.tasks import expire_alert_task, resolve_alert_recipients_task
        from watchhouse.outlets.tasks import sync_alert_outlets_task

        resolve_alert_recipients_task.enqueue(alert_id)
        expire_alert_task.using(run_after=expires).enqueue(alert_id)
        # Copies on other networks and the fediverse follow the alert's chain.
        sync_alert_outlets_task.enqueue(alert_id)

    transaction.on_commit(enqueue)
    pages_changed("alerts")
    return alert


def alert_submit(*, actor: User, alert: Alert) -> Alert:
    """Send a draft that policy says needs approval to the approvers."""
    _require_issuer(actor, alert.category, "submit alerts of this category")
    if not policy_for(alert.category).needs_approval:
        raise InvalidInputError("This category needs no approval: issue it directly.")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        _refuse_if(alert_problems(alert))
        transition_check(alert.state, AlertState.PENDING_APPROVAL)
        alert.state = AlertState.PENDING_APPROVAL
        alert.submitted_at = timezone.now()
        alert.save(update_fields=["state", "submitted_at", "updated_at"])
        audit_record(actor=actor, action="alerts.submit", obj=alert)
    return alert


def alert_return(*, actor: User, alert: Alert, reason: str) -> Alert:
    """Send an alert waiting for approval back to draft, saying why."""
    require_role(actor, *policy_for(alert.category).approvers, action="return alerts")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        transition_check(alert.state, AlertState.DRAFT)
        alert.state = AlertState.DRAFT
        alert.save(update_fields=["state", "updated_at"])
        audit_record(actor=actor, action="alerts.return", obj=alert, data={"reason": reason})
    return alert


def alert_approve(*, actor: User, alert: Alert) -> Alert:
    """Approve an alert waiting for approval and issue it at once (the two-person rule:
    the approver holds an approver role and is not the author)."""
    rule = policy_for(alert.category)
    require_role(actor, *rule.approvers, action="approve alerts of this category")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.created_by_id == actor.pk:
            raise NotPermittedError("A second person must approve: you wrote this alert.")
        transition_check(alert.state, AlertState.APPROVED)
        alert.state = AlertState.APPROVED
        alert.approved_by = actor
        alert.approved_at = timezone.now()
        alert.save(update_fields=["state", "approved_by", "approved_at", "updated_at"])
        audit_record(actor=actor, action="alerts.approve", obj=alert)
        return _issue(actor, alert, action="alerts.issue")


def alert_issue(*, actor: User, alert: Alert) -> Alert:
    """Validate, freeze the CAP document and issue; residents are notified after commit.

    A category that needs approval can only be issued once approved.
    """
    rule = policy_for(alert.category)
    require_role(actor, *rule.issuers, action="issue alerts of this category")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if rule.needs_approval and alert.state != AlertState.APPROVED:
            raise NotPermittedError(
                "This category needs a second person's approval before it is issued."
            )
        return _issue(actor, alert, action="alerts.issue")


def _latest_issued(alert: Alert) -> Alert:
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.state != AlertState.ISSUED:
        raise InvalidInputError(
            "Only the current message of an alert can be updated or cancelled; this one is "
            f"{alert.get_state_display().lower()}."
        )
    return alert


def _follow_up(earlier: Alert, *, actor: User, msg_type: str) -> Alert:
    follow = Alert(
        identifier=_new_identifier(),
        msg_type=msg_type,
        references=earlier,
        created_by=actor,
        state=AlertState.DRAFT,
    )
    for name in (
        "status", "category", "cap_category", "event", "urgency", "severity", "certainty",
        "response_type", "same_code", "web", "contact", "expires", "ipaws",
    ):  # fmt: skip
        setattr(follow, name, getattr(earlier, name))
    return follow


def _copy_areas(source: Alert, target: Alert) -> None:
    copies = []
    for area in source.areas.all():
        area.pk = None
        area.alert = target
        copies.append(area)
    AlertArea.objects.bulk_create(copies)


def alert_issue_update(
    *,
    actor: User,
    alert: Alert,
    infos: list[InfoText],
    fields: AlertFields | None = None,
    areas: list[AreaSpec] | None = None,
) -> Alert:
    """Issue an update (CAP msgType Update) of an issued alert; the earlier message becomes
    superseded. Fields and areas default to the earlier message's."""
    _require_issuer(actor, alert.category, "update alerts of this category")
    problems = infos_problems(infos)
    if fields is not None:
        problems += fields_problems(fields)
        if fields.category != alert.category:
            problems.append("An update keeps the category of the alert it updates.")
    _refuse_if(problems)
    built = _build_areas(areas) if areas is not None else None
    with transaction.atomic():
        earlier = _latest_issued(alert)
        update = _follow_up(earlier, actor=actor, msg_type=MsgType.UPDATE)
        if fields is not None:
            _apply_fields(update, fields)
        update.save()
        _store_texts(update, infos, None)
        if built is None:
            _copy_areas(earlier, update)
        else:
            for area in built:
                area.alert = update
            AlertArea.objects.bulk_create(built)
        return _issue(actor, update, action="alerts.issue_update")


def alert_cancel(*, actor: User, alert: Alert, note: str = "") -> Alert:
    """Issue a cancellation (CAP msgType Cancel) of an issued alert, to the same area."""
    _require_issuer(actor, alert.category, "cancel alerts of this category")
    with transaction.atomic():
        earlier = _latest_issued(alert)
        cancel = _follow_up(earlier, actor=actor, msg_type=MsgType.CANCEL)
        cancel.note = note.strip()[:500]
        cancel.save()
        infos = []
        for info in earlier.infos.all():
            with translation.override(info.language):
                prefix = gettext("Cancelled")
            infos.append(
                InfoText(
                    language=info.language,
                    headline=f"{prefix}: {info.headline}"[:160],
                    description=(note.strip() or info.description),
                    instruction="",
                    sms_text=f"{prefix}: {info.headline}"[:70],
                    wea_short="",
                    wea_long="",
                )
            )
        _store_texts(cancel, infos, None)
        _copy_areas(earlier, cancel)
        return _issue(actor, cancel, action="alerts.cancel")


def alert_discard(*, actor: User, alert: Alert) -> Alert:
    """Throw away a draft (it stays in the record, marked discarded)."""
    _require_issuer(actor, alert.category, "discard alerts of this category")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        transition_check(alert.state, AlertState.DISCARDED)
        alert.state = AlertState.DISCARDED
        alert.save(update_fields=["state", "updated_at"])
        audit_record(actor=actor, action="alerts.discard", obj=alert)
    return alert


def alert_expire(*, alert_id: int, now: datetime | None = None) -> bool:
    """Mark the alert expired if its time has come; True when it changed (the system acts)."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
        if alert is None or alert.expires > now:
            return False
        if alert.state not in (AlertState.ISSUED, AlertState.UPDATED):
            return False
        alert.state = AlertState.EXPIRED
        alert.ended_at = now
        alert.save(update_fields=["state", "ended_at", "updated_at"])
        audit_record(actor=None, action="alerts.expire", obj=alert)
        pages_changed("alerts")
    return True
