"""Background work of the crime statistics: rebuilding a source's counts after an import."""

from __future__ import annotations

from django_tasks import task

from watchhouse.crimemap.rollups import rollups_refresh


@task()
def rollups_refresh_task(source_id: int) -> dict[str, int]:
    """Rebuild the pre-aggregated counts of one source (idempotent: a rerun rebuilds)."""
    return rollups_refresh(source_id=source_id)
