"""The rumor tracker: rumors with filters and answer times, one rumor with its evidence,
verdict and correction, incidents, and turning a community comment into a rumor.

Each button calls one service; a refusal is shown as a message (nothing changes) and a
permission refusal as the console's forbidden page. Viewing a screenshot is an audited read.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from watchhouse.accounts.models import User
from watchhouse.community.models import Comment
from watchhouse.console.access import acting_user, action_run, forbidden, staff_page
from watchhouse.console.rumors.forms import (
    IncidentForm,
    RumorFilterForm,
    RumorForm,
    RumorOpenForm,
)
from watchhouse.core.errors import InvalidInputError, NotPermittedError, WatchhouseError
from watchhouse.outlets.models import InboundItem
from watchhouse.rumors import selectors, services
from watchhouse.rumors.models import EvidenceKind, Incident, Rumor, RumorEvidence, RumorStatus
from watchhouse.rumors.policy import ANSWER_ROLES, RUMOR_ROLES


def _rumor(pk: int) -> Rumor:
    try:
        return selectors.rumor_get(pk)
    except Rumor.DoesNotExist:
        raise Http404("No such rumor.") from None


@staff_page(*RUMOR_ROLES)
def rumor_tracker(request: HttpRequest) -> HttpResponse:
    """Every rumor with its verdict and time to answer, and the median time to answer."""
    form = RumorFilterForm(request.GET or None)
    rumors = list(selectors.rumor_list(**form.filters())[:500])
    return render(
        request,
        "console/rumors/list.html",
        {
            "form": form,
            "rows": [(r, selectors.answer_minutes(r)) for r in rumors],
            "median": selectors.median_answer_minutes(),
            "unanswered": selectors.rumor_list(unanswered=True).count(),
        },
    )


@staff_page(*RUMOR_ROLES)
def rumor_new(request: HttpRequest) -> HttpResponse:
    """Start tracking a claim."""
    form = RumorOpenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rumor = services.rumor_open(
                actor=acting_user(request),
                claim=data["claim"],
                first_seen_at=data["first_seen_at"],
                first_seen_where=data["first_seen_where"],
                incident=data["incident"],
                links=form.link_list(),
            )
        except NotPermittedError as exc:
            return forbidden(request, exc, RUMOR_ROLES)
        except WatchhouseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The rumor is being tracked."))
            return redirect("console:rumor", pk=rumor.pk)
    return render(
        request, "console/rumors/new.html", {"form": form}, status=400 if form.errors else 200
    )


@staff_page(*RUMOR_ROLES)
def rumor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A rumor: its claim, evidence, verdict and correction, with the forms that change them."""
    rumor = _rumor(pk)
    actor = acting_user(request)
    title, body = services.correction_defaults(rumor)
    return render(
        request,
        "console/rumors/detail.html",
        {
            "rumor": rumor,
            "edit": RumorForm(
                initial={
                    "claim": rumor.claim,
                    "first_seen_at": rumor.first_seen_at,
                    "first_seen_where": rumor.first_seen_where,
                    "incident": rumor.incident,
                }
            ),
            "evidence": list(selectors.evidence_list(rumor)),
            "kinds": EvidenceKind.choices,
            "statuses": RumorStatus.choices,
            "minutes": selectors.answer_minutes(rumor),
            "can_answer": actor.has_any_role(*ANSWER_ROLES),
            "public": selectors.rumor_public_list().filter(pk=rumor.pk).exists(),
            "correction_title": title,
            "correction_body": body,
        },
    )


def _act_update(request: HttpRequest, actor: User, rumor: Rumor) -> str:
    form = RumorForm(request.POST)
    if not form.is_valid():
        raise InvalidInputError(" ".join(str(e) for errors in form.errors.values() for e in errors))
    data = form.cleaned_data
    services.rumor_update(
        actor=actor,
        rumor=rumor,
        claim=data["claim"],
        first_seen_at=data["first_seen_at"],
        first_seen_where=data["first_seen_where"],
        incident=data["incident"],
    )
    return _("Saved.")


def _act_evidence(request: HttpRequest, actor: User, rumor: Rumor) -> str:
    services.rumor_evidence_add(
        actor=actor,
        rumor=rumor,
        kind=request.POST.get("kind", ""),
        url=request.POST.get("url", ""),
        note=request.POST.get("note", ""),
        file=request.FILES.get("file"),
    )
    return _("Evidence added.")


