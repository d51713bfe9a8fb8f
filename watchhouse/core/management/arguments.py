"""Argument types shared by the ``watchhouse`` commands."""

from __future__ import annotations

import argparse
from datetime import date


def iso_date(text: str) -> date:
    """An argparse ``type``: a local date written YYYY-MM-DD; anything else is refused with
    an error naming the option and what was expected."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date such as 2026-01-31.") from exc
