from django.apps import AppConfig


class GeoConfig(AppConfig):
    name = "watchhouse.geo"
    label = "geo"
    verbose_name = "Geography"
