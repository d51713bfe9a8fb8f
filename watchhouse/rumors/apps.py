from django.apps import AppConfig


class RumorsConfig(AppConfig):
    name = "watchhouse.rumors"
    label = "rumors"
    verbose_name = "Rumor control"
