from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "watchhouse.notify"
    label = "notify"
    verbose_name = "Notifications"
