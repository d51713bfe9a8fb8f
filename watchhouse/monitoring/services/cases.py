"""Case workspaces: the purpose gate for every person-centred query.

A case opens only with a number, a justification, a criminal predicate (28 CFR Part 23) and a
supervisor's approval, and every person-centred operation passes :func:`case_open_for`: there
is no other code path to a named account's posts or to a witness search. Watches on accounts,
look-backs beyond the policy's window and exports outside the agency need a second person
(:mod:`watchhouse.monitoring.services.approvals`); what approving does is registered here.

Network work (an account's posts, the EXIF of their images) never runs inside a database
transaction: approving a watch records the :class:`CaseAccount` in the decision's transaction
and collects after it commits (``transaction.on_commit``), every fetch bounded by a timeout
and a size cap; a failed collection leaves the account waiting for "Collect again".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from watchhouse.accounts.roles import require_role
from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    Approval,
    ApprovalKind,
    ApprovalState,
    Case,
    CaseAccount,
    CaseItem,
    CaseState,
    Dissemination,
    Evidence,
    Match,
    MatchedPost,
    SourceKind,
    WatchRule,
)
from watchhouse.monitoring.normalise import normalise_text
from watchhouse.monitoring.places import Gazetteer
from watchhouse.monitoring.services.approvals import approval_effect, approval_request

if TYPE_CHECKING:
    from watchhouse.accounts.models import User
    from watchhouse.monitoring.posts import PublicPost

CASE_ROLES = policy.CASE_ROLES
MIN_JUSTIFICATION = 40
MIN_PREDICATE = 10
MAX_IMAGES_PER_POST = 4
ACCOUNT_POST_LIMIT = 500
# Networks a named account can be collected from (the connectors' ``account_posts``).
ACCOUNT_NETWORKS = (SourceKind.FEDIVERSE, SourceKind.JETSTREAM, SourceKind.RSS)


# --- the purpose gate ---------------------------------------------------------------------


def _refuse(actor: User | None, *, case_id: int, operation: str, reason: str) -> None:
    """Record a refused person-centred attempt in its own transaction (so it outlives the
    refusal), for the transparency page's count of refusals."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=policy.ACTION_REFUSED_INPUT,
            object_type="monitoring.case",
            object_id=case_id,
            justification=reason,
            data={"operation": operation, "reason": reason},
        )


def case_open_for(actor: User, case_id: int, *, operation: str = "work on a case") -> Case:
    """The purpose gate: the case, when it is OPEN and not past ``review_by`` and ``actor`` is
    an investigator or supervisor. Any other attempt is audited as refused, then raised."""
    try:
        require_role(actor, *CASE_ROLES, action=operation)
    except NotPermittedError as error:
        _refuse(actor, case_id=case_id, operation=operation, reason=str(error))
        raise
    case = Case.objects.filter(pk=case_id).first()
    if case is None:
        _refuse(actor, case_id=case_id, operation=operation, reason="No such case.")
        raise InvalidInputError("No such case.")
    reason = ""
    if case.state != CaseState.OPEN:
        reason = f"Case {case.number} is not open ({case.get_state_display()})."
    elif case.review_by is not None and case.review_by <= timezone.now():
        reason = f"Case {case.number} is past its review date; a supervisor must review it."
    if reason:
        _refuse(actor, case_id=case.pk, operation=operation, reason=reason)
        raise NotPermittedError(reason)
    return case


# --- lifecycle ----------------------------------------------------------------------------


def case_request(
    *, actor: User, number: str, title: str, justification: str, predicate: str
) -> Case:
    """Ask for a case workspace; it holds nothing and allows nothing until a supervisor who is
    someone else approves it."""
    require_role(actor, *policy.INVESTIGATOR_ROLES, action="request a case")
    number, title = number.strip(), title.strip()
    justification, predicate = justification.strip(), predicate.strip()
    if not number or not title:
        raise InvalidInputError("A case needs its case number and a title.")
    if len(justification) < MIN_JUSTIFICATION:
        raise InvalidInputError(
            f"Write a justification of at least {MIN_JUSTIFICATION} characters: why this "
            "investigation needs public posts."
        )
    if len(predicate) < MIN_PREDICATE:
        raise InvalidInputError(
            "Name the criminal activity reasonably suspected (the predicate), in at least "
            f"{MIN_PREDICATE} characters."
        )
    if Case.objects.filter(number=number).exists():
        raise InvalidInputError(f"Case number {number} already has a workspace.")
    try:
        with transaction.atomic():
            case = Case.objects.create(
                number=number,
                title=title[:200],
                justification=justification,
                predicate=predicate,
                opened_by=actor,
            )
            audit_record(
                actor=actor,
                action=policy.ACTION_CASE_REQUEST,
                obj=case,
                justification=justification,
                data={"number": number, "predicate": predicate},
            )
    except IntegrityError:
        raise InvalidInputError(f"Case number {number} already has a workspace.") from None
    return case


