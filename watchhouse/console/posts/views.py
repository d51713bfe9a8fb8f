"""The posts desk: write, preview, submit, approve, return, publish, schedule, retract,
archive and resolve posts; their revision history with diffs; the media library with
uploads, processing progress, retries, alt text and captions; officers and topics.

Each button calls one service; a service's refusal is shown as a message, and a permission
refusal as the console's forbidden page.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from watchhouse.console.access import acting_user, forbidden, staff_page
from watchhouse.core.errors import NotPermittedError, WatchhouseError
from watchhouse.posts import policy, selectors, services
from watchhouse.posts.forms import (
    CaptionsForm,
    MediaEditForm,
    MediaUploadForm,
    OfficerForm,
    PostForm,
    ResolveForm,
    ScheduleForm,
    TopicForm,
    chapters_text,
    officer_initial,
    post_initial,
)
from watchhouse.posts.models import (
    MediaAsset,
    MediaKind,
    MediaStatus,
    OfficerProfile,
    Post,
    PostKind,
    PostRevision,
)
from watchhouse.posts.states import PUBLIC_STATES, PostState

COMPOSERS = policy.COMPOSER_ROLES
PROFILE_KEEPERS = policy.PROFILE_ROLES


def _get_post(pk: int) -> Post:
    try:
        return selectors.post_console_get(pk)
    except Post.DoesNotExist:
        raise Http404("No such post.") from None


def _public_url(post: Post) -> str:
    if post.state not in PUBLIC_STATES:
        return ""
    try:
        return reverse("posts:detail", kwargs={"pk": post.pk, "slug": post.slug or "post"})
    except NoReverseMatch:
        return ""


@staff_page(*COMPOSERS)
def post_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    kind = request.GET.get("kind", "")
    state = state if state in PostState.values else ""
    kind = kind if kind in PostKind.values else ""
    posts = selectors.post_console_list(state=state, kind=kind)
    page = Paginator(posts, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "console/posts/list.html",
        {
            "page": page,
            "state": state,
            "kind": kind,
            "states": PostState.choices,
            "kinds": PostKind.choices,
        },
    )


def _compose(request: HttpRequest, post: Post | None) -> HttpResponse:
    actor = acting_user(request)
    if request.method == "POST":
        form = PostForm(request.POST)
    elif post is not None:
        form = PostForm(initial=post_initial(post))
    else:
        kind = request.GET.get("kind", PostKind.UPDATE)
        form = PostForm(initial={"kind": kind if kind in PostKind.values else PostKind.UPDATE})
    if request.method == "POST" and form.is_valid():
        try:
            if post is None:
                post = services.post_create(actor=actor, fields=form.post_fields())
            else:
                services.post_update(
                    actor=actor, post=post, fields=form.post_fields(),
                    note=form.cleaned_data.get("note", ""),
                )  # fmt: skip
        except NotPermittedError as exc:
            return forbidden(request, exc, policy.writers(form.cleaned_data["kind"]))
        except services.PostRefusedError as exc:
            for problem in exc.problems:
                form.add_error(None, problem)
        except WatchhouseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved. Check the preview, then publish or submit it."))
            return redirect("console:post_detail", pk=post.pk)
    return render(
        request,
        "console/posts/compose.html",
        {"form": form, "post": post, "outlet_previews": _outlet_previews(post) if post else []},
        status=400 if form.errors else 200,
    )


@staff_page(*COMPOSERS)
def post_new(request: HttpRequest) -> HttpResponse:
    return _compose(request, None)


@staff_page(*COMPOSERS)
def post_edit(request: HttpRequest, pk: int) -> HttpResponse:
    post = _get_post(pk)
    if post.state in (PostState.RETRACTED, PostState.ARCHIVED):
        messages.error(request, _("A retracted or archived post cannot be changed."))
        return redirect("console:post_detail", pk=pk)
    return _compose(request, post)


def _actions(post: Post, user: Any) -> list[tuple[str, str]]:
    """The buttons ``user`` may press on ``post`` now (the services check again)."""
    roles = user.role_set
    writer = bool(roles.intersection(policy.writers(post.kind)))
    direct = writer and not policy.needs_review(post.kind, roles)
    publisher = bool(roles.intersection(policy.publishers(post.kind)))
    approver = bool(roles.intersection(policy.APPROVER_ROLES)) and post.author_id != user.pk
    actions = []
    if post.state == PostState.DRAFT and writer:
        if direct:
            actions += [("publish", _("Publish now")), ("schedule", _("Schedule"))]
        actions.append(("submit", _("Send to review")))
    if post.state == PostState.REVIEW:
        if approver:
            actions += [("approve", _("Approve and publish")), ("schedule", _("Approve for"))]
        if roles.intersection(policy.APPROVER_ROLES):
            actions.append(("return", _("Return to author")))
    if post.state == PostState.SCHEDULED and writer:
        actions += [("schedule", _("Move to another time")), ("unschedule", _("Unschedule"))]
    if post.state == PostState.PUBLISHED and publisher:
        if post.kind in (PostKind.APPEAL, PostKind.MISSING) and not post.outcome:
            actions.append(("resolve", _("Resolve appeal")))
        actions += [("retract", _("Retract")), ("archive", _("Archive"))]
    if post.state == PostState.RETRACTED and publisher:
        actions.append(("archive", _("Archive")))
    return actions


@staff_page(*COMPOSERS)
def post_detail(request: HttpRequest, pk: int) -> HttpResponse:
    post = _get_post(pk)
    user = acting_user(request)
    editable = post.state in services.posts.EDITABLE_STATES
    return render(
        request,
        "console/posts/detail.html",
        {
            "post": post,
            "attachments": list(post.attachments.all()),
            "problems": services.post_problems(post) if editable else [],
            "actions": _actions(post, user),
            "editable": editable,
            "revisions": list(selectors.revision_list(post)),
            "schedule_form": ScheduleForm(),
            "resolve_form": ResolveForm(kind=post.kind),
            "public_url": _public_url(post),
            "outlet_previews": _outlet_previews(post),
        },
    )


def _outlet_previews(post: Post) -> list[Any]:
    """Each enabled outlet's rendering of ``post`` while it can still change."""
    from watchhouse.outlets.selectors import post_previews

    return post_previews(post) if post.state in services.posts.EDITABLE_STATES else []


