"""Cedar policies: validate against Limen's schema, store by name, compile into one set.

https://docs.cedarpolicy.com/policies/syntax-policy.html

A stored policy is a named Cedar text that may hold several statements. Compiling
renames each statement ``<policy name>#<n>`` (n from 1), so a decision's determining
policies name the stored policy a person wrote. Errors name the line: Cedar's own
messages (through cedarpy) carry no position, so the text is split into statements here
and each is checked on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import cedarpy
import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.access._statements import REALMS, Statement, split_statements
from limen.access.admin import ADMIN_POLICY, ADMIN_POLICY_NAME, ADMIN_SCHEMA
from limen.access.errors import PolicyError, PolicyExists, PolicyNotFound
from limen.access.schema import ACTIONS, compose_schema, fragment_actions, fragment_entity_types
from limen.audit import Actor, record
from limen.errors import unknown_choice
from limen.store import UnitOfWork
from limen.store.models import Policy, utcnow

__all__ = [
    "BUILTIN_POLICIES",
    "DEFAULT_POLICIES",
    "MAX_POLICY_BYTES",
    "REALMS",
    "CompiledPolicies",
    "Statement",
    "add_policy",
    "compile_policies",
    "get_policy",
    "list_policies",
    "remove_policy",
    "schema_fragments",
    "split_statements",
    "validate_policy",
]

MAX_POLICY_BYTES: Final = 64 * 1024
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")

DEFAULT_POLICIES: Final[dict[str, str]] = {
    # Also enforced before any policy runs (see pdp.py); stated here so that it shows in
    # `limen policy list` and holds even for a request that reaches Cedar some other way.
    "limen.status": (
        "// Suspended or deprovisioned identities are denied everything.\n"
        "forbid (principal, action, resource)\n"
        'when { principal.status != "active" };\n'
    ),
    "limen.admins": (
        "// Admins may do anything (their agents still need a policy of their own).\n"
        "permit (principal, action, resource)\n"
        'when { principal.roles.contains("admin") };\n'
    ),
}


BUILTIN_POLICIES: Final[dict[str, tuple[str, str]]] = {
    **{name: ("access", text) for name, text in DEFAULT_POLICIES.items()},
    ADMIN_POLICY_NAME: ("admin", ADMIN_POLICY),
}
"""Every built-in policy: name → (realm, text)."""


def schema_fragments(session: Session, *, without: str | None = None) -> list[str]:
    """The stored schema fragments' texts, in name order (``without`` one of them)."""
    query = sa.select(Policy.name, Policy.text).where(Policy.realm == "schema")
    return [text for name, text in session.execute(query.order_by(Policy.name)) if name != without]


def _validate_fragment(text: str, fragments: Sequence[str]) -> list[Statement]:
    if not text or not text.strip():
        raise PolicyError("the schema fragment is empty", line=1)
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise PolicyError(f"a schema fragment is limited to {MAX_POLICY_BYTES} bytes")
    if re.search(r"(?m)^\s*namespace\b", text):
        raise PolicyError("a fragment's declarations go inside namespace Limen: omit 'namespace'")
    result = cedarpy.validate_policies(
        "permit (principal, action, resource);", compose_schema([*fragments, text])
    )
    if not result.validation_passed:
        raise PolicyError(f"the schema fragment does not fit: {result.errors[0].error}")
    return split_statements(text)


