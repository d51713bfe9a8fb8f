"""Areas in the console: what there is, and importing boundary files (administrators)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django import forms
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from watchhouse.accounts.roles import Role
from watchhouse.console.access import staff_page
from watchhouse.core.errors import InvalidInputError
from watchhouse.geo import selectors, services
from watchhouse.geo.models import AreaKind

# The largest boundary file the console accepts.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
UPLOAD_SUFFIXES = (".geojson", ".json", ".zip")


class AreaFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All kinds")), *AreaKind.choices], required=False
    )


class AreaImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the areas are"), choices=AreaKind.choices)
    file = forms.FileField(
        label=_("Boundary file"),
        help_text=_(
            "GeoJSON (.geojson or .json), or a .zip holding a shapefile's .shp, .shx, .dbf "
            "and .prj files."
        ),
    )
    jurisdiction = forms.CharField(
        label=_("Jurisdiction"),
        required=False,
        max_length=200,
        help_text=_("Needed only when there are several; a new name creates one."),
    )
    crs = forms.CharField(
        label=_("Coordinate system"),
        required=False,
        max_length=100,
        help_text=_("Only when the file does not say, for example EPSG:3435."),
    )
    name_field = forms.CharField(
        label=_("Name field"), required=False, max_length=100,
        help_text=_("The attribute holding area names, if it is not found by itself."),
    )  # fmt: skip
    code_field = forms.CharField(
        label=_("Code field"), required=False, max_length=100,
        help_text=_("The attribute holding area codes or numbers."),
    )  # fmt: skip

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        name = Path(upload.name or "").name
        if not name.lower().endswith(UPLOAD_SUFFIXES):
            raise forms.ValidationError(
                _("Upload a .geojson or .json file, or a .zip holding a shapefile.")
            )
        if (upload.size or 0) > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 100 MB."))
        return upload


@staff_page()
def area_list(request: HttpRequest) -> HttpResponse:
    form = AreaFilterForm(request.GET or None)
    kind = form.cleaned_data["kind"] if form.is_valid() else ""
    page = Paginator(selectors.area_list(kind=kind or None), 100).get_page(request.GET.get("page"))
    jurisdictions = [
        (j, selectors.area_kind_counts(jurisdiction=j)) for j in selectors.jurisdiction_list()
    ]
    return render(
        request,
        "console/geo/list.html",
        {
            "form": form,
            "page": page,
            "kind": kind,
            "jurisdictions": jurisdictions,
            "kinds": AreaKind.choices,
            "can_import": request.user.has_any_role(Role.ADMIN),  # type: ignore[union-attr]
        },
    )


@staff_page(Role.ADMIN)
def area_import(request: HttpRequest) -> HttpResponse:
    form = AreaImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload: UploadedFile = form.cleaned_data["file"]
        name = Path(upload.name or "upload").name
        try:
            with tempfile.TemporaryDirectory(prefix="watchhouse-upload-") as folder:
                # The stored name keeps only the suffix, so nothing in the upload's name can
                # point outside the folder.
                path = Path(folder) / f"upload{Path(name).suffix.lower()}"
                with path.open("wb") as target:
                    for chunk in upload.chunks():
                        target.write(chunk)
                report = services.area_import(
                    actor=request.user,  # type: ignore[arg-type]
                    kind=form.cleaned_data["kind"],
                    path=path,
                    jurisdiction=form.cleaned_data["jurisdiction"] or None,
                    crs=form.cleaned_data["crs"] or None,
                    name_field=form.cleaned_data["name_field"] or None,
                    code_field=form.cleaned_data["code_field"] or None,
                    source_name=name,
                )
        except InvalidInputError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, report.summary)
            for warning in report.warnings:
                messages.warning(request, warning)
            return redirect("console:areas")
    return render(
        request,
        "console/geo/import.html",
        {"form": form},
        status=400 if form.errors else 200,
    )
