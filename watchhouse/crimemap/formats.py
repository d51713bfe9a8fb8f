"""The built-in import formats, each written as a mapping (see :mod:`.mappings`).

``watchhouse import-incidents --show-format NAME`` prints one, as a start for an agency whose
export differs; the console's crime section shows them with their offence tables.

- ``stl-nibrs``: the St. Louis Metropolitan Police NIBRS export (parquet). One row per
  offence; rows sharing ``inc_#`` are one incident. NIBRS codes come with the data, so no
  offence table is needed. Full street addresses become hundred blocks.
- ``vancouver``: Vancouver Police open data (CSV). No incident id, so ids are derived from
  each row's contents (identical rows are told apart by their order): a corrected row arrives
  as a new record, and the old one is withdrawn by ``--withdraw-missing``. Coordinates are
  UTM zone 10N. Offences against a person come as "OFFSET TO PROTECT PRIVACY" with X=Y=0 and
  a blanked time: they import at neighbourhood level with day precision (VPD's "Central
  Business District" is the boundary file's "Downtown"; Stanley Park and Musqueam have no
  polygon in it, so their points are outside the jurisdiction's areas).
- ``police-uk``: the police.uk street-level CSV. Month precision; the points are already
  police.uk's anonymous map points, so the public point is that point and the place is its
  "On or near …" label. Anti-social behaviour rows have no Crime ID (ids are derived).
  "Violence and sexual offences" lumps sexual offences in with violence, so the whole label is
  withheld to area level. Areas: the force publishes none, so the LSOA name is kept as each
  incident's area label, without an area geometry (import boundaries with ``import-areas``
  to get area lookups).
- ``socrata-chicago``: the Chicago data portal's crimes schema (any Socrata export with the
  same columns). The offence is picked by primary type and FBI code together; hundred blocks
  come as published; ``domestic`` is a flag (withheld by the default policy).
"""

from __future__ import annotations

from functools import cache

from watchhouse.core.errors import InvalidInputError
from watchhouse.crimemap.mappings import Mapping, mapping_parse

# The name of the format that reads a mapping file given with --mapping.
MAPPING_FORMAT = "mapping"

STL_NIBRS = """\
name = "stl-nibrs"
title = "St. Louis Metropolitan Police NIBRS export (parquet)"
reader = "parquet"
rows = "offence"
crs = "EPSG:4326"
time_zone = "America/Chicago"

[columns]
id = "inc_#"
time = "date_time"
address = "address"
x = "lon"
y = "lat"
area = "nbhd"
area_code = "nbhd_num"
offence = ["nibrs_code"]
offence_label = ["offense"]
nibrs = "nibrs_code"
firearm = "firearm"

[time]
precision = "minute"
"""

VANCOUVER = """\
name = "vancouver"
title = "Vancouver Police Department open data (CSV)"
reader = "csv"
rows = "incident"
crs = "EPSG:26910"
time_zone = "America/Vancouver"

[columns]
block = "HUNDRED_BLOCK"
x = "X"
y = "Y"
area = "NEIGHBOURHOOD"
offence = ["TYPE"]

[time]
year = "YEAR"
month = "MONTH"
day = "DAY"
hour = "HOUR"
minute = "MINUTE"
precision = "minute"

[area_names]
"Central Business District" = "Downtown"

[privacy]
marker_column = "HUNDRED_BLOCK"
marker_values = ["OFFSET TO PROTECT PRIVACY"]
marker_precision = "day"
unknown_places = ["X NK_LOC ST"]

[offences]
"Break and Enter Commercial" = { category = "burglary", nibrs = "220" }
"Break and Enter Residential/Other" = { category = "burglary", nibrs = "220" }
"Homicide" = { category = "homicide", nibrs = "09A" }
"Mischief" = { category = "vandalism", nibrs = "290" }
"Offence Against a Person" = { category = "assault", against = "person", withhold = true }
"Other Theft" = { category = "theft", nibrs = "23H" }
"Theft from Vehicle" = { category = "vehicle_crime", nibrs = "23F" }
"Theft of Bicycle" = { category = "theft", nibrs = "23H" }
"Theft of Vehicle" = { category = "vehicle_crime", nibrs = "240" }
"Vehicle Collision or Pedestrian Struck (with Fatality)" = { category = "traffic_collision" }
"Vehicle Collision or Pedestrian Struck (with Injury)" = { category = "traffic_collision" }
"""

POLICE_UK = """\
name = "police-uk"
title = "police.uk street-level crime (CSV)"
reader = "csv"
rows = "incident"
crs = "EPSG:4326"
time_zone = "Europe/London"

[columns]
id = "Crime ID"
time = "Month"
place = "Location"
x = "Longitude"
y = "Latitude"
area = "LSOA name"
area_code = "LSOA code"
offence = ["Crime type"]

[time]
format = "%Y-%m"
precision = "month"

[privacy]
unknown_places = ["No Location"]
points_anonymised = true

[offences]
"Anti-social behaviour" = { category = "anti_social_behaviour", against = "" }
"Bicycle theft" = { category = "theft", nibrs = "23H" }
"Burglary" = { category = "burglary", nibrs = "220" }
"Criminal damage and arson" = { category = "vandalism", against = "property" }
"Drugs" = { category = "drugs", nibrs = "35A" }
"Other crime" = { category = "other" }
"Other theft" = { category = "theft", nibrs = "23H" }
"Possession of weapons" = { category = "weapons", nibrs = "520" }
"Public order" = { category = "public_order", against = "society" }
"Robbery" = { category = "robbery", nibrs = "120" }
"Shoplifting" = { category = "theft", nibrs = "23C" }
"Theft from the person" = { category = "theft", against = "property" }
"Vehicle crime" = { category = "vehicle_crime", against = "property" }
"Violence and sexual offences" = { category = "assault", against = "person", withhold = true }
"""

