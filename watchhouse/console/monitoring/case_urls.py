"""Case workspaces (included under the console namespace as ``monitoring/cases/``)."""

from django.urls import URLPattern, path

from watchhouse.console.monitoring import case_views as views

urlpatterns: list[URLPattern] = [
    path("", views.case_list, name="monitoring_cases"),
    path("new/", views.case_new, name="monitoring_case_new"),
    path("<int:pk>/", views.case_detail, name="monitoring_case_detail"),
    path("<int:pk>/decide/<slug:decision>/", views.case_decide, name="monitoring_case_decide"),
    path("<int:pk>/accounts/", views.case_account_request, name="monitoring_case_account"),
    path(
        "<int:pk>/accounts/<int:account>/collect/",
        views.case_account_refresh,
        name="monitoring_case_account_refresh",
    ),
    path("<int:pk>/search/", views.case_search, name="monitoring_case_search"),
    path(
        "<int:pk>/items/<int:item>/preserve/", views.case_preserve, name="monitoring_case_preserve"
    ),  # fmt: skip
    path("<int:pk>/share/", views.case_share, name="monitoring_case_share"),
    path("<int:pk>/close/", views.case_close, name="monitoring_case_close"),
    path(
        "<int:pk>/approvals/<int:approval>/<slug:decision>/",
        views.case_approval_decide,
        name="monitoring_case_approval_decide",
    ),
]
