from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "watchhouse.api"
    label = "api"
    verbose_name = "API"
