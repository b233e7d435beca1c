"""``limen fleet``: enrol laptops and CI runners that report their scans to this server."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(help="Machines that report their scans: enrolment tokens.", no_args_is_help=True)
