"""Public pages of the conversation: the moderation policy and its public log, a
neighbourhood's discussions, the posting form, a discussion with its comments, the comment
form of an agency post, and residents' flags.

Everything works without JavaScript. Refusals from the services are shown on the page and
nothing changes. Pages that depend on the visitor (their own hidden words, the forms) are never
page-cached: only the post page is, and it shows nothing that depends on who reads it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from watchhouse.community import text
from watchhouse.community.auth import current_resident, resident_required, verified_area_ids
from watchhouse.community.models import (
    UNLAWFUL_REASONS,
    Comment,
    Discussion,
    DiscussionKind,
    ModerationReason,
    Resident,
    Visibility,
)
from watchhouse.community.selectors import conversation as selectors
from watchhouse.community.services import conversation as services
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.geo.models import Area
from watchhouse.posts import public
from watchhouse.posts.models import Post
from watchhouse.posts.states import PostState

# What each reason of the policy means, in plain words, for the published policy page.
REASON_EXPLANATIONS = {
    ModerationReason.OFF_TOPIC: gettext_lazy(
        "The comment has nothing to do with the post or the neighbourhood conversation it is in."
    ),
    ModerationReason.SPAM: gettext_lazy(
        "Advertising, repeated messages, or links posted to draw traffic rather than to talk."
    ),
    ModerationReason.HARASSMENT: gettext_lazy(
        "Abuse aimed at a private person: insults, slurs, repeated unwanted attention. "
        "Criticism of the department and its officers is not harassment and stays."
    ),
    ModerationReason.PROFILING: gettext_lazy(
        "Describing someone as suspicious by their race or ethnicity instead of by what they "
        "did. Describe behaviour, clothing and direction instead."
    ),
    ModerationReason.PERSONAL_INFO: gettext_lazy(
        "Someone's phone number, e-mail, licence plate, health or other private details "
        "shared without their consent."
    ),
    ModerationReason.OPEN_CASE: gettext_lazy(
        "Details that could identify a victim or a witness, or harm an investigation that is "
        "still open."
    ),
    ModerationReason.THREAT: gettext_lazy(
        "A serious threat of violence against a person or a group. Unlawful: deleted."
    ),
    ModerationReason.DOXXING: gettext_lazy(
        "Publishing where someone lives so that others can find and target them. Unlawful: deleted."
    ),
    ModerationReason.CSAM: gettext_lazy(
        "Any sexual content involving a child. Unlawful: deleted and reported to the authorities."
    ),
}


def _area(area_slug: str) -> Area:
    try:
        return selectors.neighbourhood_get(area_slug)
    except Area.DoesNotExist:
        raise Http404("No such neighbourhood.") from None


def _discussion(area: Area, pk: int) -> Discussion:
    try:
        found = selectors.discussion_get(area, pk)
    except Discussion.DoesNotExist:
        raise Http404("No such discussion.") from None
    return found


def _flag_context(request: HttpRequest) -> dict[str, Any]:
    return {"flag_reasons": ModerationReason.choices, "next_url": request.get_full_path()}


@require_safe
def moderation_policy(request: HttpRequest) -> HttpResponse:
    """The published moderation policy: what is hidden and why, and what alone is deleted."""
    reasons = [
        {
            "value": value,
            "label": label,
            "explanation": REASON_EXPLANATIONS.get(ModerationReason(value), ""),
            "unlawful": value in UNLAWFUL_REASONS,
        }
        for value, label in ModerationReason.choices
    ]
    return render(
        request,
        "community/conversation/policy.html",
        {
            "lawful": [r for r in reasons if not r["unlawful"]],
            "unlawful": [r for r in reasons if r["unlawful"]],
        },
    )


@require_safe
def moderation_log(request: HttpRequest) -> HttpResponse:
    """Moderation decisions counted by month, action and reason: no words, no names."""
    rows = selectors.moderation_log()
    months: dict[Any, list[selectors.LogRow]] = {}
    for row in rows:
        months.setdefault(row.month, []).append(row)
    return render(
        request,
        "community/conversation/log.html",
        {"months": list(months.items()), "log_months": selectors.LOG_MONTHS},
    )


@require_safe
def discussion_list(request: HttpRequest, area_slug: str) -> HttpResponse:
    """A neighbourhood's discussions, newest first."""
    area = _area(area_slug)
    resident = current_resident(request)
    return render(
        request,
        "community/conversation/discussions.html",
        {
            "area": area,
            "resident": resident,
            "member": area.pk in verified_area_ids(resident),
            "discussions": selectors.discussion_list(area, viewer=resident),
        },
    )


