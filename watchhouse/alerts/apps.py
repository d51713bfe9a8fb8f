from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "watchhouse.alerts"
    label = "alerts"
    verbose_name = "Emergency alerts"
