"""The alert composer and the alerts desk: write, preview (counters and reach), submit,
approve, issue, update, cancel; the delivery report and its CSV export."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Any

import shapely
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from watchhouse.alerts import selectors, services
from watchhouse.alerts.models import WEA_LONG_LIMIT, WEA_SHORT_LIMIT, Alert, Category
from watchhouse.alerts.policy import COMPOSER_ROLES, policy_for
from watchhouse.alerts.services import AlertRefusedError
from watchhouse.alerts.states import AlertState
from watchhouse.alerts.templating import (
    alert_template_list,
    alert_template_save,
    placeholders,
    template_initial,
)
from watchhouse.alerts.validation import InfoText, alert_geometry, sms_effective_text
from watchhouse.console.access import acting_user, staff_page
from watchhouse.console.alerts.forms import AreaForm, ComposerForm, UpdateForm, composer_initial
from watchhouse.console.alerts.template_forms import TemplateForm
from watchhouse.core.errors import InvalidInputError, WatchhouseError
from watchhouse.geo.models import AreaKind
from watchhouse.geo.selectors import area_shape_list
from watchhouse.geo.svg import MapShape, Projection, svg_map
from watchhouse.notify.channels.sms import sms_count
from watchhouse.notify.models import Channel
from watchhouse.notify.selectors import Reach, alert_reach, delivery_counts, delivery_list

# Room in a text message of one part, by encoding: a composer's text must fit one part
# (see SMS_MAX_SEGMENTS), so this is its limit even when the text would be split.
SMS_ONE_PART = {"GSM-7": 160, "UCS-2": 70}
# Radius the drawing tool gives a circle when the radius field is empty, in metres.
DEFAULT_CIRCLE_RADIUS_M = 500


@dataclass(frozen=True)
class Counter:
    """One text's length against its limit, as a phone would count it."""

    label: str
    used: int
    limit: int
    detail: str

    @property
    def over(self) -> bool:
        return self.used > self.limit


def _counters(infos: list[InfoText]) -> list[tuple[str, list[Counter]]]:
    """Each language's texts against their limits; the text message in septets or code units
    (an extension character such as "€" is two septets, an emoji two UCS-2 units)."""
    table = []
    for info in infos:
        sms = sms_effective_text(info)
        count = sms_count(sms)
        table.append(
            (
                info.language,
                [
                    Counter(
                        _("Text message"), count.units, SMS_ONE_PART[count.encoding],
                        _("%(enc)s, %(n)d part(s)") % {"enc": count.encoding, "n": count.segments},
                    ),
                    Counter(_("WEA short"), len(info.wea_short), WEA_SHORT_LIMIT, ""),
                    Counter(_("WEA long"), len(info.wea_long), WEA_LONG_LIMIT, ""),
                ],
            )
        )  # fmt: skip
    return table


def _reach(form: ComposerForm) -> Reach | None:
    specs = form.areas()
    if not specs:
        return None
    try:
        shape = alert_geometry(specs)
    except InvalidInputError as exc:
        form.add_error(None, str(exc))
        return None
    return alert_reach(shape, category=form.cleaned_data["category"])


def _reach_text(reach: Reach) -> str:
    text = _("Reaches %(n)s subscriptions with %(m)s messages") % {
        "n": reach.subscriptions,
        "m": reach.total_messages,
    }
    if reach.messages:
        labels = dict(Channel.choices)
        text += ": " + ", ".join(
            f"{labels.get(channel, channel)} {n}" for channel, n in sorted(reach.messages.items())
        )
    text += "."
    if reach.quiet:
        text += " " + _("%(q)s held back by quiet hours.") % {"q": reach.quiet}
    return text


@dataclass(frozen=True)
class AreaPath:
    """One of the jurisdiction's areas on the composer's map."""

    area_id: int
    shape: MapShape


@dataclass(frozen=True)
class AreaLayer:
    """The areas of one kind on the composer's map."""

    kind: str
    label: str
    paths: list[AreaPath]


@dataclass(frozen=True)
class ComposerMap:
    """The jurisdiction's areas drawn for the composer, with the projection a script needs to
    turn a click on the drawing into longitude/latitude."""

    view_box: str
    projection: Projection
    layers: list[AreaLayer]


