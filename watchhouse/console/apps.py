from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "watchhouse.console"
    label = "console"
    verbose_name = "Staff console"
