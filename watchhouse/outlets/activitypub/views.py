"""HTTP endpoints of the fediverse side. Reads answer ActivityPub JSON to clients asking for
it (``application/activity+json`` or ``application/ld+json`` with the ActivityStreams
profile) and send browsers to the matching page of the site; inbox POSTs are verified and
handled by :func:`~watchhouse.outlets.activitypub.inbox.inbox_receive`."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from watchhouse.outlets.activitypub import documents, selectors
from watchhouse.outlets.activitypub.inbox import inbox_receive, max_inbox_bytes
from watchhouse.outlets.models import Activity, ActivityType, LocalActor

AP_TYPE = "application/activity+json; charset=utf-8"
NODEINFO_TYPE = 'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"'


def wants_activitypub(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "").lower()
    return "application/activity+json" in accept or (
        "application/ld+json" in accept and "activitystreams" in accept
    ) or "application/json" in accept  # fmt: skip


def ap_response(document: dict[str, Any], status: int = 200) -> HttpResponse:
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False), status=status, content_type=AP_TYPE
    )
    response["Vary"] = "Accept"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _actor(username: str) -> LocalActor:
    try:
        return selectors.actor_get(username)
    except LocalActor.DoesNotExist as error:
        raise Http404 from error


@require_GET
def webfinger(request: HttpRequest) -> HttpResponse:
    resource = request.GET.get("resource", "").strip()
    if not resource:
        return HttpResponse("resource is required", status=400, content_type="text/plain")
    username = ""
    if resource.lower().startswith("acct:"):
        user, _at, host = resource[5:].lstrip("@").rpartition("@")
        if host.lower() in (documents.domain().lower(), request.get_host().lower()):
            username = user
    elif resource.startswith(documents.site() + "/ap/users/"):
        username = resource.removeprefix(documents.site() + "/ap/users/")
    if not username:
        raise Http404
    document = documents.webfinger_document(_actor(username))
    response = JsonResponse(document, content_type="application/jrd+json; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def host_meta(request: HttpRequest) -> HttpResponse:
    template = escape(f"{documents.site()}/.well-known/webfinger?resource={{uri}}")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" type="application/jrd+json" template="{template}"/>\n'
        "</XRD>\n"
    )
    response = HttpResponse(body, content_type="application/xrd+xml; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def nodeinfo_index(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"links": [{
        "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
        "href": f"{documents.site()}/nodeinfo/2.1",
    }]})  # fmt: skip
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def nodeinfo(request: HttpRequest) -> HttpResponse:
    from watchhouse.outlets.activitypub.services import department_actor

    department_actor()
    users, posts = selectors.nodeinfo_counts()
    response = JsonResponse(documents.nodeinfo_document(users=users, posts=posts),
                            content_type=NODEINFO_TYPE)  # fmt: skip
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def actor(request: HttpRequest, username: str) -> HttpResponse:
    local = _actor(username)
    document = documents.actor_document(local)
    if not wants_activitypub(request):
        return HttpResponseRedirect(document["url"])
    return ap_response(document)


@csrf_exempt
def inbox(request: HttpRequest, username: str | None = None) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    local = _actor(username) if username else None
    limit = max_inbox_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return HttpResponse("The activity is too large.", status=413, content_type="text/plain")
    body = request.read(limit + 1)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers.setdefault("host", request.get_host())
    result = inbox_receive(
        local=local, method="POST", target=request.get_full_path(), headers=headers, body=body
    )
    return HttpResponse(result.message, status=result.status, content_type="text/plain")


@require_GET
def outbox(request: HttpRequest, username: str) -> HttpResponse:
    local = _actor(username)
    uri = f"{documents.actor_uri(local)}/outbox"
    page_param = request.GET.get("page", "")
    if not page_param:
        total = selectors.outbox_activities(local).count()
        return ap_response(documents.with_context({
            "id": uri, "type": "OrderedCollection", "totalItems": total,
            "first": f"{uri}?page=1",
        }))  # fmt: skip
    try:
        page = max(int(page_param), 1)
    except ValueError as error:
        raise Http404 from error
    rows, more = selectors.outbox_page(local, page)
    document: dict[str, Any] = {
        "id": f"{uri}?page={page}", "type": "OrderedCollectionPage", "partOf": uri,
        "orderedItems": [{k: v for k, v in r.payload.items() if k != "@context"} for r in rows],
    }  # fmt: skip
    if more:
        document["next"] = f"{uri}?page={page + 1}"
    if page > 1:
        document["prev"] = f"{uri}?page={page - 1}"
    return ap_response(documents.with_context(document))


@require_GET
def followers(request: HttpRequest, username: str) -> HttpResponse:
    local = _actor(username)
    # The count is public; who follows the department is not listed.
    return ap_response(documents.with_context({
        "id": documents.followers_uri(local), "type": "OrderedCollection",
        "totalItems": selectors.follower_count(local),
    }))  # fmt: skip


def _object(request: HttpRequest, local: LocalActor, object_uri: str) -> HttpResponse:
    last = selectors.last_object_activity(local, object_uri)
    if last is None:
        raise Http404
    obj = last.payload.get("object")
    if last.type == ActivityType.DELETE:
        return ap_response(
            documents.with_context(
                obj if isinstance(obj, dict) else documents.tombstone(object_uri)
            ),
            status=410,
        )
    if not isinstance(obj, dict):
        raise Http404
    if not wants_activitypub(request) and isinstance(obj.get("url"), str):
        return HttpResponseRedirect(obj["url"])
    return ap_response(documents.with_context(obj))


@require_GET
def post_object(request: HttpRequest, username: str, pk: int) -> HttpResponse:
    local = _actor(username)
    return _object(request, local, documents.post_object_uri(local, pk))


@require_GET
def alert_object(request: HttpRequest, username: str, pk: int) -> HttpResponse:
    local = _actor(username)
    return _object(request, local, documents.alert_object_uri(local, pk))


@require_GET
def activity(request: HttpRequest, username: str, key: str) -> HttpResponse:
    local = _actor(username)
    try:
        found = selectors.activity_get(f"{documents.actor_uri(local)}/activities/{key}")
    except Activity.DoesNotExist as error:
        raise Http404 from error
    return ap_response(found.payload)
