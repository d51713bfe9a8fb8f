"""Daily jobs run by the worker (WATCHHOUSE_DAILY): each once a day after its time, whatever
the number of ticks or workers, only schedulable commands, wrong lines refused at start."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tests.alerts.conftest import drain
from tests.core.conftest import Workers
from watchhouse.core.errors import InvalidInputError
from watchhouse.core.models import DailyRun
from watchhouse.core.schedule import daily_jobs, daily_tick

ROLLUPS = "06:00 crime-rollups"


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(
        tzinfo=ZoneInfo(str(timezone.get_current_timezone()))
    )


def _queued() -> list[str]:
    return [
        r.args_kwargs["args"][0]
        for r in DBTaskResult.objects.filter(task_path__endswith=".daily_job_task").order_by(
            "enqueued_at"
        )
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("6h crime-rollups", "'6h' is not a time such as 06:00"),
        ("06:00 flush", "'flush' may not be scheduled"),
        ("06:00 send-crime-digests --today 'unclosed", "write the time, then the command"),
    ],
)
def test_a_wrong_line_is_refused_with_the_reason(settings, text, message):
    settings.WATCHHOUSE_DAILY = f"03:00 send-crime-digests; {text}"
    with pytest.raises(InvalidInputError, match=message):
        daily_jobs()
    with pytest.raises(CommandError, match=f"WATCHHOUSE_DAILY: .*{message}"):
        call_command("worker", "--batch")


def test_lines_are_split_on_semicolons_with_their_arguments(settings):
    settings.WATCHHOUSE_DAILY = (
        " 06:00  send-crime-digests --period week ;; 03:30 import-incident-feed --format "
        "stl-nibrs --folder '/srv/rms exports' "
    )
    jobs = daily_jobs()
    assert [(j.at.isoformat(), j.command, j.args) for j in jobs] == [
        ("06:00:00", "send-crime-digests", ("--period", "week")),
        ("03:30:00", "import-incident-feed",
         ("--format", "stl-nibrs", "--folder", "/srv/rms exports")),
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_job_starts_once_a_day_after_its_time(settings):
    settings.WATCHHOUSE_DAILY = ROLLUPS
    assert daily_tick(_local("2026-11-30 05:59:59")) == []
    assert daily_tick(_local("2026-11-30 06:00:00")) == [ROLLUPS]
    # Every later tick that day, from this worker or another, finds the day claimed.
    assert daily_tick(_local("2026-11-30 06:00:30")) == []
    assert daily_tick(_local("2026-11-30 23:59:00")) == []
    assert daily_tick(_local("2026-12-01 05:00:00")) == []
    assert daily_tick(_local("2026-12-01 07:00:00")) == [ROLLUPS]  # a late worker catches up
    assert _queued() == [ROLLUPS, ROLLUPS]
    assert DailyRun.objects.get().last_day.isoformat() == "2026-12-01"


@pytest.mark.django_db
def test_a_changed_line_is_a_new_job(settings):
    settings.WATCHHOUSE_DAILY = ROLLUPS
    daily_tick(_local("2026-11-30 06:00:00"))
    settings.WATCHHOUSE_DAILY = "05:00 crime-rollups --source stl"
    assert daily_tick(_local("2026-11-30 06:00:01")) == ["05:00 crime-rollups --source stl"]


@pytest.mark.django_db
def test_the_task_runs_the_command_and_keeps_what_it_printed(settings):
    from watchhouse.crimemap.digest import digest_window

    settings.WATCHHOUSE_DAILY = "00:00 send-crime-digests --period week"
    daily_tick()
    drain()
    (result,) = DBTaskResult.objects.filter(task_path__endswith=".daily_job_task")
    week = digest_window("week", timezone.localdate())
    expected = f"week: {week.first_day} to {week.last_day}, 0 digest(s) queued."
    assert expected in result.return_value


@pytest.mark.slow
@pytest.mark.usefixtures("transactional_db")
def test_a_lasting_worker_starts_the_daily_jobs_itself(workers: Workers):
    """A real `watchhouse worker` with a daily job due claims it and runs it, with no cron."""
    workers.start(WATCHHOUSE_TASK_BACKEND="database", WATCHHOUSE_DAILY="00:00 crime-rollups")
    workers.wait_for(
        lambda: DBTaskResult.objects.filter(
            task_path__endswith=".daily_job_task", status=TaskResultStatus.SUCCESSFUL
        ).exists(),
        what="the daily job to run",
    )
    run = DailyRun.objects.get()
    assert run.last_day == timezone.localdate()
