"""The analyst's console for the stream: the review queue (updating live), stories, watch
rules, sources, landmarks, the approvals inbox and today's stream figures.

Every page shows why a post is here (the rules and phrases that fired, the places found, the
classifier's score) and nothing is acted on automatically: each button calls one service. A
refusal by a service is shown on the form or as a message and changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time
from typing import Any

from django.contrib import messages
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from watchhouse.accounts.models import User
from watchhouse.console.access import acting_user, action_run, forbidden, staff_page
from watchhouse.console.monitoring.forms import (
    DecisionForm,
    LandmarkForm,
    OverrideForm,
    RuleForm,
    SourceForm,
    source_initial,
)
from watchhouse.core.errors import InvalidInputError, NotPermittedError, WatchhouseError
from watchhouse.monitoring import policy
from watchhouse.monitoring.connectors.registry import CONNECTORS
from watchhouse.monitoring.models import (
    Landmark,
    Match,
    MatchedPost,
    ReviewState,
    RuleState,
    Source,
    SourceKind,
    Story,
    StreamCount,
    WatchRule,
)
from watchhouse.monitoring.selectors import queue as selectors
from watchhouse.monitoring.services import approvals as approval_services
from watchhouse.monitoring.services import landmarks as landmark_services
from watchhouse.monitoring.services import review as review_services
from watchhouse.monitoring.services import rules as rule_services
from watchhouse.monitoring.services import sources as source_services
from watchhouse.monitoring.services.rules import ProtectedActivityError
from watchhouse.monitoring.stream import COUNT_NAMES

COUNT_LABELS = {
    "received": _lazy("Received"),
    "duplicates": _lazy("Duplicates"),
    "refused_giant": _lazy("Refused: too large"),
    "refused_malformed": _lazy("Refused: malformed"),
    "matched": _lazy("Matched"),
    "discarded": _lazy("Discarded"),
    "shed": _lazy("Shed under load"),
}

# Seconds between the live queue's polls.
LIVE_POLL_SECONDS = 2


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _day_start() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def _figures_today() -> tuple[list[Any], list[dict[str, Any]]]:
    """Today's stream counters per kind of source: the column labels and one row a kind."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNT_NAMES, 0))
    counts = (
        StreamCount.objects.filter(hour__gte=_day_start())
        .values("source_kind", "name")
        .annotate(total=Sum("value"))
    )
    names = list(COUNT_NAMES)
    for row in counts:
        if row["name"] not in names:
            names.append(row["name"])
        rows[row["source_kind"]].setdefault(row["name"], 0)
        rows[row["source_kind"]][row["name"]] += row["total"] or 0
    table = [
        {"kind": str(SourceKind(kind).label) if kind in SourceKind.values else kind,
         "values": [rows[kind].get(n, 0) for n in names]}
        for kind in sorted(rows)
    ]  # fmt: skip
    return [COUNT_LABELS.get(n, n) for n in names], table


def _reasons(posts: list[MatchedPost]) -> None:
    """Attach ``reasons`` to each post: one dict per rule or classifier match, for display."""
    for post in posts:
        post.reasons = [_reason(m) for m in post.matches.all()]  # type: ignore[attr-defined]


def _reason(match: Match) -> dict[str, Any]:
    reason = match.reason if isinstance(match.reason, dict) else {}
    return {
        "rule": match.rule.name if match.rule_id and match.rule else "",
        "phrases": [str(p) for p in reason.get("phrases") or []],
        "place": _place(reason.get("place")),
        # The score is the post's; it is a reason of its own only for the classifier's match.
        "score": None if match.rule_id else reason.get("score"),
        "scorer": str(reason.get("classifier") or ""),
    }  # fmt: skip


def _place(place: Any) -> str:
    if isinstance(place, dict):
        kind = place.get("kind", "")
        return f"{place.get('name', '')} ({kind})" if kind else str(place.get("name", ""))
    return str(place or "")


def _queue_posts(**kwargs: Any) -> list[MatchedPost]:
    posts = list(selectors.queue_list(**kwargs))
    _reasons(posts)
    return posts


def _is_supervisor(user: User) -> bool:
    return user.has_any_role(*policy.SUPERVISOR_ROLES)


