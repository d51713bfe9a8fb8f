"""Public pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from watchhouse.geo.models import AreaKind
from watchhouse.geo.selectors import area_list
from watchhouse.outlets.activitypub.selectors import department_handle

# Neighbourhoods listed on the home page (by name); the areas page lists them all.
HOME_NEIGHBOURHOOD_LIMIT = 40


@dataclass(frozen=True)
class PublicService:
    """One thing a resident can do on this site, shown on the home page once its page exists."""

    url_name: str
    title: str | Promise
    summary: str | Promise


# In the order a resident most needs them. A service whose URL name does not resolve yet (its
# app is not installed or not built) is left off the home page rather than linked to a 404.
PUBLIC_SERVICES = (
    PublicService(
        "alerts:list",
        _("Alerts"),
        _("Emergency alerts and all-clears for the places you care about."),
    ),
    PublicService(
        "posts:list",
        _("News"),
        _("Official news and appeals from the department."),
    ),
    PublicService(
        "rumors:list",
        _("Rumor control"),
        _("What is true, what is false, and what we know."),
    ),
    PublicService(
        "crimemap:map",
        _("Crime map and statistics"),
        _("Reported crime by neighbourhood and block, without exposing victims."),
    ),
    PublicService(
        "tips:new",
        _("Send a tip"),
        _("Tell us what you saw, anonymously if you wish, with photos or video."),
    ),
    PublicService(
        "community:home",
        _("Your neighbourhood"),
        _("Join your neighbourhood, talk with neighbours and the department, answer polls."),
    ),
    PublicService(
        "community:report_new",
        _("Report a problem"),
        _("Graffiti, an abandoned car, a broken streetlight, noise: not an emergency."),
    ),
    PublicService(
        "web:areas",
        _("Neighbourhoods"),
        _("Your neighbourhood, police beat and ward, and what is happening there."),
    ),
)


def public_services() -> list[tuple[PublicService, str]]:
    """The services whose pages exist, each with its address."""
    available = []
    for service in PUBLIC_SERVICES:
        try:
            available.append((service, reverse(service.url_name)))
        except NoReverseMatch:
            continue
    return available


def home(request: HttpRequest) -> HttpResponse:
    """What this site is, what to do in an emergency, and where to go next."""
    neighbourhoods = area_list(kind=AreaKind.NEIGHBOURHOOD)[:HOME_NEIGHBOURHOOD_LIMIT]
    return render(
        request,
        "web/home.html",
        {
            "services": public_services(),
            "neighbourhoods": list(neighbourhoods),
            "fediverse_handle": department_handle(),
        },
    )
