from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "watchhouse.web"
    label = "web"
    verbose_name = "Public site"
