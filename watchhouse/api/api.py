"""The typed JSON API at /api/v1/ (OpenAPI document at /api/v1/openapi.json)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from watchhouse.api.auth import StaffToken
from watchhouse.api.routers.accounts import router as accounts_router
from watchhouse.api.routers.audit import router as audit_router
from watchhouse.api.routers.crime import router as crime_router
from watchhouse.api.routers.geo import router as geo_router
from watchhouse.core.errors import InvalidInputError, WatchhouseError

api = NinjaAPI(
    title="Watchhouse API",
    version="1",
    description="Staff API of Watchhouse. Authenticate with `Authorization: Bearer <token>`; "
    "tokens are issued in the console under 'My API tokens'. Errors are JSON: "
    '`{"detail": "what was wrong"}`.',
    auth=StaffToken(),
    urls_namespace="api",
)
api.add_router("/", accounts_router)
api.add_router("/areas", geo_router)
api.add_router("/audit", audit_router)
api.add_router("/crime", crime_router)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = str(exc.message) if getattr(exc, "message", "") else "Authentication required."
    if message in {"", "Unauthorized"}:
        message = "Send a staff API token as 'Authorization: Bearer <token>'."
    response = api.create_response(request, {"detail": message}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="watchhouse"'
    return response


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "Not permitted."}, status=403)


@api.exception_handler(InvalidInputError)
def on_invalid_input(request: HttpRequest, exc: InvalidInputError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=422)


@api.exception_handler(WatchhouseError)
def on_domain_error(request: HttpRequest, exc: WatchhouseError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=409)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = [
        {"field": ".".join(str(p) for p in err.get("loc", [])[1:]), "message": err.get("msg", "")}
        for err in exc.errors
    ]
    summary = "; ".join(f"{p['field'] or 'body'}: {p['message']}" for p in problems)
    return api.create_response(
        request, {"detail": f"Invalid request: {summary}", "errors": problems}, status=422
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)
