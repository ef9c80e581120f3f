"""A document as a readable PDF (fpdf2): seller and customer, number and dates, each line
with the transactions or milestones it bills, the tax breakdown, the totals, the payment
terms and the bank account. A draft prints as a proforma marked DRAFT; a cancelled
document is marked CANCELLED.

The fonts (DejaVu Sans, shipped in fonts/) are embedded, and the page carries an sRGB
output intent, so that the Factur-X step only has to add its XML and metadata to make a
PDF/A-3B."""

import copy
from functools import cache
from io import BytesIO
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import OutputIntentSubType, TableBordersLayout, XPos, YPos
from fpdf.output import PDFICCProfile

from invoicer.documents import Document, Party

FONTS = Path(__file__).with_name("fonts")
FONT = "DejaVu"
GREY = (110, 110, 110)
CATEGORY_NAMES = {
    "S": "Standard rate", "Z": "Zero rated", "E": "Exempt", "AE": "Reverse charge",
    "K": "Intra-community supply", "G": "Export outside the EU", "O": "Not subject to VAT",
}


def title(doc: Document) -> str:
    kind = "Credit note" if doc.credit_note else "Invoice"
    if doc.status == "draft":
        return f"Proforma {kind.lower()} - DRAFT"
    if doc.status == "cancelled":
        return f"{kind} - CANCELLED"
    return kind


def render(doc: Document, pdfa: bool = False) -> bytes:
    pdf = _Page(doc)
    pdf.set_title(f"{title(doc)} {doc.number}")
    pdf.set_author(doc.seller.name)
    pdf.set_creator("invoicer")
    pdf.set_lang("en")
    if pdfa:
        pdf.add_output_intent(OutputIntentSubType.PDFA, "sRGB", "sRGB IEC61966-2.1", "http://www.color.org",
                              PDFICCProfile(_srgb_profile(), 3, "RGB"), "sRGB IEC61966-2.1")
    pdf.add_page()
    _parties(pdf, doc)
    _facts(pdf, doc)
    _lines(pdf, doc)
    _taxes_and_totals(pdf, doc)
    _payment(pdf, doc)
    return bytes(pdf.output())


class _Page(FPDF):
    def __init__(self, doc: Document):
        super().__init__(format="A4")
        self.doc = doc
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(True, margin=20)
        for style, file in (("", "DejaVuSans.ttf"), ("B", "DejaVuSans-Bold.ttf")):
            _add_font(self, style, FONTS / file)
        self.set_font(FONT, size=9)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FONT, size=7)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{title(self.doc)} {self.doc.number} - page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0)


