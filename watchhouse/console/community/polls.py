"""Console pages for polls: the list, creating a poll with its choices, one poll's results by
neighbourhood, closing it, and the results as CSV (an audited export)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from watchhouse.community.models import Poll
from watchhouse.community.policy import POLL_ROLES
from watchhouse.community.selectors import polls as selectors
from watchhouse.community.services import polls as services
from watchhouse.console.access import acting_user, forbidden, staff_page
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.geo.models import Area

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


class PollForm(forms.Form):
    question = forms.CharField(label=gettext_lazy("Question"), max_length=300)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    area = forms.ModelChoiceField(
        label=gettext_lazy("Neighbourhood"),
        queryset=Area.objects.none(),
        required=False,
        empty_label=gettext_lazy("City-wide"),
    )
    multiple = forms.BooleanField(
        label=gettext_lazy("Voters may pick several answers"), required=False
    )
    opens_at = forms.DateTimeField(
        label=gettext_lazy("Opens"),
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    closes_at = forms.DateTimeField(
        label=gettext_lazy("Closes"),
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    choices = forms.CharField(
        label=gettext_lazy("Answers, one per line (2 to 10)"),
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["area"].queryset = Area.objects.filter(kind="neighbourhood").order_by("name")  # type: ignore[attr-defined]


def _poll(pk: int) -> Poll:
    try:
        return selectors.poll_get(pk)
    except Poll.DoesNotExist:
        raise Http404("No such poll.") from None


@staff_page(*POLL_ROLES)
def poll_list(request: HttpRequest) -> HttpResponse:
    """Every poll, and the form to create one."""
    form = PollForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                poll = services.poll_create(
                    actor=acting_user(request),
                    question=data["question"],
                    description=data["description"],
                    area=data["area"],
                    multiple=data["multiple"],
                    opens_at=data["opens_at"],
                    closes_at=data["closes_at"],
                    choices=data["choices"].splitlines(),
                )
            except NotPermittedError as exc:
                return forbidden(request, exc, POLL_ROLES)
            except InvalidInputError as exc:
                messages.error(request, str(exc))
                status = 400
            else:
                messages.success(request, _("Poll created."))
                return redirect("console:community_poll", pk=poll.pk)
        else:
            status = 400
    return render(
        request,
        "console/community/polls/list.html",
        {"form": form, "polls": selectors.poll_list()},
        status=status,
    )


@require_safe
@staff_page(*POLL_ROLES)
def poll_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One poll's results, overall and by neighbourhood."""
    poll = _poll(pk)
    return render(
        request,
        "console/community/polls/detail.html",
        {"poll": poll, "results": selectors.poll_results(poll), "is_open": poll.is_open()},
    )


@require_POST
@staff_page(*POLL_ROLES)
def poll_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Close the poll now."""
    poll = _poll(pk)
    try:
        services.poll_close(actor=acting_user(request), poll=poll)
    except NotPermittedError as exc:
        return forbidden(request, exc, POLL_ROLES)
    except InvalidInputError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Poll closed."))
    return redirect("console:community_poll", pk=poll.pk)


@require_safe
@staff_page(*POLL_ROLES)
def poll_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The results by neighbourhood as a CSV download."""
    poll = _poll(pk)
    try:
        text = services.poll_results_export(actor=acting_user(request), poll=poll)
    except NotPermittedError as exc:
        return forbidden(request, exc, POLL_ROLES)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="poll-{poll.pk}-results.csv"'
    return response
