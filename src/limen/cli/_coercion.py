"""Plain conversion of simple option values, so commands that must start fast skip pydantic.

Typer 0.29 converts every non-flag parameter through a pydantic ``TypeAdapter``, and
importing pydantic for that costs more than a whole ``limen scan`` of a small folder
(``benchmarks/startup.py`` shows it). For the root options and ``limen scan``, whose
parameters are all ``bool``, ``str``, ``int``, ``Path``, their optional forms and ``list[Path]``,
:func:`convert_plainly` installs converters that do what the adapter would, without it.

This leans on two Typer internals: a parameter's ``_runtime_param`` (an object with
``coerce(value, param=, ctx=)``) is built on first use unless already set, and a path is
checked as Typer would by its ``_param_types.coerce_cli_path``. It is fenced
here, Typer's version is bounded in ``pyproject.toml``, and
``tests/discovery/test_startup.py`` fails if scanning starts importing pydantic again.
Any annotation not listed below keeps Typer's own conversion.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

__all__ = ["convert_plainly"]


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text, 10)


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off", ""})


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError


_CONVERTERS: dict[Any, tuple[Callable[[Any], Any], str]] = {
    bool: (_boolean, "boolean"),
    str: (str, "text"),
    int: (_integer, "integer"),
    Path: (Path, "path"),
}


@dataclass(frozen=True, slots=True)
class _Plain:
    convert: Callable[[Any], Any]
    label: str
    many: bool
    parameter_info: Any = None
    """For a path: Typer's declaration of it, whose checks (``dir_okay``, ``exists``, …)
    still apply."""

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = param.multiple or param.nargs == -1
        if value is None:
            return () if multiple else None
        if self.many:
            items = value if isinstance(value, list | tuple) else [value]
            return [self._one(v, param, ctx) for v in items]
        return self._one(value, param, ctx)

    def _one(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            converted = self.convert(value)
        except (TypeError, ValueError):
            raise typer.BadParameter(
                f"{value!r} is not a valid {self.label}.", ctx=ctx, param=param
            ) from None
        if self.parameter_info is not None:
            # Typer's own checks and messages ("file 'x' is a directory."); given a Path
            # already, it converts nothing and so needs no pydantic.
            from typer._param_types import coerce_cli_path

            return coerce_cli_path(
                converted, self.parameter_info, path_type=Path, param=param, ctx=ctx
            )
        return converted


def _plain(annotation: Any, parameter_info: Any = None) -> _Plain | None:
    many = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None
        annotation = args[0]
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation)
        many = True
    converter = _CONVERTERS.get(annotation)
    if converter is None:
        return None
    checks = parameter_info if annotation is Path else None
    return _Plain(convert=converter[0], label=converter[1], many=many, parameter_info=checks)


def convert_plainly(command: Any, ctx: Any) -> Any:
    """Give ``command``'s simple parameters plain converters; return the command.

    ``ctx`` is the context the command is parsed in: the help option (and Typer's
    completion options) exist only once a context asks for them.
    """
    for param in command.get_params(ctx):
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", "absent") is not None:
            continue
        if getattr(descriptor, "file_annotation", None) is not None:
            continue
        plain = _plain(descriptor.annotation, getattr(descriptor, "parameter_info", None))
        if plain is not None:
            param._runtime_param = plain
    return command
