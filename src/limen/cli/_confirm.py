"""Destructive commands ask first.

A command that suspends, deletes or replaces something calls :func:`confirm` before it
acts: it shows what is about to happen and asks on a terminal; without a terminal to ask
on (a script, CI, a pipe) the command needs ``--yes``, so nothing destructive happens
because a script forgot that it could. Where the action is recorded with a reason (a
kill switch, pruning the audit trail), :func:`require_reason` asks for one on a terminal
and otherwise requires ``--reason``.

Everything is written to stderr, so ``--json`` keeps stdout for its one document.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import click
import typer

from limen.cli._errors import fail

__all__ = ["ReasonOption", "YesFlag", "confirm", "on_terminal", "require_reason"]

YesFlag = Annotated[
    bool,
    typer.Option(
        "--yes", "-y", help="Do it without asking (required when not run from a terminal)."
    ),
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Why (recorded in the event log).")
]

EXIT_DECLINED = 1
EXIT_NEEDS_YES = 2


def on_terminal() -> bool:
    """Whether a person can be asked: the answer would come from a terminal."""
    return sys.stdin.isatty()


def confirm(summary: str, *, yes: bool, details: Sequence[str] = ()) -> None:
    """Show what is about to happen and go on only if the person (or ``--yes``) agrees.

    ``summary`` is one line saying what will happen ("suspend 3 active agents"); the
    ``details`` lines (names, counts, consequences) are shown on a terminal before asking.
    Raises :class:`typer.Exit`: 1 if the answer is no, 2 if there is no terminal to ask
    on and ``--yes`` was not given. Neither changes anything.
    """
    if yes:
        return
    if not on_terminal():
        raise fail(
            f"this would {summary}; not asking without a terminal: pass --yes to go ahead",
            EXIT_NEEDS_YES,
        )
    typer.echo(f"This will {summary}.", err=True)
    for line in details:
        typer.echo(f"  {line}", err=True)
    try:
        agreed = typer.confirm("Go ahead?", default=False, err=True)
    except click.Abort:  # end of input or Ctrl-C at the prompt
        agreed = False
    if not agreed:
        raise fail("nothing done", EXIT_DECLINED)


def require_reason(reason: str | None, *, yes: bool) -> str:
    """The reason to record with the action: ``--reason``, or asked for on a terminal."""
    if reason and reason.strip():
        return reason.strip()
    if yes or not on_terminal():
        raise fail("say why with --reason (it is recorded in the event log)", EXIT_NEEDS_YES)
    try:
        answer = typer.prompt("Reason (recorded in the event log)", err=True)
    except click.Abort:
        raise fail("nothing done", EXIT_DECLINED) from None
    if not answer.strip():
        raise fail("a reason is required; nothing done", EXIT_NEEDS_YES)
    return str(answer).strip()
