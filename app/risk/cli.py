"""`dropguard risk ...`: train a shop's model from the shell and see how it did."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from app.db import session_scope
from app.shops.models import Shop

risk_cli = typer.Typer(help="Risk of refunds and chargebacks: per-shop models.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"dropguard: {message}", err=True)
    raise typer.Exit(code)


def _shop_id(domain: str) -> int:
    with session_scope() as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == domain.strip().lower(),
                                                       Shop.status == "installed"))
    if shop_id is None:
        _fail(f"{domain} is not an installed shop")
    return shop_id


@risk_cli.command("train")
def train(
    shop: Annotated[str, typer.Option("--shop", help="The shop's *.myshopify.com domain")],
) -> None:
    """Train the shop's model on its own outcomes, evaluate it on the latest period, re-score open orders."""
    from app.risk.service import train_and_rescore

    report = train_and_rescore(_shop_id(shop))
    if report.status == "skipped":
        typer.echo(f"{report.shop}: not trained ({report.reason}); the rules keep scoring. "
                   f"Re-scored {report.rescored} open orders.")
        return
    evaluation = report.evaluation
    test = evaluation["periods"]["test"]
    learned, rules = evaluation["learned"], evaluation["rules"]
    typer.echo(
        f"{report.shop}: model {report.version} {report.status}"
        + (f" ({report.reason})" if report.reason else "") + "\n"
        f"  held-out period {test['from'][:10]} to {test['to'][:10]}: {test['orders']} orders, "
        f"{evaluation['positives']['test']} refunded or disputed\n"
        f"  learned: ROC AUC {learned['auc']:.3f}, Brier {learned['brier']:.4f}\n"
        f"  rules:   ROC AUC {rules['auc']:.3f}, Brier {rules['brier']:.4f}\n"
        f"  base rate Brier {evaluation['base_rate_brier']:.4f} (calibration: {evaluation['calibration_method']})\n"
        f"  re-scored {report.rescored} open orders"
    )