def validate_policy(
    text: str,
    *,
    schema: bool = True,
    realm: str = "access",
    fragments: Sequence[str] = (),
) -> list[Statement]:
    """Parse ``text`` and (by default) validate it against the realm's schema, which for
    the ``access`` realm includes the schema ``fragments``; a ``schema`` realm text is a
    fragment, checked to fit with the others.

    Raises :class:`PolicyError` naming the line of the first problem.
    """
    if realm == "schema":
        return _validate_fragment(text, fragments)
    if not text or not text.strip():
        raise PolicyError("the policy is empty", line=1)
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise PolicyError(f"a policy is limited to {MAX_POLICY_BYTES} bytes")
    statements = split_statements(text)
    for statement in statements:
        if not statement.text.rstrip().endswith(";"):
            # Point at where the ';' is missing: the statement's last line of code.
            offsets = _code_offsets(statement.text)
            end = statement.line + statement.text.count("\n", offsets[0], offsets[-1])
            starts = ""
            if end > statement.line:
                starts = f" (the statement starting on line {statement.line})"
            raise PolicyError(f"line {end}: missing ';' at the end{starts}", line=end)
        try:
            cedarpy.PolicySet.from_str(statement.text)
        except ValueError as exc:
            line = _refine_line(statement, str(exc))
            raise PolicyError(f"line {line}: {exc}", line=line) from None
    if not statements:
        raise PolicyError("the policy holds no statement", line=1)
    if realm not in REALMS:
        raise PolicyError(unknown_choice("realm", realm, REALMS))
    if schema:
        result = cedarpy.validate_policies(
            text, ADMIN_SCHEMA if realm == "admin" else compose_schema(fragments)
        )
        if not result.validation_passed:
            first = result.errors[0]
            index = _index(first.policy_id)
            line = statements[index].line if index is not None and index < len(statements) else 1
            message = re.sub(r"^for policy `[^`]+`, ", "", first.error)
            raise PolicyError(f"line {line}: {message}", line=line)
    return statements


def _refine_line(statement: Statement, message: str) -> int:
    """Point at the unexpected token's line when Cedar names the token.

    Cedar's parser messages carry no position. The statement's text starts right after
    the previous ``;``, so it may open with blank lines and ``//`` comments before the
    line the statement starts on; only code (not comments or strings) is searched for
    the token, and lines are counted from the statement's first line of code.
    """
    match = re.search(r"unexpected token `([^`]+)`", message)
    if not match:
        return statement.line
    token, text = match.group(1), statement.text
    offsets = _code_offsets(text)
    found = next((start for start in reversed(offsets) if text.startswith(token, start)), None)
    if found is None:
        return statement.line
    return statement.line + text.count("\n", offsets[0], found)


def _code_offsets(text: str) -> list[int]:
    """Offsets, in order, of the characters of ``text`` that are code: not whitespace, and
    not inside a ``//`` comment or a string (a string's opening quote counts as code)."""
    offsets: list[int] = []
    i = 0
    in_string = False
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif ch == '"':
            in_string = True
            offsets.append(i)
        elif not ch.isspace():
            offsets.append(i)
        i += 1
    return offsets


def _index(policy_id: str) -> int | None:
    match = re.fullmatch(r"policy(\d+)", policy_id)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class CompiledPolicies:
    """The stored policies as one Cedar policy set, and what evaluating it needs."""

    policy_set: cedarpy.PolicySet
    reads_resource: bool
    """Whether any statement can see more of the resource than its type and id (its
    attributes or ancestors). If none can, Cedar needs no entity for the resource."""
    reads_context: bool
    """Whether any statement names ``context``. If none does, Cedar needs no context."""
    entity_types: frozenset[str] = frozenset()
    """Entity types the schema fragments declare: AuthZEN resource types of that name
    become those entities."""
    actions: tuple[str, ...] = ACTIONS
    """Every declared action, built-in and the fragments' (what action search tries)."""
    probes: tuple[Probe, ...] = ()
    """For every ``permit`` statement, one request it describes (see :class:`Probe`)."""
    for_everyone: frozenset[str] = frozenset()
    """The statements (``<name>#<n>``) whose principal is unconstrained."""


ANY_RESOURCE: Final = "\u2217"
"""The id a probe gives a resource its statement does not name: one no statement names."""


