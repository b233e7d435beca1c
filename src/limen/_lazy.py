"""The lazy package door shared by ``store``, ``audit``, ``vault`` and ``discovery``: a name
is imported from its module the first time someone asks for it, so a command that needs
one light module does not load the whole package."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["door"]


def door(package: str, lazy: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``lazy`` maps each name to its module (a
    name that is itself a submodule is that module); the value found is kept in
    ``namespace`` (the package's globals), so each name is looked up once."""

    def __getattr__(name: str) -> Any:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(module)
        value = imported if module == f"{package}.{name}" else getattr(imported, name)
        namespace[name] = value
        return value

    return __getattr__