def _parties(pdf: _Page, doc: Document) -> None:
    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 8, title(doc), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=9)
    top = pdf.get_y() + 3
    width = (pdf.epw - 10) / 2
    for x, heading, party in ((pdf.l_margin, "From", doc.seller), (pdf.l_margin + width + 10, "Bill to", doc.customer)):
        pdf.set_xy(x, top)
        pdf.set_text_color(*GREY)
        pdf.cell(width, 5, heading, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_text_color(0)
        pdf.set_font(FONT, "B", 10)
        pdf.multi_cell(width, 5, party.name, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(FONT, size=9)
        pdf.multi_cell(width, 4.5, "\n".join(_party_lines(party)) or " ", align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
        bottom = max(pdf.get_y(), top) if x == pdf.l_margin else max(pdf.get_y(), bottom)
    pdf.set_xy(pdf.l_margin, bottom + 4)


def _party_lines(party: Party) -> list[str]:
    place = " ".join(filter(None, (party.postcode, party.city)))
    lines = [text for text in (party.street, place, party.country) if text]
    for label, value in (("VAT id", party.vat_id), ("Tax registration", party.tax_registration),
                         ("Legal id", party.legal_id), ("Email", party.email),
                         ("Electronic address", party.electronic_address), ("Your reference", party.reference)):
        if value:
            lines.append(f"{label}: {value}")
    return lines


def _facts(pdf: _Page, doc: Document) -> None:
    start, end = doc.period
    facts = [("Number", doc.number), ("Issue date", _day(doc.issue_date)), ("Due date", _day(doc.due_date)),
             ("Contract", doc.contract), ("Invoice run date", doc.run_date.isoformat()),
             ("Invoicing period", f"{start.isoformat()} to {end.isoformat()}"), ("Currency", doc.currency)]
    if doc.credits:
        facts.insert(1, ("Credits invoice", doc.credits + (f" of {doc.credits_issue_date}" if doc.credits_issue_date else "")))
    if doc.reason:
        facts.append(("Reason", doc.reason))
    with pdf.table(col_widths=(35, 100), width=135, align="LEFT", borders_layout=TableBordersLayout.NONE,
                   first_row_as_headings=False, line_height=5) as table:
        for label, value in facts:
            row = table.row()
            row.cell(label, style=_style(color=GREY))
            row.cell(value)
    pdf.ln(4)


def _day(day) -> str:
    return day.isoformat() if day else "on confirmation"


def _lines(pdf: _Page, doc: Document) -> None:
    with pdf.table(col_widths=(92, 24, 22, 36), text_align=("LEFT", "LEFT", "LEFT", "RIGHT"), line_height=5,
                   borders_layout=TableBordersLayout.HORIZONTAL_LINES, headings_style=_style(bold=True)) as table:
        heading = table.row()
        for text in ("Description", "Date", "Tax", f"Amount ({doc.currency})"):
            heading.cell(text)
        for line in doc.lines:
            row = table.row(style=_style(bold=True))
            row.cell(line.name)
            row.cell("")
            row.cell(_rate(line.tax_category, line.tax_rate))
            row.cell(doc.money(line.amount))
            for item in line.items:
                row = table.row(style=_style(color=GREY, size=8))
                row.cell("    " + item.text)
                row.cell(item.date.isoformat())
                row.cell("")
                row.cell(doc.money(item.amount))
    pdf.ln(3)


def _rate(category: str | None, rate) -> str:
    if category is None:
        return "none"
    return category if category == "O" else f"{category} {rate:.2f}%"


def _taxes_and_totals(pdf: _Page, doc: Document) -> None:
    if doc.tax:
        with pdf.table(col_widths=(70, 24, 40, 40), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"), line_height=5,
                       borders_layout=TableBordersLayout.HORIZONTAL_LINES, headings_style=_style(bold=True)) as table:
            heading = table.row()
            for text in ("Tax", "Rate", "Taxable", "Tax amount"):
                heading.cell(text)
            for group in doc.tax:
                row = table.row()
                name = f"{group.category} {CATEGORY_NAMES.get(group.category, '')}".strip()
                row.cell(name + (f" ({group.exemption_reason})" if group.exemption_reason else ""))
                row.cell("" if group.rate is None else f"{group.rate:.2f}%")
                row.cell(doc.money(group.taxable))
                row.cell(doc.money(group.amount))
        pdf.ln(3)
    sign = "Credited" if doc.credit_note else "Total"
    with pdf.table(col_widths=(60, 40), width=100, align="RIGHT", text_align=("LEFT", "RIGHT"), line_height=6,
                   borders_layout=TableBordersLayout.NONE, first_row_as_headings=False) as table:
        for label, amount, bold in ((f"{sign} without tax", doc.total, False), ("Tax", doc.tax_total, False),
                                    (f"{sign} with tax ({doc.currency})", doc.total_with_tax, True)):
            row = table.row(style=_style(bold=bold))
            row.cell(label)
            row.cell(doc.money(amount))
    pdf.ln(4)


def _payment(pdf: _Page, doc: Document) -> None:
    lines = []
    if doc.payment_terms:
        lines.append(doc.payment_terms + ".")
    if doc.seller.iban:
        bank = f"Bank transfer to IBAN {doc.seller.iban}" + (f", BIC {doc.seller.bic}" if doc.seller.bic else "")
        lines.append(f"{bank}, quoting {doc.number}.")
    if lines:
        pdf.set_font(FONT, "B", 9)
        pdf.cell(0, 5, "Payment", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, size=9)
        pdf.multi_cell(0, 5, "\n".join(lines), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _style(bold: bool = False, color=(0, 0, 0), size: float = 9):
    from fpdf.fonts import FontFace

    return FontFace(family=FONT, emphasis="BOLD" if bold else None, color=color, size_pt=size)


# The OpenType layout tables (DejaVu's are large): fpdf2 lays text out without them (no
# text shaping here) and drops them from the font it embeds.
UNUSED_TABLES = ("GDEF", "GPOS", "GSUB")


def _add_font(pdf: FPDF, style: str, path: Path) -> None:
    """pdf.add_font(FONT, style, path), for less: what fpdf2 reads of the font (its
    character widths, its glyph ids, a cmap of thousands of entries) is read once a
    process and shared; each document gets its own fontTools font (the subset step cuts it
    down in place) and its own record of the glyphs it uses."""
    from fontTools import ttLib
    from fpdf.fonts import SubsetMap
    from fpdf.font_type_3 import get_color_font_object

    font = copy.copy(_parsed_font(style, path))
    font.i = len(pdf.fonts) + 1
    font.ttfont = ttLib.TTFont(BytesIO(_font_file(path)), recalcTimestamp=False, lazy=True)
    for table in UNUSED_TABLES:  # never read: the subset step would read them to drop them
        if table in font.ttfont:
            del font.ttfont[table]
    font.biggest_size_pt = 0
    font.missing_glyphs = []
    font._hbfont = None
    font.subset = SubsetMap(font)
    font.color_font = get_color_font_object(pdf, font, font.palette_index) if pdf.render_color_fonts else None
    pdf.fonts[font.fontkey] = font


@cache
def _parsed_font(style: str, path: Path):
    """The font as fpdf2's add_font reads it, once a process (see _add_font)."""
    scratch = FPDF()
    scratch.add_font(FONT, style, str(path))
    return scratch.fonts[f"{FONT.lower()}{style}"]


@cache
def _font_file(path: Path) -> bytes:
    return path.read_bytes()


@cache
def _srgb_profile() -> bytes:
    """An sRGB ICC profile, made by Pillow's LittleCMS (fpdf2 depends on Pillow)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