def _composer_map() -> ComposerMap | None:
    areas = list(area_shape_list())
    drawing = svg_map((area.shape, "", area.name) for area in areas)
    if drawing.projection is None:
        return None
    by_kind: dict[str, list[AreaPath]] = {}
    # Framed to all the areas, so the drawing has a shape for every one, in order.
    for area, shape in zip(areas, drawing.shapes, strict=True):
        by_kind.setdefault(area.kind, []).append(AreaPath(area_id=area.pk, shape=shape))
    layers = [
        AreaLayer(kind=kind, label=str(AreaKind(kind).label), paths=by_kind[kind])
        for kind in AreaKind.values
        if kind in by_kind
    ]
    return ComposerMap(view_box=drawing.view_box, projection=drawing.projection, layers=layers)


def _composer_script(form: ComposerForm) -> dict[str, Any]:
    """What the composer's script needs: limits, category names in each language (e-mail
    subjects carry them), and its sentences in the page's language."""
    categories = {}
    for code, _name in form.languages:
        with translation.override(code):
            categories[code] = {value: str(label) for value, label in Category.choices}
    return {
        "languages": [code for code, _name in form.languages],
        "categories": categories,
        "smsOnePart": SMS_ONE_PART,
        "weaShort": WEA_SHORT_LIMIT,
        "weaLong": WEA_LONG_LIMIT,
        "defaultRadius": DEFAULT_CIRCLE_RADIUS_M,
        "labels": {
            "used": _("%(used)s / %(limit)s"),
            # The forms for one and for two: in English and Spanish every other count of
            # parts (fewer than a million) takes the second.
            "parts": [ngettext("%(n)s part", "%(n)s parts", 1),
                      ngettext("%(n)s part", "%(n)s parts", 2)],
            "tooLong": _("too long"),
            "tooLongSms": _("too long: it must fit in one part"),
            "fromHeadline": _("the headline, as no text message is written"),
            "odd": _("phones may not show: %(chars)s"),
            "noHeadline": _("Write a headline in this language to see what each channel shows."),
            "hintAreas": _("Click an area on the map to choose it, or click it again to leave "
                           "it out."),
            "hintPolygon": _("Click the map to add corners, then Finish polygon. Draw as many "
                             "polygons as the alert needs."),
            "hintCircle": _("Click the map to place the centre; the radius comes from the "
                            "Radius field."),
            "clearAreas": _("Clear areas"),
            "clearPolygons": _("Clear polygons"),
            "clearCircle": _("Clear circle"),
            "noArea": _("Choose an area, or draw a polygon or a circle, to see who the alert "
                        "reaches."),
            "reachFailed": _("The reach could not be worked out just now; Preview counts and "
                             "reach asks the server again."),
        },
    }  # fmt: skip


@staff_page(*COMPOSER_ROLES)
def alert_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.alert_console_list(), 50).get_page(request.GET.get("page"))
    return render(request, "console/alerts/list.html", {"page": page})


def _compose(
    request: HttpRequest, alert: Alert | None, initial: dict[str, object] | None = None
) -> HttpResponse:
    actor = acting_user(request)
    if initial is None:
        initial = composer_initial(alert) if alert is not None else {}
    form = ComposerForm(request.POST or None, initial=initial)
    preview = None
    if request.method == "POST" and form.is_valid():
        infos = form.infos()
        reach = _reach(form)
        preview = {"counters": _counters(infos), "reach": reach}
        if "save" in request.POST and not form.errors:
            try:
                if alert is None:
                    alert = services.alert_create(
                        actor=actor, fields=form.alert_fields(), infos=infos, areas=form.areas()
                    )
                else:
                    services.alert_update_draft(
                        actor=actor, alert=alert, fields=form.alert_fields(), infos=infos,
                        areas=form.areas(),
                    )  # fmt: skip
            except WatchhouseError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Draft saved. Check it, then issue or submit it."))
                return redirect("console:alert_detail", pk=alert.pk)
    return render(
        request,
        "console/alerts/compose.html",
        {
            "form": form,
            "alert": alert,
            "preview": preview,
            "map": _composer_map(),
            "script": _composer_script(form),
        },
        status=400 if form.errors else 200,
    )


