"""A staff member signs in with password and authenticator code; roles decide what opens."""

from __future__ import annotations

import re

from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import password_step, totp_now
from watchhouse.accounts.services import totp_device_create
from watchhouse.console.sections import sections_for


def test_pio_signs_in_with_totp_and_sees_their_sections(page, make_staff, sign_in):
    """Password, then the authenticator code, opens the console with the PIO's sections only."""
    pio = make_staff("pio")
    device = totp_device_create(actor=None, user=pio)

    password_step(page, pio.username)
    expect(page).to_have_url(re.compile(re.escape(reverse("accounts:verify")) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your authenticator code")
    # The password alone does not open the console.
    page.goto(reverse("console:home"))
    expect(page).to_have_url(re.compile(re.escape(reverse("accounts:login"))))

    sign_in(page, pio, device)
    expect(page.get_by_role("heading", level=1)).to_have_text("Console")
    expect(page.locator("main")).to_contain_text("Public information officer")
    sections = page.locator("main .cards a")
    expect(sections).to_have_text([str(s.title) for s in sections_for(pio)])
    expect(sections.filter(has_text="My API tokens")).to_have_count(1)
    expect(sections.filter(has_text="Audit log")).to_have_count(0)
    expect(sections.filter(has_text="Staff and roles")).to_have_count(0)


def test_wrong_totp_code_is_refused_and_does_not_sign_in(page, make_staff):
    """A wrong code keeps the member on the code page with a clear message, signed out."""
    pio = make_staff("pio")
    device = totp_device_create(actor=None, user=pio)
    wrong = f"{(int(totp_now(device)) + 500_000) % 1_000_000:06d}"

    password_step(page, pio.username)
    code = page.get_by_label("Code from your authenticator app")
    code.fill(wrong)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(re.escape(reverse("accounts:verify")) + "$"))
    expect(page.locator("main")).to_contain_text(
        "That code is not right. Codes change every 30 seconds."
    )
    page.goto(reverse("console:home"))
    expect(page).to_have_url(re.compile(re.escape(reverse("accounts:login"))))
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff sign-in")


def test_pio_cannot_open_supervisor_or_admin_pages(page, make_staff, sign_in):
    """The audit log and the staff list answer a PIO with the "Not for your role" page."""
    pio = make_staff("pio")
    sign_in(page, pio, totp_device_create(actor=None, user=pio))

    for url_name, needed in (
        ("console:audit", "Supervisor, Administrator"),
        ("console:staff", "Administrator"),
    ):
        response = page.goto(reverse(url_name))
        assert response is not None and response.status == 403, url_name
        expect(page.get_by_role("heading", level=1)).to_have_text("Not for your role")
        expect(page.locator("main")).to_contain_text(
            f"This page needs one of these roles: {needed}."
        )
        expect(page.locator("main table")).to_have_count(0)
    # Tokens are for every staff member.
    response = page.goto(reverse("console:tokens"))
    assert response is not None and response.status == 200


def test_supervisor_reads_the_sign_ins_in_the_audit_log(new_context, make_staff, sign_in):
    """A supervisor opens the audit log and finds the PIO's and their own sign-ins."""
    pio = make_staff("pio")
    supervisor = make_staff("supervisor")

    pio_page = new_context().new_page()
    sign_in(pio_page, pio, totp_device_create(actor=None, user=pio))
    response = pio_page.goto(reverse("console:audit"))
    assert response is not None and response.status == 403

    page = new_context().new_page()
    sign_in(page, supervisor, totp_device_create(actor=None, user=supervisor))
    expect(page.locator("main .cards a").filter(has_text="Audit log")).to_have_count(1)
    page.locator("main .cards a").filter(has_text="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")

    rows = page.locator("main table tbody tr")
    for member in (pio, supervisor):
        sign_in_row = rows.filter(
            has=page.locator("td:nth-child(3)", has_text=re.compile(f"^{member.username}$"))
        ).filter(has=page.locator("td:nth-child(4)", has_text=re.compile(r"^accounts\.login$")))
        expect(sign_in_row).to_have_count(1)
        # The address the member signed in from is recorded.
        expect(sign_in_row.locator("td:nth-child(7)")).to_contain_text("127.0.0.1")
