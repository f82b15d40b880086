"""The disputes API (session token; the shop from the token only) and the evidence document: its
text read back with pypdf, its pages and size within Shopify's limits."""

from __future__ import annotations

import io

from pypdf import PdfReader
from sqlalchemy import select

from app.disputes import document
from app.disputes.models import Dispute
from tests.disputes.scenario import delivered_with_partial_refund


def _id(db, shop, payload) -> int:
    return db.scalar(select(Dispute.id).where(Dispute.shop_id == shop.id, Dispute.external_id == str(payload["id"])))


def test_api_lists_details_and_renders_the_pack(db, shop, make_shop, client, post_webhook, auth_headers):
    order, shipment, payload = delivered_with_partial_refund(db, shop, client, post_webhook)
    dispute_id = _id(db, shop, payload)
    headers = auth_headers(shop.domain)

    listed = client.get("/api/disputes", headers=headers)
    assert listed.status_code == 200
    (row,) = listed.json()["disputes"]
    assert (row["id"], row["order"], row["reason"], row["complete"]) == (dispute_id, order.name,
                                                                         "product_not_received", True)

    detail = client.get(f"/api/disputes/{dispute_id}", headers=headers).json()
    assert {k: detail[k] for k in ("order", "reason", "network_reason_code", "amount", "currency", "status")} == {
        "order": order.name, "reason": "product_not_received", "network_reason_code": "13.1", "amount": "29.80",
        "currency": "USD", "status": "needs_response"}
    assert detail["evidence_due_by"] == payload["evidence_due_by"]  # the store's own time and offset
    pack = detail["pack"]
    assert pack["family"] == "not_received" and pack["complete"] is True
    assert set(pack["elements"][0]) >= {"key", "label", "present", "summary", "missing_reason"}
    by_key = {e["key"]: e for e in pack["elements"]}
    assert shipment.tracking_number in by_key["carrier_tracking"]["summary"]
    assert by_key["delivery_scan"]["present"] and by_key["delivery_scan"]["missing_reason"] is None
    assert pack["narrative"].startswith(f"Response to the chargeback {payload['id']}")

    pdf = client.get(f"/api/disputes/{dispute_id}/evidence.pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) <= document.MAX_PAGES and len(pdf.content) < 1024 * 1024
    for expected in ("Dispute response", "Response summary", order.name, shipment.tracking_number, "Carrier scans",
                     "Chicago, US", "Shenzhen, CN", "Ledger proof", "intact", "Refunds already given", "10.00 USD"):
        assert expected in text, expected
    assert "MISMATCH" not in text and "BROKEN" not in text
    assert "<pdfaid:part>2</pdfaid:part>" in reader.xmp_metadata.stream.get_data().decode()
    assert reader.trailer["/Root"]["/OutputIntents"]

    # Another shop's token sees none of it; no token is refused; a bad id is a 4xx.
    other = make_shop()
    assert client.get(f"/api/disputes/{dispute_id}", headers=auth_headers(other.domain)).status_code == 404
    assert client.get(f"/api/disputes/{dispute_id}/evidence.pdf", headers=auth_headers(other.domain)).status_code == 404
    assert client.get("/api/disputes", headers=auth_headers(other.domain)).json() == {"disputes": []}
    assert client.get(f"/api/disputes/{dispute_id}").status_code == 401
    assert client.get("/api/disputes/abc", headers=headers).status_code == 422


def _fonts(reader: PdfReader) -> list:
    """Every font dictionary on every page, descendants of Type0 fonts included."""
    found = []
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            found.append(font)
            found.extend(d.get_object() for d in font.get("/DescendantFonts") or [])
    return found


def test_the_document_is_pdf_a_with_embedded_fonts_and_keeps_non_latin_text():
    written = "Müller — Ωmega — 東京 — Ирина"
    pdf = document._Document(f"Dispute 1 - order #1001 {written}")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.heading("Messages sent to the customer")
    pdf.para(written)
    pdf.grid(("Time", "Channel", "Subject"), [("2026-12-01 10:00", "email", written)], widths=(40, 24, 114))
    reader = PdfReader(io.BytesIO(bytes(pdf.output())))

    xmp = reader.xmp_metadata.stream.get_data().decode()
    assert "<pdfaid:part>2</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    root = reader.trailer["/Root"]
    (intent,) = root["/OutputIntents"]
    assert intent.get_object()["/S"] == "/GTS_PDFA1" and "/DestOutputProfile" in intent.get_object()
    assert root["/Lang"] == "en" and not reader.is_encrypted
    fonts = _fonts(reader)
    assert fonts
    for font in fonts:
        if font["/Subtype"] == "/Type0":
            continue  # the descendant CIDFont carries the descriptor
        descriptor = font["/FontDescriptor"].get_object()
        assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), font["/BaseFont"]
    text = reader.pages[0].extract_text()
    assert text.count(written) == 3, text  # page header, paragraph, table cell


def test_core_fonts_are_refused_by_the_pdf_a_profile():
    import pytest
    from fpdf.errors import PDFAComplianceError

    pdf = document._Document("x")
    pdf.add_page()
    with pytest.raises(PDFAComplianceError):
        pdf.set_font("Helvetica", "", 10)
