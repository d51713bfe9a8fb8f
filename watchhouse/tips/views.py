"""The tipster's pages: send a tip, read the receipt once, come back with the tip code and
passphrase to read the department's questions, answer them and add files.

Every page runs with the client address forgotten (:func:`anonymous_request`), is never cached
(by the browser or anything between), sends no referrer to another site and loads nothing from
one. Files stream into sealed staging as they arrive (:class:`SealingUploadHandler`), so the upload
handlers are swapped before the request body is read: the views are CSRF-exempt on the outside
and CSRF-protected on the inside, as Django documents for changing upload handlers.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from watchhouse.core import crypto
from watchhouse.core.context import anonymous_request
from watchhouse.core.errors import InvalidInputError
from watchhouse.geo.selectors import jurisdiction_extent
from watchhouse.posts.models import Post, PostKind
from watchhouse.posts.public import post_public_get
from watchhouse.posts.states import PostState
from watchhouse.tips import guard
from watchhouse.tips.forms import ReplyForm, StatusForm, TipForm
from watchhouse.tips.intake import SealedUpload, SealingUploadHandler
from watchhouse.tips.models import Tip
from watchhouse.tips.selectors import tip_file_list, tipster_tip_get
from watchhouse.tips.services.intake import (
    TipAccessError,
    TipLockedError,
    tip_submit,
    tipster_dialogue_read,
    tipster_open,
    tipster_reply,
)

FILES_FIELD = "files"
COOKIE_PATH = "/tips/"
# The receipt travels from the form to the receipt page in a cookie (never in the address,
# which servers log): signed, the passphrase sealed, read once.
RECEIPT_COOKIE = "tip_receipt"
RECEIPT_SALT = "tips.receipt"
RECEIPT_SECONDS = 10 * 60
# A tipster who gave the code and passphrase stays signed in to their dialogue this long.
STATUS_COOKIE = "tip_status"
STATUS_SALT = "tips.status"
STATUS_SECONDS = 30 * 60
SUBMIT_WINDOW = 3600
APPEAL_KINDS = (PostKind.APPEAL, PostKind.MISSING)

View = Callable[..., HttpResponse]


def _tipster_page(view: View) -> View:
    """Run ``view`` with the client address forgotten; its answer is never cached, and its
    address is never sent to another site as a referrer."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with anonymous_request():
            response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        # No referrer to any other site. Not "no-referrer": with it browsers post forms with
        # "Origin: null", which the CSRF check rightly refuses (tip form, language switcher).
        response["Referrer-Policy"] = "same-origin"
        return response

    return wrapped


