"""Adding, changing, switching and checking outlets; reporting tokens about to expire.

Credentials are written only: a form's empty credential field keeps what is stored, and no
service returns them. They are sealed (:func:`watchhouse.core.crypto.seal_json`) before they
touch the database, and neither audit entries nor logs carry them (field names only).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.accounts.roles import Role, require_role
from watchhouse.alerts.models import Category
from watchhouse.audit.services import audit_record
from watchhouse.core.crypto import seal_json, unseal_json
from watchhouse.core.errors import InvalidInputError
from watchhouse.outlets import policy
from watchhouse.outlets.models import Network, Outlet
from watchhouse.outlets.networks.base import Adapter, OutletError
from watchhouse.posts.models import PostKind

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

logger = logging.getLogger(__name__)

# Networks an Outlet may be (the department's own fediverse actor is not an outlet).
CROSSPOST_NETWORKS = tuple(n for n in Network.values if n != Network.ACTIVITYPUB)


def expiry_warning_days() -> int:
    """How many days before a token expires the admins are told."""
    return int(getattr(settings, "WATCHHOUSE_OUTLETS_EXPIRY_WARNING_DAYS", 7))


@dataclass(frozen=True)
class OutletFields:
    """What an admin sets on an outlet. ``credentials`` holds only the fields typed in:
    an empty or missing one keeps the stored value."""

    network: str
    name: str
    account: str = ""
    api_base: str = ""
    enabled: bool = True
    post_kinds: tuple[str, ...] = ()
    alert_categories: tuple[str, ...] = ()
    credentials: dict[str, str] = field(default_factory=dict)


def _registry() -> Any:
    from watchhouse.outlets.networks import registry

    return registry


def _problems(fields: OutletFields) -> list[str]:
    problems = []
    if fields.network not in CROSSPOST_NETWORKS:
        problems.append(_("Choose a network to cross-post to."))
    if not fields.name.strip():
        problems.append(_("Give the outlet a name."))
    unknown_kinds = set(fields.post_kinds) - set(PostKind.values)
    if unknown_kinds:
        problems.append(_("Unknown post kinds: %(k)s.") % {"k": ", ".join(sorted(unknown_kinds))})
    unknown_categories = set(fields.alert_categories) - set(Category.values)
    if unknown_categories:
        problems.append(
            _("Unknown alert categories: %(c)s.") % {"c": ", ".join(sorted(unknown_categories))}
        )
    if fields.network in CROSSPOST_NETWORKS:
        allowed = {name for name, _label in _registry().CREDENTIAL_FIELDS.get(fields.network, [])}
        extra = set(fields.credentials) - allowed
        if extra:
            problems.append(_("Credentials this network does not take were given."))
        base = fields.api_base.strip() or _registry().DEFAULT_API_BASE.get(fields.network, "")
        if not base:
            problems.append(_("Give the address to send to."))
        elif not base.startswith(("https://", "http://")):
            problems.append(_("The address must start with https://."))
    return problems


def _api_base(fields: OutletFields) -> str:
    default = _registry().DEFAULT_API_BASE.get(fields.network, "")
    return (fields.api_base.strip() or default).rstrip("/")


def _merged_credentials(outlet: Outlet, typed: dict[str, str]) -> tuple[str, list[str]]:
    """The sealed credentials with the typed fields replacing the stored ones, and the names
    of the fields that changed."""
    current = unseal_json(outlet.credentials, default={}) if outlet.credentials else {}
    changed = []
    for name, value in typed.items():
        value = value.strip()
        if value and current.get(name) != value:
            current[name] = value
            changed.append(name)
    return (seal_json(current) if current else ""), sorted(changed)


def outlet_create(*, actor: User, fields: OutletFields) -> Outlet:
    """Add an outlet; its credentials are sealed and the entry names only which were set."""
    require_role(actor, *policy.MANAGER_ROLES, action="manage outlets")
    problems = _problems(fields)
    if problems:
        raise InvalidInputError(" ".join(problems))
    with transaction.atomic():
        if Outlet.objects.filter(network=fields.network, name=fields.name.strip()).exists():
            raise InvalidInputError(_("An outlet of this network already has this name."))
        outlet = Outlet(
            network=fields.network,
            name=fields.name.strip(),
            account=fields.account.strip(),
            api_base=_api_base(fields),
            enabled=fields.enabled,
            post_kinds=sorted(set(fields.post_kinds)),
            alert_categories=sorted(set(fields.alert_categories)),
            created_by=actor,
        )
        outlet.credentials, changed = _merged_credentials(outlet, fields.credentials)
        outlet.save()
        audit_record(
            actor=actor, action="outlets.outlet.create", obj=outlet,
            data={"network": outlet.network, "enabled": outlet.enabled, "credentials": changed},
        )  # fmt: skip
        _start_collecting(outlet)
    return outlet


def outlet_update(*, actor: User, outlet: Outlet, fields: OutletFields) -> Outlet:
    """Change an outlet; only typed credential fields replace the stored ones. A changed
    credential makes the last check stale (it is cleared) and resets the expiry warning."""
    require_role(actor, *policy.MANAGER_ROLES, action="manage outlets")
    problems = _problems(fields)
    if problems:
        raise InvalidInputError(" ".join(problems))
    with transaction.atomic():
        outlet = Outlet.objects.select_for_update().get(pk=outlet.pk)
        if fields.network != outlet.network:
            raise InvalidInputError(_("An outlet's network cannot change; add another outlet."))
        clash = Outlet.objects.filter(network=outlet.network, name=fields.name.strip())
        if clash.exclude(pk=outlet.pk).exists():
            raise InvalidInputError(_("An outlet of this network already has this name."))
        was_enabled = outlet.enabled
        outlet.name = fields.name.strip()
        outlet.account = fields.account.strip()
        outlet.api_base = _api_base(fields)
        outlet.enabled = fields.enabled
        outlet.post_kinds = sorted(set(fields.post_kinds))
        outlet.alert_categories = sorted(set(fields.alert_categories))
        outlet.credentials, changed = _merged_credentials(outlet, fields.credentials)
        if changed:
            outlet.checked_at = None
            outlet.check_ok = None
            outlet.check_message = ""
            outlet.expiry_warned_at = None
        outlet.save()
        audit_record(
            actor=actor, action="outlets.outlet.update", obj=outlet,
            data={"enabled": outlet.enabled, "credentials": changed},
        )  # fmt: skip
        if outlet.enabled and not was_enabled:
            _start_collecting(outlet)
    return outlet


def outlet_enable(*, actor: User, outlet: Outlet, enabled: bool) -> Outlet:
    """Switch an outlet on or off. Off, no new copies go there; copies already there still
    follow their post's edits and retraction."""
    require_role(actor, *policy.MANAGER_ROLES, action="manage outlets")
    with transaction.atomic():
        outlet = Outlet.objects.select_for_update().get(pk=outlet.pk)
        if outlet.enabled == enabled:
            return outlet
        outlet.enabled = enabled
        outlet.save(update_fields=["enabled", "updated_at"])
        audit_record(
            actor=actor, action="outlets.outlet.enable" if enabled else "outlets.outlet.disable",
            obj=outlet,
        )  # fmt: skip
        if enabled:
            _start_collecting(outlet)
    return outlet


