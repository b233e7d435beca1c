"""Printing a command's JSON document: one document on stdout and nothing else.

Apart from :mod:`limen.cli._context` so that a command that must start fast
(``limen read --json``) prints the same document without loading the services.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import typer

__all__ = ["emit_json"]


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout and nothing else."""
    typer.echo(json.dumps(document, default=_default, indent=2, sort_keys=False))
