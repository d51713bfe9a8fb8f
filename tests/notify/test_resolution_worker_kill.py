"""Deliveries survive a worker killed in the middle of a send batch: a real `watchhouse
worker` resolves an alert and mails its recipients through the loopback SMTP server, is
SIGKILLed half-way, and a second worker finishes the batch."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.alerts.conftest import circle, fields, info, point, subscribe

# Fixtures of the worker tests, used here by name.
from tests.core.conftest import (  # noqa: F401
    Workers,
    child_env,
    database_backend,
    media_root,
    workers,
)
from tests.notify.loopback import SmtpServer
from watchhouse.alerts.services import alert_create, alert_issue
from watchhouse.notify.channels.email import email_message_id
from watchhouse.notify.models import Delivery

pytestmark = pytest.mark.usefixtures("transactional_db")

RECIPIENTS = 30


@pytest.mark.slow
@pytest.mark.usefixtures("database_backend")
def test_worker_killed_mid_batch_sends_every_delivery_once(request, make_staff):
    """Every delivery ends sent exactly once; the mail server sees every message, and at
    most the one in flight at the kill twice, under the same Message-ID."""
    pool: Workers = request.getfixturevalue("workers")
    for k in range(RECIPIENTS):
        subscribe(point(39.955 + k * 1e-5, -89.355), email=f"resident{k}@example.org")
    pio = make_staff("pio")
    alert = alert_issue(
        actor=pio,
        alert=alert_create(actor=pio, fields=fields(), infos=[info()], areas=[circle()]),
    )
    with SmtpServer() as smtp:
        env = {
            "WATCHHOUSE_TASK_BACKEND": "database",
            "WATCHHOUSE_WORKER_LEASE_SECONDS": "2",
            "WATCHHOUSE_EMAIL_HOST": smtp.host,
            "WATCHHOUSE_EMAIL_PORT": str(smtp.port),
            # Slow enough to be caught half-way through the batch.
            "WATCHHOUSE_RATE_EMAIL": "5",
        }

        def alert_mails() -> list[str]:
            return [str(m["Message-ID"]) for m in smtp.messages if "Main Street" in m["Subject"]]

        first = pool.start(**env)
        pool.wait_for(lambda: len(alert_mails()) >= 8, what="part of the batch to go out")
        pool.kill(first)
        done_before = Delivery.objects.filter(alert=alert, status="sent").count()
        assert 0 < done_before < RECIPIENTS
        pool.start(**env)
        pool.wait_for(
            lambda: Delivery.objects.filter(alert=alert, status="sent").count() == RECIPIENTS,
            what="the second worker to finish the batch",
            timeout=60,
        )
        received = Counter(alert_mails())
    deliveries = Delivery.objects.filter(alert=alert)
    assert deliveries.count() == RECIPIENTS
    assert set(received) == {email_message_id(d.idempotency_key) for d in deliveries}
    assert sum(received.values()) - len(received) <= 1