@staff_page(*policy.CONSOLE_ROLES)
def overview(request: HttpRequest) -> HttpResponse:
    """Today's stream figures and what waits: new matches, pending approvals."""
    names, figures = _figures_today()
    return render(
        request,
        "console/monitoring/overview.html",
        {
            "names": names,
            "figures": figures,
            "new_count": MatchedPost.objects.filter(review=ReviewState.NEW).count(),
            "pending_count": selectors.approvals_pending().count(),
            "live_rules": WatchRule.objects.filter(
                state=RuleState.ACTIVE, expires_at__gt=timezone.now()
            ).count(),
        },
    )


@staff_page(*policy.ANALYST_ROLES)
def queue(request: HttpRequest) -> HttpResponse:
    """The review queue: matched posts newest first, each with its reasons; new matches
    appear at the top as they arrive (the page polls :func:`queue_live`)."""
    state = request.GET.get("state", ReviewState.NEW)
    if state not in ReviewState.values:
        state = ReviewState.NEW
    posts = _queue_posts(state=state, limit=100)
    newest = max((p.pk for p in posts), default=0)
    if state == ReviewState.NEW and not posts:
        newest = MatchedPost.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return render(
        request,
        "console/monitoring/queue.html",
        {
            "posts": posts,
            "state": state,
            "states": ReviewState.choices,
            "since_id": newest,
            "live": state == ReviewState.NEW,
            "poll_seconds": LIVE_POLL_SECONDS,
            "supervisor": _is_supervisor(acting_user(request)),
        },
    )


@staff_page(*policy.ANALYST_ROLES)
def queue_live(request: HttpRequest) -> HttpResponse:
    """New matches since ``since_id`` as queue entries (and the poller, moved on), or 204."""
    since_id = _int(request.GET.get("since_id")) or 0
    posts = _queue_posts(state=ReviewState.NEW, since_id=since_id, limit=50)
    if not posts:
        return HttpResponse(status=204)
    return render(
        request,
        "console/monitoring/_queue_live.html",
        {
            "posts": posts,
            "since_id": max(p.pk for p in posts),
            "poll_seconds": LIVE_POLL_SECONDS,
            "supervisor": _is_supervisor(acting_user(request)),
        },
    )


def _post_action(state: str) -> Any:
    def handler(request: HttpRequest, actor: User, post_id: int) -> str:
        review_services.post_review(
            actor=actor, post_id=post_id, state=state, note=request.POST.get("note", "")
        )
        return _("Passed on.") if state == ReviewState.ACTIONED else _("Dismissed.")

    return handler


@staff_page(*policy.ANALYST_ROLES)
@require_POST
def post_review(request: HttpRequest, pk: int, state: str) -> HttpResponse:
    if state not in (ReviewState.ACTIONED, ReviewState.DISMISSED):
        raise Http404("No such review.")
    back = "console:monitoring_stories" if request.POST.get("back") == "stories" else None
    return action_run(
        request, _post_action(state), pk, roles=policy.ANALYST_ROLES,
        back=redirect(back or "console:monitoring_queue"),
    )  # fmt: skip


@staff_page(*policy.ANALYST_ROLES)
def stories(request: HttpRequest) -> HttpResponse:
    """Near-duplicates grouped: one row per story with its count, times, top score and the
    rules that fired; lawful assemblies show counts only."""
    story_rows = selectors.story_list(limit=100)
    return render(
        request,
        "console/monitoring/stories.html",
        {"stories": story_rows, "supervisor": _is_supervisor(acting_user(request))},
    )


def _story_review(state: str) -> Any:
    def handler(request: HttpRequest, actor: User, story_id: int) -> str:
        review_services.story_review(actor=actor, story_id=story_id, state=state)
        return _("Story passed on.") if state == ReviewState.ACTIONED else _("Story dismissed.")

    return handler


def _lawful(lawful: bool) -> Any:
    def handler(request: HttpRequest, actor: User, story_id: int) -> str:
        review_services.story_mark_lawful_assembly(actor=actor, story_id=story_id, lawful=lawful)
        if lawful:
            return _("Marked as a lawful assembly: only counts are shown from now on.")
        return _("No longer marked as a lawful assembly.")

    return handler


STORY_ACTIONS = {
    "pass": (_story_review(ReviewState.ACTIONED), policy.ANALYST_ROLES),
    "dismiss": (_story_review(ReviewState.DISMISSED), policy.ANALYST_ROLES),
    "lawful": (_lawful(True), policy.SUPERVISOR_ROLES),
    "unlawful": (_lawful(False), policy.SUPERVISOR_ROLES),
}


