from django.urls import path

from watchhouse.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.alert_list, name="list"),
    path("feed.atom", views.feed_atom, name="feed_atom"),
    path("feed.json", views.feed_json, name="feed_json"),
    path("<int:pk>/", views.alert_detail, name="detail"),
    path("<int:pk>.cap", views.alert_cap, name="cap"),
]