SOCRATA_CHICAGO = """\
name = "socrata-chicago"
title = "Chicago data portal crimes (Socrata CSV)"
reader = "csv"
rows = "incident"
crs = "EPSG:4326"
time_zone = "America/Chicago"

[columns]
id = "case_number"
time = "date"
block = "block"
x = "longitude"
y = "latitude"
area_code = "community_area"
offence = ["primary_type", "fbi_code"]
offence_label = ["primary_type", "description"]
domestic = "domestic"

[time]
format = ["%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%Y-%m-%dT%H:%M:%S"]
precision = "minute"

[offences]
"HOMICIDE | *" = { category = "homicide", nibrs = "09A" }
"CRIM SEXUAL ASSAULT | *" = { category = "sex_offence", nibrs = "11A" }
"CRIMINAL SEXUAL ASSAULT | *" = { category = "sex_offence", nibrs = "11A" }
"SEX OFFENSE | *" = { category = "sex_offence", nibrs = "11D" }
"PUBLIC INDECENCY | *" = { category = "sex_offence" }
"OBSCENITY | *" = { category = "sex_offence", nibrs = "370" }
"OFFENSE INVOLVING CHILDREN | *" = { category = "family_offence", nibrs = "90F" }
"OFFENSE INVOLVING CHILDREN | 2" = { category = "sex_offence", nibrs = "11A" }
"OFFENSE INVOLVING CHILDREN | 17" = { category = "sex_offence", nibrs = "11D" }
"OFFENSE INVOLVING CHILDREN | 16" = { category = "sex_offence", against = "person" }
"OFFENSE INVOLVING CHILDREN | 08B" = { category = "assault", nibrs = "13B", withhold = true }
"KIDNAPPING | *" = { category = "kidnapping", nibrs = "100" }
"HUMAN TRAFFICKING | *" = { category = "kidnapping", nibrs = "64B" }
"ROBBERY | *" = { category = "robbery", nibrs = "120" }
"ASSAULT | 04A" = { category = "assault", nibrs = "13A" }
"ASSAULT | *" = { category = "assault", nibrs = "13B" }
"BATTERY | 04B" = { category = "assault", nibrs = "13A" }
"BATTERY | *" = { category = "assault", nibrs = "13B" }
"DOMESTIC VIOLENCE | *" = { category = "assault", nibrs = "13B", withhold = true }
"INTIMIDATION | *" = { category = "assault", nibrs = "13C" }
"STALKING | *" = { category = "assault", nibrs = "13C", withhold = true }
"BURGLARY | *" = { category = "burglary", nibrs = "220" }
"ARSON | *" = { category = "arson", nibrs = "200" }
"MOTOR VEHICLE THEFT | *" = { category = "vehicle_crime", nibrs = "240" }
"THEFT | *" = { category = "theft", nibrs = "23H" }
"DECEPTIVE PRACTICE | 10" = { category = "fraud", nibrs = "250" }
"DECEPTIVE PRACTICE | 12" = { category = "fraud", nibrs = "270" }
"DECEPTIVE PRACTICE | 13" = { category = "theft", nibrs = "280" }
"DECEPTIVE PRACTICE | *" = { category = "fraud", nibrs = "26A" }
"CRIMINAL DAMAGE | *" = { category = "vandalism", nibrs = "290" }
"WEAPONS VIOLATION | *" = { category = "weapons", nibrs = "520" }
"CONCEALED CARRY LICENSE VIOLATION | *" = { category = "weapons", nibrs = "520" }
"NARCOTICS | *" = { category = "drugs", nibrs = "35A" }
"OTHER NARCOTIC VIOLATION | *" = { category = "drugs", nibrs = "35A" }
"PROSTITUTION | *" = { category = "public_order", nibrs = "40A" }
"GAMBLING | *" = { category = "public_order", nibrs = "39A" }
"LIQUOR LAW VIOLATION | *" = { category = "public_order", nibrs = "90G" }
"PUBLIC PEACE VIOLATION | *" = { category = "public_order", nibrs = "90C" }
"CRIMINAL TRESPASS | *" = { category = "public_order", nibrs = "90J" }
"INTERFERENCE WITH PUBLIC OFFICER | *" = { category = "other", nibrs = "90Z" }
"OTHER OFFENSE | *" = { category = "other", nibrs = "90Z" }
"NON-CRIMINAL | *" = { category = "other", against = "" }
"NON-CRIMINAL (SUBJECT SPECIFIED) | *" = { category = "other", against = "" }
"NON - CRIMINAL | *" = { category = "other", against = "" }
"RITUALISM | *" = { category = "other", nibrs = "90Z" }
"""

BUILT_IN = {
    "stl-nibrs": STL_NIBRS,
    "vancouver": VANCOUVER,
    "police-uk": POLICE_UK,
    "socrata-chicago": SOCRATA_CHICAGO,
}


@cache
def format_get(name: str) -> Mapping:
    """The built-in format ``name``; raises :class:`InvalidInputError` for an unknown name."""
    text = BUILT_IN.get(name)
    if text is None:
        raise InvalidInputError(
            f"Unknown incident format {name!r}; formats are: {', '.join(format_names())} "
            f"(or {MAPPING_FORMAT!r} with a mapping file)."
        )
    return mapping_parse(text, source=f"the built-in format {name}")


def format_names() -> list[str]:
    """The built-in formats' names."""
    return list(BUILT_IN)


def format_list() -> list[Mapping]:
    """Every built-in format, in the order above."""
    return [format_get(name) for name in BUILT_IN]
