"""The tips desk: the inbox with filters and search, one tip with its dialogue, files and
actions, evidence downloads and export, question templates, reward claims and the weekly
response-time report.

Opening a tip is an audited read; each button calls one service, whose refusal is shown as a
message (nothing changes), and a permission refusal as the console's forbidden page.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import Role
from watchhouse.console.access import acting_user, action_run, forbidden, staff_page
from watchhouse.console.tips.forms import (
    QuestionTemplateForm,
    RewardClaimForm,
    TipFilterForm,
    investigators,
)
from watchhouse.core import crypto
from watchhouse.core.errors import InvalidInputError, NotPermittedError, WatchhouseError
from watchhouse.posts.storage import private_root
from watchhouse.tips import selectors
from watchhouse.tips.models import (
    FileKind,
    MessageKind,
    QuestionTemplate,
    Tip,
    TipFile,
    TipLink,
    TipPriority,
)
from watchhouse.tips.policy import REWARD_ROLES
from watchhouse.tips.services import dialogue, evidence, work
from watchhouse.tips.states import OPEN_STATES, TipOutcome, TipState

INVESTIGATORS = (Role.INVESTIGATOR,)
TEMPLATE_KEEPERS = work.TEMPLATE_ROLES


def _tip(pk: int) -> Tip:
    try:
        return selectors.tip_get(pk)
    except Tip.DoesNotExist:
        raise Http404("No such tip.") from None


def _file(pk: int) -> TipFile:
    file = TipFile.objects.select_related("tip").filter(pk=pk).first()
    if file is None:
        raise Http404("No such file.")
    return file


@staff_page(*INVESTIGATORS)
def tip_inbox(request: HttpRequest) -> HttpResponse:
    form = TipFilterForm(request.GET or None)
    tips = selectors.tip_list(filters=form.filters(), actor=acting_user(request))
    page = Paginator(tips, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "console/tips/inbox.html",
        {
            "form": form,
            "page": page,
            "counts": [
                (state, label, n)
                for (state, label), n in zip(
                    TipState.choices, selectors.tip_state_counts().values(), strict=True
                )
            ],
            "query": query.urlencode(),
        },
    )


def _dialogue(tip: Tip) -> list[dict[str, Any]]:
    return [
        {
            "message": m,
            "body": work.reward_code_mask(m.read_body()),
            "note": m.kind == MessageKind.NOTE,
        }
        for m in tip.messages.all()
    ]


def _files(tip: Tip) -> list[dict[str, Any]]:
    rows = []
    for owner in [tip, *tip.merged.all()]:
        for file in owner.files.all():
            rows.append(
                {
                    "file": file,
                    "name": file.read_name(),
                    "merged_from": owner if owner.pk != tip.pk else None,
                    "custody": evidence.custody_log(file),
                    "preview": bool(file.preview_path and file.preview_key),
                    "video": file.preview_mime.startswith("video/"),
                    "image": file.preview_mime.startswith("image/"),
                }
            )
    return rows


@staff_page(*INVESTIGATORS)
def tip_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tip = _tip(pk)
    actor = acting_user(request)
    try:
        content = dialogue.tip_read(actor=actor, tip=tip)
    except NotPermittedError as exc:
        return forbidden(request, exc, INVESTIGATORS)
    templates = list(selectors.question_template_list())
    chosen = next((t for t in templates if str(t.pk) == request.GET.get("template")), None)
    from watchhouse.posts.models import Post, PostKind

    return render(
        request,
        "console/tips/detail.html",
        {
            "tip": tip,
            "content": content,
            "dialogue": _dialogue(tip),
            "files": _files(tip),
            "links": list(tip.links.all()),
            "merged": list(tip.merged.all()),
            "templates": templates,
            "chosen": chosen,
            "draft": chosen.body if chosen else "",
            "investigators": investigators(),
            "priorities": TipPriority.choices,
            "outcomes": [o for o in TipOutcome.choices if o[0] != TipOutcome.DUPLICATE],
            "is_open": tip.state in OPEN_STATES,
            "can_triage": tip.state == TipState.NEW,
            "can_assign": tip.state != TipState.CLOSED,
            "can_action": tip.state == TipState.ASSIGNED,
            "can_reopen": tip.state == TipState.CLOSED and tip.merged_into_id is None,
            "can_reward": actor.has_any_role(*REWARD_ROLES)
            and not tip.reward_status
            and tip.outcome not in work.NO_REWARD_OUTCOMES,
            "appeals": Post.objects.filter(kind__in=[PostKind.APPEAL, PostKind.MISSING]).order_by(
                "-id"
            )[:100],
        },
    )


def _act_assign(request: HttpRequest, actor: User, tip: Tip) -> str:
    raw = request.POST.get("assignee", "")
    assignee = User.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    if assignee is None:
        raise InvalidInputError(_("Choose an investigator."))
    work.tip_assign(actor=actor, tip=tip, assignee=assignee)
    return _("Assigned to %(name)s.") % {"name": assignee.get_username()}


def _act_link(request: HttpRequest, actor: User, tip: Tip) -> str:
    from watchhouse.posts.models import Post

    raw = request.POST.get("appeal", "")
    appeal = Post.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    work.tip_link_add(
        actor=actor, tip=tip, case_number=request.POST.get("case_number", ""), appeal=appeal
    )
    return _("Linked.")


def _act_unlink(request: HttpRequest, actor: User, tip: Tip) -> str:
    raw = request.POST.get("link", "")
    link = TipLink.objects.filter(pk=int(raw), tip=tip).first() if raw.isdigit() else None
    if link is None:
        raise InvalidInputError(_("That link is already gone."))
    work.tip_link_remove(actor=actor, link=link)
    return _("Link removed.")


def _act_merge(request: HttpRequest, actor: User, tip: Tip) -> str:
    into = selectors.tip_by_code(request.POST.get("into", ""))
    if into is None:
        raise InvalidInputError(_("No tip has that code."))
    work.tip_merge(actor=actor, duplicate=tip, into=into)
    return _("Merged into tip %(code)s.") % {"code": into.code}


def _act_transfer(request: HttpRequest, actor: User, tip: Tip) -> str:
    raw = request.POST.get("file", "")
    item: Tip | TipFile = tip
    if raw.isdigit():
        item = _file(int(raw))
    evidence.tip_file_transfer(
        actor=actor,
        file_or_tip=item,
        recipient=request.POST.get("recipient", ""),
        reason=request.POST.get("reason", ""),
    )
    return _("Transfer recorded in the chain of custody.")


def _act_triage(request: HttpRequest, actor: User, tip: Tip) -> str:
    work.tip_triage(actor=actor, tip=tip, priority=request.POST.get("priority") or None)
    return _("Triaged.")


def _act_action(request: HttpRequest, actor: User, tip: Tip) -> str:
    work.tip_action(actor=actor, tip=tip)
    return _("Marked actioned.")


def _act_close(request: HttpRequest, actor: User, tip: Tip) -> str:
    work.tip_close(actor=actor, tip=tip, outcome=request.POST.get("outcome", ""))
    return _("Closed.")


def _act_reopen(request: HttpRequest, actor: User, tip: Tip) -> str:
    work.tip_reopen(actor=actor, tip=tip)
    return _("Reopened.")


def _act_priority(request: HttpRequest, actor: User, tip: Tip) -> str:
    work.tip_priority_set(actor=actor, tip=tip, priority=request.POST.get("priority", ""))
    return _("Priority changed.")


def _act_message(request: HttpRequest, actor: User, tip: Tip) -> str:
    dialogue.tip_message_send(actor=actor, tip=tip, body=request.POST.get("body", ""))
    return _("Sent to the tipster.")


def _act_note(request: HttpRequest, actor: User, tip: Tip) -> str:
    dialogue.tip_note_add(actor=actor, tip=tip, body=request.POST.get("body", ""))
    return _("Note added.")


def _act_reward(request: HttpRequest, actor: User, tip: Tip) -> str:
    work.tip_reward_approve(
        actor=actor,
        tip=tip,
        amount=request.POST.get("amount", ""),
        instructions=request.POST.get("instructions", ""),
    )
    return _("Reward approved; the reward code is in the tipster's dialogue only.")


ACTIONS: dict[str, Callable[[HttpRequest, User, Tip], str]] = {
    "triage": _act_triage,
    "assign": _act_assign,
    "action": _act_action,
    "close": _act_close,
    "reopen": _act_reopen,
    "priority": _act_priority,
    "link": _act_link,
    "unlink": _act_unlink,
    "merge": _act_merge,
    "message": _act_message,
    "note": _act_note,
    "reward": _act_reward,
    "transfer": _act_transfer,
}


@staff_page(*INVESTIGATORS)
@require_POST
def tip_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Run one action on a tip and come back to its page."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404("No such action.")
    return action_run(
        request, handler, _tip(pk), roles=INVESTIGATORS, back=redirect("console:tip", pk=pk)
    )


@staff_page(*INVESTIGATORS)
def tip_file_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The stripped copy of a file, inline (an audited view)."""
    file = _file(pk)
    try:
        chunks, mime = evidence.tip_file_preview(actor=acting_user(request), file=file)
    except NotPermittedError as exc:
        return forbidden(request, exc, INVESTIGATORS)
    except (WatchhouseError, crypto.SealError):
        raise Http404("No preview.") from None
    response = StreamingHttpResponse(chunks, content_type=mime)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return cast(HttpResponse, response)