@staff_page(*COMPOSER_ROLES)
def alert_new(request: HttpRequest) -> HttpResponse:
    return _compose(request, None)


def _first_error(form: AreaForm) -> str:
    """The first of an invalid form's errors, with its field's label."""
    name, errors = next(iter(form.errors.items()))
    return f"{form[name].label}: {errors[0]}" if name in form.fields else str(errors[0])


@staff_page(*COMPOSER_ROLES)
@require_POST
def reach_json(request: HttpRequest) -> JsonResponse:
    """Who the composer's area and category reach now, for its live figure.

    ``subscriptions``, ``messages`` by channel, ``total_messages``, ``quiet`` (held back by
    quiet hours) and ``text``, a sentence saying so; or status 400 with ``error`` saying what
    is wrong with the area. Nothing is stored.
    """
    form = AreaForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": _first_error(form)}, status=400)
    try:
        shape = alert_geometry(form.areas())
    except InvalidInputError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    reach = alert_reach(shape, category=form.cleaned_data["category"])
    return JsonResponse(
        {
            "subscriptions": reach.subscriptions,
            "messages": reach.messages,
            "total_messages": reach.total_messages,
            "quiet": reach.quiet,
            "text": _reach_text(reach),
        }
    )


def _get(pk: int) -> Alert:
    alert = selectors.alert_console_list().filter(pk=pk).first()
    if alert is None:
        raise Http404("No such alert.")
    return alert