def case_decide(*, actor: User, case_id: int, approve: bool, note: str = "") -> Case:
    """Open the case (review due after ``WATCHHOUSE_MONITORING_REVIEW_YEARS``) or refuse it
    with a reason; only a supervisor who did not request it decides."""
    require_role(actor, *policy.SUPERVISOR_ROLES, action="decide case requests")
    note = note.strip()
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise InvalidInputError("No such case.")
        if case.state != CaseState.REQUESTED:
            raise InvalidInputError(f"Case {case.number} has already been decided.")
        if case.opened_by_id == actor.pk:
            raise NotPermittedError("A second person must approve a case you requested.")
        if not approve and not note:
            raise InvalidInputError("Say why the case is refused.")
        now = timezone.now()
        if approve:
            years = int(settings.WATCHHOUSE_MONITORING_REVIEW_YEARS)
            case.state = CaseState.OPEN
            case.approved_by = actor
            case.approved_at = now
            case.review_by = now + timedelta(days=round(365.25 * years))
        else:
            case.state = CaseState.REFUSED
            case.refused_reason = note[:500]
        case.save(update_fields=["state", "approved_by", "approved_at", "review_by",
                                 "refused_reason"])  # fmt: skip
        audit_record(
            actor=actor,
            action=policy.ACTION_CASE_APPROVE if approve else policy.ACTION_CASE_REFUSE,
            obj=case,
            justification=case.justification,
            data={"number": case.number, "note": note},
        )
    return case


def case_get(*, actor: User, case_id: int) -> Case:
    """The case through the purpose gate, with the view on the record."""
    case = case_open_for(actor, case_id, operation="view a case")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=policy.ACTION_CASE_VIEW,
            obj=case,
            justification=case.justification,
            data={"number": case.number},
        )
    return case


def case_close(*, actor: User, case_id: int, reason: str) -> Case:
    """Close an open case; its data is purged ``WATCHHOUSE_MONITORING_CLOSED_RETENTION_DAYS``
    later by :func:`retention_purge`."""
    reason = reason.strip()
    if len(reason) < 10:
        raise InvalidInputError("Say why the case is closed (at least 10 characters).")
    case = case_open_for(actor, case_id, operation="close a case")
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if case.state != CaseState.OPEN:  # closed by someone else since the gate
            raise InvalidInputError(f"Case {case.number} is not open.")
        now = timezone.now()
        case.state = CaseState.CLOSED
        case.closed_at = now
        case.purge_after = now + timedelta(
            days=int(settings.WATCHHOUSE_MONITORING_CLOSED_RETENTION_DAYS)
        )
        case.save(update_fields=["state", "closed_at", "purge_after"])
        audit_record(
            actor=actor,
            action=policy.ACTION_CASE_CLOSE,
            obj=case,
            justification=reason,
            data={"number": case.number, "purge_after": case.purge_after.isoformat()},
        )
    return case


# --- items ---------------------------------------------------------------------------------


