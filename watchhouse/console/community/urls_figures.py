from django.urls import path

from watchhouse.console.community import figures

urlpatterns = [
    path("", figures.figures, name="community_figures"),
]
