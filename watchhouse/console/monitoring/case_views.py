"""Case workspaces in the console: the list, the request form, and the case page (decision,
named accounts, timeline, map, witness search, evidence, sharing, closing).

Opening an open case's page goes through the purpose gate and is recorded as a view; a case
not open shows only its request. Every button calls one service; a refusal of the gate or of
a role is the refusal page, any other refusal a message.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from watchhouse.accounts.models import User
from watchhouse.console.access import acting_user, action_run, forbidden, staff_page
from watchhouse.console.monitoring.case_forms import (
    AccountRequestForm,
    CaseDecisionForm,
    CaseRequestForm,
    CloseForm,
    ShareForm,
    WitnessSearchForm,
)
from watchhouse.core.errors import InvalidInputError, NotPermittedError, WatchhouseError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import Approval, ApprovalKind, ApprovalState, Case, CaseState
from watchhouse.monitoring.selectors import cases as selectors
from watchhouse.monitoring.services import approvals as approval_services
from watchhouse.monitoring.services import cases as services
from watchhouse.monitoring.services.evidence import evidence_preserve, evidence_verify

CASE_ROLES = services.CASE_ROLES
CASE_KINDS = (ApprovalKind.WATCH_ACCOUNT, ApprovalKind.LOOKBACK, ApprovalKind.EXPORT)


def _summary(pk: int) -> Case:
    try:
        return selectors.case_summary_get(pk)
    except Case.DoesNotExist:
        raise Http404("No such case.") from None


def _back(pk: int) -> HttpResponse:
    return redirect("console:monitoring_case_detail", pk=pk)


def _form_errors(form: Any) -> str:
    """A form's errors as one message line."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return " ".join(parts)


@staff_page(*CASE_ROLES)
def case_list(request: HttpRequest) -> HttpResponse:
    """My cases; for supervisors also the ones waiting for a decision."""
    user = acting_user(request)
    return render(
        request,
        "console/monitoring/cases/list.html",
        {
            "cases": list(selectors.case_list_for(user)),
            "can_request": user.has_any_role(*policy.INVESTIGATOR_ROLES),
        },
    )


