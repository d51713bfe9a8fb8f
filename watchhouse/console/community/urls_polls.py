from django.urls import path

from watchhouse.console.community import polls

urlpatterns = [
    path("", polls.poll_list, name="community_polls"),
    path("<int:pk>/", polls.poll_detail, name="community_poll"),
    path("<int:pk>/close/", polls.poll_close, name="community_poll_close"),
    path("<int:pk>/results.csv", polls.poll_csv, name="community_poll_csv"),
]