class DiscussionForm(forms.Form):
    """A new discussion. For a safety concern, what the person did and wore come before any
    description of them (the service enforces the order)."""

    kind = forms.ChoiceField(
        label=gettext_lazy("What is it about?"),
        choices=DiscussionKind.choices,
        initial=DiscussionKind.GENERAL,
        widget=forms.RadioSelect,
    )
    title = forms.CharField(label=gettext_lazy("Title"), max_length=text.TITLE_MAX)
    body = forms.CharField(
        label=gettext_lazy("What do you want to tell your neighbours?"),
        max_length=text.BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    behaviour = forms.CharField(
        label=gettext_lazy("1. What did the person do?"),
        required=False,
        max_length=text.DETAIL_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "The behaviour that worried you: what they did, where, when, and which way they "
            "went. Being somewhere is not suspicious by itself."
        ),
    )
    clothing = forms.CharField(
        label=gettext_lazy("2. What were they wearing?"),
        required=False,
        max_length=text.DETAIL_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Clothes, shoes, bags, a vehicle: what would let someone recognise the situation."
        ),
    )
    person_description = forms.CharField(
        label=gettext_lazy("3. Anything else about the person (optional)"),
        required=False,
        max_length=text.DETAIL_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Only after answering 1 and 2. Height, build, hair, tattoos. Do not give race or "
            "ethnicity: it describes who someone is, not what they did, and is refused."
        ),
    )


