"""Verification postcards as a PDF: one 6 x 4 inch card a page, for staff to print and mail.

The text is set in DejaVu Sans when the system has it (Debian's fonts-dejavu-core), so names
and addresses in any Latin, Greek or Cyrillic script print as written; without it, in the PDF
core font Helvetica, where characters outside Latin-1 print as "?".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from fpdf import FPDF

# A postcard, in inches (US postcard size; landscape).
WIDTH_IN, HEIGHT_IN = 6.0, 4.0
MARGIN_IN = 0.3
# fontTools reports every glyph it subsets at INFO: noise in the server's log.
logging.getLogger("fontTools").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Postcard:
    """What one card says."""

    name: str
    address: str
    area: str
    code: str
    verify_url: str


def _font(pdf: FPDF) -> str:
    path = Path(str(settings.WATCHHOUSE_POSTCARD_FONT))
    if path.is_file():
        pdf.add_font("Card", "", str(path))
        return "Card"
    return "Helvetica"


def _text(value: str, font: str) -> str:
    if font == "Helvetica":
        return value.encode("latin-1", "replace").decode("latin-1")
    return value


def code_spaced(code: str) -> str:
    """The code in two halves, as printed ("ABCD EFGH"), easier to read and type."""
    half = len(code) // 2
    return f"{code[:half]} {code[half:]}"


def postcards_pdf(cards: list[Postcard], *, agency: str) -> bytes:
    """The PDF of ``cards``, one a page: the agency, the resident's name and address (the
    mailing side), the code and where to enter it."""
    pdf = FPDF(orientation="L", unit="in", format=(HEIGHT_IN, WIDTH_IN))
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(MARGIN_IN, MARGIN_IN, MARGIN_IN)
    pdf.set_title(_("Verification postcards"))
    pdf.set_creator("Watchhouse")
    font = _font(pdf)
    inner = WIDTH_IN - 2 * MARGIN_IN
    for card in cards:
        pdf.add_page()
        pdf.set_xy(MARGIN_IN, MARGIN_IN)
        pdf.set_font(font, size=9)
        pdf.multi_cell(inner / 2, 0.18, _text(agency, font))
        # The mailing address, on the right half as on any postcard.
        pdf.set_xy(MARGIN_IN + inner / 2, 1.1)
        pdf.set_font(font, size=11)
        pdf.multi_cell(inner / 2, 0.22, _text(f"{card.name}\n{card.address}", font))
        # The message, on the left half.
        pdf.set_xy(MARGIN_IN, 1.1)
        pdf.set_font(font, size=9)
        message = _(
            "To finish joining %(area)s, sign in at the address below and enter this code:"
        ) % {"area": card.area}
        pdf.multi_cell(inner / 2 - 0.2, 0.18, _text(message, font))
        pdf.set_x(MARGIN_IN)
        pdf.set_font(font, size=20)
        pdf.cell(inner / 2 - 0.2, 0.5, code_spaced(card.code), new_x="LMARGIN", new_y="NEXT")
        # The whole width: an address broken over two lines is hard to type.
        pdf.set_font(font, size=9)
        pdf.multi_cell(inner, 0.18, _text(card.verify_url, font))
        pdf.set_xy(MARGIN_IN, HEIGHT_IN - MARGIN_IN - 0.4)
        pdf.set_font(font, size=7)
        pdf.multi_cell(
            inner / 2 - 0.2,
            0.13,
            _text(
                _("The code works for this address only. If you did not ask to join, ignore it."),
                font,
            ),
        )
    return bytes(pdf.output())
