"""Community moderation in the console: the queue (hidden pending review first, then flagged,
then recent), one item with its flags and decisions and the hide/restore/delete/dismiss forms,
the department's replies, and the profiling filter's terms.

Each button calls one service; its refusal is shown as a message and nothing changes.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from watchhouse.community.models import (
    UNLAWFUL_REASONS,
    Comment,
    Discussion,
    ModerationReason,
    ProfilingTerm,
)
from watchhouse.community.policy import MODERATOR_ROLES
from watchhouse.community.selectors import conversation as selectors
from watchhouse.community.services import conversation, moderation
from watchhouse.console.access import acting_user, staff_page
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.posts.models import Post

Item = Comment | Discussion


def _item(kind: str, pk: int) -> Item:
    try:
        return selectors.moderation_item_get(kind, pk)
    except (Comment.DoesNotExist, Discussion.DoesNotExist):
        raise Http404("No such item.") from None


def _kind(item: Item) -> str:
    return "comment" if isinstance(item, Comment) else "discussion"


def _item_url(item: Item) -> str:
    return reverse("console:community_moderation_item", kwargs={"kind": _kind(item), "pk": item.pk})


@staff_page(*MODERATOR_ROLES)
def queue(request: HttpRequest) -> HttpResponse:
    """The moderation queue."""
    parts = selectors.moderation_queue()
    return render(
        request,
        "console/community/moderation/queue.html",
        {
            "parts": [
                (title, [(_kind(item), item) for item in parts[key]])
                for key, title in (
                    ("pending", _("Hidden pending review")),
                    ("flagged", _("Flagged, still visible")),
                    ("recent", _("Recent (7 days)")),
                )
            ],
        },
    )


@staff_page(*MODERATOR_ROLES)
def item_detail(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """One comment or discussion: its words, flags, decisions and the moderation forms."""
    item = _item(kind, pk)
    return render(
        request,
        "console/community/moderation/item.html",
        {
            "item": item,
            "kind": _kind(item),
            "flags": item.flags.select_related("resident").order_by("-created_at"),
            "decisions": selectors.decisions_for(item),
            "reasons": ModerationReason.choices,
            "unlawful": [
                (v, label) for v, label in ModerationReason.choices if v in UNLAWFUL_REASONS
            ],
        },
    )


@require_POST
@staff_page(*MODERATOR_ROLES)
def item_act(request: HttpRequest, kind: str, pk: int, action: str) -> HttpResponse:
    """Hide, restore, delete, dismiss, or reply as the department."""
    item = _item(kind, pk)
    actor = acting_user(request)
    reason = request.POST.get("reason", "")
    note = request.POST.get("note", "")
    try:
        if action == "hide":
            moderation.moderation_hide(actor=actor, item=item, reason=reason, note=note)
            done = _("Hidden.")
        elif action == "restore":
            moderation.moderation_restore(actor=actor, item=item, note=note)
            done = _("Restored: it is visible again.")
        elif action == "delete":
            moderation.moderation_delete(actor=actor, item=item, reason=reason, note=note)
            done = _("Deleted: the words are gone; the reason is kept.")
        elif action == "dismiss":
            moderation.moderation_dismiss(actor=actor, item=item, note=note)
            done = _("Flags dismissed: it stays visible.")
        elif action == "reply":
            target_post = item.post if isinstance(item, Comment) and item.post_id else None
            target_discussion = (
                item
                if isinstance(item, Discussion)
                else (item.discussion if item.discussion_id else None)
            )
            conversation.agency_reply(
                actor=actor,
                post=target_post,
                discussion=target_discussion,
                body=request.POST.get("body", ""),
                parent=item if isinstance(item, Comment) else None,
            )
            done = _("Your reply is posted as the department.")
        else:
            raise Http404("No such action.")
    except (InvalidInputError, NotPermittedError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect(_item_url(item))


@require_http_methods(["GET", "POST"])
@staff_page(*MODERATOR_ROLES)
def post_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """The department's reply to a post's conversation (not to one comment)."""
    post = Post.objects.filter(pk=pk).first()
    if post is None:
        raise Http404("No such post.")
    if request.method == "POST":
        try:
            conversation.agency_reply(
                actor=acting_user(request), post=post, body=request.POST.get("body", "")
            )
        except (InvalidInputError, NotPermittedError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Your reply is posted as the department."))
            return redirect(reverse("console:community_post_reply", kwargs={"pk": post.pk}))
    return render(
        request,
        "console/community/moderation/post_reply.html",
        {"post": post, "comments": selectors.comment_list_for_post(post)},
    )


@require_http_methods(["GET", "POST"])
@staff_page(*MODERATOR_ROLES)
def profiling_terms(request: HttpRequest) -> HttpResponse:
    """The profiling filter's terms: add one, switch one off."""
    if request.method == "POST":
        actor = acting_user(request)
        try:
            if "deactivate" in request.POST:
                raw = request.POST.get("deactivate", "")
                term = ProfilingTerm.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
                if term is None:
                    raise Http404("No such term.")
                moderation.profiling_term_deactivate(actor=actor, term=term)
                messages.success(request, _("The term is switched off."))
            elif "seed" in request.POST:
                added = moderation.profiling_terms_seed(actor=actor)
                messages.success(request, _("%(n)d default terms added.") % {"n": added})
            else:
                moderation.profiling_term_add(
                    actor=actor,
                    term=request.POST.get("term", ""),
                    note=request.POST.get("note", ""),
                )
                messages.success(request, _("The term is added."))
        except (InvalidInputError, NotPermittedError) as exc:
            messages.error(request, str(exc))
        return redirect(reverse("console:community_profiling_terms"))
    return render(
        request,
        "console/community/moderation/terms.html",
        {"terms": ProfilingTerm.objects.order_by("-active", "term")},
    )