def item_canonical(item: CaseItem) -> bytes:
    """The canonical JSON of a case item as collected (what its ``sha256`` is over)."""
    document = {
        "source_kind": item.source_kind,
        "remote_id": item.remote_id,
        "url": item.url,
        "author_handle": item.author_handle,
        "text": item.text,
        "posted_at": item.posted_at.isoformat(),
        "lat": item.lat,
        "lon": item.lon,
        "media": item.media,
        "places": item.places,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _text_places(text: str) -> list[dict[str, Any]]:
    """Places the jurisdiction's gazetteer finds named in ``text`` (kind "mention")."""
    places = []
    for place in Gazetteer.from_database().extract(normalise_text(text)):
        found = place.as_dict()
        found["kind"] = found.get("kind") or "mention"
        found["found_by"] = "mention"
        places.append(found)
    return places


def _post_places(post: PublicPost, *, fetch_images: bool) -> list[dict[str, Any]]:
    """Every place a post names, carries, or shows in its images' EXIF, with how it was found."""
    from watchhouse.monitoring.exif import image_gps

    places = _text_places(post.text)
    if post.lat is not None and post.lon is not None:
        places.append({"name": "", "kind": "coordinates", "found_by": "coordinates",
                       "lat": post.lat, "lon": post.lon})  # fmt: skip
    if fetch_images:
        images = [m for m in post.media if m.kind == "image"][:MAX_IMAGES_PER_POST]
        for media in images:
            where = image_gps(media.url)
            if where is not None:
                places.append({"name": media.url, "kind": "exif", "found_by": "exif",
                               "lat": where[0], "lon": where[1]})  # fmt: skip
    return places


@dataclasses.dataclass(frozen=True)
class _Collected:
    post: PublicPost
    places: list[dict[str, Any]]


def _item_save(case: Case, collected: _Collected, *, by: User) -> CaseItem | None:
    """Store one post in the case (once per post); None when the case already holds it."""
    post = collected.post
    if CaseItem.objects.filter(
        case=case, source_kind=post.source, remote_id=post.remote_id
    ).exists():
        return None
    item = CaseItem(
        case=case,
        source_kind=post.source,
        remote_id=post.remote_id[:500],
        url=post.url[:500],
        author_handle=post.author_handle[:300],
        text=post.text,
        posted_at=post.posted_at,
        lat=post.lat,
        lon=post.lon,
        media=[{"url": m.url, "kind": m.kind, "alt": m.alt} for m in post.media],
        places=collected.places,
        collected_by=by,
    )
    item.sha256 = hashlib.sha256(item_canonical(item)).hexdigest()
    item.save()
    return item


# --- named accounts ------------------------------------------------------------------------


def case_account_request(
    *, actor: User, case_id: int, network: str, handle: str, justification: str
) -> Approval:
    """Ask a second person to approve collecting a named account's own public posts into the
    case (guardrail 3); nothing is fetched until they do."""
    handle = handle.strip()
    if network not in ACCOUNT_NETWORKS:
        raise InvalidInputError("Choose a network accounts can be collected from.")
    if not handle:
        raise InvalidInputError("Give the account's handle.")
    case = case_open_for(actor, case_id, operation="request a watch on an account")
    if CaseAccount.objects.filter(case=case, network=network, handle=handle).exists():
        raise InvalidInputError(f"The case already collects {handle}.")
    if Approval.objects.filter(
        case=case,
        kind=ApprovalKind.WATCH_ACCOUNT,
        state=ApprovalState.PENDING,
        request__handle=handle,
        request__network=network,
    ).exists():
        raise InvalidInputError(f"A request to collect {handle} is already waiting.")
    return approval_request(
        actor=actor,
        kind=ApprovalKind.WATCH_ACCOUNT,
        justification=justification,
        request={"network": network, "handle": handle},
        case=case,
    )


def _live_case(approval: Approval) -> Case:
    case = approval.case
    if case is None or case.state != CaseState.OPEN:
        raise InvalidInputError("The case is no longer open; the request cannot be approved.")
    return case


@approval_effect(ApprovalKind.WATCH_ACCOUNT)
def _watch_account(approval: Approval, actor: User) -> None:
    if approval.rule_id is not None:
        # A watch rule on named authors shares this kind; the rules service makes it live.
        from watchhouse.monitoring.services.rules import rule_activate_from_approval

        rule_activate_from_approval(approval, actor)
        return
    case = _live_case(approval)
    account, _ = CaseAccount.objects.get_or_create(
        case=case,
        network=approval.request["network"],
        handle=approval.request["handle"],
        defaults={"approval": approval},
    )
    requester = approval.requested_by
    # The posts are fetched after the decision commits, outside any transaction.
    # A failed fetch is logged and leaves ``collected_at`` empty: the case page offers
    # "Collect again" (case_account_refresh).
    transaction.on_commit(
        lambda: _account_collect(account.pk, by=requester, justification=approval.justification),
        robust=True,
    )


def _account_collect(account_id: int, *, by: User, justification: str) -> int:
    """Fetch an approved account's posts (bounded) and store the new ones; returns how many."""
    from watchhouse.monitoring.connectors.accounts import account_posts

    account = CaseAccount.objects.select_related("case").get(pk=account_id)
    posts = account_posts(
        account.network, account.handle, since=account.collected_at, limit=ACCOUNT_POST_LIMIT
    )
    collected = [_Collected(post, _post_places(post, fetch_images=True)) for post in posts]
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=account.case_id)
        if case.state != CaseState.OPEN:
            return 0
        saved = [item for item in (_item_save(case, c, by=by) for c in collected) if item]
        CaseAccount.objects.filter(pk=account.pk).update(collected_at=timezone.now())
        audit_record(
            actor=by,
            action=policy.ACTION_SEARCH,
            obj=account,
            justification=justification,
            data={"case": case.number, "what": "account posts", "network": account.network,
                  "handle": account.handle, "fetched": len(posts), "stored": len(saved)},
        )  # fmt: skip
    return len(saved)


