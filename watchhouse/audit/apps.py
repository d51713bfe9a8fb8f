from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "watchhouse.audit"
    label = "audit"
    verbose_name = "Audit log"