def _start_collecting(outlet: Outlet) -> None:
    """Start the outlet's periodic inbound collection after commit (a second chain started
    while one runs ends at its first run: see :func:`inbound_collect_due`)."""
    if not outlet.enabled:
        return
    outlet_id = outlet.pk

    def enqueue() -> None:
        from watchhouse.outlets.tasks import collect_inbound_task

        collect_inbound_task.enqueue(outlet_id)

    transaction.on_commit(enqueue)


def outlet_adapter(outlet: Outlet) -> Adapter:
    """The network adapter of ``outlet`` with its credentials unsealed."""
    adapter: Adapter = _registry().adapter_for(outlet)
    return adapter


def adapter_close(adapter: Any) -> None:
    """Let go of an adapter's connections (the HTTP sessions it or its SDK client hold)."""
    if adapter is None:
        return
    close = getattr(adapter, "close", None)
    if callable(close):
        close()
        return
    for holder in (adapter, getattr(adapter, "api", None), getattr(adapter, "client", None)):
        session = getattr(holder, "session", None)
        if session is not None and callable(getattr(session, "close", None)):
            session.close()


def credentials_keep(outlet: Outlet, adapter: Any) -> bool:
    """Seal back credentials the network refreshed during a call (X's rotating tokens);
    True when there were any. Runs in its own short transaction."""
    fresh = getattr(adapter, "refreshed_credentials", None)
    if not fresh or not isinstance(fresh, dict):
        return False
    with transaction.atomic():
        Outlet.objects.filter(pk=outlet.pk).update(
            credentials=seal_json(fresh), updated_at=timezone.now()
        )
        audit_record(
            actor=None, action="outlets.outlet.credentials_refreshed", obj=outlet,
            data={"fields": sorted(fresh)},
        )  # fmt: skip
    return True


