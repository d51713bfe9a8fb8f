"""Watch rules: creating, changing, switching off and expiring them, with the guardrails.

- **Too broad**: a rule with nothing to narrow it (no phrases, no expression that needs a word
  to be present, no place, no authors), a phrase made only of very common words
  (:data:`COMMON_WORDS`), or an expression that is always true (``x OR NOT x``) is refused;
  the refusal is audited (``ACTION_REFUSED_INPUT``, reason "too broad") so it is counted.
- **Protected activity** (guardrail 2): a phrase or expression naming a term of the deny-list
  in :mod:`watchhouse.monitoring.protected_terms` is refused (``ACTION_RULE_REFUSE``).
  :func:`rule_override_request` records a documented criminal nexus and asks a supervisor who
  is someone else; only their approval makes the rule live (``ACTION_RULE_OVERRIDE``, counted
  on the public transparency page).
- **Watches on individuals** (guardrails 1 and 3): a rule with ``authors`` belongs to an open
  case (the purpose gate) and waits for a second person (``ApprovalKind.WATCH_ACCOUNT``).
  That approval kind is shared with case accounts: the case service's effect calls
  :func:`rule_activate_from_approval` when the approval names a rule.
- Every rule has an owner, a purpose and an expiry no further off than the policy allows;
  expired rules never match and :func:`rules_expire` switches them off.

Deliberately absent (guardrail 4): rules hold words, places, languages, times and public
account handles only. There is no field, rule kind or service for face recognition, image
matching of people, individual risk or "will offend" scores, covert or sock-puppet accounts,
or scraping platforms whose terms forbid it; adding one would need a new model field here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import product
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.conf.locale import LANG_INFO
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    Approval,
    ApprovalKind,
    ApprovalState,
    Case,
    CaseState,
    RuleState,
    WatchRule,
)
from watchhouse.monitoring.protected_terms import ProtectedHit, protected_hits
from watchhouse.monitoring.services.approvals import approval_effect, approval_request

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

# Audit actions of rule changes that policy.py does not name (not counted on the public page).
ACTION_RULE_UPDATE = "monitoring.rule.update"
ACTION_RULE_DISABLE = "monitoring.rule.disable"
ACTION_RULE_ACTIVATE = "monitoring.rule.activate"
ACTION_RULE_EXPIRE = "monitoring.rule.expire"

MAX_PHRASES = 500
MIN_PHRASE_CHARS = 3
MAX_PHRASE_CHARS = 200
MAX_AUTHORS = 100
MIN_RADIUS_M = 50
MAX_RADIUS_M = 50_000
MIN_NEXUS_CHARS = 40

# Words so common that a phrase made only of them matches nearly every post, in English and
# Spanish, plus the furniture of posts (rt, via, links).
COMMON_WORDS = frozenset(
    """a an the and or but if of to in on at by for from with without into onto over under
    is are was were be been being am do does did has have had i me my we us our you your he
    him his she her it its they them their this that these those there here what who whom
    which when where why how not no yes so too very just all any some more most can will
    would should could may might must shall up down out off again then than also only own
    same such both each few other as about rt via http https www com org net amp lol omg
    el la los las un una unos unas y o pero de del al en con sin por para que es son fue
    ser esta este esto eso estos estas lo le les se su sus mi mis tu yo nos muy mas más si
    no ya""".split()  # noqa: SIM905 - a word list reads better as prose
)


class TooBroadError(InvalidInputError):
    """The rule would match (nearly) everything; the refusal was audited."""


class ProtectedActivityError(InvalidInputError):
    """The rule names protected activity; the refusal was audited. ``hits`` lists the terms."""

    def __init__(self, message: str, hits: Sequence[ProtectedHit]) -> None:
        super().__init__(message)
        self.hits = list(hits)


@dataclass(frozen=True)
class _Cleaned:
    name: str
    purpose: str
    phrases: list[str]
    expression: str
    area_id: int | None
    lat: float | None
    lon: float | None
    radius_m: int | None
    languages: list[str]
    authors: list[str]
    case: Case | None
    min_score: float | None
    starts_at: datetime | None
    expires_at: datetime


def max_rule_days() -> int:
    """The longest a rule may run before someone must renew it."""
    return int(settings.WATCHHOUSE_MONITORING_RULE_MAX_DAYS)


# --- Expressions --------------------------------------------------------------------------


def _is_common(phrase: str) -> bool:
    words = re.findall(r"\w+", phrase)
    return all(w in COMMON_WORDS or len(w) == 1 for w in words)


def _expression_breadth(expression: str) -> tuple[bool, bool]:
    """(always true, narrows) for a valid ``expression``.

    A term made only of very common words counts as present in every post. An expression
    that holds for a post containing none of its other terms does not narrow a rule; one that
    holds whatever its terms is always true (``x OR NOT x``).
    """
    from watchhouse.monitoring.matching import expression_phrases, parse_expression

    tree = parse_expression(expression)
    terms = sorted(expression_phrases(tree))
    always_there = {t for t in terms if _is_common(t)}
    free = [t for t in terms if t not in always_there]
    narrows = not tree.holds(always_there)
    if len(free) > 12:
        # Too many terms to try every combination; such an expression is rarely a tautology.
        return False, narrows
    always = all(
        tree.holds(always_there | {t for t, on in zip(free, values, strict=True) if on})
        for values in product((False, True), repeat=len(free))
    )
    return always, narrows


# --- Validation ---------------------------------------------------------------------------


def _bounds() -> tuple[float, float, float, float]:
    from watchhouse.geo.models import Jurisdiction

    found = Jurisdiction.objects.aggregate(
        s=Min("min_lat"), w=Min("min_lon"), n=Max("max_lat"), e=Max("max_lon")
    )
    if None in found.values():
        # No areas imported yet: anywhere on Earth is inside.
        return -90.0, -180.0, 90.0, 180.0
    return found["s"], found["w"], found["n"], found["e"]


def _clean(
    *,
    name: str,
    purpose: str,
    phrases: Sequence[str],
    expression: str,
    area_id: int | None,
    lat: float | None,
    lon: float | None,
    radius_m: float | None,
    languages: Sequence[str],
    authors: Sequence[str],
    case_id: int | None,
    min_score: float | None,
    starts_at: datetime | None,
    expires_at: datetime | None,
    now: datetime,
) -> _Cleaned:
    """The rule's fields tidied, or InvalidInputError naming every problem at once."""
    from watchhouse.geo.models import Area

    problems: list[str] = []
    name = (name or "").strip()
    if not name:
        problems.append(_("Give the rule a name."))
    elif len(name) > 120:
        problems.append(_("Keep the name under 120 characters."))
    purpose = (purpose or "").strip()
    if len(purpose) < 20:
        problems.append(_("Say why the agency watches for this (at least 20 characters)."))

    if expires_at is None:
        problems.append(_("Give the rule an expiry."))
    elif timezone.is_naive(expires_at):
        problems.append(_("Give the expiry with its time zone."))
    elif expires_at <= now:
        problems.append(_("The expiry must be in the future."))
    elif expires_at > now + timedelta(days=max_rule_days()):
        problems.append(
            _("A rule may run at most %(d)d days; renew it when it expires.")
            % {"d": max_rule_days()}
        )
    if starts_at is not None and expires_at is not None and starts_at >= expires_at:
        problems.append(_("The rule must start before it expires."))

    from watchhouse.monitoring.normalise import normalise_text as normalise

    cleaned_phrases: list[str] = []
    for phrase in phrases:
        text = normalise(str(phrase))
        if not text or text in cleaned_phrases:
            continue
        if len(text) < MIN_PHRASE_CHARS:
            problems.append(
                _("“%(p)s” is too short: phrases need at least %(n)d characters.")
                % {"p": text, "n": MIN_PHRASE_CHARS}
            )
        elif len(text) > MAX_PHRASE_CHARS:
            problems.append(
                _("Phrases are at most %(n)d characters long.") % {"n": MAX_PHRASE_CHARS}
            )
        cleaned_phrases.append(text)
    if len(cleaned_phrases) > MAX_PHRASES:
        problems.append(
            _("A rule holds at most %(n)d phrases; split it into several rules.")
            % {"n": MAX_PHRASES}
        )

    expression = (expression or "").strip()
    if len(expression) > 1000:
        problems.append(_("Keep the expression under 1,000 characters."))
    elif expression:
        from watchhouse.monitoring.matching import parse_expression

        try:
            parse_expression(expression)
        except InvalidInputError as error:
            problems.append(str(error))

    if area_id is not None and not Area.objects.filter(pk=area_id).exists():
        problems.append(_("The chosen area does not exist."))
    circle = (lat, lon, radius_m)
    if any(v is not None for v in circle) and any(v is None for v in circle):
        problems.append(_("A circle needs a latitude, a longitude and a radius."))
        lat = lon = radius_m = None
    radius: int | None = None
    if lat is not None and lon is not None and radius_m is not None:
        if not all(math.isfinite(float(v)) for v in (lat, lon, radius_m)):
            problems.append(_("The circle's numbers must be finite."))
        else:
            south, west, north, east = _bounds()
            if not (south <= lat <= north and west <= lon <= east):
                problems.append(_("The circle's centre must lie inside the jurisdiction."))
            if not MIN_RADIUS_M <= radius_m <= MAX_RADIUS_M:
                problems.append(
                    _("The radius must be between %(a)d m and %(b)d km.")
                    % {"a": MIN_RADIUS_M, "b": MAX_RADIUS_M // 1000}
                )
            radius = round(radius_m)

    cleaned_languages: list[str] = []
    for code in languages:
        code = str(code).strip().lower()
        if not code or code in cleaned_languages:
            continue
        if code not in LANG_INFO:
            problems.append(_("“%(c)s” is not a known language code.") % {"c": code})
        cleaned_languages.append(code)

    cleaned_authors: list[str] = []
    for author in authors:
        handle = str(author).strip()
        if handle and handle not in cleaned_authors:
            cleaned_authors.append(handle)
    if len(cleaned_authors) > MAX_AUTHORS:
        problems.append(_("A rule watches at most %(n)d accounts.") % {"n": MAX_AUTHORS})

    case = Case.objects.filter(pk=case_id).first() if case_id is not None else None
    if case_id is not None and case is None:
        problems.append(_("No case has that number."))

    if min_score is not None and not (math.isfinite(min_score) and 0 <= min_score <= 1):
        problems.append(_("The minimum score is between 0 and 1."))

    if problems:
        raise InvalidInputError(" ".join(problems))
    assert expires_at is not None  # noqa: S101 - a missing expiry is a problem above
    return _Cleaned(
        name=name, purpose=purpose, phrases=cleaned_phrases, expression=expression,
        area_id=area_id, lat=lat, lon=lon, radius_m=radius, languages=cleaned_languages,
        authors=cleaned_authors, case=case, min_score=min_score, starts_at=starts_at,
        expires_at=expires_at,
    )  # fmt: skip


def _refuse(*, actor: User, action: str, rule: WatchRule | None, data: dict[str, Any]) -> None:
    """Record a refusal in a transaction of its own, so it is counted though nothing else
    is written."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=action,
            obj=rule,
            object_type="" if rule else WatchRule._meta.label_lower,
            data=data,
        )


def _check_breadth(actor: User, fields: _Cleaned, rule: WatchRule | None) -> None:
    """Refuse (audited as "too broad") a rule that would match nearly every post."""
    problem = ""
    common = [p for p in fields.phrases if _is_common(p)]
    always, narrows = (
        _expression_breadth(fields.expression) if fields.expression else (False, False)
    )
    if common:
        problem = _(
            "Too broad: these phrases are words nearly every post contains: %(p)s. "
            "Use words that say what you are looking for."
        ) % {"p": ", ".join(f"“{p}”" for p in common)}
    elif always:
        problem = _("Too broad: the expression is true for every post.")
    elif not (
        [p for p in fields.phrases if not _is_common(p)]
        or narrows
        or fields.area_id
        or fields.radius_m
        or fields.authors
    ):
        problem = _(
            "Too broad: the rule has nothing to narrow it. Give it phrases, an expression "
            "that needs a word to be present, an area or a circle."
        )
    if problem:
        _refuse(
            actor=actor, action=policy.ACTION_REFUSED_INPUT, rule=rule,
            data={"reason": "too broad", "detail": problem, "name": fields.name},
        )  # fmt: skip
        raise TooBroadError(problem)


def _hits(fields: _Cleaned) -> list[ProtectedHit]:
    return protected_hits([*fields.phrases, fields.expression])


def _hit_data(hits: Sequence[ProtectedHit]) -> list[dict[str, str]]:
    return [{"term": h.term, "group": h.group, "found": h.found} for h in hits]


def _refuse_protected(
    actor: User, fields: _Cleaned, hits: list[ProtectedHit], rule: WatchRule | None
) -> None:
    _refuse(
        actor=actor, action=policy.ACTION_RULE_REFUSE, rule=rule,
        data={"reason": "protected activity", "name": fields.name, "hits": _hit_data(hits)},
    )  # fmt: skip
    terms = ", ".join(f"“{h.found}” ({h.term}: {h.group})" for h in hits)
    raise ProtectedActivityError(
        _(
            "Refused: the rule names protected activity: %(t)s. Remove those words, or, if a "
            "specific crime is suspected, ask a supervisor for an override and write the "
            "criminal nexus (at least %(n)d characters)."
        )
        % {"t": terms, "n": MIN_NEXUS_CHARS},
        hits,
    )


def _check_case(actor: User, fields: _Cleaned, rule: WatchRule | None) -> None:
    """The purpose gate: a watch on named accounts belongs to an open case."""
    if not fields.authors:
        return
    if fields.case is None or fields.case.state != CaseState.OPEN:
        reason = _(
            "A watch on named accounts needs an open case: give the case it belongs to, "
            "approved by a supervisor and not closed."
        )
        _refuse(
            actor=actor, action=policy.ACTION_REFUSED_INPUT, rule=rule,
            data={"reason": "no open case", "name": fields.name,
                  "case": fields.case.number if fields.case else None},
        )  # fmt: skip
        raise NotPermittedError(reason)


def _roles_for(authors: Sequence[str]) -> tuple[Any, ...]:
    # Investigators work cases, so they may ask for a watch on a case's named accounts.
    if any(str(a).strip() for a in authors):
        return (*policy.ANALYST_ROLES, *policy.INVESTIGATOR_ROLES)
    return policy.ANALYST_ROLES


def _apply(rule: WatchRule, fields: _Cleaned) -> None:
    rule.name = fields.name
    rule.purpose = fields.purpose
    rule.phrases = fields.phrases
    rule.expression = fields.expression
    rule.area_id = fields.area_id
    rule.lat, rule.lon, rule.radius_m = fields.lat, fields.lon, fields.radius_m
    rule.languages = fields.languages
    rule.authors = fields.authors
    rule.case = fields.case
    rule.min_score = fields.min_score
    rule.starts_at = fields.starts_at
    rule.expires_at = fields.expires_at


def _summary(rule: WatchRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "state": rule.state,
        "phrases": len(rule.phrases),
        "expression": rule.expression,
        "area": rule.area_id,
        "circle": [rule.lat, rule.lon, rule.radius_m] if rule.radius_m else None,
        "languages": rule.languages,
        "authors": rule.authors,
        "case": rule.case.number if rule.case else None,
        "min_score": rule.min_score,
        "expires_at": rule.expires_at.isoformat(),
    }


def _ask_for_watch(actor: User, rule: WatchRule) -> Approval:
    assert rule.case is not None  # noqa: S101 - checked by _check_case
    return approval_request(
        actor=actor,
        kind=ApprovalKind.WATCH_ACCOUNT,
        justification=rule.purpose,
        request={"rule": rule.pk, "name": rule.name, "authors": rule.authors},
        case=rule.case,
        rule=rule,
    )


def _ask_for_override(actor: User, rule: WatchRule, hits: Sequence[ProtectedHit]) -> Approval:
    return approval_request(
        actor=actor,
        kind=ApprovalKind.RULE_OVERRIDE,
        justification=rule.override_nexus,
        request={"rule": rule.pk, "name": rule.name, "terms": [h.term for h in hits]},
        case=rule.case,
        rule=rule,
    )


# --- Services -----------------------------------------------------------------------------


def rule_create(
    *,
    actor: User,
    name: str,
    purpose: str,
    phrases: Sequence[str] = (),
    expression: str = "",
    area_id: int | None = None,
    lat: float | None = None,
    lon: float | None = None,
    radius_m: float | None = None,
    languages: Sequence[str] = (),
    authors: Sequence[str] = (),
    case_id: int | None = None,
    min_score: float | None = None,
    starts_at: datetime | None = None,
    expires_at: datetime | None,
) -> WatchRule:
    """Create a rule: ACTIVE at once when it is a plain rule; PENDING a second person's
    approval when it watches named accounts (of an open case). Refuses, audited, a rule that
    is too broad or names protected activity (see :func:`rule_override_request`)."""
    require_role(actor, *_roles_for(authors), action="create watch rules")
    fields = _clean(
        name=name, purpose=purpose, phrases=phrases, expression=expression, area_id=area_id,
        lat=lat, lon=lon, radius_m=radius_m, languages=languages, authors=authors,
        case_id=case_id, min_score=min_score, starts_at=starts_at, expires_at=expires_at,
        now=timezone.now(),
    )  # fmt: skip
    _check_breadth(actor, fields, None)
    hits = _hits(fields)
    if hits:
        _refuse_protected(actor, fields, hits, None)
    _check_case(actor, fields, None)
    with transaction.atomic():
        rule = WatchRule(owner=actor)
        _apply(rule, fields)
        rule.state = RuleState.PENDING if fields.authors else RuleState.ACTIVE
        rule.save()
        audit_record(
            actor=actor, action=policy.ACTION_RULE_CREATE, obj=rule,
            justification=rule.purpose, data=_summary(rule),
        )  # fmt: skip
        if fields.authors:
            _ask_for_watch(actor, rule)
    return rule


def rule_override_request(
    *,
    actor: User,
    name: str,
    purpose: str,
    nexus: str,
    phrases: Sequence[str] = (),
    expression: str = "",
    area_id: int | None = None,
    lat: float | None = None,
    lon: float | None = None,
    radius_m: float | None = None,
    languages: Sequence[str] = (),
    authors: Sequence[str] = (),
    case_id: int | None = None,
    min_score: float | None = None,
    starts_at: datetime | None = None,
    expires_at: datetime | None,
) -> WatchRule:
    """Create a rule that names protected activity as PENDING, with the documented criminal
    ``nexus`` and a request for a supervisor's override; it watches nothing until a
    supervisor other than ``actor`` approves."""
    require_role(actor, *_roles_for(authors), action="ask for rule overrides")
    fields = _clean(
        name=name, purpose=purpose, phrases=phrases, expression=expression, area_id=area_id,
        lat=lat, lon=lon, radius_m=radius_m, languages=languages, authors=authors,
        case_id=case_id, min_score=min_score, starts_at=starts_at, expires_at=expires_at,
        now=timezone.now(),
    )  # fmt: skip
    nexus = (nexus or "").strip()
    if len(nexus) < MIN_NEXUS_CHARS:
        raise InvalidInputError(
            _(
                "Describe the criminal nexus: the specific crime suspected and how this rule "
                "helps (at least %(n)d characters)."
            )
            % {"n": MIN_NEXUS_CHARS}
        )
    _check_breadth(actor, fields, None)
    hits = _hits(fields)
    if not hits:
        raise InvalidInputError(
            _("This rule names no protected activity: create it without an override.")
        )
    _check_case(actor, fields, None)
    with transaction.atomic():
        rule = WatchRule(owner=actor, state=RuleState.PENDING, override_nexus=nexus)
        _apply(rule, fields)
        rule.save()
        audit_record(
            actor=actor, action=policy.ACTION_RULE_CREATE, obj=rule, justification=nexus,
            data={**_summary(rule), "override": _hit_data(hits)},
        )  # fmt: skip
        # One supervisor's approval covers both the override and, for a rule on named
        # accounts, the second person the watch needs.
        _ask_for_override(actor, rule, hits)
    return rule


def _material(rule: WatchRule, fields: _Cleaned) -> bool:
    """Would the change make the rule watch something it was not approved for?"""
    return (
        rule.phrases != fields.phrases
        or rule.expression != fields.expression
        or rule.area_id != fields.area_id
        or (rule.lat, rule.lon, rule.radius_m) != (fields.lat, fields.lon, fields.radius_m)
        or rule.languages != fields.languages
        or rule.authors != fields.authors
        or rule.case_id != (fields.case.pk if fields.case else None)
        or rule.min_score != fields.min_score
        or rule.starts_at != fields.starts_at
        or fields.expires_at > rule.expires_at
    )


def _supersede_requests(rule: WatchRule) -> list[int]:
    """Close the rule's open requests: a second person must approve what the rule is now,
    not what it was when they were asked (recorded in the update's audit entry)."""
    pending = list(
        Approval.objects.select_for_update()
        .filter(rule=rule, state=ApprovalState.PENDING)
        .values_list("pk", flat=True)
    )
    Approval.objects.filter(pk__in=pending).update(
        state=ApprovalState.REFUSED,
        decided_at=timezone.now(),
        decision_note=_("Superseded: the rule was changed before a decision."),
    )
    return pending


def rule_update(
    *,
    actor: User,
    rule_id: int,
    name: str,
    purpose: str,
    phrases: Sequence[str] = (),
    expression: str = "",
    area_id: int | None = None,
    lat: float | None = None,
    lon: float | None = None,
    radius_m: float | None = None,
    languages: Sequence[str] = (),
    authors: Sequence[str] = (),
    case_id: int | None = None,
    min_score: float | None = None,
    starts_at: datetime | None = None,
    expires_at: datetime | None,
) -> WatchRule:
    """Change a rule under the same checks as :func:`rule_create`. A rule that needed a
    second person (an override or named accounts) goes back to PENDING with a new request
    when the change is material; a plain rule that now names protected activity is refused."""
    require_role(actor, *_roles_for(authors), action="change watch rules")
    fields = _clean(
        name=name, purpose=purpose, phrases=phrases, expression=expression, area_id=area_id,
        lat=lat, lon=lon, radius_m=radius_m, languages=languages, authors=authors,
        case_id=case_id, min_score=min_score, starts_at=starts_at, expires_at=expires_at,
        now=timezone.now(),
    )  # fmt: skip
    rule = WatchRule.objects.select_related("case").get(pk=rule_id)
    if rule.state in (RuleState.DISABLED, RuleState.REFUSED):
        raise InvalidInputError(_("This rule is switched off; create a new one instead."))
    _check_breadth(actor, fields, rule)
    hits = _hits(fields)
    if hits and not rule.override_nexus:
        _refuse_protected(actor, fields, hits, rule)
    _check_case(actor, fields, rule)
    with transaction.atomic():
        rule = WatchRule.objects.select_for_update().get(pk=rule_id)
        material = _material(rule, fields)
        needs_second = bool(hits) or bool(fields.authors)
        _apply(rule, fields)
        superseded: list[int] = []
        if material and needs_second:
            rule.state = RuleState.PENDING
            rule.approved_by = None
            rule.override_by = None
            superseded = _supersede_requests(rule)
        rule.save()
        audit_record(
            actor=actor, action=ACTION_RULE_UPDATE, obj=rule, justification=rule.purpose,
            data={**_summary(rule), "material": material, "superseded": superseded},
        )  # fmt: skip
        if material and needs_second:
            if hits:
                _ask_for_override(actor, rule, hits)
            else:
                _ask_for_watch(actor, rule)
    return rule


def rule_disable(*, actor: User, rule_id: int, reason: str = "") -> WatchRule:
    """Switch a rule off for good (its matches stay for review)."""
    require_role(
        actor, *policy.ANALYST_ROLES, *policy.INVESTIGATOR_ROLES, action="switch off watch rules"
    )
    with transaction.atomic():
        rule = WatchRule.objects.select_for_update().get(pk=rule_id)
        if rule.state == RuleState.DISABLED:
            return rule
        rule.state = RuleState.DISABLED
        rule.save(update_fields=["state", "updated_at"])
        audit_record(
            actor=actor, action=ACTION_RULE_DISABLE, obj=rule, justification=reason.strip(),
            data={"name": rule.name},
        )  # fmt: skip
    return rule


def rules_expire() -> int:
    """Switch off every rule past its expiry (each audited, by the system); return how many."""
    now = timezone.now()
    done = 0
    stale = WatchRule.objects.filter(
        state__in=(RuleState.ACTIVE, RuleState.PENDING), expires_at__lte=now
    ).values_list("pk", flat=True)
    for pk in list(stale):
        with transaction.atomic():
            rule = WatchRule.objects.select_for_update().get(pk=pk)
            if rule.state == RuleState.DISABLED or rule.expires_at > now:
                continue
            rule.state = RuleState.DISABLED
            rule.save(update_fields=["state", "updated_at"])
            audit_record(
                actor=None, action=ACTION_RULE_EXPIRE, obj=rule,
                data={"name": rule.name, "expires_at": rule.expires_at.isoformat()},
            )  # fmt: skip
            done += 1
    return done


def _pending_rule(approval: Approval) -> WatchRule:
    if approval.rule_id is None:
        raise InvalidInputError(_("This request names no watch rule."))
    rule = (
        WatchRule.objects.select_for_update(of=("self",))
        .select_related("case")
        .get(pk=approval.rule_id)
    )
    if rule.state != RuleState.PENDING:
        raise InvalidInputError(_("This rule no longer waits for approval; refuse the request."))
    if rule.expires_at <= timezone.now():
        raise InvalidInputError(_("This rule has expired; refuse the request."))
    if rule.authors and (rule.case is None or rule.case.state != CaseState.OPEN):
        raise InvalidInputError(_("The rule's case is no longer open; refuse the request."))
    return rule


def rule_activate_from_approval(approval: Approval, actor: User) -> WatchRule:
    """Make a watch on named accounts live once a second person approved it (called by the
    WATCH_ACCOUNT approval effect, in the decision's transaction, when the approval names a
    rule)."""
    rule = _pending_rule(approval)
    rule.state = RuleState.ACTIVE
    rule.approved_by = actor
    rule.save(update_fields=["state", "approved_by", "updated_at"])
    audit_record(
        actor=actor, action=ACTION_RULE_ACTIVATE, obj=rule, justification=approval.justification,
        data={"name": rule.name, "authors": rule.authors, "approval": approval.pk},
    )  # fmt: skip
    return rule


@approval_effect(ApprovalKind.RULE_OVERRIDE)
def _override_approved(approval: Approval, actor: User) -> None:
    """A supervisor's override makes a rule on protected activity live, on the record."""
    rule = _pending_rule(approval)
    rule.state = RuleState.ACTIVE
    rule.override_by = actor
    rule.approved_by = actor
    rule.save(update_fields=["state", "override_by", "approved_by", "updated_at"])
    audit_record(
        actor=actor, action=policy.ACTION_RULE_OVERRIDE, obj=rule,
        justification=rule.override_nexus,
        data={"name": rule.name, "terms": approval.request.get("terms", []),
              "approval": approval.pk},
    )  # fmt: skip
