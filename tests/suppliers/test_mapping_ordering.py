"""Product mapping CSV import, unmapped variants, ordering policy, split by supplier, addresses."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.evidence.models import EvidenceEvent
from app.orders.service import apply_snapshot
from app.suppliers import address, mapping, ordering, service
from app.suppliers.models import Supplier
from app.suppliers.tables import MappingImport, OrderFlag, SupplierOrderLine, VariantMapping
from tests.factories import order_payload
from tests.suppliers.helpers import hold_outbox, kinds, paid_order, supplier_orders
from tests.suppliers.protocol_helpers import no_default_supplier

CSV = (
    "variant_id,sku,supplier,supplier_sku,supplier_variant,priority,unit_cost,currency,shipping_method\n"
    "8000,SKU-0,Main,SUP-A,,1,3.50,USD,CJPacket Ordinary\n"  # 2: good
    "abc,SKU-1,Main,SUP-B,,1,1,USD,\n"  # 3: bad variant id
    ",SKU-2,Nobody,SUP-C,,1,,,\n"  # 4: unknown supplier
    ",SKU-3,Main,SUP-D,,1,-2,USD,\n"  # 5: negative cost
    ",SKU-4,Main,SUP-E,,1,2.00,ABC,\n"  # 6: bad currency
    ",SKU-5,Backup,SUP-F,,2,,,\n"  # 7: good
    "8000,SKU-0,Main,SUP-A2,,1,,,\n"  # 8: duplicate of row 2
    ",,Main,SUP-G,,1,,,\n"  # 9: neither variant nor sku
    ",SKU-6,Main,,,1,,,\n"  # 10: no supplier sku
    ",SKU-7,main,SUP-H,,0,,,\n"  # 11: priority out of range
)


def _suppliers(db, shop) -> tuple[Supplier, Supplier]:
    main = Supplier(shop_id=shop.id, name="Main", protocol="generic")
    backup = Supplier(shop_id=shop.id, name="Backup", protocol="generic")
    db.add_all([main, backup])
    db.commit()
    return main, backup


def test_csv_with_bad_rows_reports_each_and_imports_the_good_ones(db, shop):
    _suppliers(db, shop)
    report = mapping.import_csv(db, shop, CSV.encode(), filename="map.csv")
    db.commit()
    assert (report.rows, report.imported, report.rejected) == (10, 2, 8)
    by_row = {p["row"]: (p["column"], p["reason"]) for p in report.problems}
    assert by_row[3][0] == "variant_id" and by_row[4][0] == "supplier" and by_row[5][0] == "unit_cost"
    assert by_row[6][0] == "currency" and "row 2" in by_row[8][1] and by_row[9][0] == "variant_id"
    assert by_row[10][0] == "supplier_sku" and by_row[11][0] == "priority"
    rows = db.scalars(select(VariantMapping).where(VariantMapping.shop_id == shop.id)).all()
    assert sorted(r.supplier_sku for r in rows) == ["SUP-A", "SUP-F"]
    (first,) = [r for r in rows if r.supplier_sku == "SUP-A"]
    assert (first.match_key, str(first.unit_cost), first.shipping_method) == ("v:8000", "3.5000", "CJPacket Ordinary")
    (record,) = db.scalars(select(MappingImport).where(MappingImport.shop_id == shop.id)).all()
    assert record.rejected == 8 and len(record.report) == 8
    (event,) = db.scalars(select(EvidenceEvent).where(EvidenceEvent.chain == shop.domain,
                                                      EvidenceEvent.kind == "mapping.imported")).all()
    assert event.data["imported"] == 2 and event.data["sha256"] == record.sha256
    # Importing again updates in place: still one mapping per variant and supplier.
    mapping.import_csv(db, shop, CSV.replace("3.50", "4.00").encode(), filename="map.csv")
    db.commit()
    assert len(db.scalars(select(VariantMapping).where(VariantMapping.shop_id == shop.id)).all()) == 2


def test_csv_without_required_columns_is_refused_whole(db, shop):
    report = mapping.import_csv(db, shop, b"sku,cost\nA,1\n", filename="bad.csv")
    assert report.imported == 0 and report.problems[0]["row"] == 1
    assert mapping.import_csv(db, shop, b"\xff\xfe", filename="bin.csv").problems[0]["reason"] == "not UTF-8 text"


def test_paid_order_with_unmapped_variant_is_flagged_and_listed(db, shop):
    no_default_supplier(db, shop)
    order = paid_order(db, shop)
    assert mapping.unmapped_lines(db, shop.id)[0]["sku"] == "SKU-0"
    service.plan_for_order(db, order)
    db.commit()
    assert supplier_orders(order.id) == []
    assert kinds(shop.domain, "supplier_order.unmapped") == ["supplier_order.unmapped"]
    (flag,) = db.scalars(select(OrderFlag).where(OrderFlag.order_id == order.id)).all()
    assert flag.kind == "unmapped"


def test_lines_split_by_supplier_one_order_each(db, shop):
    main, backup = _suppliers(db, shop)
    no_default_supplier(db, shop)
    mapping.import_csv(db, shop, (
        b"sku,supplier,supplier_sku,priority\nSKU-0,Main,M-0,1\nSKU-1,Backup,B-1,1\nSKU-1,Main,M-1,2\n"),
        filename="m.csv")
    db.commit()
    order = paid_order(db, shop, lines=2)
    service.plan_for_order(db, order)
    hold_outbox(db)
    db.commit()
    rows = {so.supplier_id: so for so in supplier_orders(order.id)}
    assert set(rows) == {main.id, backup.id}
    with get_sessionmaker()() as session:
        lines = {so_id: [(row.supplier_sku, row.quantity) for row in session.scalars(
            select(SupplierOrderLine).where(SupplierOrderLine.supplier_order_id == so_id))]
            for so_id in (rows[main.id].id, rows[backup.id].id)}
    assert lines == {rows[main.id].id: [("M-0", 1)], rows[backup.id].id: [("B-1", 2)]}


def test_manual_policy_holds_until_released(db, shop):
    shop.settings = {"ordering": {"policy": "manual"}}
    db.commit()
    order = paid_order(db, shop)
    service.plan_for_order(db, order)
    db.commit()
    assert supplier_orders(order.id) == []
    assert kinds(shop.domain, "order.flagged") == ["order.flagged.review"]
    service.plan_for_order(db, order)  # a second paid signal changes nothing
    assert supplier_orders(order.id) == []
    ordering.release(db, order)
    hold_outbox(db)
    db.commit()
    assert len(supplier_orders(order.id)) == 1


def test_review_above_risk_holds_what_the_risk_score_puts_above_the_threshold(db, shop):
    shop.settings = {"ordering": {"policy": "review_above_risk", "risk_threshold": 0.5}}
    db.commit()
    quiet = paid_order(db, shop)
    service.plan_for_order(db, quiet)  # an ordinary order scores well below 50 %
    hold_outbox(db)
    db.commit()
    assert len(supplier_orders(quiet.id)) == 1
    payload = order_payload(email="zq83920417@mailinator.com")
    payload["shipping_address"]["address1"] = "Shipito, 1010 Forwarding Way"
    payload["billing_address"] = {"first_name": "Max", "last_name": "Other", "country_code": "GB"}
    risky, _ = apply_snapshot(db, shop, "orders/paid", payload)
    db.commit()
    service.plan_for_order(db, risky)
    hold_outbox(db)
    db.commit()
    assert supplier_orders(risky.id) == []
    flag = db.scalar(select(OrderFlag).where(OrderFlag.order_id == risky.id))
    assert flag.kind == "review" and "parcel forwarder" in flag.reason and "50%" in flag.reason
    assert flag.data["risk_score"] >= 0.5 and "forwarder" in flag.data["risk_reasons"]


def _addr(**fields):
    base = {"name": "Ada Lovelace", "company": None, "address1": "1 Main St", "address2": None, "city": "Town",
            "province_code": None, "zip": None, "country_code": "US", "phone": None}
    return SimpleNamespace(**{**base, **fields})


@pytest.mark.parametrize(("fields", "expect"), [
    ({"country_code": "us", "province_code": "nj", "zip": "7030"}, {"country_code": "US", "zip": "07030"}),
    ({"country_code": "USA", "province_code": "US-CA", "zip": "941031234"}, {"province_code": "CA", "zip": "94103-1234"}),
    ({"country_code": "CA", "province_code": "ON", "zip": "k1a0b1"}, {"zip": "K1A 0B1"}),
    ({"country_code": "GB", "zip": "sw1a2aa", "phone": "020 7946 0958"}, {"zip": "SW1A 2AA", "phone": "+442079460958"}),
    ({"country_code": "FR", "zip": "75001", "phone": "06 12 34 56 78"}, {"phone": "+33612345678"}),
    ({"country_code": "DE", "zip": "1067"}, {"zip": "01067"}),
    ({"country_code": "ES", "zip": "28013"}, {"zip": "28013"}),
    ({"country_code": "AU", "province_code": "NSW", "zip": "2000"}, {"zip": "2000"}),
    ({"country_code": "NL", "zip": "1012ab"}, {"zip": "1012 AB"}),
    ({"country_code": "IT", "zip": "187"}, None),
    ({"country_code": "Germany", "zip": "10115"}, {"country_code": "DE"}),
    ({"country_code": "US", "province_code": "NJ", "zip": "ABCDE"}, None),
    ({"country_code": "US", "zip": "07030"}, None),  # no state
    ({"country_code": "CA", "province_code": "ON", "zip": "D1A 0B1"}, None),  # D is never a first letter
    ({"country_code": "ES", "zip": "53001"}, None),  # no province 53
    ({"country_code": "ZZ", "zip": "1"}, None),
    ({"country_code": "FR", "zip": "75001", "phone": "12"}, None),
    ({"country_code": "FR", "zip": "75001", "address1": " "}, None),
])
def test_address_normalisation(fields, expect):
    checked = address.check(_addr(**fields))
    if expect is None:
        assert not checked.ok and checked.problems and checked.fields
        return
    assert checked.ok, checked.problems
    for name, value in expect.items():
        assert getattr(checked.address, name) == value