@staff_page(*INVESTIGATORS)
@require_POST
def tip_file_original(request: HttpRequest, pk: int) -> HttpResponse:
    """The original as received, as a download, with a stated reason."""
    file = _file(pk)
    try:
        chunks = evidence.tip_file_original(
            actor=acting_user(request), file=file, reason=request.POST.get("reason", "")
        )
    except NotPermittedError as exc:
        return forbidden(request, exc, INVESTIGATORS)
    except (WatchhouseError, crypto.SealError) as exc:
        messages.error(request, str(exc))
        return redirect("console:tip", pk=file.tip.merged_into_id or file.tip_id)
    response = StreamingHttpResponse(chunks, content_type="application/octet-stream")
    name = evidence.safe_name(file.read_name())
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Content-Length"] = str(file.size)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return cast(HttpResponse, response)


@staff_page(*INVESTIGATORS)
def tip_file_metadata(request: HttpRequest, pk: int) -> HttpResponse:
    """What a file says about itself (time, GPS, device): an audited read."""
    file = _file(pk)
    try:
        metadata = evidence.tip_file_metadata(actor=acting_user(request), file=file)
    except NotPermittedError as exc:
        return forbidden(request, exc, INVESTIGATORS)
    return render(
        request,
        "console/tips/metadata.html",
        {
            "file": file,
            "name": file.read_name(),
            "metadata": sorted(metadata.items()),
            "custody": evidence.custody_log(file),
            "is_image": file.kind == FileKind.IMAGE,
        },
    )