@staff_page(*COMPOSER_ROLES)
def alert_edit(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _get(pk)
    if alert.state != AlertState.DRAFT:
        messages.error(request, _("Only a draft can be changed."))
        return redirect("console:alert_detail", pk=pk)
    return _compose(request, alert)


@staff_page(*COMPOSER_ROLES)
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _get(pk)
    user = acting_user(request)
    rule = policy_for(alert.category)
    infos = [
        InfoText(language=i.language, headline=i.headline, description=i.description,
                 instruction=i.instruction, sms_text=i.sms_text, wea_short=i.wea_short,
                 wea_long=i.wea_long)
        for i in alert.infos.all()
    ]  # fmt: skip
    areas = list(alert.areas.all())
    reach = (
        alert_reach(shapely.union_all([a.shapely_geometry for a in areas]), category=alert.category)
        if areas
        else None
    )
    is_issuer = user.has_any_role(*rule.issuers)
    actions = []
    if alert.state == AlertState.DRAFT and is_issuer:
        actions.append(("submit", _("Submit for approval")) if rule.needs_approval
                       else ("issue", _("Issue now")))  # fmt: skip
        actions.append(("discard", _("Discard")))
    if alert.state == AlertState.PENDING_APPROVAL and user.has_any_role(*rule.approvers):
        if alert.created_by_id != user.pk:
            actions.append(("approve", _("Approve and issue")))
        actions.append(("return", _("Return to draft")))
    if alert.state == AlertState.APPROVED and is_issuer:
        actions.append(("issue", _("Issue now")))
    if alert.state == AlertState.ISSUED and is_issuer:
        actions.append(("cancel", _("Cancel this alert")))
    return render(
        request,
        "console/alerts/detail.html",
        {
            "alert": alert,
            "infos": list(alert.infos.all()),
            "areas": areas,
            "problems": services.alert_problems(alert) if alert.state == "draft" else [],
            "counters": _counters(infos),
            "reach": reach,
            "actions": actions,
            "can_update": alert.state == AlertState.ISSUED and is_issuer,
            "counts": delivery_counts(alert.pk),
            "chain": selectors.alert_chain(alert) if alert.is_public else [],
        },
    )


@staff_page(*COMPOSER_ROLES)
@require_POST
def alert_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    alert = _get(pk)
    actor = acting_user(request)
    try:
        if action == "submit":
            services.alert_submit(actor=actor, alert=alert)
            messages.success(request, _("Sent for approval."))
        elif action == "approve":
            services.alert_approve(actor=actor, alert=alert)
            messages.success(request, _("Approved and issued."))
        elif action == "return":
            services.alert_return(actor=actor, alert=alert, reason=request.POST.get("reason", ""))
            messages.success(request, _("Returned to draft."))
        elif action == "issue":
            services.alert_issue(actor=actor, alert=alert)
            messages.success(request, _("Issued. Recipients are being notified."))
        elif action == "cancel":
            cancel = services.alert_cancel(
                actor=actor, alert=alert, note=request.POST.get("note", "")
            )
            messages.success(request, _("Cancellation issued."))
            return redirect("console:alert_detail", pk=cancel.pk)
        elif action == "discard":
            services.alert_discard(actor=actor, alert=alert)
            messages.success(request, _("Draft discarded."))
        else:
            raise Http404("No such action.")
    except services.AlertRefusedError as exc:
        for problem in exc.problems:
            messages.error(request, problem)
    except WatchhouseError as exc:
        messages.error(request, str(exc))
    except PermissionError as exc:
        messages.error(request, str(exc))
    return redirect("console:alert_detail", pk=pk)


@staff_page(*COMPOSER_ROLES)
def alert_update(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _get(pk)
    form = UpdateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            update = services.alert_issue_update(
                actor=acting_user(request), alert=alert, infos=form.infos()
            )
        except WatchhouseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Update issued."))
            return redirect("console:alert_detail", pk=update.pk)
    return render(
        request, "console/alerts/update.html", {"alert": alert, "form": form},
        status=400 if form.errors else 200,
    )  # fmt: skip


@staff_page(*COMPOSER_ROLES)
def delivery_report(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _get(pk)
    failures = delivery_list(alert.pk).filter(status="failed")[:200]
    return render(
        request,
        "console/alerts/deliveries.html",
        {"alert": alert, "counts": delivery_counts(alert.pk), "failures": failures},
    )


@staff_page(*COMPOSER_ROLES)
def delivery_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """Every delivery of the alert, without addresses (they are personal data)."""
    alert = _get(pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="alert-{alert.pk}-deliveries.csv"'
    writer = csv.writer(response)
    writer.writerow(["delivery", "endpoint", "channel", "language", "status", "attempts",
                     "queued_at", "sent_at", "provider_id", "error"])  # fmt: skip
    for d in delivery_list(alert.pk).iterator(chunk_size=2000):
        writer.writerow([
            d.pk, d.endpoint_id, d.channel, d.language, d.status, d.attempts,
            d.queued_at.isoformat(), d.sent_at.isoformat() if d.sent_at else "",
            d.provider_id, d.error,
        ])  # fmt: skip
    return response


# --- templates -----------------------------------------------------------------------------


@staff_page(*COMPOSER_ROLES)
def template_list(request: HttpRequest) -> HttpResponse:
    templates = alert_template_list()
    return render(request, "console/alerts/templates.html", {"templates": templates})


@staff_page(*COMPOSER_ROLES)
def template_new(request: HttpRequest) -> HttpResponse:
    form = TemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = alert_template_save(
                actor=acting_user(request), fields=form.template_fields(), texts=form.texts()
            )
        except AlertRefusedError as exc:
            for problem in exc.problems:
                form.add_error(None, problem)
        except WatchhouseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Template %(name)s saved.") % {"name": template.name})
            return redirect("console:alert_templates")
    return render(
        request,
        "console/alerts/template_form.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@staff_page(*COMPOSER_ROLES)
def template_use(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for the template's placeholders, then open the composer filled in from it."""
    template = alert_template_list().filter(pk=pk).first()
    if template is None:
        raise Http404
    names = placeholders(template.texts)
    values = {name: request.GET.get(name, "").strip()[:200] for name in names}
    missing = [name for name in names if not values[name]]
    if missing and request.method != "POST":
        fields = [(name, name.replace("_", " ").capitalize(), values[name]) for name in names]
        return render(
            request,
            "console/alerts/template_use.html",
            {"template": template, "fields": fields, "asked": bool(request.GET)},
            status=400 if request.GET else 200,
        )
    try:
        initial = template_initial(template, values)
    except InvalidInputError as exc:
        messages.error(request, str(exc))
        return redirect("console:alert_template_use", pk=template.pk)
    return _compose(request, None, initial=initial)