@dataclass(frozen=True, slots=True)
class Probe:
    """An AuthZEN request a ``permit`` statement describes: its action (the first it
    names, or the first declared if it names none) and its resource (the one it names,
    the entity it is ``in`` (``in`` includes the entity itself), an item of the vault an
    ``is Item in`` names, or :data:`ANY_RESOURCE` of the type it names, or of ``tool``).
    Deciding the probes of every statement for an identity shows which statements can
    let it through."""

    action: str
    resource_type: str
    resource_id: str
    properties: tuple[tuple[str, str], ...] = ()
    """The resource's AuthZEN properties (``vault`` for an item in a named vault)."""


def compile_policies(
    policies: Sequence[tuple[str, str]], *, fragments: Sequence[str] = ()
) -> CompiledPolicies:
    """One Cedar policy set from ``(name, text)`` pairs; statement ids ``<name>#<n>``."""
    combined: dict[str, Any] = {}
    for name, text in policies:
        try:
            document = json.loads(cedarpy.policies_to_json_str(text))
        except ValueError as exc:
            raise PolicyError(f"policy {name!r} does not parse: {exc}") from None
        for number, (_, body) in enumerate(
            sorted(document.get("staticPolicies", {}).items(), key=lambda kv: _index(kv[0]) or 0),
            start=1,
        ):
            combined[f"{name}#{number}"] = body
    policy_set = cedarpy.PolicySet.from_json_str(
        json.dumps({"staticPolicies": combined, "templates": {}, "templateLinks": []})
    )
    return CompiledPolicies(
        policy_set,
        reads_resource=any(map(_reads_resource, combined.values())),
        reads_context=any(_names(policy, _CONTEXT) for policy in combined.values()),
        entity_types=frozenset(fragment_entity_types(fragments)),
        actions=(*ACTIONS, *(a for a in fragment_actions(fragments) if a not in ACTIONS)),
        probes=tuple(
            dict.fromkeys(
                _probe(body, ACTIONS[0])
                for body in combined.values()
                if body.get("effect") == "permit"
            )
        ),
        for_everyone=frozenset(
            sid
            for sid, body in combined.items()
            if (body.get("principal") or {}).get("op") == "All"
        ),
    )


_AUTHZEN_TYPES: Final = {"Identity": "identity", "Vault": "vault", "Item": "item", "Tool": "tool"}


def _probe(body: dict[str, Any], first_action: str) -> Probe:
    action = body.get("action") or {}
    if action.get("op") == "==":
        name = action["entity"]["id"]
    elif action.get("op") == "in" and action.get("entities"):
        name = action["entities"][0]["id"]
    else:
        name = first_action
    resource = body.get("resource") or {}
    op = resource.get("op")
    # ``resource in E`` holds for E itself: probe E.
    entity = resource.get("entity") if op in ("==", "in") else None
    cedar_type = entity["type"] if entity else resource.get("entity_type")
    if cedar_type is None:
        return Probe(name, "tool", ANY_RESOURCE)
    kind = _authzen_type(cedar_type)
    if entity:
        return Probe(name, kind, str(entity["id"]))
    parent = (resource.get("in") or {}).get("entity") if op == "is" else None
    if parent:  # ``resource is T in E``
        if _authzen_type(parent["type"]) == kind:
            return Probe(name, kind, str(parent["id"]))
        if kind == "item" and _authzen_type(parent["type"]) == "vault":
            return Probe(name, kind, ANY_RESOURCE, (("vault", str(parent["id"])),))
    return Probe(name, kind, ANY_RESOURCE)


def _authzen_type(cedar_type: str) -> str:
    short = str(cedar_type).rsplit("::", 1)[-1]
    return _AUTHZEN_TYPES.get(short, short)


_RESOURCE: Final = {"Var": "resource"}
_CONTEXT: Final = {"Var": "context"}


def _names(node: Any, variable: dict[str, str]) -> bool:
    """Whether ``variable`` occurs anywhere in ``node`` (Cedar's JSON form)."""
    if isinstance(node, list):
        return any(_names(item, variable) for item in node)
    if isinstance(node, dict):
        return node == variable or any(_names(value, variable) for value in node.values())
    return False