@staff_page(*INVESTIGATORS)
@require_POST
def tip_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The evidence ZIP, built in a private temporary file and streamed from it."""
    tip = _tip(pk)
    private_root().mkdir(parents=True, exist_ok=True)
    out = tempfile.TemporaryFile(dir=private_root())  # noqa: SIM115 - FileResponse closes it
    try:
        evidence.tip_export(
            actor=acting_user(request), tip=tip, reason=request.POST.get("reason", ""), out=out
        )
    except NotPermittedError as exc:
        out.close()
        return forbidden(request, exc, INVESTIGATORS)
    except (WatchhouseError, crypto.SealError) as exc:
        out.close()
        messages.error(request, str(exc))
        return redirect("console:tip", pk=pk)
    out.seek(0)
    response = FileResponse(
        out, as_attachment=True, filename=f"tip-{tip.code}-evidence.zip"
    )  # fmt: skip
    response["Content-Type"] = "application/zip"
    response["Cache-Control"] = "private, no-store"
    return cast(HttpResponse, response)


@staff_page(*REWARD_ROLES)
def tip_reward_claim(request: HttpRequest) -> HttpResponse:
    """Pay a reward: the code says how much and for which tip, never who the tipster is."""
    form = RewardClaimForm(request.POST or None)
    claim = None
    if request.method == "POST" and form.is_valid():
        try:
            claim = work.tip_reward_claim(
                actor=acting_user(request), code=form.cleaned_data["code"]
            )
        except NotPermittedError as exc:
            return forbidden(request, exc, REWARD_ROLES)
        except WatchhouseError as exc:
            form.add_error("code", str(exc))
    return render(
        request,
        "console/tips/reward_claim.html",
        {"form": form, "claim": claim},
        status=400 if form.errors else 200,
    )


@staff_page(*TEMPLATE_KEEPERS)
def template_list(request: HttpRequest) -> HttpResponse:
    """Question templates: add one, change or retire the others."""
    actor = acting_user(request)
    form = QuestionTemplateForm(request.POST if "create" in request.POST else None)
    try:
        if request.method == "POST" and "create" in request.POST and form.is_valid():
            work.question_template_create(actor=actor, **form.cleaned_data)
            messages.success(request, _("Template added."))
            return redirect("console:tip_templates")
        raw = request.POST.get("template", "")
        template = QuestionTemplate.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
        if request.method == "POST" and template is not None:
            if "deactivate" in request.POST:
                work.question_template_deactivate(actor=actor, template=template)
                messages.success(request, _("Template retired."))
            else:
                work.question_template_update(
                    actor=actor,
                    template=template,
                    title=request.POST.get("title", ""),
                    body=request.POST.get("body", ""),
                )
                messages.success(request, _("Template saved."))
            return redirect("console:tip_templates")
    except NotPermittedError as exc:
        return forbidden(request, exc, TEMPLATE_KEEPERS)
    except WatchhouseError as exc:
        messages.error(request, str(exc))
    return render(
        request,
        "console/tips/templates.html",
        {"form": form, "templates": selectors.question_template_list(active_only=False)},
        status=400 if form.errors else 200,
    )


@staff_page(*INVESTIGATORS)
def tips_report(request: HttpRequest) -> HttpResponse:
    """Response times per week: time to first triage and to first reply."""
    return render(
        request, "console/tips/report.html", {"weeks": selectors.response_times_weekly(weeks=12)}
    )