def case_account_refresh(*, actor: User, case_id: int, account_id: int) -> int:
    """Collect an approved account's posts again (new ones only); returns how many were added."""
    case = case_open_for(actor, case_id, operation="collect an account's posts")
    account = CaseAccount.objects.filter(pk=account_id, case=case).first()
    if account is None:
        raise InvalidInputError("The case does not collect that account.")
    return _account_collect(account.pk, by=actor, justification=case.justification)


def case_posts_add(
    *, actor: User, case_id: int, posts: list[PublicPost], justification: str
) -> int:
    """Store posts handed to the case as a file (an archive the account holder's family gave,
    an export produced under legal process) in its timeline, through the purpose gate, with
    their places; audited as a person-centred collection. Returns how many were new."""
    case = case_open_for(actor, case_id, operation="add posts to a case")
    if len(justification.strip()) < 20:
        raise InvalidInputError("Write a justification of at least 20 characters.")
    collected = [_Collected(post, _post_places(post, fetch_images=False)) for post in posts]
    with transaction.atomic():
        saved = [item for item in (_item_save(case, c, by=actor) for c in collected) if item]
        audit_record(
            actor=actor,
            action=policy.ACTION_SEARCH,
            obj=case,
            justification=justification.strip(),
            data={"case": case.number, "what": "posts from a file", "given": len(posts),
                  "stored": len(saved)},
        )  # fmt: skip
    return len(saved)


# --- finding sources -----------------------------------------------------------------------

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _nearest(
    lat: float, lon: float, own: tuple[float | None, float | None], places: list[Any]
) -> float | None:
    points = [own] + [(p.get("lat"), p.get("lon")) for p in places if isinstance(p, dict)]
    distances = [
        distance_m(lat, lon, float(a), float(b))
        for a, b in points
        if a is not None and b is not None
    ]
    return min(distances) if distances else None


@dataclasses.dataclass(frozen=True)
class WitnessHit:
    """A post near the incident: where it came from and how far from the incident it is."""

    origin: str  # "stream" (a MatchedPost) or "case" (a CaseItem)
    pk: int
    author_handle: str
    text: str
    url: str
    posted_at: datetime
    distance_m: float


@dataclasses.dataclass(frozen=True)
class WitnessSearch:
    """What a witness search found. Posts of lawful assemblies are only counted."""

    hits: list[WitnessHit]
    lawful_assembly_count: int
    params: dict[str, Any]


def _search(case: Case, params: dict[str, Any]) -> tuple[WitnessSearch, list[MatchedPost]]:
    lat, lon, radius = float(params["lat"]), float(params["lon"]), float(params["radius_m"])
    at = datetime.fromisoformat(params["at"])
    window = timedelta(hours=float(params["hours"]))
    hits: list[WitnessHit] = []
    stream_posts: list[MatchedPost] = []
    withheld = 0
    posts = MatchedPost.objects.filter(
        posted_at__gte=at - window, posted_at__lte=at + window
    ).select_related("story")
    for post in posts.iterator(chunk_size=2000):
        near = _nearest(lat, lon, (post.lat, post.lon), post.places)
        if near is None or near > radius:
            continue
        if post.story.lawful_assembly:
            withheld += 1
            continue
        stream_posts.append(post)
        hits.append(WitnessHit("stream", post.pk, post.author_handle, post.text, post.url,
                               post.posted_at, round(near, 1)))  # fmt: skip
    items = CaseItem.objects.filter(
        case=case, posted_at__gte=at - window, posted_at__lte=at + window
    )
    for item in items:
        near = _nearest(lat, lon, (item.lat, item.lon), item.places)
        if near is not None and near <= radius:
            hits.append(WitnessHit("case", item.pk, item.author_handle, item.text, item.url,
                                   item.posted_at, round(near, 1)))  # fmt: skip
    hits.sort(key=lambda hit: (hit.distance_m, hit.posted_at))
    return WitnessSearch(hits, withheld, params), stream_posts


