from django.urls import path

from watchhouse.console.accounts import views

urlpatterns = [
    path("", views.staff_list, name="staff"),
    path("<int:user_id>/roles/", views.staff_roles, name="staff_roles"),
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
