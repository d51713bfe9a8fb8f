"""Public area pages (placeholder until the geo work lands)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def area_list(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


def area_detail(request: HttpRequest, kind: str, slug: str) -> HttpResponse:
    return render(request, "web/home.html")
