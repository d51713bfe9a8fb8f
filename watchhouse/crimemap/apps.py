from django.apps import AppConfig


class CrimemapConfig(AppConfig):
    name = "watchhouse.crimemap"
    label = "crimemap"
    verbose_name = "Crime map"
