"""Demo incidents for Alderford (the city :mod:`watchhouse.geo.demo` draws).

A few thousand incidents over the last 400 days (so a period can be set against the one
before and the same one a year earlier) at the demo street grid's addresses
(:mod:`watchhouse.geocode.demo`), drawn with a fixed seed from a small table of NIBRS
offences, plus a run of thefts from vehicles around a few blocks in the last month (a hot
spot, and a rise the change test calls more than noise). They are written as a CSV in the
demo agency's own export layout and imported through a mapping file, as an agency with its
own records system would. Generated, not copied: no real data. Loading again the same day
changes nothing; on a later day the same incidents move forward in time (their ids stay).
"""

from __future__ import annotations

import csv
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.utils import timezone

from watchhouse.crimemap.rollups import rollups_refresh
from watchhouse.crimemap.services import incidents_import
from watchhouse.geo.demo import JURISDICTION
from watchhouse.geocode.demo import demo_addresses

INCIDENTS = 2400
DAYS = 400
# The recent run of thefts from vehicles: how many, over how many days, at how many addresses.
SPREE = (90, 30, 6)
SEED = 2207
# (NIBRS code, the demo agency's own label, relative frequency, firearm share).
OFFENCES = (
    ("23F", "THEFT FROM VEHICLE", 16, 0.0), ("290", "CRIMINAL DAMAGE", 14, 0.0),
    ("23H", "THEFT - ALL OTHER", 12, 0.0), ("240", "VEHICLE THEFT", 9, 0.0),
    ("13B", "ASSAULT - SIMPLE", 9, 0.0), ("220", "BURGLARY", 8, 0.0),
    ("23C", "SHOPLIFTING", 7, 0.0), ("13A", "ASSAULT - AGGRAVATED", 5, 0.4),
    ("35A", "DRUG POSSESSION", 5, 0.0), ("520", "WEAPONS VIOLATION", 4, 1.0),
    ("120", "ROBBERY", 4, 0.5), ("90C", "DISORDERLY CONDUCT", 3, 0.0),
    ("11D", "SEXUAL ASSAULT - FONDLING", 1, 0.0), ("90F", "CHILD NEGLECT", 1, 0.0),
    ("09A", "HOMICIDE", 1, 0.8),
)  # fmt: skip
# Share of assaults the demo agency flags as domestic.
DOMESTIC_SHARE = 0.3
MAPPING = """\
name = "alderford-rms"
title = "Alderford Police records system export (demo)"
reader = "csv"
rows = "incident"
crs = "EPSG:4326"
time_zone = "America/Chicago"

[columns]
id = "report_no"
time = "occurred"
address = "location"
x = "lon"
y = "lat"
offence = ["ucr"]
offence_label = ["offence"]
nibrs = "ucr"
firearm = "gun"
domestic = "dv"

[time]
format = "%Y-%m-%d %H:%M"
precision = "minute"

[values]
true = ["Y"]
false = ["N"]
"""


def demo_rows(today: datetime) -> list[dict[str, str]]:
    """The demo incidents as rows of the demo agency's export (the same rows for a day)."""
    rng = np.random.default_rng(SEED)
    addresses = demo_addresses()
    weights = np.array([o[2] for o in OFFENCES], dtype=float)
    picks = rng.choice(len(OFFENCES), size=INCIDENTS, p=weights / weights.sum())
    places = rng.choice(len(addresses), size=INCIDENTS)
    days = rng.integers(0, DAYS, size=INCIDENTS)
    minutes = rng.integers(0, 24 * 60, size=INCIDENTS)
    chance = rng.random((INCIDENTS, 2))
    spree, spree_days, spree_places = SPREE
    spree_at = rng.choice(len(addresses), size=spree_places, replace=False)
    picks = np.concatenate([picks, np.zeros(spree, dtype=int)])  # theft from vehicle
    places = np.concatenate([places, spree_at[rng.integers(0, spree_places, size=spree)]])
    days = np.concatenate([days, rng.integers(0, spree_days, size=spree)])
    minutes = np.concatenate([minutes, rng.integers(17 * 60, 24 * 60, size=spree)])
    chance = np.concatenate([chance, np.ones((spree, 2))])
    rows = []
    for n in range(INCIDENTS + spree):
        code, label, _, gun_share = OFFENCES[int(picks[n])]
        address, lat, lon = addresses[int(places[n])]
        when = today - timedelta(days=int(days[n])) + timedelta(minutes=int(minutes[n]))
        assault = code in {"13A", "13B"}
        rows.append(
            {
                "report_no": f"ALD-{n + 1:05d}",
                "occurred": when.strftime("%Y-%m-%d %H:%M"),
                "location": address.upper(),
                "lat": f"{lat:.6f}",
                "lon": f"{lon:.6f}",
                "ucr": code,
                "offence": label,
                "gun": "Y" if chance[n, 0] < gun_share else "N",
                "dv": "Y" if assault and chance[n, 1] < DOMESTIC_SHARE else "N",
            }
        )
    return rows


def load(*, stdout: Any) -> None:
    """Import the demo incidents through the import service, and say what was done."""
    zone = ZoneInfo(settings.TIME_ZONE)
    today = timezone.now().astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = demo_rows(today - timedelta(days=1))
    with tempfile.TemporaryDirectory(prefix="watchhouse-demo-") as folder:
        path = Path(folder) / "alderford-incidents.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        mapping = Path(folder) / "alderford-rms.toml"
        mapping.write_text(MAPPING, encoding="utf-8")
        report = incidents_import(
            actor=None, path=path, format="mapping", mapping=mapping,
            jurisdiction=JURISDICTION, source="demo", file_name="demo alderford-incidents.csv",
        )  # fmt: skip
    # The counts now, so the statistics are there before the first worker runs.
    rollups_refresh(source_id=report.source_id)
    stdout.write(f"Demo incidents: {report.summary}")