def _client(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


class _StagingHandler(SealingUploadHandler):
    """The sealing handler, remembering every file it staged, so that a request that fails
    anywhere (CSRF, a field too large, a broken upload, a refused tip) leaves nothing behind."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.staged: list[SealedUpload] = []

    def file_complete(self, file_size: int) -> SealedUpload | None:
        upload = super().file_complete(file_size)
        if upload is not None:
            self.staged.append(upload)
        return upload

    def discard_all(self) -> None:
        """Delete whatever is still in staging (a stored file was moved out, so it stays)."""
        self.upload_interrupted()
        for upload in self.staged:
            upload.discard()


def _refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "tips/refused.html", {"message": message}, status=status)


def _streamed(request: HttpRequest, view: View, *args: Any) -> HttpResponse:
    """Read the request with its files sealed into staging as they arrive, then run the
    CSRF-protected ``view``; files it did not store are deleted, whatever happened."""
    handler = _StagingHandler(request)
    request.upload_handlers = [handler]
    try:
        try:
            request.POST  # noqa: B018 - reads the body now, through the sealing handler
        except RequestDataTooBig:
            return _refused(
                request,
                _(
                    "What you wrote is too long to be taken in one go. Shorten it and send "
                    "again; any files must be chosen again."
                ),
                413,
            )
        except (TooManyFieldsSent, TooManyFilesSent):
            return _refused(
                request,
                _("Too many files or fields in one go. Send fewer files and try again."),
                413,
            )
        except (MultiPartParserError, UnreadablePostError):
            return _refused(
                request,
                _("The upload was broken off before it was complete. Please try again."),
                400,
            )
        return view(request, *args)
    finally:
        handler.discard_all()


def _drain(request: HttpRequest) -> None:
    """Read and drop the request body (a refused upload must still be read for the browser to
    see the answer), keeping nothing."""
    request.upload_handlers = []
    with contextlib.suppress(
        RequestDataTooBig,
        TooManyFieldsSent,
        TooManyFilesSent,
        MultiPartParserError,
        UnreadablePostError,
    ):
        request.POST  # noqa: B018 - reads the body, keeping nothing


def _uploads(request: HttpRequest) -> list[SealedUpload]:
    return [f for f in request.FILES.getlist(FILES_FIELD) if isinstance(f, SealedUpload)]


def _appeal(raw: object) -> Post | None:
    """The published appeal a tip answers, or None for anything else."""
    try:
        post = post_public_get(int(str(raw)))
    except (ValueError, Post.DoesNotExist):
        return None
    if post.kind not in APPEAL_KINDS or post.state != PostState.PUBLISHED or post.redacted:
        return None
    return post


def _tip_form(
    request: HttpRequest, form: TipForm, appeal: Post | None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "tips/new.html",
        {
            "form": form,
            "appeal": appeal,
            "max_files": settings.WATCHHOUSE_TIPS_MAX_FILES,
            "max_file_bytes": settings.WATCHHOUSE_TIPS_MAX_FILE_BYTES,
            "bounds": _map_bounds(),
        },
        status=status,
    )


def _map_bounds() -> str:
    """West, south, east, north of the jurisdiction, for the map point's map."""
    extent = jurisdiction_extent()
    return ",".join(f"{n:.5f}" for n in extent.bounds) if extent is not None else ""


@_tipster_page
@sensitive_post_parameters()
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def tip_new(request: HttpRequest) -> HttpResponse:
    """The tip form; a tip sent from it is stored sealed, then the receipt is shown once."""
    if request.method != "POST":
        appeal = _appeal(request.GET.get("appeal"))
        form = TipForm(initial={"appeal": appeal.pk if appeal else None})
        return _tip_form(request, form, appeal)
    client = _client(request)
    limit = int(settings.WATCHHOUSE_TIPS_PER_HOUR)
    if guard.over_limit("submit", client, limit=limit, window_seconds=SUBMIT_WINDOW):
        _drain(request)
        return _refused(
            request,
            _(
                "Too many tips came from your connection in the last hour, so this one was not "
                "taken. Please try again in an hour, or call the department."
            ),
            429,
        )
    guard.count("submit", client, window_seconds=SUBMIT_WINDOW)
    return _streamed(request, _tip_new_post)


@csrf_protect
def _tip_new_post(request: HttpRequest) -> HttpResponse:
    uploads = _uploads(request)
    form = TipForm(request.POST)
    appeal = _appeal(request.POST.get("appeal"))
    if form.is_valid():
        data = form.cleaned_data
        try:
            receipt = tip_submit(
                what=data["what"],
                where=data["where"],
                lat=data["lat"],
                lon=data["lon"],
                when=data["when"],
                reference=data["reference"],
                appeal_id=appeal.pk if appeal else None,
                contact=data["contact"],
                passphrase=data["passphrase"],
                wants_reward=data["wants_reward"],
                files=uploads,
            )
        except InvalidInputError as exc:
            form.add_error(None, str(exc))
        else:
            response = redirect("tips:received")
            value = {
                "c": receipt.code,
                "p": crypto.seal(receipt.passphrase),
                "r": bool(data["wants_reward"]),
            }
            response.set_cookie(
                RECEIPT_COOKIE,
                signing.dumps(value, salt=RECEIPT_SALT),
                **_cookie_options(request, RECEIPT_SECONDS),
            )
            return response
    else:
        for upload in uploads:
            upload.discard()
    if uploads:
        form.add_error(None, _("Nothing was kept: please choose your files again."))
    return _tip_form(request, form, appeal, status=400)


def _cookie_options(request: HttpRequest, max_age: int) -> dict[str, Any]:
    """Only this browser's tip pages get the cookie, never a script, never another site."""
    return {
        "max_age": max_age,
        "path": COOKIE_PATH,
        "secure": request.is_secure(),
        "httponly": True,
        "samesite": "Strict",
    }


def _cookie_clear(response: HttpResponse, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, samesite="Strict")


@_tipster_page
@require_safe
def tip_received(request: HttpRequest) -> HttpResponse:
    """The tip code and passphrase, shown once."""
    receipt: dict[str, Any] | None = None
    try:
        value = signing.loads(
            request.COOKIES.get(RECEIPT_COOKIE, ""), salt=RECEIPT_SALT, max_age=RECEIPT_SECONDS
        )
        receipt = {
            "code": value["c"],
            "passphrase": crypto.unseal(value["p"]),
            "reward": value["r"],
        }
    except (signing.BadSignature, KeyError, TypeError, crypto.SealError):
        receipt = None
    response = render(request, "tips/received.html", {"receipt": receipt})
    _cookie_clear(response, RECEIPT_COOKIE)
    return response


@_tipster_page
@require_safe
def privacy(request: HttpRequest) -> HttpResponse:
    """What is kept of a tip and its tipster, and what is not."""
    return render(request, "tips/privacy.html")


def _fingerprint(tip: Tip) -> str:
    """Changes when the tip's passphrase hash does, so a changed passphrase signs people out."""
    return hashlib.sha256(tip.passphrase_hash.encode()).hexdigest()[:20]


def _signed_in_tip(request: HttpRequest) -> Tip | None:
    """The tip whose tipster signed in with its code and passphrase in this browser, lately."""
    value = request.get_signed_cookie(
        STATUS_COOKIE, default=None, salt=STATUS_SALT, max_age=STATUS_SECONDS
    )
    pk, _sep, fingerprint = (value or "").partition(":")
    if not pk.isdigit():
        return None
    # The tip's own tipster, proven by the cookie; nothing else about the tip is shown here.
    tip = tipster_tip_get(int(pk))
    if tip is None or not tip.passphrase_hash:
        return None
    return tip if hmac.compare_digest(fingerprint, _fingerprint(tip)) else None


def _signed_out(request: HttpRequest) -> HttpResponse:
    response = redirect("tips:status")
    _cookie_clear(response, STATUS_COOKIE)
    return response


@_tipster_page
@sensitive_post_parameters()
@require_http_methods(["GET", "HEAD", "POST"])
def status(request: HttpRequest) -> HttpResponse:
    """The tip code and passphrase form; the right pair opens the tip's dialogue."""
    form = StatusForm(request.POST or None)
    http_status = 200
    if request.method == "POST":
        http_status = 400
        if form.is_valid():
            try:
                tip = tipster_open(
                    code=form.cleaned_data["code"],
                    passphrase=form.cleaned_data["passphrase"],
                    client=_client(request),
                )
            except TipLockedError as exc:
                form.add_error(None, str(exc))
                http_status = 429
            except TipAccessError as exc:
                form.add_error(None, str(exc))
                http_status = 403
            else:
                response = redirect("tips:dialogue")
                response.set_signed_cookie(
                    STATUS_COOKIE,
                    f"{tip.pk}:{_fingerprint(tip)}",
                    salt=STATUS_SALT,
                    **_cookie_options(request, STATUS_SECONDS),
                )
                return response
    return render(request, "tips/status.html", {"form": form}, status=http_status)


def _dialogue_page(
    request: HttpRequest, tip: Tip, form: ReplyForm, status: int = 200
) -> HttpResponse:
    messages = tipster_dialogue_read(tip=tip)
    files = [
        {"name": f.read_name(), "size": f.size, "sha256": f.sha256, "message": f.message_id}
        for f in tip_file_list(tip)
    ]
    return render(
        request,
        "tips/dialogue.html",
        {
            "tip": tip,
            "content": tip.read_content(),
            "dialogue": messages,
            "files": files,
            "form": form,
            "sent": request.GET.get("sent") == "1",
            "max_files": settings.WATCHHOUSE_TIPS_MAX_FILES,
            "max_file_bytes": settings.WATCHHOUSE_TIPS_MAX_FILE_BYTES,
        },
        status=status,
    )


@_tipster_page
@sensitive_post_parameters()
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def dialogue(request: HttpRequest) -> HttpResponse:
    """The tip as sent, the department's questions and the tipster's answers; a form to answer.

    Without a valid sign-in cookie nothing is read from the request body: back to the form.
    """
    tip = _signed_in_tip(request)
    if tip is None:
        return _signed_out(request)
    if request.method == "POST":
        return _streamed(request, _dialogue_post, tip)
    return _dialogue_page(request, tip, ReplyForm())


@csrf_protect
def _dialogue_post(request: HttpRequest, tip: Tip) -> HttpResponse:
    uploads = _uploads(request)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            tipster_reply(tip=tip, body=form.cleaned_data["body"], files=uploads)
        except InvalidInputError as exc:
            form.add_error(None, str(exc))
        else:
            return HttpResponseRedirect(f"{request.path}?sent=1")
    else:
        for upload in uploads:
            upload.discard()
    if uploads:
        form.add_error(None, _("Nothing was kept: please choose your files again."))
    return _dialogue_page(request, tip, form, status=400)


@_tipster_page
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Forget the sign-in in this browser."""
    return _signed_out(request)