def case_witness_search(
    *,
    actor: User,
    case_id: int,
    lat: float,
    lon: float,
    at: datetime,
    radius_m: int,
    hours: float,
    justification: str,
) -> WitnessSearch | Approval:
    """Find stored posts near one incident's place and time ("finding sources").

    Within the policy (``WATCHHOUSE_MONITORING_SEARCH_MAX_METRES`` and ``_MAX_HOURS``) it runs
    at once; beyond it, a second person must approve a look-back, whose results go into the
    case. Every search is audited with its parameters and justification.
    """
    justification = justification.strip()
    if len(justification) < 20:
        raise InvalidInputError("Write a justification of at least 20 characters.")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInputError("The incident's latitude or longitude is out of range.")
    if radius_m <= 0 or hours <= 0:
        raise InvalidInputError("The radius and the hours must be more than zero.")
    if timezone.is_naive(at):
        raise InvalidInputError("The incident time needs a time zone.")
    case = case_open_for(actor, case_id, operation="search for witnesses")
    params = {"lat": lat, "lon": lon, "at": at.isoformat(), "radius_m": int(radius_m),
              "hours": float(hours)}  # fmt: skip
    max_m = int(settings.WATCHHOUSE_MONITORING_SEARCH_MAX_METRES)
    max_h = float(settings.WATCHHOUSE_MONITORING_SEARCH_MAX_HOURS)
    if radius_m > max_m or hours > max_h:
        return approval_request(
            actor=actor,
            kind=ApprovalKind.LOOKBACK,
            justification=justification,
            request=params,
            case=case,
        )
    result, _ = _search(case, params)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=policy.ACTION_SEARCH,
            obj=case,
            justification=justification,
            data={"case": case.number, "what": "witness search", **params,
                  "hits": len(result.hits), "lawful_assembly": result.lawful_assembly_count},
        )  # fmt: skip
    return result


@approval_effect(ApprovalKind.LOOKBACK)
def _lookback(approval: Approval, actor: User) -> None:
    from watchhouse.monitoring.posts import MediaRef, PublicPost

    case = _live_case(approval)
    result, posts = _search(case, approval.request)
    saved = 0
    for post in posts:
        public = PublicPost(
            source=post.source_kind, remote_id=post.remote_id, text=post.text,
            posted_at=post.posted_at, author_handle=post.author_handle, url=post.url,
            lat=post.lat, lon=post.lon,
            media=tuple(MediaRef(url=m.get("url", ""), kind=m.get("kind", "image"))
                        for m in post.media if isinstance(m, dict)),
        )  # fmt: skip
        places = [dict(p, found_by=p.get("found_by") or p.get("kind") or "mention")
                  for p in post.places if isinstance(p, dict)]  # fmt: skip
        if (
            post.lat is not None
            and post.lon is not None
            and not any(p.get("kind") == "coordinates" for p in places)
        ):
            places.append({"name": "", "kind": "coordinates", "found_by": "coordinates",
                           "lat": post.lat, "lon": post.lon})  # fmt: skip
        if _item_save(case, _Collected(public, places), by=approval.requested_by):
            saved += 1
    audit_record(
        actor=approval.requested_by,
        action=policy.ACTION_SEARCH,
        obj=case,
        justification=approval.justification,
        data={"case": case.number, "what": "look-back", **approval.request,
              "approved_by": actor.get_username(), "hits": len(result.hits),
              "stored": saved, "lawful_assembly": result.lawful_assembly_count},
    )  # fmt: skip


# --- sharing outside the agency ------------------------------------------------------------


