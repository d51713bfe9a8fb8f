"""Areas in the console."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from watchhouse.console.access import staff_page


@staff_page()
def area_list(request: HttpRequest) -> HttpResponse:
    return render(request, "console/home.html", {"sections": []})
