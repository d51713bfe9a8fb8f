from django.apps import AppConfig


class TipsConfig(AppConfig):
    name = "watchhouse.tips"
    label = "tips"
    verbose_name = "Tips"
