"""What every command needs: settings, the database, output helpers."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from limen.cli._errors import fail
from limen.cli._output import emit_json
from limen.cli._remote import Remote, missing_api
from limen.config import Settings

if TYPE_CHECKING:
    from limen.services import Services
    from limen.store import Database

__all__ = [
    "CliState",
    "emit_json",
    "err_console",
    "open_database",
    "out_console",
    "remote",
    "services",
    "state",
]

out_console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    settings: Settings
    debug: bool = False
    remote: Remote | None = field(default=None, repr=False)
    _db: Database | None = field(default=None, repr=False)
    _services: Services | None = field(default=None, repr=False)

    def close(self) -> None:
        if self.remote is not None:
            self.remote.close()
        if self._services is not None:
            self._services.close()
            self._services = None
        if self._db is not None:
            self._db.dispose()
            self._db = None


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def remote(ctx: typer.Context) -> Remote | None:
    """The server this command talks to over HTTP, or ``None`` to work on the data dir."""
    return state(ctx).remote


def open_database(ctx: typer.Context, *, create: bool = False) -> Database:
    """The configured database, migrated to the current schema.

    Without ``create``, a SQLite file that does not exist yet is an error rather than a
    silently created empty installation. In remote mode this is the door every command
    without an HTTP API reaches, and it refuses rather than open the local data.
    """
    cli = state(ctx)
    if cli.remote is not None:
        raise fail(missing_api(ctx.command_path), 2)
    if cli._db is not None:
        return cli._db
    # Here, not at the top: a command that talks to a server (LIMEN_URL) never loads
    # the database layer, which is most of a local command's start-up.
    from limen.identity import NotInitialised
    from limen.installation import prepare_data_dir
    from limen.store import Database, dialect_for_url

    settings = cli.settings
    if dialect_for_url(settings.resolved_database_url).in_a_file:
        if create:
            prepare_data_dir(settings.data_dir)
        elif not (settings.data_dir / "limen.db").exists() and settings.database_url is None:
            raise NotInitialised(
                f"no Limen data in {settings.data_dir}; run `limen init` (or set LIMEN_DATA_DIR)"
            )
    db = Database(settings.resolved_database_url)
    db.migrate()
    _attach_audit_keys(db, settings)
    cli._db = db
    ctx.find_root().call_on_close(cli.close)
    return db


def _attach_audit_keys(db: Database, settings: Settings) -> None:
    """Seal the events this command writes, if the key file is here to seal them with
    (without it the chainer refuses them, and the commands that need the key say so)."""
    from limen.audit import AuditKeys
    from limen.errors import LimenError

    with contextlib.suppress(LimenError):
        AuditKeys.from_key_file(settings.resolved_key_file).attach(db)


def services(ctx: typer.Context) -> Services:
    """This command's :class:`~limen.services.Services` on the configured database: built
    once, and only the parts the command uses."""
    from limen.services import Services

    cli = state(ctx)
    if cli._services is None:
        cli._services = Services.open(cli.settings, database=open_database(ctx))
    return cli._services
