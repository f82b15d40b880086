"""The `dropguard` command."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Annotated

import redis.exceptions
import sqlalchemy.exc
import typer

import app.models  # noqa: F401 - every mapper configured before a command opens a session
from app.config import ConfigError, get_settings
from app.insights.cli import insights_cli
from app.risk.cli import risk_cli
from app.suppliers.cli import suppliers_cli

cli = typer.Typer(help="Dropguard: fewer refunds and chargebacks, with proof of everything.", no_args_is_help=True)
shops_cli = typer.Typer(help="Manage shops.", no_args_is_help=True)
ledger_cli = typer.Typer(help="Inspect the evidence ledger.", no_args_is_help=True)
cli.add_typer(shops_cli, name="shops")
cli.add_typer(ledger_cli, name="ledger")
cli.add_typer(suppliers_cli, name="suppliers")
cli.add_typer(risk_cli, name="risk")
cli.add_typer(insights_cli, name="insights")


_OWNED_METRICS_DIR = "_DROPGUARD_WORKER_METRICS_DIR"


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"dropguard: {message}", err=True)
    raise typer.Exit(code)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Web processes")] = 1,
) -> None:
    """Run the web app (webhooks, merchant API and pages, status pages)."""
    import uvicorn

    get_settings()
    uvicorn.run(
        "app.main:create_app", factory=True, host=host, port=port, workers=workers,
        log_level="warning", access_log=False, proxy_headers=True,
    )


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Pool processes")] = 4,
    queues: Annotated[str, typer.Option(help="Comma-separated queues")] = "",
    beat: Annotated[bool, typer.Option("--beat", help="Also run the beat scheduler (one per deployment)")] = False,
) -> None:
    """Run a Celery worker on the named queues (all by default)."""
    settings = get_settings()
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus_client picks its multiprocess mode when it is imported, and this CLI has
        # imported it already: start again with a fresh directory set, where every pool process
        # writes its samples and from which one endpoint serves them merged.
        metrics_dir = tempfile.mkdtemp(prefix="dropguard-worker-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ[_OWNED_METRICS_DIR] = metrics_dir
        os.execv(sys.executable, [sys.executable, "-m", "app.cli", *sys.argv[1:]])  # noqa: S606
    from app import logs, ops
    from app.queues import QUEUES
    from app.worker import celery_app

    logs.configure(settings.log_level, settings.log_json)
    ops.serve_worker_metrics(settings.worker_metrics_host, settings.worker_metrics_port)
    argv = [
        "worker", f"--concurrency={concurrency}", "--pool=prefork", f"--loglevel={settings.log_level}",
        f"--queues={queues or ','.join(QUEUES)}", "--without-gossip", "--without-mingle",
    ]
    if beat:
        argv.append("--beat")
    try:
        celery_app.worker_main(argv)
    finally:
        # Only the directory made above; one given by the operator is theirs.
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
        if os.environ.get(_OWNED_METRICS_DIR) == metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@cli.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = 8100,
) -> None:
    """Run the sandbox (store, suppliers, carriers, mail catcher) as its own process; point
    DROPGUARD_SANDBOX_URL at http://HOST:PORT/sandbox so the web app does not mount it too."""
    import uvicorn

    if not get_settings().sandbox:
        fail("the sandbox needs DROPGUARD_SANDBOX=true")
    uvicorn.run(
        "app.sandbox.app:create_standalone_app", factory=True, host=host, port=port,
        log_level="warning", access_log=False,
    )


@cli.command()
def beat() -> None:
    """Run the beat scheduler (outbox sweeper and periodic jobs). Run exactly one."""
    from app import logs
    from app.worker import celery_app

    settings = get_settings()
    logs.configure(settings.log_level, settings.log_json)
    celery_app.start(["beat", f"--loglevel={settings.log_level}"])


@cli.command()
def run(
    port: Annotated[int, typer.Option(help="Web port")] = 8000,
    orders_per_minute: Annotated[float, typer.Option(help="Demo trickle of simulated orders; 0 for none")] = 6.0,
) -> None:
    """Start everything: embedded PostgreSQL and Redis (unless configured), migrations, web, worker,
    beat, the sandbox with a demo shop and a trickle of simulated orders."""
    from app.runner import run_all

    run_all(port=port, orders_per_minute=orders_per_minute)


@cli.command()
def simulate(
    orders: Annotated[int, typer.Option("--orders", min=1, help="How many orders")] = 10,
    rate: Annotated[float, typer.Option("--rate", min=0.01, help="Orders per second")] = 1.0,
    shop: Annotated[str, typer.Option("--shop", help="Demo shop domain")] = "demo-dropguard.myshopify.com",
    seed: Annotated[int | None, typer.Option(help="Random seed, for repeatable runs")] = None,
) -> None:
    """Drive realistic orders through the sandbox store, which sends them here as signed webhooks."""
    from app.sandbox.simulate import simulate_orders

    get_settings()
    summary = simulate_orders(orders=orders, rate=rate, shop_domain=shop, seed=seed)
    typer.echo(summary)


@cli.command()
def migrate() -> None:
    """Apply database migrations up to head."""
    from app.migrate import upgrade_to_head

    get_settings()
    upgrade_to_head()
    typer.echo("database at head")


@shops_cli.command("add")
def shops_add(
    domain: Annotated[str, typer.Argument(help="The shop's *.myshopify.com domain")],
    access_token: Annotated[str, typer.Option("--access-token", help="Offline Admin API token")],
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
) -> None:
    """Register a shop for development and tests (installs come from the store otherwise)."""
    from app.db import session_scope
    from app.errors import AppError
    from app.shops.service import add_shop

    get_settings()
    try:
        with session_scope() as session:
            shop = add_shop(session, domain=domain, access_token=access_token, name=name)
            typer.echo(f"shop {shop.domain} registered (id {shop.id})")
    except AppError as error:
        fail(error.message)


