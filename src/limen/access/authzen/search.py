"""AuthZEN 1.0 Search APIs (§8): which subjects, resources or actions a decision permits.

https://openid.net/specs/authorization-api-1_0.html#section-8

- subject search: ``subject`` (``type``; ``id`` omitted), ``action``, ``resource``;
- resource search: ``subject``, ``action``, ``resource`` (``type``; ``id`` omitted);
- action search: ``subject`` and ``resource``; no ``action``.

Each answers ``{"results": [...], "page": {"next_token": …, "count": …}}``: the
candidates the PDP permits, in a stable order, at most ``page.limit`` of them; an empty
``next_token`` ends the results. An unknown type or id gives no results, not an error;
a missing required field is a 400 (certification scenario §C.4.6, §C.4.7).

The candidates are what Limen knows: its identities (subjects), its vaults and items,
the actions its schema declares, and every resource PEPs have asked about.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from limen.access.authzen.evaluation import Evaluation, EvaluationsRequest, _build
from limen.access.errors import InvalidEvaluation

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "SearchRequest",
    "parse_search",
    "search_page",
]

DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000
_PLACEHOLDER: Final = "?"
_CHUNK: Final = 100


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A parsed search: ``template`` is the evaluation with the searched field blank."""

    kind: str
    """``subject``, ``resource`` or ``action``."""
    template: Evaluation
    limit: int
    offset: int


def _page(body: Mapping[str, Any]) -> tuple[int, int]:
    page = body.get("page")
    if page is None:
        return DEFAULT_PAGE, 0
    if not isinstance(page, dict):
        raise InvalidEvaluation("page must be a JSON object")
    limit = page.get("limit", DEFAULT_PAGE)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidEvaluation(f"page.limit must be an integer from 1 to {MAX_PAGE}")
    token = page.get("token") or ""
    if not isinstance(token, str):
        raise InvalidEvaluation("page.token must be a string")
    if not token:
        return limit, 0
    try:
        offset = int(base64.urlsafe_b64decode(token.encode() + b"==").decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidEvaluation("page.token is not one this PDP returned") from None
    if offset < 0:
        raise InvalidEvaluation("page.token is not one this PDP returned")
    return limit, offset


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def parse_search(kind: str, body: Any) -> SearchRequest:
    """An AuthZEN §8 search request of ``kind`` (``subject``, ``resource``, ``action``)."""
    if not isinstance(body, dict):
        raise InvalidEvaluation("the request body must be a JSON object")
    filled = dict(body)
    for name in ("subject", "action", "resource"):
        if name != kind and not isinstance(body.get(name), dict):
            raise InvalidEvaluation(f"{name} must be a JSON object")
    if kind == "action":
        filled["action"] = {"name": _PLACEHOLDER}
    else:
        searched = body.get(kind)
        if not isinstance(searched, dict):
            raise InvalidEvaluation(f"{kind} must be a JSON object")
        filled[kind] = {**searched, "id": _PLACEHOLDER}
    template = _build(filled)
    limit, offset = _page(body)
    return SearchRequest(kind, template, limit, offset)


def search_page(
    request: SearchRequest,
    candidates: Sequence[Mapping[str, Any]],
    decide_many: Callable[[EvaluationsRequest], list[Any]],
) -> dict[str, Any]:
    """Decide ``candidates`` (result objects: ``{"type", "id"}`` or ``{"name"}``) from
    the request's offset on, and answer with the permitted ones, a page at a time."""
    results: list[Mapping[str, Any]] = []
    index = request.offset
    while index < len(candidates) and len(results) < request.limit:
        chunk = candidates[index : index + min(_CHUNK, request.limit - len(results))]
        evaluations = tuple(_filled(request, candidate) for candidate in chunk)
        decisions = decide_many(EvaluationsRequest(evaluations))
        for candidate, decision in zip(chunk, decisions, strict=True):
            if decision.allowed:
                results.append(candidate)
        index += len(chunk)
    next_token = _token(index) if index < len(candidates) else ""
    return {"results": results, "page": {"next_token": next_token, "count": len(results)}}


def _filled(request: SearchRequest, candidate: Mapping[str, Any]) -> Evaluation:
    template = request.template
    if request.kind == "subject":
        return replace(template, subject_id=candidate["id"])
    if request.kind == "resource":
        return replace(template, resource_id=candidate["id"])
    return replace(template, action=candidate["name"])
