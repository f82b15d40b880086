"""`dropguard suppliers ...`: register suppliers and import product mappings from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from app.db import session_scope
from app.shops.models import Shop
from app.suppliers import mapping
from app.suppliers.adapters import PROTOCOLS, set_secret
from app.suppliers.models import Supplier

suppliers_cli = typer.Typer(help="Suppliers and product mapping.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"dropguard: {message}", err=True)
    raise typer.Exit(code)


def _shop(session, domain: str) -> Shop:
    shop = session.scalar(select(Shop).where(Shop.domain == domain.strip().lower()))
    if shop is None:
        _fail(f"no shop {domain}")
    return shop


@suppliers_cli.command("import-mapping")
def import_mapping(
    domain: Annotated[str, typer.Argument(help="The shop's *.myshopify.com domain")],
    path: Annotated[Path, typer.Argument(help="CSV: variant_id,sku,supplier,supplier_sku,supplier_variant,"
                                              "priority,unit_cost,currency,shipping_method")],
) -> None:
    """Import variant -> supplier product mappings; bad rows are reported, good rows imported."""
    try:
        data = path.read_bytes()
    except OSError as error:
        _fail(f"cannot read {path}: {error.strerror}")
    with session_scope() as session:
        report = mapping.import_csv(session, _shop(session, domain), data, filename=path.name)
    for problem in report.problems:
        typer.echo(f"row {problem['row']}, column {problem['column']}: {problem['reason']}", err=True)
    typer.echo(f"{report.rows} rows: {report.imported} imported, {report.rejected} rejected (import {report.import_id})")
    if report.rejected:
        raise typer.Exit(1)


@suppliers_cli.command("add")
def add(
    domain: Annotated[str, typer.Argument(help="The shop's *.myshopify.com domain")],
    name: Annotated[str, typer.Argument(help="Name used in mapping CSVs")],
    protocol: Annotated[str, typer.Option(help="generic | aliexpress | cj")] = "generic",
    setting: Annotated[list[str] | None, typer.Option(help="KEY=VALUE (base_url, app_key, open_id, ...)")] = None,
    secret: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, stored encrypted (api_key, app_secret, ...)")] = None,
    default: Annotated[bool, typer.Option("--default", help="Take lines no mapping names")] = False,
) -> None:
    """Register a supplier for a shop (credentials fall back to configuration when not given)."""
    if protocol not in PROTOCOLS:
        _fail(f"protocol must be one of {', '.join(PROTOCOLS)}")
    pairs = [item.partition("=") for item in (setting or []) + (secret or [])]
    if any(not sep or not key for key, sep, _ in pairs):
        _fail("settings and secrets are KEY=VALUE")
    secrets = dict(item.partition("=")[::2] for item in secret or [])
    unknown = set(secrets) - set(PROTOCOLS[protocol].secret_names)
    if unknown:
        _fail(f"unknown secret(s) for {protocol}: {', '.join(sorted(unknown))}")
    with session_scope() as session:
        shop = _shop(session, domain)
        if session.scalar(select(Supplier).where(Supplier.shop_id == shop.id, Supplier.name == name)):
            _fail(f"{shop.domain} already has a supplier named {name!r}")
        supplier = Supplier(shop_id=shop.id, name=name, protocol=protocol, is_default=default,
                            settings=dict(item.partition("=")[::2] for item in setting or []))
        for key, value in secrets.items():
            set_secret(supplier, key, value)
        if default:
            for other in session.scalars(select(Supplier).where(Supplier.shop_id == shop.id, Supplier.is_default)):
                other.is_default = False
        session.add(supplier)
        session.flush()
        typer.echo(f"supplier {name} ({protocol}) added to {shop.domain} (id {supplier.id})")
