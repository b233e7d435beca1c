"""How every CLI error ends: one line on stderr and an exit code per error family."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from limen import errors

__all__ = ["EXIT_CODES", "LimenGroup", "fail"]

EXIT_CODES: tuple[tuple[type[errors.LimenError], int], ...] = (
    (errors.InvalidInput, 2),
    (errors.NotFound, 3),
    (errors.Conflict, 4),
    (errors.Unauthenticated, 5),
    (errors.Denied, 5),
    (errors.Unavailable, 6),
)
EXIT_INTERNAL = 70


def exit_code_for(exc: errors.LimenError) -> int:
    for family, code in EXIT_CODES:
        if isinstance(exc, family):
            return code
    return 1


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``limen: message`` on stderr; return the Exit to raise."""
    typer.echo(f"limen: {message}", err=True)
    return typer.Exit(code)


class LimenGroup(TyperGroup):
    """The root command group: the single place domain errors become exit codes."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except errors.LimenError as exc:
            _traceback_if_debugging(ctx)
            raise fail(exc.detail, exit_code_for(exc)) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:
            raise _reader_gone() from None
        except Exception as exc:
            _traceback_if_debugging(ctx)
            raise fail(
                f"internal error ({type(exc).__name__}); run with --debug for details",
                EXIT_INTERNAL,
            ) from None


def _reader_gone() -> typer.Exit:
    """Whatever read our output stopped reading (``limen … | head``): stop quietly with
    exit code 1, as the tables printed through Rich already do, not with an internal
    error."""
    # Python flushes stdout once more on its way out, into the same closed pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return typer.Exit(1)


def _traceback_if_debugging(ctx: Any) -> None:
    """With --debug, print the traceback too; the exit code stays the one scripts rely on."""
    if _debug(ctx):
        traceback.print_exc(file=sys.stderr)


def _debug(ctx: Any) -> bool:
    obj = ctx.find_root().obj
    return bool(getattr(obj, "debug", False)) or "--debug" in sys.argv
