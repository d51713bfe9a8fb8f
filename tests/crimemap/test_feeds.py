"""Incident exports that arrive without the command line: uploaded in the console, or picked
up from a folder or an address by `watchhouse import-incident-feed`."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.crimemap.conftest import row
from watchhouse.crimemap.models import ImportReport, Incident

pytestmark = pytest.mark.django_db


def _upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def test_an_analyst_uploads_an_export_and_sees_its_report(
    client, make_staff, grid, write_export, mapping_file
):
    client.force_login(make_staff("analyst"))
    export = write_export([row("A1"), row("A2"), row("T1", when="soon")])
    response = client.post(
        reverse("crimemap:import"),
        {"format": "mapping", "file": _upload(export), "mapping": _upload(mapping_file),
         "jurisdiction": "Grid City"},
    )  # fmt: skip
    report = ImportReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("crimemap:report", args=[report.pk])
    assert (report.file_name, report.incidents_created, report.rows_rejected) == (
        "export.csv",
        2,
        1,
    )
    page = client.get(response["Location"]).content.decode()
    assert "id T1: when &#x27;soon&#x27; is not a time in the format" in page


def test_a_file_that_is_not_an_export_is_refused_and_changes_nothing(
    client, make_staff, grid, mapping_file, tmp_path
):
    client.force_login(make_staff("analyst"))
    picture = tmp_path / "export.csv"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    response = client.post(
        reverse("crimemap:import"),
        {"format": "mapping", "file": _upload(picture), "mapping": _upload(mapping_file)},
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    photo = client.post(
        reverse("crimemap:import"),
        {"format": "stl-nibrs", "file": _upload(picture, "holiday.jpg")},
    )
    assert "holiday.jpg is not a .csv or .parquet file." in photo.content.decode()
    assert not ImportReport.objects.exists() and not Incident.objects.exists()


def test_only_analysts_and_admins_may_upload(client, make_staff, grid, write_export):
    client.force_login(make_staff("pio"))
    response = client.post(
        reverse("crimemap:import"),
        {"format": "stl-nibrs", "file": _upload(write_export([row("A1")]))},
    )
    assert response.status_code == 403
    assert not ImportReport.objects.exists()


def test_a_folder_is_imported_once_per_file_and_a_bad_file_is_named(
    grid, write_export, mapping_file, tmp_path
):
    folder = tmp_path / "exports"
    folder.mkdir()
    write_export([row("A1")], "exports/day1.csv")
    write_export([row("A1", label="STEALING FROM CAR"), row("A2")], "exports/day2.csv")
    os.utime(folder / "day1.csv", (1_700_000_000, 1_700_000_000))
    (folder / "broken.csv").write_text("nothing,like,an,export\n1,2,3,4\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not an export", encoding="utf-8")
    options = {"folder": str(folder), "format": "mapping", "mapping": mapping_file,
               "jurisdiction": "Grid City"}  # fmt: skip
    with pytest.raises(CommandError, match="1 file"):
        call_command("import-incident-feed", **options)
    reports = list(ImportReport.objects.order_by("pk"))
    assert [r.file_name for r in reports] == ["day1.csv", "day2.csv"]
    assert (reports[1].incidents_created, reports[1].incidents_updated) == (1, 1)
    assert Incident.objects.get(record_id="A1").offence_label == "STEALING FROM CAR"
    with pytest.raises(CommandError, match="1 file"):
        call_command("import-incident-feed", **options)
    assert ImportReport.objects.count() == 2


@pytest.fixture
def export_server(write_export: Any) -> Iterator[tuple[str, list[int]]]:
    """A loopback web server that serves the test export at /export.csv."""
    body = write_export([row("A1"), row("A2")], "served.csv").read_bytes()
    hits: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            hits.append(1)
            if self.path != "/export.csv":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_an_address_is_fetched_and_its_file_imported_once(grid, mapping_file, export_server):
    base, hits = export_server
    options = {"format": "mapping", "mapping": mapping_file, "jurisdiction": "Grid City"}
    call_command("import-incident-feed", url=f"{base}/export.csv", **options)
    call_command("import-incident-feed", url=f"{base}/export.csv", **options)
    assert len(hits) == 2
    assert ImportReport.objects.count() == 1
    assert Incident.objects.count() == 2
    with pytest.raises(CommandError, match="HTTP 404"):
        call_command("import-incident-feed", url=f"{base}/gone.csv", **options)
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("import-incident-feed", folder=str(Path("/nonexistent/exports")), **options)
