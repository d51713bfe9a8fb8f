from django.apps import AppConfig


class GeocodeConfig(AppConfig):
    name = "watchhouse.geocode"
    label = "geocode"
    verbose_name = "Address search"