def outlet_check(*, actor: User, outlet: Outlet) -> Outlet:
    """Ask the network whether the outlet's credentials work ("check connection") and keep
    the answer: when, whether, what it said, the token's expiry and refreshed credentials.
    Its periodic inbound collection is (re)started after commit."""
    require_role(actor, *policy.MANAGER_ROLES, action="check outlets")
    ok, message, expires, fresh = False, "", None, None
    adapter: Any = None
    try:
        # Network I/O outside any transaction: the check can take the full timeouts.
        adapter = outlet_adapter(outlet)
        result = adapter.check()
        ok, message, expires = result.ok, result.message, result.token_expires_at
        fresh = result.credentials or getattr(adapter, "refreshed_credentials", None)
    except OutletError as exc:
        message = f"{exc.kind}: {exc}"
    except Exception as exc:  # noqa: BLE001 - a broken network answer is the check's result
        logger.warning("Outlet %s check failed unexpectedly: %r", outlet.pk, exc)
        message = _("The check failed: %(error)s") % {"error": type(exc).__name__}
    finally:
        adapter_close(adapter)
    now = timezone.now()
    with transaction.atomic():
        outlet = Outlet.objects.select_for_update().get(pk=outlet.pk)
        outlet.checked_at = now
        outlet.check_ok = ok
        outlet.check_message = message[:500]
        if ok and expires != outlet.token_expires_at:
            outlet.token_expires_at = expires
            outlet.expiry_warned_at = None
        if fresh and isinstance(fresh, dict):
            outlet.credentials = seal_json(fresh)
        outlet.save()
        audit_record(
            actor=actor, action="outlets.outlet.check", obj=outlet,
            data={
                "ok": ok,
                "token_expires_at": expires.isoformat() if expires else None,
                "credentials_refreshed": bool(fresh),
            },
        )  # fmt: skip
        # A check also revives the outlet's collection chain if the queue lost it.
        _start_collecting(outlet)
    return outlet


def outlet_flag_auth(outlet_id: int, message: str) -> None:
    """Mark an outlet's last check failed because the network refused its credentials (the
    system acts, in the caller's transaction), so admins see it on the outlets page."""
    Outlet.objects.filter(pk=outlet_id).update(
        checked_at=timezone.now(), check_ok=False, check_message=message[:500]
    )


# --- token expiry ------------------------------------------------------------------------


def _admin_addresses() -> list[str]:
    from watchhouse.accounts.models import User

    return sorted(
        set(
            User.objects.filter(is_active=True, is_staff=True, role_assignments__role=Role.ADMIN)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def expiring_soon(now: datetime | None = None) -> Q:
    """Outlets whose token expires within the warning period (or has expired)."""
    now = now or timezone.now()
    return Q(token_expires_at__isnull=False, token_expires_at__lte=now + timedelta(
        days=expiry_warning_days()
    ))  # fmt: skip


def outlet_expiry_warn(*, outlet_id: int, now: datetime | None = None) -> bool:
    """E-mail the active admins that an outlet's token expires soon, once per outlet per
    expiry (a refreshed token warns again before it expires); True when a message went.

    The outlet is claimed by a conditional update, so two workers never both send; a
    message the mail server refused hands the claim back for the next run.
    """
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Outlet.objects.filter(
            expiring_soon(now), pk=outlet_id, expiry_warned_at__isnull=True
        ).update(expiry_warned_at=now)
        if not claimed:
            return False
        outlet = Outlet.objects.get(pk=outlet_id)
        recipients = _admin_addresses()
        audit_record(
            actor=None, action="outlets.outlet.expiry_warn", obj=outlet,
            data={"expires": outlet.token_expires_at, "recipients": len(recipients)},
        )  # fmt: skip
    if not recipients:
        return False
    expires = timezone.localtime(outlet.token_expires_at).strftime("%Y-%m-%d %H:%M %Z")
    link = settings.SITE_URL + reverse("console:outlets")
    subject = _("%(outlet)s: its access token expires %(when)s") % {
        "outlet": str(outlet), "when": expires,
    }  # fmt: skip
    body = _(
        "The access token of the outlet %(outlet)s expires at %(when)s. After that, posts and "
        "alerts no longer reach it.\n\nRenew the token on the network, enter it on the "
        'outlets page and press "Check connection":\n%(link)s\n'
    ) % {"outlet": str(outlet), "when": expires, "link": link}
    try:
        send_mail(subject, body, None, recipients)
    except Exception as exc:  # noqa: BLE001 - a mail server down: try again on the next run
        logger.warning("Token expiry warning for outlet %s not sent: %r", outlet_id, exc)
        Outlet.objects.filter(pk=outlet_id, expiry_warned_at=now).update(expiry_warned_at=None)
        return False
    return True


def outlets_expiry_warn(now: datetime | None = None) -> list[int]:
    """Warn about every outlet whose token expires soon and was not warned about; the ids."""
    ids = Outlet.objects.filter(expiring_soon(now), expiry_warned_at__isnull=True).values_list(
        "pk", flat=True
    )
    return [pk for pk in list(ids) if outlet_expiry_warn(outlet_id=pk, now=now)]
