"""The public offence categories every source maps to, and the NIBRS offence codes.

Residents see one short list of categories whatever the agency's records system calls an
offence. Each source format maps its own offence values to a category (and to a NIBRS code
where the source allows, see :mod:`watchhouse.crimemap.formats`); a source that gives NIBRS
codes needs no table of its own, because :data:`NIBRS` below names each code's category and
crimes-against group. An incident with several offences is shown under the category of its
most serious offence: the one that comes first in this list.

==========================  =================================  ==================================
category                    label                              NIBRS codes
==========================  =================================  ==================================
``homicide``                Homicide                           09A 09B 09C
``sex_offence``             Sexual offence                     11A–11D 36A 36B 370 64A 90H
``kidnapping``              Kidnapping and trafficking         100 64B
``robbery``                 Robbery                            120
``assault``                 Assault                            13A 13B 13C
``family_offence``          Offence against family or child    90F
``burglary``                Burglary                           220
``arson``                   Arson                              200
``vehicle_crime``           Vehicle theft and break-in         240 23F 23G
``theft``                   Theft                              23A–23E 23H 280
``fraud``                   Fraud and forgery                  210 250 26A–26H 270 510 90A
``vandalism``               Vandalism and criminal damage      290
``weapons``                 Weapons                            520 521 522 526
``drugs``                   Drugs                              35A 35B
``dui``                     Driving under the influence        90D
``public_order``            Public order                       39A–39D 40A–40C 90B 90C 90E 90G 90J
``anti_social_behaviour``   Anti-social behaviour              (police.uk only)
``traffic_collision``       Traffic collision                  (no NIBRS code)
``other``                   Other offence                      720 90Z
==========================  =================================  ==================================

Which categories and codes are withheld from the public map (sexual offences, offences
against family and children, domestic incidents) is the privacy policy's business:
:mod:`watchhouse.crimemap.privacy`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    """The public categories, most serious first (that order picks an incident's category)."""

    HOMICIDE = "homicide", _("Homicide")
    SEX_OFFENCE = "sex_offence", _("Sexual offence")
    KIDNAPPING = "kidnapping", _("Kidnapping and trafficking")
    ROBBERY = "robbery", _("Robbery")
    ASSAULT = "assault", _("Assault")
    FAMILY_OFFENCE = "family_offence", _("Offence against family or child")
    BURGLARY = "burglary", _("Burglary")
    ARSON = "arson", _("Arson")
    VEHICLE_CRIME = "vehicle_crime", _("Vehicle theft and break-in")
    THEFT = "theft", _("Theft")
    FRAUD = "fraud", _("Fraud and forgery")
    VANDALISM = "vandalism", _("Vandalism and criminal damage")
    WEAPONS = "weapons", _("Weapons")
    DRUGS = "drugs", _("Drugs")
    DUI = "dui", _("Driving under the influence")
    PUBLIC_ORDER = "public_order", _("Public order")
    ANTI_SOCIAL_BEHAVIOUR = "anti_social_behaviour", _("Anti-social behaviour")
    TRAFFIC_COLLISION = "traffic_collision", _("Traffic collision")
    OTHER = "other", _("Other offence")


class CrimesAgainst(models.TextChoices):
    """NIBRS's crimes-against group; empty where the source does not say or it is no crime."""

    PERSON = "person", _("Person")
    PROPERTY = "property", _("Property")
    SOCIETY = "society", _("Society")
    UNKNOWN = "", _("Not stated")


# Position of each category in seriousness order (0 is the most serious).
CATEGORY_RANK = {value: rank for rank, value in enumerate(Category.values)}


@dataclass(frozen=True)
class NibrsOffence:
    """One NIBRS offence code: its name, crimes-against group and public category."""

    code: str
    name: str
    against: str
    category: str


def _table(*rows: tuple[str, str, str, str]) -> dict[str, NibrsOffence]:
    return {
        code: NibrsOffence(code, name, against, category) for code, name, against, category in rows
    }


P, R, S, N = "person", "property", "society", ""
# The FBI's NIBRS offence codes (Group A and Group B, 2021 technical specification).
NIBRS = _table(
    ("09A", "Murder and Nonnegligent Manslaughter", P, Category.HOMICIDE),
    ("09B", "Negligent Manslaughter", P, Category.HOMICIDE),
    ("09C", "Justifiable Homicide", N, Category.HOMICIDE),
    ("100", "Kidnapping/Abduction", P, Category.KIDNAPPING),
    ("11A", "Rape", P, Category.SEX_OFFENCE),
    ("11B", "Sodomy", P, Category.SEX_OFFENCE),
    ("11C", "Sexual Assault With An Object", P, Category.SEX_OFFENCE),
    ("11D", "Fondling", P, Category.SEX_OFFENCE),
    ("120", "Robbery", R, Category.ROBBERY),
    ("13A", "Aggravated Assault", P, Category.ASSAULT),
    ("13B", "Simple Assault", P, Category.ASSAULT),
    ("13C", "Intimidation", P, Category.ASSAULT),
    ("200", "Arson", R, Category.ARSON),
    ("210", "Extortion/Blackmail", R, Category.FRAUD),
    ("220", "Burglary/Breaking & Entering", R, Category.BURGLARY),
    ("23A", "Pocket-picking", R, Category.THEFT),
    ("23B", "Purse-snatching", R, Category.THEFT),
    ("23C", "Shoplifting", R, Category.THEFT),
    ("23D", "Theft From Building", R, Category.THEFT),
    ("23E", "Theft From Coin-Operated Machine or Device", R, Category.THEFT),
    ("23F", "Theft From Motor Vehicle", R, Category.VEHICLE_CRIME),
    ("23G", "Theft of Motor Vehicle Parts or Accessories", R, Category.VEHICLE_CRIME),
    ("23H", "All Other Larceny", R, Category.THEFT),
    ("240", "Motor Vehicle Theft", R, Category.VEHICLE_CRIME),
    ("250", "Counterfeiting/Forgery", R, Category.FRAUD),
    ("26A", "False Pretenses/Swindle/Confidence Game", R, Category.FRAUD),
    ("26B", "Credit Card/Automated Teller Machine Fraud", R, Category.FRAUD),
    ("26C", "Impersonation", R, Category.FRAUD),
    ("26D", "Welfare Fraud", R, Category.FRAUD),
    ("26E", "Wire Fraud", R, Category.FRAUD),
    ("26F", "Identity Theft", R, Category.FRAUD),
    ("26G", "Hacking/Computer Invasion", R, Category.FRAUD),
    ("26H", "Money Laundering", S, Category.FRAUD),
    ("270", "Embezzlement", R, Category.FRAUD),
    ("280", "Stolen Property Offenses", R, Category.THEFT),
    ("290", "Destruction/Damage/Vandalism of Property", R, Category.VANDALISM),
    ("35A", "Drug/Narcotic Violations", S, Category.DRUGS),
    ("35B", "Drug Equipment Violations", S, Category.DRUGS),
    ("36A", "Incest", P, Category.SEX_OFFENCE),
    ("36B", "Statutory Rape", P, Category.SEX_OFFENCE),
    ("370", "Pornography/Obscene Material", S, Category.SEX_OFFENCE),
    ("39A", "Betting/Wagering", S, Category.PUBLIC_ORDER),
    ("39B", "Operating/Promoting/Assisting Gambling", S, Category.PUBLIC_ORDER),
    ("39C", "Gambling Equipment Violations", S, Category.PUBLIC_ORDER),
    ("39D", "Sports Tampering", S, Category.PUBLIC_ORDER),
    ("40A", "Prostitution", S, Category.PUBLIC_ORDER),
    ("40B", "Assisting or Promoting Prostitution", S, Category.PUBLIC_ORDER),
    ("40C", "Purchasing Prostitution", S, Category.PUBLIC_ORDER),
    ("510", "Bribery", R, Category.FRAUD),
    ("520", "Weapon Law Violations", S, Category.WEAPONS),
    ("521", "Violation of National Firearm Act of 1934", S, Category.WEAPONS),
    ("522", "Weapons of Mass Destruction", S, Category.WEAPONS),
    ("526", "Explosives", S, Category.WEAPONS),
    ("64A", "Human Trafficking, Commercial Sex Acts", P, Category.SEX_OFFENCE),
    ("64B", "Human Trafficking, Involuntary Servitude", P, Category.KIDNAPPING),
    ("720", "Animal Cruelty", S, Category.OTHER),
    ("90A", "Bad Checks", R, Category.FRAUD),
    ("90B", "Curfew/Loitering/Vagrancy Violations", S, Category.PUBLIC_ORDER),
    ("90C", "Disorderly Conduct", S, Category.PUBLIC_ORDER),
    ("90D", "Driving Under the Influence", S, Category.DUI),
    ("90E", "Drunkenness", S, Category.PUBLIC_ORDER),
    ("90F", "Family Offenses, Nonviolent", S, Category.FAMILY_OFFENCE),
    ("90G", "Liquor Law Violations", S, Category.PUBLIC_ORDER),
    ("90H", "Peeping Tom", S, Category.SEX_OFFENCE),
    ("90J", "Trespass of Real Property", S, Category.PUBLIC_ORDER),
    ("90Z", "All Other Offenses", N, Category.OTHER),
)
