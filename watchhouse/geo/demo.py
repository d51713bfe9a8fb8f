"""Demo jurisdiction (placeholder until the geo work lands)."""

from __future__ import annotations

from typing import Any


def load(*, stdout: Any) -> None:
    stdout.write("Demo areas: not yet generated.")
