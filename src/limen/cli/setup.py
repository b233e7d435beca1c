"""Installation commands: ``init``, ``server``, ``info``, ``db upgrade``."""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from rich.table import Table

from limen import __version__, installation
from limen.audit import Actor
from limen.cli._context import emit_json, err_console, open_database, out_console, state
from limen.errors import InvalidInput, Unavailable
from limen.installation import InitResult
from limen.logs import configure_logging

if TYPE_CHECKING:
    from rich.progress import TaskID

__all__ = ["register"]

db_app = typer.Typer(help="Database schema and copies.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _initialise(
    ctx: typer.Context,
    admin_name: str = "admin",
    admin_email: str | None = None,
    *,
    issue_token: bool = True,
) -> InitResult:
    settings = state(ctx).settings
    db = open_database(ctx, create=True)
    key_file = None if settings.key_passphrase else settings.resolved_key_file
    return installation.initialise(
        db,
        key_file=key_file,
        admin_name=admin_name,
        admin_email=admin_email,
        issue_token=issue_token,
    )


def init(
    ctx: typer.Context,
    admin_name: Annotated[str, typer.Option(help="Name of the first admin.")] = "admin",
    admin_email: Annotated[str | None, typer.Option(help="Email of the first admin.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Initialise the data directory: database, key file, first admin and its token."""
    result = _initialise(ctx, admin_name, admin_email)
    settings = state(ctx).settings
    if as_json:
        emit_json(
            {
                "admin_token": result.admin_token,
                "account_id": result.account_id,
                "created": result.created,
                "data_dir": str(settings.data_dir),
            }
        )
        return
    if result.created:
        out_console.print(f"Initialised Limen in {settings.data_dir}")
        out_console.print("Admin token (shown once, store it now):")
        typer.echo(result.admin_token)
    else:
        out_console.print(
            f"Limen is already initialised in {settings.data_dir} (account {result.account_id})."
        )


def server(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.", min=1, max=65535)] = None,
) -> None:
    """Run the Limen server (initialising the data directory on first start)."""
    from limen.api import create_app

    settings = state(ctx).settings
    if host or port:
        settings = settings.model_copy(
            update={"host": host or settings.host, "port": port or settings.port}
        )
        state(ctx).settings = settings
    host = settings.host
    port = settings.port
    listener = _listen(host, port)
    # From here every line on stderr is a log line, in LIMEN_LOG_FORMAT (one JSON object
    # a line for a log shipper).
    configure_logging(settings.log_level, settings.log_format)
    log = logging.getLogger("limen")
    # A server never prints a token: its output goes to service logs.
    result = _initialise(ctx, issue_token=False)
    if result.created:
        log.info(
            "Initialised Limen in %s. Get an admin token on this host with "
            "`limen admin-token` (printed once, to your terminal).",
            settings.data_dir,
        )
    if settings.public_url is None and host in ("0.0.0.0", "::"):  # noqa: S104 - a comparison, not a bind
        log.warning(
            "tokens name %s as their issuer; set LIMEN_PUBLIC_URL to the URL clients "
            "reach this server at",
            settings.resolved_public_url,
        )
    db = open_database(ctx)
    apart = settings.detect_process
    if apart is None:
        apart = not db.dialect.serialises_writes
    detector = None
    if settings.detect and apart:
        from limen.cli.detect import DetectorProcess

        settings = settings.model_copy(update={"detect": False})  # the child scores
        detector = DetectorProcess()
    app = create_app(settings, database=db)
    log.info("Limen %s on http://%s:%s (%s)", __version__, host, port, db.dialect.name)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # configure_logging's handler and format, not uvicorn's own
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
        proxy_headers=settings.forwarded_allow_ips is not None,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    running = uvicorn.Server(config)
    if detector is not None:
        detector.start(once=lambda: running.started)  # not competing with the start-up
    try:
        running.run(sockets=[listener])
    finally:
        if detector is not None:
            detector.stop()
    if not running.started:
        raise Unavailable("the server did not start; the lines above say why")


def _listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound before anything else happens.

    A port that is taken is then one line and exit 6 before the data directory is touched
    or a banner printed, and no other process can take the port between the check and
    the server starting on it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise Unavailable(
                f"port {port} on {host} is already in use: stop what listens there, or "
                "choose another port with --port or LIMEN_PORT"
            ) from None
        raise Unavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def info(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show this installation: account id, version, database backend, data directory."""
    settings = state(ctx).settings
    db = open_database(ctx)
    with db.unit_of_work(readonly=True) as uow:
        account = installation.account_id(uow.session)
    document = {
        "account_id": account,
        "version": __version__,
        "database": {
            "backend": db.dialect.name,
            "url": _redacted_url(settings.resolved_database_url),
        },
        "data_dir": str(settings.data_dir),
    }
    if as_json:
        emit_json(document)
        return
    table = Table(show_header=False, box=None)
    table.add_row("account id", account)
    table.add_row("version", __version__)
    table.add_row("database", f"{db.dialect.name} ({document['database']['url']})")
    table.add_row("data directory", str(settings.data_dir))
    out_console.print(table)


def admin_token(
    ctx: typer.Context,
    admin: Annotated[
        str | None, typer.Option(help="Admin to issue for (id, name or email).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue a new admin API token (as the operator on the server host)."""
    raw = installation.issue_admin_token(open_database(ctx), Actor.operator(), admin)
    if as_json:
        emit_json({"admin_token": raw})
    else:
        typer.echo(raw)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending schema migrations."""
    open_database(ctx, create=True)
    out_console.print("Database schema is current.")


@db_app.command("copy")
def db_copy(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="<url>",
            help="Database to copy into, e.g. postgresql://limen@db.internal/limen. It must "
            "hold no Limen data; its schema is created here.",
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Copy this installation's database to another one (SQLite to PostgreSQL, or back),
    then verify the audit trail on the copy. Stop the server first."""
    from limen.audit import (
        AuditKeys,
        check_key,
        link_pending,
        links_in_backend_form,
        record,
        verify,
    )
    from limen.store import Database
    from limen.store.copy import copy_database

    settings = state(ctx).settings
    source = open_database(ctx)
    keys = AuditKeys.from_key_file(settings.resolved_key_file)
    check_key(source, keys, key_file=settings.resolved_key_file)
    target = Database(_database_url(to))
    shown = target.engine.url.render_as_string(hide_password=True)
    try:
        old_form = links_in_backend_form(source)
        if old_form and target.dialect != source.dialect:
            here, there = source.dialect.name, target.dialect.name
            raise InvalidInput(
                f"the first {old_form} audit links were written by an earlier build in "
                f"{here}'s own form and would not verify on {there}; "
                "prune them first (limen audit checkpoint, then limen audit prune), or copy "
                f"to another {here} database"
            )
        with source.unit_of_work() as uow:
            record(
                uow.session,
                Actor.operator(),
                "database.copy",
                resource_type="database",
                resource_name=shown,
            )
        link_pending(source, keys.chain)
        with _copy_progress(quiet=as_json) as progress:
            report = copy_database(source, target, progress=progress)
        keys.attach(target)
        verified = verify(target, keys)
    finally:
        target.dispose()
    document = {
        "target": shown,
        "rows": report.total,
        "tables": report.rows,
        "audit": verified.to_document(),
    }
    if as_json:
        emit_json(document)
    else:
        typer.echo(f"copied {report.total} rows in {len(report.rows)} tables to {shown}")
    if not verified.ok:
        problem = verified.problem
        assert problem is not None
        if not as_json:
            typer.echo(
                f"limen: the audit trail does not verify on the copy: {problem.kind} event "
                f"{problem.event_id}: {problem.detail}",
                err=True,
            )
        raise typer.Exit(1)
    if not as_json:
        typer.echo(
            f"audit trail verified on the copy: {verified.checked} events "
            f"(positions {verified.first_position}-{verified.last_position})"
        )
        typer.echo(f"next: point LIMEN_DATABASE_URL at {shown} and start the server")


@contextlib.contextmanager
def _copy_progress(*, quiet: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    if quiet or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def advance(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=done)

        yield advance


def _database_url(value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from limen.config import normalise_database_url
    from limen.store import dialect_named

    example = "e.g. postgresql://limen@db.internal/limen or sqlite:////var/lib/limen/copy.db"
    try:
        url = make_url(normalise_database_url(value))
    except ArgumentError:
        raise InvalidInput(f"--to {value!r} is not a database URL ({example})") from None
    if dialect_named(url.get_backend_name()) is None:
        raise InvalidInput(
            f"--to: Limen stores its data in PostgreSQL or SQLite, not "
            f"{url.get_backend_name()!r} ({example})"
        )
    return url.render_as_string(hide_password=False)


def _redacted_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(server)
    app.command()(info)
    app.command("admin-token")(admin_token)
    app.add_typer(db_app, name="db")