@require_http_methods(["GET", "POST"])
@resident_required
def discussion_new(request: HttpRequest, area_slug: str) -> HttpResponse:
    """The posting form of a neighbourhood (verified members)."""
    area = _area(area_slug)
    resident = current_resident(request)
    member = area.pk in verified_area_ids(resident)
    form = DiscussionForm(request.POST or None)
    if request.method == "POST" and member and form.is_valid():
        try:
            discussion = services.discussion_start(
                resident=resident,  # type: ignore[arg-type]
                area=area,
                **form.cleaned_data,
            )
        except (InvalidInputError, NotPermittedError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Your discussion is posted."))
            return redirect(_discussion_url(discussion))
    return render(
        request,
        "community/conversation/new.html",
        {"area": area, "form": form, "member": member},
        status=403 if request.method == "POST" and not member else 200,
    )


def _discussion_url(discussion: Discussion) -> str:
    return reverse(
        "community:discussion",
        kwargs={"area_slug": discussion.area.slug, "pk": discussion.pk},
    )


def _render_discussion(
    request: HttpRequest,
    discussion: Discussion,
    *,
    error: str = "",
    body: str = "",
    status: int = 200,
) -> HttpResponse:
    resident = current_resident(request)
    mine = resident is not None and discussion.author_id == resident.pk
    if discussion.visibility != Visibility.VISIBLE and not mine:
        shown_text = False
    else:
        shown_text = discussion.visibility != Visibility.DELETED
    return render(
        request,
        "community/conversation/discussion.html",
        {
            "area": discussion.area,
            "discussion": discussion,
            "shown_text": shown_text,
            "mine": mine,
            "resident": resident,
            "viewer": resident,
            "may_take_part": services.may_take_part(resident, discussion=discussion),
            "comments": list(selectors.comment_list_for_discussion(discussion)),
            "error": error,
            "body": body,
            "comment_action": reverse(
                "community:discussion_comment",
                kwargs={"area_slug": discussion.area.slug, "pk": discussion.pk},
            ),
            **_flag_context(request),
        },
        status=status,
    )


@require_safe
def discussion_detail(request: HttpRequest, area_slug: str, pk: int) -> HttpResponse:
    """A discussion and its comments; forms for verified members."""
    return _render_discussion(request, _discussion(_area(area_slug), pk))


def _parent(request: HttpRequest) -> Comment | None:
    raw = request.POST.get("parent", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidInputError(_("The comment replied to is not in this conversation."))
    parent = Comment.objects.filter(pk=int(raw)).first()
    if parent is None:
        raise InvalidInputError(_("The comment replied to is not in this conversation."))
    return parent


@require_POST
@resident_required
def discussion_comment(request: HttpRequest, area_slug: str, pk: int) -> HttpResponse:
    """Add a comment to a discussion."""
    discussion = _discussion(_area(area_slug), pk)
    body = request.POST.get("body", "")
    try:
        comment = services.comment_create(
            resident=current_resident(request),  # type: ignore[arg-type]
            discussion=discussion,
            body=body,
            parent=_parent(request),
        )
    except InvalidInputError as exc:
        return _render_discussion(request, discussion, error=str(exc), body=body, status=400)
    except NotPermittedError as exc:
        return _render_discussion(request, discussion, error=str(exc), body=body, status=403)
    messages.success(request, _("Your comment is posted."))
    return redirect(f"{_discussion_url(discussion)}#comment-{comment.pk}")


def _commentable_post(pk: int) -> Post:
    try:
        return public.post_public_get(pk)
    except Post.DoesNotExist:
        raise Http404("No such post.") from None


@require_http_methods(["GET", "POST"])
@resident_required
def post_comment(request: HttpRequest, pk: int) -> HttpResponse:
    """The comment form of an agency post (its page is cached for everyone, so the form and
    the resident's own hidden comments live here)."""
    post = _commentable_post(pk)
    resident = current_resident(request)
    error, body, status = "", "", 200
    if request.method == "POST":
        body = request.POST.get("body", "")
        try:
            comment = services.comment_create(
                resident=resident,  # type: ignore[arg-type]
                post=post,
                body=body,
                parent=_parent(request),
            )
        except InvalidInputError as exc:
            error, status = str(exc), 400
        except NotPermittedError as exc:
            error, status = str(exc), 403
        else:
            messages.success(request, _("Your comment is posted."))
            return redirect(f"{public.post_url(post)}#comment-{comment.pk}")
    return render(
        request,
        "community/conversation/post_comment.html",
        {
            "post": post,
            "post_url": public.post_url(post),
            "open": post.state == PostState.PUBLISHED,
            "may_take_part": services.may_take_part(resident, post=post),
            "areas": list(post.areas.all()),
            "comments": list(selectors.comment_list_for_post(post)),
            "viewer": resident,
            "error": error,
            "body": body,
            "comment_action": request.path,
            **_flag_context(request),
        },
        status=status,
    )


def _back(request: HttpRequest, fallback: str) -> str:
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return fallback


@require_POST
@resident_required
def flag_item(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """A resident flags a comment or a discussion with a reason from the policy."""
    resident: Resident = current_resident(request)  # type: ignore[assignment]
    try:
        item = selectors.moderation_item_get(kind, pk)
    except (Comment.DoesNotExist, Discussion.DoesNotExist):
        raise Http404("Nothing to flag here.") from None
    if isinstance(item, Discussion):
        fallback = _discussion_url(item)
    elif item.discussion_id is not None:
        fallback = _discussion_url(item.discussion)  # type: ignore[arg-type]
    else:
        fallback = public.post_url(item.post)  # type: ignore[arg-type]
    try:
        services.flag(
            resident=resident,
            comment=item if isinstance(item, Comment) else None,
            discussion=item if isinstance(item, Discussion) else None,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
        )
    except (InvalidInputError, NotPermittedError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Thank you: the moderators will look at it against the published policy.")
        )
    return redirect(_back(request, fallback))
