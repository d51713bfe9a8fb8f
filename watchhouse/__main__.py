"""The `watchhouse` console command: Django's manage.py plus the project's own commands."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run a management command, e.g. ``watchhouse migrate`` or ``watchhouse audit verify``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchhouse.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line([os.path.basename(sys.argv[0]) or "watchhouse", *sys.argv[1:]])


if __name__ == "__main__":
    main()
