"""The Cedar schema of Limen's entities, which policies are validated against.

https://docs.cedarpolicy.com/schema/human-readable-schema.html

- ``Identity``: every human, agent and service, with its kind, status, owner and risk,
  and (for people the identity provider manages) the ``groups`` it put them in;
- ``Vault`` and ``Item`` (items are ``in`` their vault), ``Tool`` (what agents call);
- ``Resource``: anything else a PEP asks about; its AuthZEN ``type`` is the ``type``
  attribute, its ``properties`` the ``properties`` record;
- ``Context``: what the PEP sends as AuthZEN ``context`` (``ip``, ``tool``, …) plus what
  Limen adds: ``delegated`` and ``on_behalf_of`` when a token's ``act`` chain is present,
  and ``threat_level``, the platform's (``limen.respond.threat``).
  Optional attributes need a ``has`` test first, as Cedar's validator insists.

Actions are the verbs Limen and AuthZEN examples use. Requests naming other actions are
still decided (deny unless a policy permits), but a policy naming an action must name one
declared here, so a typo is caught at ``limen policy validate`` instead of silently
never matching.

Operators extend the schema for their own applications with *fragments* (``limen policy
schema add NAME FILE``): Cedar schema declarations placed inside ``namespace Limen``.
A fragment may declare

- entity types, one per AuthZEN resource type of the application (``entity record =
  { status?: String };``): a resource of that type becomes that entity, its
  ``properties`` its attributes;
- actions, with their own ``appliesTo``;
- the common types Limen's own declarations refer to: ``SubjectProperties`` and
  ``ActionProperties`` (what PEPs send as ``subject.properties`` and
  ``action.properties``, seen as ``context.subject_properties`` and
  ``context.action_properties``) and ``Attributes`` (an identity's custom attributes,
  ``principal.attributes``).

Whatever a fragment leaves out is an empty record. Built-in actions apply to the
fragments' entity types too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

__all__ = [
    "ACTIONS",
    "ENTITY_TYPES",
    "EXTENSIBLE_TYPES",
    "NAMESPACE",
    "SCHEMA",
    "compose_schema",
    "fragment_actions",
    "fragment_entity_types",
]

NAMESPACE: Final = "Limen"
ENTITY_TYPES: Final = ("Identity", "Vault", "Item", "Tool", "Resource")
EXTENSIBLE_TYPES: Final = ("SubjectProperties", "ActionProperties", "Attributes")
"""Common types a fragment may define; Limen declares each as ``{}`` otherwise."""
ACTIONS: Final = (
    "read",
    "write",
    "list",
    "delete",
    "call",
    "use",
    "rotate",
    "admin",
    "can_read",
    "can_update",
    "can_delete",
    "can_create",
)

_ENTITY = re.compile(r"(?m)^\s*entity\s+([A-Za-z_][A-Za-z0-9_]*)")
_TYPE = re.compile(r"(?m)^\s*type\s+([A-Za-z_][A-Za-z0-9_]*)\s*=")


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", text)


def fragment_entity_types(fragments: Sequence[str]) -> tuple[str, ...]:
    """The entity types the fragments declare, in order."""
    names: list[str] = []
    for text in fragments:
        names.extend(n for n in _ENTITY.findall(_strip_comments(text)) if n not in names)
    return tuple(names)


_ACTION = re.compile(r'(?m)^\s*action\s+((?:"[^"]*"\s*,?\s*)+)')


def fragment_actions(fragments: Sequence[str]) -> tuple[str, ...]:
    """The actions the fragments declare, in order."""
    names: list[str] = []
    for text in fragments:
        for group in _ACTION.findall(_strip_comments(text)):
            names.extend(n for n in re.findall(r'"([^"]*)"', group) if n not in names)
    return tuple(names)


def compose_schema(fragments: Sequence[str] = ()) -> str:
    """Limen's schema with the operators' fragments inside ``namespace Limen``."""
    declared_types = {n for text in fragments for n in _TYPE.findall(_strip_comments(text))}
    defaults = "".join(
        f"  type {name} = {{}};\n" for name in EXTENSIBLE_TYPES if name not in declared_types
    )
    resources = ", ".join((*ENTITY_TYPES[1:], *fragment_entity_types(fragments)))
    actions = "\n".join(
        f'  action "{name}" appliesTo {{\n'
        "    principal: [Identity],\n"
        f"    resource: [Identity, {resources}],\n"
        "    context: Context\n"
        "  };"
        for name in ACTIONS
    )
    extra = "\n".join(text.strip() for text in fragments)
    return f"""namespace {NAMESPACE} {{
  entity Identity = {{
    kind: String,
    name: String,
    status: String,
    risk: Long,
    roles: Set<String>,
    groups?: Set<String>,
    owner?: Identity,
    email?: String,
    attributes?: Attributes,
  }};
  type Context = {{
    ip?: String,
    risk?: Long,
    tool?: String,
    channel?: String,
    time?: String,
    delegated?: Bool,
    on_behalf_of?: Identity,
    threat_level?: String,
    subject_properties?: SubjectProperties,
    action_properties?: ActionProperties,
  }};
  entity Vault = {{ properties?: {{}} }};
  entity Item in [Vault] = {{ properties?: {{}} }};
  entity Tool = {{ properties?: {{}} }};
  entity Resource = {{ type: String, properties?: {{}} }};
{defaults}{actions}
{extra}
}}
"""


SCHEMA: Final = compose_schema()
