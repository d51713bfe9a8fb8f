"""The console's home page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from watchhouse.console.access import staff_page
from watchhouse.console.sections import sections_for


@staff_page()
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "console/home.html", {"sections": sections_for(request.user)})