@staff_page(*COMPOSERS)
@require_POST
def post_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    post = _get_post(pk)
    actor = acting_user(request)
    reason = request.POST.get("reason", "")
    try:
        if action == "submit":
            services.post_submit(actor=actor, post=post)
            messages.success(request, _("Sent to review."))
        elif action == "approve":
            services.post_approve(actor=actor, post=post)
            messages.success(request, _("Approved and published."))
        elif action == "return":
            services.post_return(actor=actor, post=post, reason=reason)
            messages.success(request, _("Returned to its author."))
        elif action == "publish":
            services.post_publish(actor=actor, post=post)
            messages.success(request, _("Published."))
        elif action == "schedule":
            form = ScheduleForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Give the date and time to publish at."))
                return redirect("console:post_detail", pk=pk)
            when = form.cleaned_data["publish_at"]
            if post.state == PostState.REVIEW:
                services.post_approve(actor=actor, post=post, publish_at=when)
            else:
                services.post_schedule(actor=actor, post=post, publish_at=when)
            messages.success(request, _("Scheduled."))
        elif action == "unschedule":
            services.post_unschedule(actor=actor, post=post)
            messages.success(request, _("Unscheduled: the post is a draft again."))
        elif action == "retract":
            services.post_retract(actor=actor, post=post, reason=reason)
            messages.success(request, _("Retracted: the page now shows the notice."))
        elif action == "archive":
            services.post_archive(actor=actor, post=post)
            messages.success(request, _("Archived."))
        elif action == "resolve":
            services.appeal_resolve(actor=actor, post=post, outcome=request.POST.get("outcome", ""))
            messages.success(request, _("Resolved: faces and names are off the public page."))
        else:
            raise Http404("No such action.")
    except NotPermittedError as exc:
        return forbidden(request, exc, policy.publishers(post.kind))
    except services.PostRefusedError as exc:
        for problem in exc.problems:
            messages.error(request, problem)
    except WatchhouseError as exc:
        messages.error(request, str(exc))
    return redirect("console:post_detail", pk=pk)


