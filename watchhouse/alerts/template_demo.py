"""Demo alert templates: "Armed robbery — shelter in place", "Missing child", "Road closure"."""

from __future__ import annotations

from typing import Any

from watchhouse.alerts.templating import demo_load


def load(*, stdout: Any) -> None:
    """Create the demo templates once."""
    demo_load(stdout=stdout)