def case_share_request(
    *, actor: User, case_id: int, recipient: str, purpose: str, item_ids: list[int]
) -> Approval:
    """Ask a second person to approve sharing case items outside the agency; the export is
    written and logged in the dissemination log only when they approve."""
    recipient = recipient.strip()
    if not recipient:
        raise InvalidInputError("Say who receives the export.")
    if not item_ids:
        raise InvalidInputError("Choose the items to share.")
    case = case_open_for(actor, case_id, operation="share case items")
    found = set(CaseItem.objects.filter(case=case, pk__in=item_ids).values_list("pk", flat=True))
    if found != set(item_ids):
        raise InvalidInputError("Some of the chosen items are not in this case.")
    return approval_request(
        actor=actor,
        kind=ApprovalKind.EXPORT,
        justification=purpose,
        request={"recipient": recipient[:200], "item_ids": sorted(found)},
        case=case,
    )


def evidence_root() -> Path:
    return Path(settings.WATCHHOUSE_MONITORING_EVIDENCE_DIR)


def case_dir(case: Case) -> Path:
    """The folder holding a case's WARC files and exports."""
    return evidence_root() / f"case-{case.pk}"


@approval_effect(ApprovalKind.EXPORT)
def _export(approval: Approval, actor: User) -> None:
    from watchhouse.monitoring.services.evidence import export_write

    case = _live_case(approval)
    items = list(CaseItem.objects.filter(case=case, pk__in=approval.request["item_ids"]))
    path, digest, what = export_write(case, items, name=f"export-{approval.pk}.zip")
    Dissemination.objects.create(
        case=case,
        recipient=approval.request["recipient"],
        purpose=approval.justification,
        what=what,
        sha256=digest,
        approval=approval,
        shared_by=approval.requested_by,
    )
    audit_record(
        actor=actor,
        action=policy.ACTION_EXPORT,
        obj=case,
        justification=approval.justification,
        data={"case": case.number, "recipient": approval.request["recipient"],
              "items": len(items), "sha256": digest, "file": path.name,
              "requested_by": approval.requested_by.get_username()},
    )  # fmt: skip


# --- retention -----------------------------------------------------------------------------


def _case_purge(case: Case, now: datetime) -> None:
    items = list(CaseItem.objects.filter(case=case).order_by("posted_at", "pk"))
    evidence = list(Evidence.objects.filter(case=case).order_by("pk"))
    case.tombstone = {
        "items": len(items),
        "item_sha256": [item.sha256 for item in items],
        "evidence_sha256": [e.sha256 for e in evidence],
        "accounts": CaseAccount.objects.filter(case=case).count(),
        "disseminations": case.disseminations.count(),
        "purged_at": now.isoformat(),
    }
    rules = WatchRule.objects.filter(case=case)
    Match.objects.filter(rule__in=rules).delete()
    rules.delete()
    Evidence.objects.filter(case=case).delete()
    CaseItem.objects.filter(case=case).delete()
    CaseAccount.objects.filter(case=case).delete()
    previous = case.state
    case.state = CaseState.PURGED
    case.purged_at = now
    case.save(update_fields=["tombstone", "state", "purged_at"])
    audit_record(
        actor=None,
        action=policy.ACTION_CASE_PURGE,
        obj=case,
        justification="closed and past retention"
        if previous == CaseState.CLOSED
        else "past its review date",
        data={"number": case.number, "tombstone": case.tombstone},
    )
    folder = case_dir(case)
    # Files go only once the rows that point at them are gone for good.
    transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))


def retention_purge() -> str:
    """Purge every case closed past ``purge_after`` or open past ``review_by``: its items,
    accounts, evidence and export files and its rules go, a tombstone of hashes stays, and so
    does the dissemination log. Returns a one-line summary."""
    now = timezone.now()
    due = Case.objects.filter(
        Q(state=CaseState.CLOSED, purge_after__lte=now)
        | Q(state=CaseState.OPEN, review_by__lte=now)
    ).values_list("pk", flat=True)
    purged = items = 0
    for case_id in list(due):
        with transaction.atomic():
            case = Case.objects.select_for_update().get(pk=case_id)
            if case.state not in (CaseState.CLOSED, CaseState.OPEN):
                continue
            _case_purge(case, now)
            purged += 1
            items += int(case.tombstone["items"])
    return f"Purged {purged} case(s) holding {items} item(s)."