@staff_page(*COMPOSERS)
def post_diff(request: HttpRequest, pk: int) -> HttpResponse:
    """What changed between two versions (default: the latest and the one before)."""
    post = _get_post(pk)
    revisions = {r.number: r for r in selectors.revision_list(post)}
    try:
        new_number = int(request.GET.get("to", post.version))
        old_number = int(request.GET.get("from", new_number - 1))
    except ValueError:
        raise Http404("No such version.") from None
    old: PostRevision | None = revisions.get(old_number)
    new: PostRevision | None = revisions.get(new_number)
    if old is None or new is None:
        raise Http404("No such version.")
    return render(
        request,
        "console/posts/diff.html",
        {"post": post, "old": old, "new": new, "diffs": selectors.revision_diff(old, new)},
    )


# --- Media ------------------------------------------------------------------------------


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


@staff_page(*COMPOSERS)
def media_library(request: HttpRequest) -> HttpResponse:
    form = MediaUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                media = services.media_upload(
                    actor=acting_user(request),
                    file=form.cleaned_data["file"],
                    alt_text=form.cleaned_data.get("alt_text", ""),
                    caption=form.cleaned_data.get("caption", ""),
                )
            except NotPermittedError as exc:
                return forbidden(request, exc, COMPOSERS)
            except WatchhouseError as exc:
                form.add_error("file", str(exc))
            else:
                url = reverse("console:post_media_detail", kwargs={"pk": media.pk})
                if _wants_json(request):
                    status_url = reverse("console:post_media_status", kwargs={"pk": media.pk})
                    return JsonResponse({"id": media.pk, "url": url, "status_url": status_url})
                messages.success(request, _("Uploaded: it is being processed."))
                return redirect(url)
        if _wants_json(request):
            errors = [str(e) for errors in form.errors.values() for e in errors]
            return JsonResponse({"error": " ".join(errors)}, status=400)
    kind = request.GET.get("kind", "")
    kind = kind if kind in MediaKind.values else ""
    page = Paginator(selectors.media_library_list(kind=kind), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "console/posts/media_list.html",
        {"form": form, "page": page, "kind": kind, "kinds": MediaKind.choices},
        status=400 if form.errors else 200,
    )


def _get_media(pk: int) -> MediaAsset:
    media = selectors.media_library_list().filter(pk=pk).first()
    if media is None:
        raise Http404("No such file.")
    return media


@staff_page(*COMPOSERS)
def media_detail(request: HttpRequest, pk: int) -> HttpResponse:
    media = _get_media(pk)
    actor = acting_user(request)
    form = MediaEditForm(
        request.POST if "save" in request.POST else None,
        initial={
            "alt_text": media.alt_text,
            "caption": media.caption,
            "chapters": chapters_text(media.chapters),
        },
    )
    captions_form = CaptionsForm(
        request.POST if "captions" in request.FILES else None, request.FILES or None
    )
    try:
        if request.method == "POST" and "retry" in request.POST:
            services.media_retry(actor=actor, media=media)
            messages.success(request, _("Sent back to the worker."))
            return redirect("console:post_media_detail", pk=pk)
        if form.is_bound and form.is_valid():
            services.media_update(
                actor=actor, media=media, alt_text=form.cleaned_data["alt_text"],
                caption=form.cleaned_data["caption"],
                chapters=form.cleaned_data["chapters"] if media.kind == MediaKind.AUDIO else None,
            )  # fmt: skip
            messages.success(request, _("Saved."))
            return redirect("console:post_media_detail", pk=pk)
        if captions_form.is_bound and captions_form.is_valid():
            data = captions_form.cleaned_data["captions"].read()
            services.media_captions_set(actor=actor, media=media, data=data)
            messages.success(request, _("Captions saved."))
            return redirect("console:post_media_detail", pk=pk)
    except NotPermittedError as exc:
        return forbidden(request, exc, COMPOSERS)
    except WatchhouseError as exc:
        messages.error(request, str(exc))
    return render(
        request,
        "console/posts/media_detail.html",
        {
            "media": media,
            "form": form,
            "captions_form": captions_form,
            "renditions": [
                (name, entry, f"{settings.MEDIA_URL}{entry.get('path', '')}")
                for name, entry in sorted(media.renditions.items())
            ],
            "posts": Post.objects.filter(attachments__media=media).distinct(),
            "busy": media.status in (MediaStatus.UPLOADED, MediaStatus.PROCESSING),
        },
    )


