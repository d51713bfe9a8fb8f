"""The outlets desk: the department's accounts on other networks (add, change, check the
connection, switch on and off), each post's and alert's copies with retry and take-down,
the inbox of replies and mentions from every network, and the fediverse panel.

Credentials are never shown back: the form's credential fields are always empty. Each button
calls one service; a refusal is a message, a permission refusal the forbidden page.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import Role
from watchhouse.alerts.models import Alert
from watchhouse.console.access import acting_user, action_run, forbidden, staff_page
from watchhouse.core.errors import NotPermittedError, WatchhouseError
from watchhouse.outlets import policy, selectors, services
from watchhouse.outlets.activitypub.services import area_actor_create
from watchhouse.outlets.forms import AreaActorForm, InboxFilterForm, OutletForm, outlet_initial
from watchhouse.outlets.models import Network, Outlet, RemoteCopy
from watchhouse.outlets.services.outlets import CROSSPOST_NETWORKS
from watchhouse.posts.models import Post
from watchhouse.rumors.policy import RUMOR_ROLES


def _outlet(pk: int) -> Outlet:
    try:
        return selectors.outlet_get(pk)
    except Outlet.DoesNotExist:
        raise Http404("No such outlet.") from None


@staff_page(*policy.CONSOLE_ROLES)
def outlet_list(request: HttpRequest) -> HttpResponse:
    """Every outlet with its last check and token expiry; a banner for tokens expiring."""
    user = acting_user(request)
    return render(
        request,
        "console/outlets/list.html",
        {
            "outlets": list(selectors.outlet_list()),
            "expiring": list(selectors.outlets_expiring()),
            "manager": user.has_any_role(*policy.MANAGER_ROLES),
            "networks": [(n, Network(n).label) for n in CROSSPOST_NETWORKS],
        },
    )


def _outlet_form(request: HttpRequest, outlet: Outlet | None, network: str) -> HttpResponse:
    actor = acting_user(request)
    has_credentials = bool(outlet and outlet.credentials)
    if request.method == "POST":
        form = OutletForm(request.POST, network=network, has_credentials=has_credentials)
    else:
        initial = outlet_initial(outlet) if outlet else {"enabled": True}
        form = OutletForm(initial=initial, network=network, has_credentials=has_credentials)
    if request.method == "POST" and form.is_valid():
        try:
            if outlet is None:
                outlet = services.outlet_create(actor=actor, fields=form.outlet_fields())
            else:
                outlet = services.outlet_update(
                    actor=actor, outlet=outlet, fields=form.outlet_fields()
                )
        except NotPermittedError as exc:
            return forbidden(request, exc, policy.MANAGER_ROLES)
        except WatchhouseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _('Saved. Press "Check connection" to test it.'))
            return redirect("console:outlets")
    return render(
        request,
        "console/outlets/form.html",
        {"form": form, "outlet": outlet},
        status=400 if form.errors else 200,
    )


@staff_page(*policy.MANAGER_ROLES)
def outlet_new(request: HttpRequest) -> HttpResponse:
    network = request.GET.get("network", "") or request.POST.get("network", "")
    if network not in CROSSPOST_NETWORKS:
        return redirect("console:outlets")
    return _outlet_form(request, None, network)


@staff_page(*policy.MANAGER_ROLES)
def outlet_edit(request: HttpRequest, pk: int) -> HttpResponse:
    outlet = _outlet(pk)
    return _outlet_form(request, outlet, outlet.network)


def _check(request: HttpRequest, actor: User, outlet: Outlet) -> str:
    outlet = services.outlet_check(actor=actor, outlet=outlet)
    if outlet.check_ok:
        return _("Connected: %(message)s") % {"message": outlet.check_message}
    raise WatchhouseError(_("The check failed: %(message)s") % {"message": outlet.check_message})


def _enable(request: HttpRequest, actor: User, outlet: Outlet) -> str:
    services.outlet_enable(actor=actor, outlet=outlet, enabled=True)
    return _("Switched on.")


def _disable(request: HttpRequest, actor: User, outlet: Outlet) -> str:
    services.outlet_enable(actor=actor, outlet=outlet, enabled=False)
    return _("Switched off: no new copies go there.")


OUTLET_ACTIONS = {"check": _check, "enable": _enable, "disable": _disable}


@staff_page(*policy.MANAGER_ROLES)
@require_POST
def outlet_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    handler = OUTLET_ACTIONS.get(action)
    if handler is None:
        raise Http404("No such action.")
    return action_run(
        request, handler, _outlet(pk), roles=policy.MANAGER_ROLES,
        back=redirect("console:outlets"),
    )  # fmt: skip


@staff_page(*policy.CONSOLE_ROLES)
def post_copies(request: HttpRequest, pk: int) -> HttpResponse:
    """A post's copies on every outlet, with retry and take-down."""
    post = Post.objects.filter(pk=pk).first()
    if post is None:
        raise Http404("No such post.")
    user = acting_user(request)
    return render(
        request,
        "console/outlets/copies.html",
        {
            "post": post,
            "copies": list(selectors.post_copy_list(post)),
            "can_act": user.has_any_role(*policy.post_copy_roles(post.kind)),
            "can_take_down": post.retracted_at is not None,
            "inbound": list(selectors.inbound_list(post_id=post.pk)[:50]),
        },
    )