@staff_page(*policy.ANALYST_ROLES)
@require_POST
def story_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in STORY_ACTIONS:
        raise Http404("No such action.")
    handler, roles = STORY_ACTIONS[action]
    if not Story.objects.filter(pk=pk).exists():
        raise Http404("No such story.")
    back = redirect("console:monitoring_stories")
    return action_run(request, handler, pk, roles=roles, back=back)


@staff_page(*policy.ANALYST_ROLES)
def rules(request: HttpRequest) -> HttpResponse:
    """Every watch rule with its state, owner, purpose, expiry, kind and hits."""
    rule_rows = list(selectors.rule_list())
    hits = dict(
        Match.objects.filter(rule__in=[r.pk for r in rule_rows])
        .values_list("rule")
        .annotate(n=Count("id"))
    )
    now = timezone.now()
    for rule in rule_rows:
        if getattr(rule, "hit_count", None) is None:
            rule.hit_count = hits.get(rule.pk, 0)  # type: ignore[attr-defined]
        rule.expired = rule.expires_at <= now  # type: ignore[attr-defined]
    return render(request, "console/monitoring/rules.html", {"rules": rule_rows})


@staff_page(*policy.ANALYST_ROLES)
def rule_new(request: HttpRequest) -> HttpResponse:
    """Write a rule; a refusal (protected activity, too broad, bad expression) is shown on
    the form and nothing is created. Refused for protected activity, the form offers to ask
    a supervisor for an override with a documented criminal nexus."""
    actor = acting_user(request)
    form = RuleForm(request.POST or None)
    override = OverrideForm(request.POST or None)
    show_override = False
    if request.method == "POST" and form.is_valid() and override.is_valid():
        wants_override = "request_override" in request.POST
        try:
            if wants_override:
                nexus = override.cleaned_data["nexus"]
                if not nexus.strip():
                    raise InvalidInputError(_("Write the criminal nexus for the supervisor."))
                rule_services.rule_override_request(actor=actor, nexus=nexus, **form.rule_kwargs())
                messages.success(
                    request,
                    _("Override requested: the rule waits for a supervisor's decision."),
                )
            else:
                rule = rule_services.rule_create(actor=actor, **form.rule_kwargs())
                if rule.state == RuleState.PENDING:
                    messages.success(request, _("Saved: the rule waits for a second person."))
                else:
                    messages.success(request, _("Saved: the rule is in force."))
        except NotPermittedError as exc:
            return forbidden(request, exc, policy.ANALYST_ROLES)
        except WatchhouseError as exc:
            form.add_error(None, str(exc))
            # Only protected activity can be overridden (with a nexus); "too broad" cannot.
            show_override = wants_override or isinstance(exc, ProtectedActivityError)
        else:
            return redirect("console:monitoring_rules")
    return render(
        request,
        "console/monitoring/rule_form.html",
        {"form": form, "override": override, "show_override": show_override},
        status=400 if form.errors else 200,
    )


def _rule_disable(request: HttpRequest, actor: User, rule_id: int) -> str:
    rule_services.rule_disable(actor=actor, rule_id=rule_id)
    return _("Switched off.")


@staff_page(*policy.ANALYST_ROLES)
@require_POST
def rule_disable(request: HttpRequest, pk: int) -> HttpResponse:
    if not WatchRule.objects.filter(pk=pk).exists():
        raise Http404("No such rule.")
    return action_run(
        request, _rule_disable, pk, roles=policy.ANALYST_ROLES,
        back=redirect("console:monitoring_rules"),
    )  # fmt: skip


@staff_page(*policy.ANALYST_ROLES)
def sources(request: HttpRequest) -> HttpResponse:
    """Every source with the terms its connector follows, its state and today's figures."""
    names, figures = _figures_today()
    rows = list(selectors.source_list())
    for source in rows:
        connector = CONNECTORS.get(source.kind)
        source.terms = connector.terms if connector else ""  # type: ignore[attr-defined]
    return render(
        request,
        "console/monitoring/sources.html",
        {
            "sources": rows,
            "names": names,
            "figures": figures,
            "kinds": SourceKind.choices,
        },
    )


