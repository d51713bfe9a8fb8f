"""Who am I: the token's owner and roles."""

from django.http import HttpRequest
from ninja import Router, Schema

router = Router(tags=["accounts"])


class MeOut(Schema):
    username: str
    full_name: str
    roles: list[str]


@router.get("/me", response=MeOut, summary="The staff member the token belongs to")
def me(request: HttpRequest) -> MeOut:
    user = request.auth  # type: ignore[attr-defined]
    return MeOut(
        username=user.username, full_name=user.get_full_name(), roles=sorted(user.role_set)
    )
