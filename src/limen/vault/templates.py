"""Templates for ``limen inject``: ``{{ limen://vault/item/field }}`` becomes the value.

Whitespace inside the braces is optional. Nothing else in the template is interpreted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

__all__ = ["PLACEHOLDER", "references_in", "render"]

PLACEHOLDER: Final = re.compile(r"\{\{\s*(limen://[^\s{}]+)\s*\}\}")


def references_in(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


def render(template: str, resolve: Callable[[str], str]) -> str:
    """Replace every placeholder with ``resolve(reference)``; each reference resolves once."""
    cache: dict[str, str] = {}

    def substitute(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref not in cache:
            cache[ref] = resolve(ref)
        return cache[ref]

    return PLACEHOLDER.sub(substitute, template)
