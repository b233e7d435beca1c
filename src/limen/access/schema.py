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
"""

from __future__ import annotations

from typing import Final

__all__ = ["ACTIONS", "ENTITY_TYPES", "NAMESPACE", "SCHEMA"]

NAMESPACE: Final = "Limen"
ENTITY_TYPES: Final = ("Identity", "Vault", "Item", "Tool", "Resource")
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

_ACTIONS = "\n".join(
    f'  action "{name}" appliesTo {{\n'
    "    principal: [Identity],\n"
    "    resource: [Identity, Vault, Item, Tool, Resource],\n"
    "    context: Context\n"
    "  };"
    for name in ACTIONS
)

SCHEMA: Final = f"""namespace {NAMESPACE} {{
  entity Identity = {{
    kind: String,
    name: String,
    status: String,
    risk: Long,
    roles: Set<String>,
    groups?: Set<String>,
    owner?: Identity,
  }};
  type Context = {{
    ip?: String,
    risk?: Long,
    tool?: String,
    channel?: String,
    delegated?: Bool,
    on_behalf_of?: Identity,
    threat_level?: String,
  }};
  entity Vault = {{ properties?: {{}} }};
  entity Item in [Vault] = {{ properties?: {{}} }};
  entity Tool = {{ properties?: {{}} }};
  entity Resource = {{ type: String, properties?: {{}} }};
{_ACTIONS}
}}
"""
