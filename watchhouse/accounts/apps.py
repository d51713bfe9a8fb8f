from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "watchhouse.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"
