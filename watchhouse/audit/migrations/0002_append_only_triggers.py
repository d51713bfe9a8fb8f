"""Refuse UPDATE and DELETE on audit entries in the database itself."""

from django.conf import settings
from django.db import migrations

from watchhouse.audit import triggers


def create(apps, schema_editor):
    if settings.WATCHHOUSE_AUDIT_TRIGGERS:
        triggers.install(schema_editor.connection)


def drop(apps, schema_editor):
    triggers.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