@staff_page(*COMPOSERS)
def media_status(request: HttpRequest, pk: int) -> JsonResponse:
    """Where a file's processing is, for the uploader's page to poll: ``status``, its
    ``label``, ``progress`` (0 to 1) and ``error``."""
    row = MediaAsset.objects.filter(pk=pk).values("status", "progress", "error").first()
    if row is None:
        raise Http404("No such file.")
    return JsonResponse({**row, "label": str(MediaStatus(row["status"]).label)})


@staff_page(*COMPOSERS)
def media_original(request: HttpRequest, pk: int) -> HttpResponse:
    """The file as uploaded, metadata and all, for staff only (an audited read)."""
    media = _get_media(pk)
    path = services.media_original_read(actor=acting_user(request), media=media)
    if not path.is_file():
        raise Http404("The original file is missing.")
    response = FileResponse(
        path.open("rb"), as_attachment=True, filename=media.original_name or path.name
    )
    response["Content-Type"] = media.mime or "application/octet-stream"
    response["Cache-Control"] = "private, no-store"
    # staff_page() is typed for HttpResponse; a streamed file answers the same way.
    return cast(HttpResponse, response)


# --- Officers and topics ---------------------------------------------------------------


@staff_page(*PROFILE_KEEPERS)
def officer_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "console/posts/officers.html", {"officers": selectors.officer_console_list()}
    )


def _officer_form(request: HttpRequest, officer: OfficerProfile | None) -> HttpResponse:
    actor = acting_user(request)
    initial = officer_initial(officer) if officer is not None else {}
    form = OfficerForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        user_id = officer.user_id if officer is not None else None
        try:
            if officer is None:
                officer = services.officer_create(
                    actor=actor, fields=form.officer_fields(user_id=user_id)
                )
            else:
                services.officer_update(
                    actor=actor, officer=officer, fields=form.officer_fields(user_id=user_id)
                )
        except NotPermittedError as exc:
            return forbidden(request, exc, PROFILE_KEEPERS)
        except WatchhouseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Officer profile saved."))
            return redirect("console:officers")
    return render(
        request,
        "console/posts/officer_form.html",
        {"form": form, "officer": officer},
        status=400 if form.errors else 200,
    )


@staff_page(*PROFILE_KEEPERS)
def officer_new(request: HttpRequest) -> HttpResponse:
    return _officer_form(request, None)


@staff_page(*PROFILE_KEEPERS)
def officer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    officer = selectors.officer_console_list().filter(pk=pk).first()
    if officer is None:
        raise Http404("No such officer.")
    return _officer_form(request, officer)


@staff_page(*PROFILE_KEEPERS)
def topic_list(request: HttpRequest) -> HttpResponse:
    form = TopicForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.topic_create(actor=acting_user(request), name=form.cleaned_data["name"])
        except WatchhouseError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, _("Topic added."))
            return redirect("console:post_topics")
    return render(
        request,
        "console/posts/topics.html",
        {"form": form, "topics": selectors.topic_list()},
        status=400 if form.errors else 200,
    )