def _act_decide(request: HttpRequest, actor: User, rumor: Rumor) -> str:
    rumor = services.rumor_decide(
        actor=actor,
        rumor=rumor,
        status=request.POST.get("status", ""),
        what_we_know=request.POST.get("what_we_know", ""),
        statement=request.POST.get("statement", ""),
    )
    if rumor.answered_at is not None and rumor.status != RumorStatus.UNVERIFIED:
        return _("Decided; the answer is on the public rumor-control page.")
    return _("Decided; the rumor is not public.")


def _act_correct(request: HttpRequest, actor: User, rumor: Rumor) -> str:
    post = services.rumor_publish_correction(
        actor=actor,
        rumor=rumor,
        title=request.POST.get("title", ""),
        body=request.POST.get("body", ""),
    )
    return _("Correction published: %(title)s") % {"title": post.title}


ACTIONS: dict[str, Callable[[HttpRequest, User, Rumor], str]] = {
    "update": _act_update,
    "evidence": _act_evidence,
    "decide": _act_decide,
    "correct": _act_correct,
}


@staff_page(*RUMOR_ROLES)
@require_POST
def rumor_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Run one action on a rumor and come back to its page."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404("No such action.")
    return action_run(
        request, handler, _rumor(pk), roles=ANSWER_ROLES, back=redirect("console:rumor", pk=pk)
    )


@staff_page(*RUMOR_ROLES)
def evidence_file(request: HttpRequest, pk: int) -> HttpResponse:
    """A screenshot, inline (an audited view, checked against its SHA-256)."""
    evidence = RumorEvidence.objects.filter(pk=pk, kind=EvidenceKind.SCREENSHOT).first()
    if evidence is None:
        raise Http404("No such screenshot.")
    try:
        content = services.rumor_evidence_read(actor=acting_user(request), evidence=evidence)
    except NotPermittedError as exc:
        return forbidden(request, exc, RUMOR_ROLES)
    except WatchhouseError as exc:
        messages.error(request, str(exc))
        return redirect("console:rumor", pk=evidence.rumor_id)
    response = HttpResponse(content, content_type=evidence.mime or "application/octet-stream")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@staff_page(*RUMOR_ROLES)
def incident_list(request: HttpRequest) -> HttpResponse:
    """Incidents and their rumors; create one."""
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.incident_create(
                actor=acting_user(request), name=form.cleaned_data["name"]
            )
        except NotPermittedError as exc:
            return forbidden(request, exc, RUMOR_ROLES)
        except WatchhouseError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, _("Incident %(name)s created.") % {"name": incident.name})
            return redirect("console:rumor_incidents")
    return render(
        request,
        "console/rumors/incidents.html",
        {"form": form, "incidents": selectors.incident_list()},
        status=400 if form.errors else 200,
    )


@staff_page(*RUMOR_ROLES)
@require_POST
def rumor_from_inbound(request: HttpRequest, item_pk: int) -> HttpResponse:
    """Track a reply, comment or mention from another network as a rumor (the button beside
    it in the outlets' inbox)."""
    item = InboundItem.objects.filter(pk=item_pk).first()
    if item is None:
        raise Http404("No such message.")
    try:
        rumor = services.rumor_from_inbound(actor=acting_user(request), item=item)
    except NotPermittedError as exc:
        return forbidden(request, exc, RUMOR_ROLES)
    except WatchhouseError as exc:
        messages.error(request, str(exc))
        return redirect("console:outlet_inbox")
    messages.success(request, _("The message is now a tracked rumor."))
    return redirect("console:rumor", pk=rumor.pk)


@staff_page(*RUMOR_ROLES)
@require_POST
def rumor_from_comment(request: HttpRequest, comment_pk: int) -> HttpResponse:
    """Track a community comment as a rumor (the button beside a comment in moderation)."""
    comment = Comment.objects.select_related("post", "discussion").filter(pk=comment_pk).first()
    if comment is None:
        raise Http404("No such comment.")
    raw = request.POST.get("incident", "")
    incident = Incident.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    try:
        rumor = services.rumor_from_comment(
            actor=acting_user(request), comment=comment, incident=incident
        )
    except NotPermittedError as exc:
        return forbidden(request, exc, RUMOR_ROLES)
    except WatchhouseError as exc:
        messages.error(request, str(exc))
        return redirect("console:rumors")
    messages.success(request, _("The comment is now a tracked rumor."))
    return redirect("console:rumor", pk=rumor.pk)
