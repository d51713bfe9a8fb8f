"""A resident subscribes through the public page and a dispatcher's alert reaches their inbox.

Everything between them is real: the browser (Chromium), the live server, a `watchhouse worker`
process working the task queue in the test database, and an aiosmtpd server on loopback that
takes the mail the worker sends through Django's SMTP backend.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import expect

from tests.core.conftest import Workers, child_database_url
from tests.notify.loopback import SmtpServer
from watchhouse.accounts.services import totp_device_create
from watchhouse.notify.models import Delivery, Subscription

# The centre of Old Mill (conftest's neighbourhoods are 0.01 degree squares).
HOME = (39.955, -89.355)
HEADLINE = "Water main break on Mill Road"
# Seconds to wait for the worker to send a message.
MAIL_WAIT = 20


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def worker(settings, live_server, smtp, tmp_path: Path) -> Iterator[Workers]:
    """One real `watchhouse worker` on the test database, mailing through ``smtp``.

    The live server (in this process) and the worker write links with the live server's
    address, and both send mail over SMTP to the loopback server.
    """
    settings.SITE_URL = live_server.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp.host
    settings.EMAIL_PORT = smtp.port
    media = tmp_path / "media"
    media.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "watchhouse.config.settings",
        "WATCHHOUSE_ENV": "test",
        "DATABASE_URL": child_database_url(),
        "WATCHHOUSE_MEDIA_ROOT": str(media),
        "WATCHHOUSE_LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
        "WATCHHOUSE_TASK_BACKEND": "database",
        "WATCHHOUSE_SITE_URL": live_server.url,
        "WATCHHOUSE_EMAIL_HOST": smtp.host,
        "WATCHHOUSE_EMAIL_PORT": str(smtp.port),
    }
    pool = Workers(env, tmp_path)
    pool.start()
    try:
        yield pool
    finally:
        pool.stop_all()


def mail_to(smtp: SmtpServer, address: str) -> list[EmailMessage]:
    return [m for m in smtp.messages if address in str(m["To"])]


def wait_for_mail(worker: Workers, smtp: SmtpServer, address: str, count: int) -> EmailMessage:
    """The ``count``-th message to ``address``, once the worker has sent it."""
    worker.wait_for(
        lambda: len(mail_to(smtp, address)) >= count,
        what=f"message {count} to {address}",
        timeout=MAIL_WAIT,
    )
    return mail_to(smtp, address)[count - 1]


def queue_idle() -> bool:
    """Nothing left for the worker now: no task due or running (the alert's expiry waits)."""
    running = DBTaskResult.objects.filter(status="RUNNING")
    return not DBTaskResult.objects.ready().exists() and not running.exists()


def link_in(message: EmailMessage, base: str, path: str) -> str:
    """The first link in the message's text that starts with ``base`` + ``path``."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(re.escape(base + path) + r"\S+", body.get_content())
    assert found, f"no {path} link in:\n{body.get_content()}"
    return found.group(0)


def subscribe_through_the_page(
    context: Any, live_server: Any, worker: Workers, smtp: SmtpServer, *,
    email: str, choose: Callable[[Any], None],
) -> Any:  # fmt: skip
    """Fill in /subscribe/ in a browser, then confirm with the link mailed to ``email``."""
    page = context.new_page()
    page.goto(reverse("notify:subscribe"))
    choose(page)
    page.get_by_label("Alerts: danger to life").check()
    page.get_by_label("Advisories: things to know today").check()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(page.get_by_role("status")).to_contain_text("Check your e-mail")

    confirmation = wait_for_mail(worker, smtp, email, 1)
    assert confirmation["Subject"] == "Confirm your alert subscription"
    confirm_link = link_in(confirmation, live_server.url, "/subscribe/confirm/")
    page.goto(confirm_link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    page.get_by_role("button", name="Yes, send me alerts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscription confirmed")
    expect(page.get_by_role("link", name="Change or stop your alerts")).to_be_visible()
    return page


def choose_home(page: Any) -> None:
    page.get_by_label("Latitude").fill(str(HOME[0]))
    page.get_by_label("Longitude").fill(str(HOME[1]))
    page.get_by_label("Within").select_option(label="¼ mile")


def choose_linden_hill(page: Any) -> None:
    page.get_by_label("Linden Hill").check()


def test_resident_subscribes_dispatcher_issues_and_the_email_arrives_once(
    new_context, live_server, areas, make_staff, sign_in, smtp, worker
):
    """Subscribe and confirm in the browser, issue an Advisory in the console: the resident
    near the alert gets exactly one e-mail with List-Unsubscribe and sees the alert on the
    public pages; a resident in another neighbourhood gets nothing but their confirmation."""
    resident = new_context()
    home = subscribe_through_the_page(
        resident, live_server, worker, smtp, email="resident@example.org", choose=choose_home
    )
    subscribe_through_the_page(
        new_context(), live_server, worker, smtp,
        email="neighbour@example.org", choose=choose_linden_hill,
    )  # fmt: skip
    assert set(Subscription.objects.values_list("status", flat=True)) == {"active"}

    # A dispatcher signs in with their authenticator code and writes an Advisory, which
    # needs no second person, over the resident's home.
    dispatcher = make_staff("dispatcher")
    console = new_context().new_page()
    sign_in(console, dispatcher, totp_device_create(actor=None, user=dispatcher))
    console.goto(reverse("console:alert_new"))
    console.locator("[name=category]").select_option("advisory")
    console.locator("[name=event]").fill("Water main break")
    expires = timezone.localtime() + timedelta(hours=3)
    console.locator("[name=expires]").fill(expires.strftime("%Y-%m-%dT%H:%M"))
    console.get_by_label("Headline (English)").fill(HEADLINE)
    console.get_by_label("Description (English)").fill("Crews are repairing a water main.")
    console.get_by_label("Instructions (English)").fill("Use Oak Avenue.")
    console.get_by_label("Circle centre latitude").fill(str(HOME[0]))
    console.get_by_label("Circle centre longitude").fill(str(HOME[1]))
    console.get_by_label("Radius (metres)").fill("300")
    console.get_by_role("button", name="Preview counts and reach").click()
    expect(console.locator("main")).to_contain_text("Reaches 1 subscriptions with 1 messages")
    console.get_by_role("button", name="Save draft").click()
    expect(console.get_by_role("heading", level=1)).to_have_text(HEADLINE)
    console.get_by_role("button", name="Issue now").click()
    expect(console.locator("main")).to_contain_text("Issued. Recipients are being notified.")

    # The worker resolves the recipients and mails the one resident in the area.
    alert_mail = wait_for_mail(worker, smtp, "resident@example.org", 2)
    assert alert_mail["Subject"] == f"[Advisory] {HEADLINE}"
    unsubscribe = str(alert_mail["List-Unsubscribe"]).strip()
    assert re.fullmatch(rf"<{re.escape(live_server.url)}/subscribe/unsubscribe/\S+/>", unsubscribe)
    assert "Use Oak Avenue." in alert_mail.get_body(preferencelist=("plain",)).get_content()
    # Exactly once: when the queue is empty, nothing more has come, to anyone.
    worker.wait_for(queue_idle, what="the queue to empty", timeout=MAIL_WAIT)
    time.sleep(0.5)
    assert len(mail_to(smtp, "resident@example.org")) == 2
    neighbour_mail = mail_to(smtp, "neighbour@example.org")
    assert [m["Subject"] for m in neighbour_mail] == ["Confirm your alert subscription"]
    assert len(smtp.messages) == 3
    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.status) == ("email", "sent")
    assert delivery.subscription.endpoints.get().address == "resident@example.org"

    # The resident opens the public alert list, then the alert's page from the e-mail.
    home.goto(reverse("alerts:list"))
    current = home.get_by_role("region", name="In force now")
    current.get_by_role("link", name=HEADLINE).click()
    expect(home.get_by_role("heading", level=1)).to_have_text(HEADLINE)
    expect(home.locator("main")).to_contain_text("Crews are repairing a water main.")
    expect(home.get_by_role("heading", name="What to do")).to_be_visible()
    details = link_in(alert_mail, live_server.url, "/alerts/")
    assert details == live_server.url + home.url.removeprefix(live_server.url)
    # The List-Unsubscribe address works with a one-click POST (RFC 8058).
    response = home.request.post(unsubscribe.strip("<>"), form={"List-Unsubscribe": "One-Click"})
    assert response.ok
    assert Subscription.objects.get(pk=delivery.subscription_id).status == "unsubscribed"
