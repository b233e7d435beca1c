"""AuthZEN 1.0 access evaluation (§6) and evaluations (§7) requests, parsed and bounded.

https://openid.net/specs/authorization-api-1_0.html#section-6

A request names a ``subject`` (``type``, ``id``, ``properties``), an ``action``
(``name``, ``properties``), a ``resource`` (``type``, ``id``, ``properties``) and a
``context``. A batch (§7) gives defaults at the top level and overrides per entry in
``evaluations``; ``options.evaluations_semantic`` is ``execute_all`` (default),
``deny_on_first_deny`` or ``permit_on_first_permit``.

A malformed request is an :class:`~limen.access.errors.InvalidEvaluation` (HTTP 400, as
the spec and its certification scenario require). In a batch, a malformed *entry* is
not: it becomes an :class:`Invalid` in its place, which the PDP denies, so the other
entries are still decided (certification scenario §C.3.4.1). An entry's ``subject``,
``action`` or ``resource`` replaces the top-level default as a whole, except that a
required field it lacks (``type``, ``id``, ``name``) is taken from the default
(§C.3.2.7). Unknown fields are ignored (forward compatibility).

Certification scenario:
https://github.com/openid/authzen/blob/main/certification/authorization-api-1_0-scenario.md
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from limen.access.errors import InvalidEvaluation

__all__ = [
    "EVALUATIONS_SEMANTICS",
    "MAX_EVALUATIONS",
    "Evaluation",
    "EvaluationsRequest",
    "Invalid",
    "parse_evaluation",
    "parse_evaluations",
    "pdp_metadata",
]

EVALUATIONS_SEMANTICS: Final = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
MAX_EVALUATIONS: Final = 1000
_MAX_ID = 512
_MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One access question: may ``subject`` do ``action`` to ``resource`` in ``context``?"""

    subject_type: str
    subject_id: str
    action: str
    resource_type: str
    resource_id: str
    subject_properties: dict[str, Any] = field(default_factory=dict)
    action_properties: dict[str, Any] = field(default_factory=dict)
    resource_properties: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Invalid:
    """A batch entry that is not a well-formed evaluation; ``error`` says why."""

    error: str


@dataclass(frozen=True, slots=True)
class EvaluationsRequest:
    """A §7 batch. ``single`` is true when the request had no (or an empty)
    ``evaluations`` array: it is then one evaluation and is answered as §6 answers."""

    evaluations: tuple[Evaluation | Invalid, ...]
    semantic: str = "execute_all"
    single: bool = False


def _object(value: Any, where: str, *, required: bool = True) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise InvalidEvaluation(f"{where} must be a JSON object")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise InvalidEvaluation(f"{where} must be a non-empty string of at most {_MAX_ID} chars")
    return value


def _depth(value: Any, where: str, level: int = 0) -> None:
    if level > _MAX_DEPTH:
        raise InvalidEvaluation(f"{where} is nested too deeply")
    if isinstance(value, dict):
        for item in value.values():
            _depth(item, where, level + 1)
    elif isinstance(value, list):
        for item in value:
            _depth(item, where, level + 1)


def _properties(value: Any, where: str) -> dict[str, Any]:
    result = _object(value, where, required=False)
    _depth(result, where)
    return result


def _build(body: Mapping[str, Any], where: str = "") -> Evaluation:
    subject = _object(body.get("subject"), f"{where}subject")
    action = _object(body.get("action"), f"{where}action")
    resource = _object(body.get("resource"), f"{where}resource")
    return Evaluation(
        subject_type=_string(subject.get("type"), f"{where}subject.type"),
        subject_id=_string(subject.get("id"), f"{where}subject.id"),
        action=_string(action.get("name"), f"{where}action.name"),
        resource_type=_string(resource.get("type"), f"{where}resource.type"),
        resource_id=_string(resource.get("id"), f"{where}resource.id"),
        subject_properties=_properties(subject.get("properties"), f"{where}subject.properties"),
        action_properties=_properties(action.get("properties"), f"{where}action.properties"),
        resource_properties=_properties(resource.get("properties"), f"{where}resource.properties"),
        context=_properties(body.get("context"), f"{where}context"),
    )


def parse_evaluation(body: Any) -> Evaluation:
    """An AuthZEN §6.1 access evaluation request."""
    return _build(_object(body, "the request body"))


_REQUIRED: Final = {"subject": ("type", "id"), "action": ("name",), "resource": ("type", "id")}


def _merged(defaults: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    """An entry over the top-level defaults: entity-level replacement, with the required
    fields an entry's entity lacks taken from the default entity."""
    merged = {**defaults, **item}
    for name, required in _REQUIRED.items():
        own, default = item.get(name), defaults.get(name)
        if isinstance(own, dict) and isinstance(default, dict):
            merged[name] = {
                **{k: default[k] for k in required if k not in own and k in default},
                **own,
            }
    return merged


def parse_evaluations(body: Any) -> EvaluationsRequest:
    """An AuthZEN §7.1 access evaluations request.

    Without ``evaluations`` (or with an empty list) it is a single evaluation (§7.1.1),
    marked ``single``. A malformed entry becomes an :class:`Invalid` in its place.
    """
    body = _object(body, "the request body")
    items = body.get("evaluations")
    options = _object(body.get("options"), "options", required=False)
    semantic = options.get("evaluations_semantic", "execute_all")
    if semantic not in EVALUATIONS_SEMANTICS:
        raise InvalidEvaluation(
            f"options.evaluations_semantic must be one of {', '.join(EVALUATIONS_SEMANTICS)}"
        )
    if items is None or items == []:
        return EvaluationsRequest((_build(body),), semantic, single=True)
    if not isinstance(items, list):
        raise InvalidEvaluation("evaluations must be an array")
    if len(items) > MAX_EVALUATIONS:
        raise InvalidEvaluation(f"at most {MAX_EVALUATIONS} evaluations per request")
    defaults = {k: body[k] for k in ("subject", "action", "resource", "context") if k in body}
    built: list[Evaluation | Invalid] = []
    for index, item in enumerate(items):
        try:
            item = _object(item, f"evaluations[{index}]")
            built.append(_build(_merged(defaults, item), f"evaluations[{index}]."))
        except InvalidEvaluation as exc:
            built.append(Invalid(exc.detail or str(exc)))
    return EvaluationsRequest(tuple(built), semantic)


def pdp_metadata(base: str) -> dict[str, Any]:
    """``/.well-known/authzen-configuration`` (AuthZEN 1.0 §9 PDP metadata)."""
    return {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
        "search_subject_endpoint": f"{base}/access/v1/search/subject",
        "search_resource_endpoint": f"{base}/access/v1/search/resource",
        "search_action_endpoint": f"{base}/access/v1/search/action",
    }
