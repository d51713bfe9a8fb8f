"""Background work of the community app: each task takes an id, is idempotent and calls one
service."""

from __future__ import annotations

from django_tasks import task


@task()
def mail_report_status_task(report_id: int) -> str:
    """E-mail a community report's current status to its reporter."""
    from watchhouse.community.services.reports import report_status_mail

    return report_status_mail(report_id=report_id)
