"""`watchhouse import-areas --kind neighbourhood FILE`: load areas from GeoJSON or a shapefile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchhouse.core.errors import InvalidInputError
from watchhouse.geo.models import AreaKind
from watchhouse.geo.services import area_import


class Command(BaseCommand):
    help = (
        "Import areas (neighbourhoods, beats, districts, wards or custom areas) from a GeoJSON "
        "file, an ESRI shapefile (.shp with its .dbf/.shx/.prj beside it) or a zip of either. "
        "Coordinates in any system PROJ knows are converted to WGS84. Re-importing a file "
        "updates its areas in place; a file with any problem changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The .geojson, .json, .shp or .zip file.")
        parser.add_argument(
            "--kind", required=True, choices=AreaKind.values, help="What the areas are."
        )
        parser.add_argument(
            "--crs",
            help="Coordinate system of the file, e.g. EPSG:3435 (needed when a shapefile has "
            "no .prj and is not in longitude/latitude; overrides what the file declares).",
        )
        parser.add_argument("--name-field", help="The attribute holding area names.")
        parser.add_argument("--code-field", help="The attribute holding area codes or numbers.")
        parser.add_argument(
            "--jurisdiction",
            help="Name of the jurisdiction the areas belong to (created if new; needed only "
            "when there are several).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            report = area_import(
                actor=None,
                kind=opts["kind"],
                path=opts["file"],
                jurisdiction=opts["jurisdiction"],
                crs=opts["crs"],
                name_field=opts["name_field"],
                code_field=opts["code_field"],
            )
        except InvalidInputError as exc:
            raise CommandError(str(exc)) from exc
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
        self.stdout.write(self.style.SUCCESS(report.summary))