def _source_form(request: HttpRequest, source: Source | None, kind: str) -> HttpResponse:
    actor = acting_user(request)
    if request.method == "POST":
        form = SourceForm(request.POST, kind=kind)
    else:
        initial = source_initial(source) if source else {"enabled": True}
        form = SourceForm(initial=initial, kind=kind)
    if source is not None:
        form.fields["name"].disabled = True
        form.fields["name"].required = False
    if request.method == "POST" and form.is_valid():
        try:
            if source is None:
                source = source_services.source_create(
                    actor=actor, kind=kind, name=form.cleaned_data["name"], config=form.config()
                )
                if not form.cleaned_data["enabled"] and source.enabled:
                    source_services.source_update(actor=actor, source_id=source.pk, enabled=False)
            else:
                source_services.source_update(
                    actor=actor, source_id=source.pk, enabled=form.cleaned_data["enabled"],
                    config=form.config(),
                )  # fmt: skip
        except NotPermittedError as exc:
            return forbidden(request, exc, policy.ANALYST_ROLES)
        except WatchhouseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("console:monitoring_sources")
    connector = CONNECTORS.get(kind)
    return render(
        request,
        "console/monitoring/source_form.html",
        {"form": form, "source": source, "terms": connector.terms if connector else ""},
        status=400 if form.errors else 200,
    )


@staff_page(*policy.ANALYST_ROLES)
def source_new(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "") or request.POST.get("kind", "")
    if kind not in SourceKind.values:
        return redirect("console:monitoring_sources")
    return _source_form(request, None, kind)


@staff_page(*policy.ANALYST_ROLES)
def source_edit(request: HttpRequest, pk: int) -> HttpResponse:
    source = Source.objects.filter(pk=pk).first()
    if source is None:
        raise Http404("No such source.")
    return _source_form(request, source, source.kind)


@staff_page(*policy.ANALYST_ROLES)
def landmarks(request: HttpRequest) -> HttpResponse:
    """The agency's landmarks (found in posts' text beside areas and streets); add one."""
    form = LandmarkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            landmark_services.landmark_save(actor=acting_user(request), **form.cleaned_data)
        except NotPermittedError as exc:
            return forbidden(request, exc, policy.ANALYST_ROLES)
        except WatchhouseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Landmark added."))
            return redirect("console:monitoring_landmarks")
    return render(
        request,
        "console/monitoring/landmarks.html",
        {"landmarks": list(Landmark.objects.all()), "form": form},
        status=400 if form.errors else 200,
    )


def _landmark_delete(request: HttpRequest, actor: User, landmark_id: int) -> str:
    landmark_services.landmark_delete(actor=actor, landmark_id=landmark_id)
    return _("Landmark removed.")


@staff_page(*policy.ANALYST_ROLES)
@require_POST
def landmark_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return action_run(
        request, _landmark_delete, pk, roles=policy.ANALYST_ROLES,
        back=redirect("console:monitoring_landmarks"),
    )  # fmt: skip


@staff_page(*policy.CONSOLE_ROLES)
def approvals(request: HttpRequest) -> HttpResponse:
    """Requests waiting for a second person, with what they ask and why; a supervisor who
    did not ask decides."""
    user = acting_user(request)
    pending = list(selectors.approvals_pending())
    for approval in pending:
        approval.details = sorted(  # type: ignore[attr-defined]
            (str(k), _display(v)) for k, v in (approval.request or {}).items()
        )
        approval.own = approval.requested_by_id == user.pk  # type: ignore[attr-defined]
    return render(
        request,
        "console/monitoring/approvals.html",
        {"approvals": pending, "supervisor": _is_supervisor(user), "form": DecisionForm()},
    )


def _display(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "—"
    if value in (None, ""):
        return "—"
    return str(value)


@staff_page(*policy.SUPERVISOR_ROLES)
@require_POST
def approval_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    if decision not in ("approve", "refuse"):
        raise Http404("No such decision.")
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""

    def handler(request: HttpRequest, actor: User, approval_id: int) -> str:
        approval_services.approval_decide(
            actor=actor, approval_id=approval_id, approve=decision == "approve", note=note
        )
        return _("Approved: it is done.") if decision == "approve" else _("Refused.")

    return action_run(
        request, handler, pk, roles=policy.SUPERVISOR_ROLES,
        back=redirect("console:monitoring_approvals"),
    )  # fmt: skip
