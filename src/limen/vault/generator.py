"""Password generator: ``secrets``-backed, with Connect's recipe (length, character sets).

The shape follows the 1Password Connect ``GeneratorRecipe``: ``length`` 1-64 and
``characterSets`` drawn from ``LETTERS``, ``DIGITS``, ``SYMBOLS``, minus
``excludeCharacters``.
"""

from __future__ import annotations

import math
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from limen.vault.errors import InvalidItem

__all__ = ["CHARACTER_SETS", "GeneratedPassword", "Recipe", "generate"]

CHARACTER_SETS: Final[dict[str, str]] = {
    "LETTERS": string.ascii_letters,
    "DIGITS": string.digits,
    "SYMBOLS": "!#$%&()*+,-./:;<=>?@[]^_{|}~",
}
MAX_LENGTH: Final = 64


@dataclass(frozen=True, slots=True)
class Recipe:
    length: int = 32
    character_sets: tuple[str, ...] = ("LETTERS", "DIGITS", "SYMBOLS")
    exclude_characters: str = ""


@dataclass(frozen=True, slots=True)
class GeneratedPassword:
    value: str = field(repr=False)
    entropy: float
    """Bits of entropy: ``length * log2(alphabet size)``."""


def generate(recipe: Recipe | None = None) -> GeneratedPassword:
    """A random password following ``recipe``, with at least one character of each set."""
    recipe = recipe or Recipe()
    if not 1 <= recipe.length <= MAX_LENGTH:
        raise InvalidItem(f"generated passwords are 1-{MAX_LENGTH} characters long")
    pools = [_pool(name, recipe.exclude_characters) for name in _names(recipe.character_sets)]
    pools = [pool for pool in pools if pool]
    if not pools:
        raise InvalidItem("the recipe leaves no characters to choose from")
    alphabet = "".join(sorted(set("".join(pools))))
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(recipe.length))
        # Rejection sampling keeps the distribution uniform over passwords that use
        # every requested set, instead of forcing characters into fixed positions.
        if recipe.length < len(pools) or all(any(c in pool for c in value) for pool in pools):
            break
    return GeneratedPassword(value, round(recipe.length * math.log2(len(alphabet)), 2))


def _names(names: Iterable[str]) -> list[str]:
    result = []
    for name in names:
        upper = str(name).strip().upper()
        if upper not in CHARACTER_SETS:
            raise InvalidItem(f"unknown character set {name!r}; use {', '.join(CHARACTER_SETS)}")
        result.append(upper)
    return result or list(CHARACTER_SETS)


def _pool(name: str, exclude: str) -> str:
    return "".join(c for c in CHARACTER_SETS[name] if c not in exclude)
