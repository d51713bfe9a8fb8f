from django.apps import AppConfig


class OutletsConfig(AppConfig):
    name = "watchhouse.outlets"
    label = "outlets"
    verbose_name = "Outlets"