@shops_cli.command("import")
def shops_import(
    domain: Annotated[str, typer.Argument(help="The shop's *.myshopify.com domain")],
    since: Annotated[str, typer.Option("--since", help="How far back, in days (e.g. 365d)")] = "365d",
) -> None:
    """Import past orders, refunds, fulfilments and disputes; resumes after an interruption."""
    from datetime import timedelta

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from app.db import get_sessionmaker, utcnow
    from app.history.service import run_import
    from app.shops.admin_client import AdminError
    from app.shops.service import get_by_domain
    from app.shops.tokens import TokenError

    get_settings()
    if not since.endswith("d") or not since[:-1].isdigit() or int(since[:-1]) < 1:
        fail("--since takes a number of days, like 365d")
    with get_sessionmaker()() as session:
        shop = get_by_domain(session, domain.strip().lower())
    if shop is None or not shop.is_installed:
        fail(f"{domain} is not an installed shop")
    start = utcnow() - timedelta(days=int(since[:-1]))
    # Whole days: a re-run the same day continues the same window instead of starting over.
    start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[detail]}")) as progress:
        task = progress.add_task(f"importing {shop.domain}", total=None, detail="")

        def show(state: dict) -> None:
            progress.update(task, total=state.get("orders_total"), completed=state["orders_seen"],
                            detail=f"refunds {state['refunds']} fulfilments {state['fulfillments']} "
                                   f"disputes {state['disputes']}")

        try:
            outcome = run_import(shop.id, since=start, on_page=show)
        except (AdminError, TokenError) as error:
            fail(f"import stopped (run again to resume): {error.message}", code=1)
    typer.echo(f"{shop.domain}: {outcome}")


@shops_cli.command("rotate-keys")
def shops_rotate_keys() -> None:
    """Re-encrypt stored tokens with the newest DROPGUARD_ENCRYPTION_KEYS key."""
    from app.db import session_scope
    from app.shops.service import rotate_keys

    get_settings()
    with session_scope() as session:
        count = rotate_keys(session)
    typer.echo(f"re-encrypted the tokens of {count} shops")


@ledger_cli.command("verify-pack")
def ledger_verify_pack(
    file: Annotated[typer.FileBinaryRead, typer.Argument(help="A dispute's evidence export (evidence-export.json)")],
) -> None:
    """Check a dispute's evidence export offline (no database): every cited event's digest and every
    link between them; exit 1 naming the first problem."""
    from app.disputes.export import verify

    verdict = verify(file.read())
    if not verdict.ok:
        typer.echo(f"REFUSED: {verdict.reason}", err=True)
        raise typer.Exit(1)
    typer.echo(f"OK: {verdict.events} events and {verdict.links} links verified, chain records "
               f"{verdict.first_seq} to {verdict.last_seq}")


@ledger_cli.command("verify")
def ledger_verify(
    shop: Annotated[str | None, typer.Option("--shop", help="Only this shop's chain (its domain)")] = None,
) -> None:
    """Recompute every digest and link; exit 1 naming the first broken event."""
    from app.db import get_sessionmaker
    from app.evidence.service import chains, verify_chain

    get_settings()
    with get_sessionmaker()() as session:
        names = [shop] if shop else chains(session)
        checked, broken = 0, []
        for chain in names:
            report = verify_chain(session, chain)
            checked += report.checked
            if not report.intact:
                broken.append(report)
    if shop and checked == 0:
        fail(f"no evidence events for {shop}", code=1)
    if broken:
        for report in broken:
            typer.echo(
                f"BROKEN {report.chain}: event {report.broken_event_id} (seq {report.broken_seq}): {report.reason}",
                err=True,
            )
        typer.echo(f"checked {checked} events in {len(names)} chains; {len(broken)} broken")
        raise typer.Exit(1)
    typer.echo(f"checked {checked} events in {len(names)} chains; all intact")


@ledger_cli.command("check-digests")
def ledger_check_digests(
    shop: Annotated[str | None, typer.Option("--shop", help="Only this shop (its domain)")] = None,
) -> None:
    """Hold each shop's chain against its daily digests; exit 1 naming a rewritten history."""
    from sqlalchemy import select

    from app.db import session_scope
    from app.evidence import digest
    from app.shops.models import Shop

    get_settings()
    with session_scope() as session:
        query = select(Shop).order_by(Shop.id)
        shops = list(session.scalars(query.where(Shop.domain == shop) if shop else query))
        if shop and not shops:
            fail(f"no shop {shop}", code=1)
        broken = 0
        for one in shops:
            result = digest.check(session, one)
            if result.intact:
                typer.echo(f"{one.domain}: matches {result.digests} digests")
                continue
            broken += 1
            digest.record_failure(session, one, result)
            typer.echo(f"REWRITTEN {one.domain}: digest of {result.broken_day}: {result.reason}", err=True)
    if broken:
        raise typer.Exit(1)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def main() -> None:
    # Start-up problems end in one line naming the setting, not a traceback.
    try:
        cli()
    except ConfigError as error:
        typer.echo(f"dropguard: {error}", err=True)
        sys.exit(2)
    except sqlalchemy.exc.OperationalError as error:
        typer.echo(f"dropguard: cannot use the database at DROPGUARD_DATABASE_URL: {_first_line(error.orig or error)}", err=True)
        sys.exit(1)
    except redis.exceptions.ConnectionError as error:
        typer.echo(f"dropguard: cannot reach Redis at DROPGUARD_REDIS_URL: {_first_line(error)}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
