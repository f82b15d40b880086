"""The evidence document: one PDF per pack, for the bank (and its fax machine).

Black text on white, no colour, 10 pt and up, tables with ruled lines: Shopify asks for evidence
readable without zooming and printable in black and white. The limits of the "scheme-safe" profile
(facts §1.3) are enforced here: at most MAX_PAGES pages (under Shopify's 50 and Amex's 20) and
photos downsampled to greyscale JPEG, so a pack stays well under 1 MB (Shopify: < 2 MB per file).

PDF/A-2b (Shopify asks for PDF/A): fpdf2's `enforce_compliance` writes the XMP identification and
an sRGB OutputIntent and refuses core fonts and encryption; the fonts in ./fonts (DejaVu Sans, and
Droid Sans Fallback for CJK) are embedded as subsets, so any customer's name or message prints as
written instead of being folded to Latin-1.

Pages: response summary, evidence checklist, timeline, carrier scans, messages, policy, photos, and
the ledger proof page (each cited event's digest and hash recomputed, and the chain check result).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy.orm import Session

from app.disputes.packs import FAMILY_LABELS, Pack, day, money, when
from app.disputes.reasons import REASON_LABELS
from app.evidence import canonical as c
from app.evidence import kinds
from app.evidence import service as evidence
from app.resolutions import uploads

MAX_PAGES = 20
MAX_BYTES = 2 * 1024 * 1024
PHOTO_PIXELS = 900
_BODY, _SMALL = 10, 8
COMPLIANCE = "PDFA_2B"
_FONTS = Path(__file__).with_name("fonts")
_SANS, _MONO, _FALLBACK = "DejaVuSans", "DejaVuSansMono", "DroidSansFallback"


@dataclass
class Rendered:
    data: bytes
    pages: int

    @property
    def within_limits(self) -> bool:
        return self.pages <= MAX_PAGES and len(self.data) <= MAX_BYTES


def plain(text: object) -> str:
    """The text as given (the embedded fonts carry it); None prints as nothing."""
    return str(text if text is not None else "")


class _Document(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4", enforce_compliance=COMPLIANCE)
        self.add_font(_SANS, "", _FONTS / "DejaVuSans.ttf")
        self.add_font(_SANS, "B", _FONTS / "DejaVuSans-Bold.ttf")
        self.add_font(_MONO, "", _FONTS / "DejaVuSansMono.ttf")
        self.add_font(_FALLBACK, "", _FONTS / "DroidSansFallback.ttf")
        # Glyphs DejaVu lacks (Chinese, Japanese, Korean) come from the fallback font.
        self.set_fallback_fonts([_FALLBACK], exact_match=False)
        self.set_lang("en")
        self.title_text = title
        self.set_auto_page_break(auto=True, margin=16)
        self.set_margins(16, 16, 16)
        self.set_title(title)
        self.set_creator("Dropguard")
        self.set_text_color(0, 0, 0)
        self.set_draw_color(0, 0, 0)

    def header(self) -> None:
        self.set_font(_SANS, "", _SMALL)
        self.cell(0, 5, plain(self.title_text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_SANS, "", _SMALL)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")

    def heading(self, text: str) -> None:
        self.set_font(_SANS, "B", 13)
        self.cell(0, 8, plain(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(_SANS, "", _BODY)

    def para(self, text: str, size: int = _BODY) -> None:
        self.set_font(_SANS, "", size)
        self.multi_cell(0, 5, plain(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def fit(self, text: str, width: float) -> str:
        """The text cut (with "...") to one line of `width` mm in the current font."""
        text = plain(text).replace("\n", " ")
        if self.get_string_width(text) <= width - 1.5:
            return text
        low, high = 0, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if self.get_string_width(text[:middle] + "...") <= width - 1.5:
                low = middle
            else:
                high = middle - 1
        return text[:low] + "..."

    def grid(self, header: tuple[str, ...], rows: list[tuple[str, ...]], widths: tuple[float, ...],
             size: int = 9, height: float = 4.6) -> None:
        """A ruled table of one-line cells, drawn directly (fpdf2's table() wraps every cell, which
        costs seconds for a few hundred rows): long rows are long lists, not long cells."""
        def head() -> None:
            self.set_font(_SANS, "B", size)
            for width, title in zip(widths, header, strict=True):
                self.cell(width, height + 0.6, self.fit(title, width), border="B")
            self.ln(height + 0.6)
            self.set_font(_SANS, "", size)

        head()
        for values in rows:
            if self.get_y() + height > self.page_break_trigger:
                self.add_page()
                head()
            for width, value in zip(widths, values, strict=True):
                self.cell(width, height, self.fit(value, width), border="B")
            self.ln(height)
        self.ln(3)

    def table_rows(self, header: tuple[str, ...], rows: list[tuple[str, ...]], widths: tuple[int, ...] | None = None,
                   size: int = _BODY) -> None:
        self.set_font(_SANS, "", size)
        with self.table(col_widths=widths, text_align="LEFT", line_height=4.6, first_row_as_headings=True) as table:
            head = table.row()
            for cell in header:
                head.cell(plain(cell))
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(plain(value))
        self.ln(3)


def _summary(pdf: _Document, pack: Pack, narrative_text: str) -> None:
    d, order = pack.dispute, pack.order
    pdf.add_page()
    pdf.heading("Dispute response")
    facts = [
        ("Dispute", f"{d.kind or 'dispute'} {d.external_id}"),
        ("Reason", f"{REASON_LABELS.get(d.reason or '', d.reason or 'unspecified')}"
                   + (f" (network code {d.network_reason_code})" if d.network_reason_code else "")),
        ("Amount disputed", money(d.amount, d.currency)),
        ("Order", f"{order.name}, {money(order.total_price, order.currency)}, placed "
                  f"{day(order.placed_at or order.created_at)}" if order else "not in the shop's records"),
        ("Refunded before", money(pack.refunded, d.currency)),
        ("Evidence due by", when(d.evidence_due_by)),
        ("Evidence family", FAMILY_LABELS[pack.family]),
    ]
    pdf.table_rows(("Fact", "Value"), facts, widths=(45, 133))
    pdf.heading("Response summary")
    pdf.para(narrative_text)


def _checklist(pdf: _Document, pack: Pack) -> None:
    pdf.add_page()
    pdf.heading("Evidence, element by element")
    rows = [(e.label, "present" if e.present else "not available", e.summary) for e in pack.elements]
    pdf.table_rows(("Element", "Status", "What the records show"), rows, widths=(48, 24, 106), size=9)


def _timeline(pdf: _Document, pack: Pack) -> None:
    pdf.heading("Timeline of cited records")
    rows = []
    # Carrier scans have their own table below; the timeline names the other records.
    for event in sorted((e for e in pack.cited if e.kind != "tracking.scan"), key=lambda e: e.occurred_at):
        known = kinds.get(event.kind)
        rows.append((when(event.occurred_at), event.kind.replace("_", " ").replace(".", ": "),
                     known.stage if known else "", str(event.seq)))
    pdf.grid(("Time", "Record", "Stage", "Ledger #"), rows or [("-", "no record cited", "", "")],
             widths=(40, 90, 26, 22))


def _scans(pdf: _Document, pack: Pack) -> None:
    if not pack.scans:
        return
    pdf.heading("Carrier scans")
    rows = [(when(s.time), s.place or "place not given", s.description or s.status or "") for s in pack.scans]
    pdf.grid(("Time", "Place", "Carrier's words"), rows, widths=(40, 50, 88))


def _element_table(pdf: _Document, pack: Pack, key: str, title: str, header: tuple[str, ...],
                   widths: tuple[int, ...]) -> None:
    element = pack.element(key)
    if element is None or not element.present:
        return
    pdf.heading(title)
    pdf.para(element.summary)
    if element.rows:
        pdf.grid(header, element.rows, widths=widths)


def _photos(pdf: _Document, pack: Pack) -> None:
    from PIL import Image, ImageOps

    element = pack.element("claim_photos")
    if element is None or not element.rows:
        return
    added = 0
    for name, _, _ in element.rows:
        path = uploads.path_of(pack.dispute.shop_id, name)
        if path is None:
            continue
        with Image.open(path) as image:
            grey = ImageOps.exif_transpose(image).convert("L")
            grey.thumbnail((PHOTO_PIXELS, PHOTO_PIXELS))
            buffer = io.BytesIO()
            grey.save(buffer, format="JPEG", quality=70)
        if added == 0:
            pdf.add_page()
            pdf.heading("Photos from the customer's claim")
        pdf.image(io.BytesIO(buffer.getvalue()), w=min(178, 178 * grey.width / PHOTO_PIXELS))
        pdf.ln(3)
        added += 1


def _proof(pdf: _Document, session: Session, pack: Pack) -> None:
    pdf.add_page()
    pdf.heading("Ledger proof")
    report = evidence.verify_chain(session, pack.chain) if pack.cited else None
    if report is None:
        pdf.para("No ledger record is cited.")
        return
    verdict = ("intact" if report.intact else f"BROKEN at record {report.broken_seq}: {report.reason}")
    pdf.para(f"Every record above is an event in the shop's hash-chained evidence ledger (chain "
             f"'{pack.chain}'). Each event's digest is SHA-256 of its RFC 8785 canonical content; its hash "
             f"links that digest to the previous event's hash. Chain check of all {report.checked} records: "
             f"{verdict}. The verifiable export of this pack lets anyone recompute these values offline.", size=9)
    pdf.set_font(_SANS, "B", 8)
    for width, title in ((12, "#"), (50, "Record"), (100, "Digest, then hash (SHA-256)"), (16, "Check")):
        pdf.cell(width, 5, title, border="B")
    pdf.ln(5)
    line = 3.2
    for event in pack.cited:
        digest_ok = c.content_digest(chain=event.chain, kind=event.kind, source=event.source, order_id=event.order_id,
                                     occurred_at=event.occurred_at, data=event.data,
                                     personal_digest=event.personal_digest, version=event.hash_version) == event.digest
        link_ok = c.link_hash(prev_hash=event.prev_hash, seq=event.seq, recorded_at=event.recorded_at,
                              digest=event.digest, version=event.hash_version) == event.hash
        if pdf.get_y() + 2 * line > pdf.page_break_trigger:
            pdf.add_page()
        x, y = pdf.get_x(), pdf.get_y()
        pdf.set_font(_SANS, "", 8)
        pdf.cell(12, line, str(event.seq))
        pdf.cell(50, line, pdf.fit(event.kind, 50))
        pdf.set_font(_MONO, "", 6.5)
        pdf.cell(100, line, event.digest)
        pdf.set_font(_SANS, "", 8)
        pdf.cell(16, line, "ok" if digest_ok and link_ok else "MISMATCH")
        pdf.set_xy(x + 62, y + line)
        pdf.set_font(_MONO, "", 6.5)
        pdf.cell(100, line, event.hash)
        pdf.set_xy(x, y + 2 * line)
        pdf.line(x, y + 2 * line, x + 178, y + 2 * line)
    pdf.set_font(_SANS, "", _BODY)


def render(session: Session, pack: Pack, narrative_text: str) -> Rendered:
    d = pack.dispute
    pdf = _Document(f"Dispute {d.external_id} - order {pack.order.name if pack.order else 'unknown'}")
    pdf.alias_nb_pages()
    _summary(pdf, pack, narrative_text)
    _checklist(pdf, pack)
    pdf.add_page()
    _timeline(pdf, pack)
    _scans(pdf, pack)
    _element_table(pdf, pack, "messages", "Messages sent to the customer", ("Time", "Channel", "Subject"), (40, 24, 114))
    _element_table(pdf, pack, "return_policy", "Policy shown to the customer", ("",), (178,))
    _element_table(pdf, pack, "refunds", "Refunds already given", ("Date", "Amount", "Status"), (40, 60, 78))
    _photos(pdf, pack)
    _proof(pdf, session, pack)
    data = bytes(pdf.output())
    return Rendered(data=data, pages=pdf.page_no())
