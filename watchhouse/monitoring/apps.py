from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "watchhouse.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        # What each kind of approval unlocks is registered by the service that owns it.
        from watchhouse.monitoring.services import cases, rules  # noqa: F401
