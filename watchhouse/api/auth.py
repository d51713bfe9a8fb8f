"""Bearer-token authentication for the JSON API."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from watchhouse.accounts.models import User
from watchhouse.accounts.services import TokenError, api_token_authenticate


class TokenAuthenticationError(AuthenticationError):
    """The bearer token was refused; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(401, message)


class StaffToken(HttpBearer):
    """``Authorization: Bearer wh_…`` for staff integrations."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        try:
            user: User = api_token_authenticate(raw_key=token)
        except TokenError as exc:
            raise TokenAuthenticationError(str(exc)) from exc
        request.user = user
        return user
