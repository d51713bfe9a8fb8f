"""Production mode refuses unsafe settings and turns hardening on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SECRET = "x" * 64
KEY = "l8dqwQbNkRwJZbyrvDCnq8Kp1ZPZ2S1k1oP9tMTXQZs="


def read_settings(env: dict[str, str], expr: str) -> subprocess.CompletedProcess[str]:
    code = f"import django; from django.conf import settings; django.setup(); print(repr({expr}))"
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("WATCHHOUSE_", "SECRET_KEY"))
    }
    full_env |= {"DJANGO_SETTINGS_MODULE": "watchhouse.config.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=False
    )


def test_production_refuses_the_default_secret():
    result = read_settings({"WATCHHOUSE_ENV": "production"}, "settings.SECRET_KEY")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_missing_encryption_keys():
    result = read_settings(
        {"WATCHHOUSE_ENV": "production", "SECRET_KEY": SECRET}, "settings.SECRET_KEY"
    )
    assert result.returncode != 0
    assert "WATCHHOUSE_ENCRYPTION_KEYS" in result.stderr


def test_production_hardening_is_on():
    expr = (
        "(settings.DEBUG, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, "
        "settings.SECURE_HSTS_SECONDS, settings.WATCHHOUSE_MFA_REQUIRED, "
        "settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src'])"
    )
    result = read_settings(
        {"WATCHHOUSE_ENV": "production", "SECRET_KEY": SECRET, "WATCHHOUSE_ENCRYPTION_KEYS": KEY},
        expr,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(False, True, True, 31536000, True, [\"'self'\"])"


def test_bad_environment_values_are_named():
    result = read_settings({"WATCHHOUSE_WORKER_LEASE_SECONDS": "soon"}, "1")
    assert result.returncode != 0
    assert "WATCHHOUSE_WORKER_LEASE_SECONDS must be a whole number" in result.stderr


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
