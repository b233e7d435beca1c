"""Cedar's authorizer, asked through cedarpy's extension module directly.

cedarpy's public ``is_authorized_batch`` normalises each request, then decodes every
answer (a JSON text that also carries nine timing metrics) with the standard ``json``
module into an ``AuthzResult``: a tenth of an uncached agent decision
(``benchmarks/pdp.py``). The extension function it wraps takes the same
arguments and returns the same texts; here they are decoded with orjson into just what a
decision needs. ``tests/access/test_cedar.py`` holds this to the public API's answers,
and ``pyproject.toml`` pins cedarpy to the minor version this was written against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cedarpy
import orjson
from cedarpy import _internal

__all__ = ["Answer", "authorize"]


@dataclass(frozen=True, slots=True)
class Answer:
    """Cedar's answer to one request.

    ``reasons`` are the determining policies, sorted: Cedar reports them in no particular
    order, and the same question must always get the same answer. ``failed`` means Cedar
    could not evaluate the request at all (``NoDecision``: a context it cannot read).
    """

    allowed: bool
    reasons: tuple[str, ...]
    failed: bool = False


def authorize(
    requests: list[dict[str, Any]], policies: cedarpy.PolicySet, entities: cedarpy.Entities
) -> list[Answer]:
    """Cedar's answers to ``requests`` (each with ``context`` as a JSON text), in order."""
    texts = _internal.is_authorized_batch(requests, policies, entities._inner, None, False)
    return [_answer(orjson.loads(text)) for text in texts]


def _answer(result: dict[str, Any]) -> Answer:
    decision = result["decision"]
    reasons = tuple(sorted(result["diagnostics"].get("reason", ())))
    return Answer(decision == "Allow", reasons, failed=decision not in ("Allow", "Deny"))