@staff_page(*policy.CONSOLE_ROLES)
def alert_copies(request: HttpRequest, pk: int) -> HttpResponse:
    """An alert chain's copies on every outlet, with retry."""
    alert = Alert.objects.filter(pk=pk).first()
    if alert is None:
        raise Http404("No such alert.")
    user = acting_user(request)
    return render(
        request,
        "console/outlets/copies.html",
        {
            "alert": alert,
            "copies": list(selectors.alert_copy_list(alert)),
            "can_act": user.has_any_role(*policy.alert_copy_roles(alert.category)),
        },
    )


def _retry(request: HttpRequest, actor: User, copy: RemoteCopy) -> str:
    services.copy_retry(actor=actor, copy=copy)
    return _("Sent again.")


@staff_page(*policy.CONSOLE_ROLES)
@require_POST
def copy_retry(request: HttpRequest, pk: int) -> HttpResponse:
    copy = RemoteCopy.objects.select_related("post", "alert").filter(pk=pk).first()
    if copy is None:
        raise Http404("No such copy.")
    if copy.post_id:
        back = redirect("console:outlet_post_copies", pk=copy.post_id)
    else:
        back = redirect("console:outlet_alert_copies", pk=copy.alert_id)
    return action_run(request, _retry, copy, roles=policy.copy_roles(copy), back=back)


def _take_down(request: HttpRequest, actor: User, post: Post) -> str:
    ids = services.post_take_down(actor=actor, post=post)
    return _("Taking down %(n)d copies.") % {"n": len(ids)}


@staff_page(*policy.CONSOLE_ROLES)
@require_POST
def post_take_down(request: HttpRequest, pk: int) -> HttpResponse:
    post = Post.objects.filter(pk=pk).first()
    if post is None:
        raise Http404("No such post.")
    return action_run(
        request, _take_down, post, roles=policy.post_copy_roles(post.kind),
        back=redirect("console:outlet_post_copies", pk=pk),
    )  # fmt: skip


@staff_page(*policy.INBOX_ROLES)
def inbox(request: HttpRequest) -> HttpResponse:
    """Replies, comments and mentions from every network and the fediverse."""
    form = InboxFilterForm(request.GET or None)
    page = Paginator(selectors.inbound_list(**form.filters()), 50).get_page(request.GET.get("page"))
    can_track = acting_user(request).has_any_role(*RUMOR_ROLES)
    return render(
        request, "console/outlets/inbox.html", {"form": form, "page": page, "can_track": can_track}
    )


@staff_page(*policy.CONSOLE_ROLES)
def fediverse(request: HttpRequest) -> HttpResponse:
    """The department's own fediverse actors, their followers and the servers given up; an
    admin gives an area its own account here."""
    user = acting_user(request)
    form = AreaActorForm(request.POST or None) if user.has_any_role(Role.ADMIN) else None
    if request.method == "POST":
        if form is None:
            return forbidden(
                request, NotPermittedError(_("Only admins add accounts.")), (Role.ADMIN,)
            )
        if form.is_valid():
            try:
                local = area_actor_create(
                    actor=user, area=form.cleaned_data["area"],
                    username=form.cleaned_data["username"],
                    alert_categories=form.cleaned_data["alert_categories"],
                )  # fmt: skip
            except WatchhouseError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, _("@%(name)s is on the fediverse.") % {"name": local.username}
                )
                return redirect("console:outlet_fediverse")
    return render(
        request,
        "console/outlets/fediverse.html",
        {"panel": selectors.fediverse_panel(), "form": form},
        status=400 if form is not None and form.errors else 200,
    )
