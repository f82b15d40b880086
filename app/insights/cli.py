"""`dropguard insights ...`: the classifier's figures, one text classified, and a shop's rebuild."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy import select

from app.db import session_scope
from app.shops.models import Shop

insights_cli = typer.Typer(help="Insights: complaint classifier and aggregates.", no_args_is_help=True)


@insights_cli.command("evaluate")
def evaluate(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False) -> None:
    """Train on the shipped set's training part; report macro-F1 per language on its held-out part."""
    from app.insights.evaluation import evaluate as run

    result = run()
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    typer.echo(f"trained on {result.training_messages} messages, scored on {result.held_out_messages} held out")
    for s in result.languages:
        typer.echo(f"{s.language}: reason macro-F1 {s.reason_macro_f1:.3f}  urgent F1 {s.urgent_f1:.3f}  "
                   f"language accuracy {s.language_accuracy:.3f}  ({s.messages} messages)")
    typer.echo(f"mixed languages: {result.mixed_held_out_accuracy:.3f} accuracy on {result.mixed_held_out} held out; "
               f"{result.mixed_unseen_accuracy:.3f} on all {result.mixed_unseen} for a model that saw none")
    typer.echo(f"{result.ms_per_message:.2f} ms per message")


@insights_cli.command("classify")
def classify(text: Annotated[str, typer.Argument(help="A customer's message")]) -> None:
    """Classify one message with the shipped model (no shop's corrections)."""
    from app.insights import classifier

    if not text.strip():
        typer.echo("dropguard: the text is empty", err=True)
        raise typer.Exit(2)
    result = classifier.base_model().classify(text)
    typer.echo(json.dumps({**result.as_api(), "because": list(result.because)}, ensure_ascii=False))


@insights_cli.command("rebuild")
def rebuild(domain: Annotated[str, typer.Argument(help="The shop's *.myshopify.com domain")]) -> None:
    """Recompute a shop's insight facts and aggregates from its source rows."""
    from app.insights import aggregates

    with session_scope() as session:
        shop = session.scalar(select(Shop).where(Shop.domain == domain.strip().lower()))
        if shop is None:
            typer.echo(f"dropguard: no shop {domain}", err=True)
            raise typer.Exit(2)
        count = aggregates.rebuild_shop(session, shop.id)
    typer.echo(f"{count} orders recomputed for {domain}")
