"""`dropguard suppliers add` and `dropguard suppliers import-mapping`."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.suppliers.adapters import supplier_secrets
from app.suppliers.models import Supplier
from app.suppliers.tables import VariantMapping


def test_add_a_supplier_then_import_a_mapping_with_a_bad_row(db, shop, tmp_path):
    runner = CliRunner()
    added = runner.invoke(cli, ["suppliers", "add", shop.domain, "CJ main", "--protocol", "cj",
                                "--setting", "open_id=42", "--secret", "api_key=CJ-KEY"])
    assert added.exit_code == 0, added.output
    supplier = db.scalar(select(Supplier).where(Supplier.shop_id == shop.id, Supplier.name == "CJ main"))
    assert supplier.settings["open_id"] == "42" and "CJ-KEY" not in str(supplier.settings)
    assert supplier_secrets(supplier) == {"api_key": "CJ-KEY"}
    csv_path = tmp_path / "map.csv"
    csv_path.write_text("sku,supplier,supplier_sku,priority\nSKU-0,CJ main,VID-1,1\nSKU-1,CJ main,VID-2,x\n")
    result = runner.invoke(cli, ["suppliers", "import-mapping", shop.domain, str(csv_path)])
    assert result.exit_code == 1
    assert "row 3, column priority" in result.output and "1 imported, 1 rejected" in result.output
    assert db.scalars(select(VariantMapping.supplier_sku).where(VariantMapping.shop_id == shop.id)).all() == ["VID-1"]
    assert runner.invoke(cli, ["suppliers", "import-mapping", "nope.myshopify.com", str(csv_path)]).exit_code == 2
