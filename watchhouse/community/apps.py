from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "watchhouse.community"
    label = "community"
    verbose_name = "Community"
