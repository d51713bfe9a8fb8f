from django.urls import path

from watchhouse.console.community import members

urlpatterns = [
    path("", members.members, name="community_members"),
    path("postcards/", members.members_print, name="community_members_print"),
    path(
        "<int:pk>/approve/",
        members.members_decide,
        {"decision": "approve"},
        name="community_member_approve",
    ),
    path(
        "<int:pk>/reject/",
        members.members_decide,
        {"decision": "reject"},
        name="community_member_reject",
    ),
]
