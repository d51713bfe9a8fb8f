"""Routes of the fediverse side: well-known discovery, actors and their collections."""

from django.urls import path

from watchhouse.outlets.activitypub import views

app_name = "activitypub"

urlpatterns = [
    path(".well-known/webfinger", views.webfinger, name="webfinger"),
    path(".well-known/host-meta", views.host_meta, name="host_meta"),
    path(".well-known/nodeinfo", views.nodeinfo_index, name="nodeinfo_index"),
    path("nodeinfo/2.1", views.nodeinfo, name="nodeinfo"),
    path("ap/inbox", views.inbox, name="shared_inbox"),
    path("ap/users/<slug:username>", views.actor, name="actor"),
    path("ap/users/<slug:username>/inbox", views.inbox, name="inbox"),
    path("ap/users/<slug:username>/outbox", views.outbox, name="outbox"),
    path("ap/users/<slug:username>/followers", views.followers, name="followers"),
    path("ap/users/<slug:username>/posts/<int:pk>", views.post_object, name="post"),
    path("ap/users/<slug:username>/alerts/<int:pk>", views.alert_object, name="alert"),
    path("ap/users/<slug:username>/activities/<slug:key>", views.activity, name="activity"),
]
