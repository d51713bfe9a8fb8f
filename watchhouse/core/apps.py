from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "watchhouse.core"
    label = "core"
    verbose_name = "Core"