@staff_page(*policy.INVESTIGATOR_ROLES)
def case_new(request: HttpRequest) -> HttpResponse:
    form = CaseRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            case = services.case_request(actor=acting_user(request), **form.cleaned_data)
        except NotPermittedError as exc:
            return forbidden(request, exc, policy.INVESTIGATOR_ROLES)
        except WatchhouseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Requested. A supervisor who is not you decides."))
            return _back(case.pk)
    return render(
        request,
        "console/monitoring/cases/new.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


def _render_case(
    request: HttpRequest, case: Case, *, search: Any = None, search_form: Any = None
) -> HttpResponse:
    user = acting_user(request)
    supervisor = user.has_any_role(*policy.SUPERVISOR_ROLES)
    context: dict[str, Any] = {
        "case": case,
        "supervisor": supervisor,
        "can_decide": supervisor
        and case.state == CaseState.REQUESTED
        and case.opened_by_id != user.pk,
        "open": False,
    }
    if case.state == CaseState.OPEN:
        try:
            case = services.case_get(actor=user, case_id=case.pk)
        except NotPermittedError as exc:
            messages.error(request, str(exc))
        else:
            timeline = selectors.case_timeline(case)
            evidence = selectors.case_evidence(case)
            approvals = selectors.case_approvals(case)
            context.update({
                "open": True,
                "timeline": timeline,
                "places": selectors.case_places(case),
                "accounts": selectors.case_accounts(case),
                "approvals": [a for a in approvals if a.kind in CASE_KINDS],
                "evidence": [(e, evidence_verify(e)) for e in evidence],
                "disseminations": selectors.case_disseminations(case),
                "account_form": AccountRequestForm(),
                "search_form": search_form or WitnessSearchForm(),
                "share_form": ShareForm(item_choices=[(i.pk, str(i)) for i in timeline]),
                "close_form": CloseForm(),
                "search": search,
                "tiles": getattr(settings, "WATCHHOUSE_CRIME_TILES_URL", ""),
                "tiles_attribution": getattr(settings, "WATCHHOUSE_CRIME_TILES_ATTRIBUTION", ""),
                "max_metres": settings.WATCHHOUSE_MONITORING_SEARCH_MAX_METRES,
                "max_hours": settings.WATCHHOUSE_MONITORING_SEARCH_MAX_HOURS,
            })  # fmt: skip
    elif case.state == CaseState.PURGED:
        context["tombstone"] = case.tombstone
    return render(request, "console/monitoring/cases/detail.html", context)


@staff_page(*CASE_ROLES)
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The case page; for an open case, a view on the record."""
    return _render_case(request, _summary(pk))


@staff_page(*policy.SUPERVISOR_ROLES)
@require_POST
def case_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    if decision not in ("approve", "refuse"):
        raise Http404("No such decision.")
    form = CaseDecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""

    def decide(request: HttpRequest, actor: User, case: Case) -> str:
        services.case_decide(actor=actor, case_id=case.pk, approve=decision == "approve",
                             note=note)  # fmt: skip
        return _("Case opened.") if decision == "approve" else _("Case refused.")

    return action_run(request, decide, _summary(pk), roles=policy.SUPERVISOR_ROLES,
                      back=_back(pk))  # fmt: skip


def _gated_post(request: HttpRequest, pk: int, handler: Any) -> HttpResponse:
    return action_run(request, handler, _summary(pk), roles=CASE_ROLES, back=_back(pk))


@staff_page(*CASE_ROLES)
@require_POST
def case_account_request(request: HttpRequest, pk: int) -> HttpResponse:
    form = AccountRequestForm(request.POST)

    def ask(request: HttpRequest, actor: User, case: Case) -> str:
        if not form.is_valid():
            raise InvalidInputError(_form_errors(form))
        services.case_account_request(actor=actor, case_id=case.pk, **form.cleaned_data)
        return _("Asked. The posts are collected once a second person approves.")

    return _gated_post(request, pk, ask)


@staff_page(*CASE_ROLES)
@require_POST
def case_account_refresh(request: HttpRequest, pk: int, account: int) -> HttpResponse:
    def collect(request: HttpRequest, actor: User, case: Case) -> str:
        added = services.case_account_refresh(actor=actor, case_id=case.pk, account_id=account)
        return _("Collected again: %(n)d new posts.") % {"n": added}

    return _gated_post(request, pk, collect)


@staff_page(*CASE_ROLES)
@require_POST
def case_search(request: HttpRequest, pk: int) -> HttpResponse:
    """Run a witness search and show its results on the case page (or ask for a look-back)."""
    case = _summary(pk)
    form = WitnessSearchForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _render_case(request, case, search_form=form)
    try:
        result = services.case_witness_search(
            actor=acting_user(request), case_id=case.pk, **form.cleaned_data
        )
    except NotPermittedError as exc:
        return forbidden(request, exc, CASE_ROLES)
    except WatchhouseError as exc:
        messages.error(request, str(exc))
        return _render_case(request, case, search_form=form)
    if isinstance(result, Approval):
        messages.success(request, _("This search goes beyond the policy's limits: a second "
                                    "person must approve it. Its results will be added to the "
                                    "case."))  # fmt: skip
        return _back(pk)
    return _render_case(request, case, search=result, search_form=form)


@staff_page(*CASE_ROLES)
@require_POST
def case_preserve(request: HttpRequest, pk: int, item: int) -> HttpResponse:
    def preserve(request: HttpRequest, actor: User, case: Case) -> str:
        if not case.items.filter(pk=item).exists():
            raise InvalidInputError(_("That item is not in this case."))
        evidence = evidence_preserve(actor=actor, item_id=item)
        return _("Preserved as evidence: SHA-256 %(hash)s.") % {"hash": evidence.sha256}

    return _gated_post(request, pk, preserve)


@staff_page(*CASE_ROLES)
@require_POST
def case_share(request: HttpRequest, pk: int) -> HttpResponse:
    def share(request: HttpRequest, actor: User, case: Case) -> str:
        choices = [(i, str(i)) for i in case.items.values_list("pk", flat=True)]
        form = ShareForm(request.POST, item_choices=choices)
        if not form.is_valid():
            raise InvalidInputError(_form_errors(form))
        services.case_share_request(actor=actor, case_id=case.pk,
                                    recipient=form.cleaned_data["recipient"],
                                    purpose=form.cleaned_data["purpose"],
                                    item_ids=form.cleaned_data["items"])  # fmt: skip
        return _("Asked. Nothing leaves the agency until a second person approves.")

    return _gated_post(request, pk, share)


@staff_page(*CASE_ROLES)
@require_POST
def case_close(request: HttpRequest, pk: int) -> HttpResponse:
    form = CloseForm(request.POST)

    def close(request: HttpRequest, actor: User, case: Case) -> str:
        if not form.is_valid():
            raise InvalidInputError(_form_errors(form))
        services.case_close(actor=actor, case_id=case.pk, reason=form.cleaned_data["reason"])
        return _("Case closed. Its data is purged at the end of the retention period.")

    return _gated_post(request, pk, close)


@staff_page(*policy.SUPERVISOR_ROLES)
@require_POST
def case_approval_decide(request: HttpRequest, pk: int, approval: int, decision: str
                         ) -> HttpResponse:  # fmt: skip
    """Decide one of the case's second-person requests from the case page."""
    if decision not in ("approve", "refuse"):
        raise Http404("No such decision.")
    target = Approval.objects.filter(pk=approval, case_id=pk, state=ApprovalState.PENDING).first()
    if target is None:
        raise Http404("No such request waiting.")
    note = str(request.POST.get("note", ""))[:500]

    def decide(request: HttpRequest, actor: User, target: Approval) -> str:
        approval_services.approval_decide(actor=actor, approval_id=target.pk,
                                          approve=decision == "approve", note=note)  # fmt: skip
        return _("Approved.") if decision == "approve" else _("Refused.")

    return action_run(request, decide, target, roles=policy.SUPERVISOR_ROLES, back=_back(pk))