def _reads_resource(policy: dict[str, Any]) -> bool:
    """Whether a statement (Cedar's JSON form) can see the resource's attributes or
    ancestors. Only a scope of ``resource``, ``resource == E`` or ``resource is T``, and
    conditions that use ``resource`` only in ``==``, ``!=`` or a plain ``is``, cannot:
    those compare the resource's type and id, which are in the request itself. Anything
    else (``.``, ``has``, ``in``, passing ``resource`` into any other expression) counts
    as reading it."""
    scope = policy.get("resource", {})
    if scope.get("op") not in ("All", "==", "is") or "in" in scope:
        return True
    return any(_uses_resource(condition.get("body")) for condition in policy.get("conditions", ()))


def _uses_resource(node: Any) -> bool:
    """Whether ``node`` uses ``resource`` other than in ``==``, ``!=`` or a plain ``is``."""
    if isinstance(node, list):
        return any(_uses_resource(item) for item in node)
    if not isinstance(node, dict):
        return False
    if node == _RESOURCE:
        return True
    for operator, operands in node.items():
        if operator in ("==", "!=") and isinstance(operands, dict):
            if any(_uses_resource(side) for side in operands.values() if side != _RESOURCE):
                return True
        elif (
            operator == "is"
            and isinstance(operands, dict)
            and operands.get("left") == _RESOURCE
            and "in" not in operands
        ):
            continue
        elif _uses_resource(operands):
            return True
    return False


def add_policy(
    uow: UnitOfWork,
    actor: Actor,
    *,
    name: str,
    text: str,
    description: str | None = None,
    replace: bool = False,
    validate: bool = True,
    realm: str = "access",
) -> Policy:
    """Store a policy after validating it; every node reloads its policy set on commit.

    ``realm="admin"`` policies govern Limen's own operations (they define roles); they
    are always validated, since a typo there would silently grant or withhold rights.
    """
    if not _NAME.match(name or "") or name in BUILTIN_POLICIES or name.startswith("limen"):
        raise PolicyError(
            "policy names are 1-100 lowercase letters, digits, '.', '_' or '-' and may not be a "
            "built-in policy's name or start with 'limen'"
        )
    session = uow.session
    validate_policy(
        text,
        schema=validate or realm != "access",
        realm=realm,
        fragments=schema_fragments(session, without=name),
    )
    existing = session.scalar(sa.select(Policy).where(Policy.name == name))
    if existing is not None and not replace:
        raise PolicyExists(f"a policy named {name!r} exists; use replace to change it")
    if existing is not None and existing.realm != realm:
        raise PolicyExists(
            f"a policy named {name!r} exists in the {existing.realm} realm; remove it first"
        )
    if existing is None:
        policy = Policy(name=name, text=text, description=description, realm=realm)
        session.add(policy)
        action = "policy.create"
    else:
        policy = existing
        policy.text = text
        policy.description = description if description is not None else policy.description
        policy.updated_at = utcnow()
        action = "policy.update"
    uow.flush()
    record(
        session,
        actor,
        action,
        resource_type="policy",
        resource_id=policy.id,
        resource_name=name,
        context={
            "statements": len(split_statements(text)),
            "validated": validate or realm != "access",
            "realm": realm,
        },
    )
    return policy


def remove_policy(uow: UnitOfWork, actor: Actor, name: str) -> None:
    policy = get_policy(uow.session, name)
    uow.session.delete(policy)
    record(
        uow.session,
        actor,
        "policy.delete",
        resource_type="policy",
        resource_id=policy.id,
        resource_name=name,
    )


def get_policy(session: Session, name: str) -> Policy:
    policy = session.scalar(sa.select(Policy).where(Policy.name == name))
    if policy is None:
        raise PolicyNotFound(f"no policy {name!r}")
    return policy


def list_policies(session: Session) -> list[Policy]:
    return list(session.scalars(sa.select(Policy).order_by(Policy.name)))
