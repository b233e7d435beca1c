"""Limen's own operations as Cedar sees them: the actions, their groups, the scopes a token
needs for each, the schema administrative policies are validated against, and the
built-in policy ``limen-admin`` that defines the built-in roles.

https://docs.cedarpolicy.com/policies/syntax-policy.html

Every operation of the API and the CLI is one action here (``identity.suspend``,
``vault.item.read``, …). Each belongs to one group, and roles are granted groups:

=================  ===========================================================
group              actions
=================  ===========================================================
``view``           read identities, vault and policy metadata, kill switches,
                   clients, tokens (metadata only), partners, streams
``audit``          read the event log, verify the chain, reports
``respond``        suspend, reactivate, contain, kill switch, revoke credentials
``manage``         create, change and delete identities, credentials, policies,
                   vaults; rotate keys; prune the log
``secrets``        read and write secret values
``use``            what a granted credential is for: decisions (AuthZEN), token
                   introspection, reporting findings and events, one's own streams
=================  ===========================================================

Built-in roles (a human's ``roles``): ``admin`` (everything), ``security-operator``
(view, audit, respond: everything but secret values and configuration),
``auditor`` (view, audit), ``viewer`` (view). Everyone may ``use`` what a token was
granted. Operators add roles with administrative policies of their own
(``limen policy add NAME FILE --realm admin``), e.g.::

    permit (principal, action in Limen::Action::"secrets", resource in Limen::Vault::"payments")
    when { principal.roles.contains("payments-team") };

Agents and services hold no roles: they act within the scopes an admin granted their
credentials, and an owned one never beyond what its owner's roles allow (the guard asks
Cedar about the owner too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "ACTIONS",
    "ADMIN_POLICY",
    "ADMIN_POLICY_NAME",
    "ADMIN_SCHEMA",
    "GROUPS",
    "ActionSpec",
]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    group: str
    scopes: tuple[str, ...]
    """A token needs one of these (``*`` and ``family:*`` cover more); empty: the caller
    passes the scopes that fit the resource (the vault's scope grammar)."""
    summary: str


GROUPS: Final = ("view", "audit", "respond", "manage", "secrets", "use")

ACTIONS: Final[dict[str, ActionSpec]] = {
    # identities
    "identity.read": ActionSpec("view", ("identities:read", "users:read"), "see identities"),
    "identity.create": ActionSpec("manage", ("identities:write",), "create identities"),
    "identity.update": ActionSpec("manage", ("identities:write",), "change identities"),
    "identity.delete": ActionSpec("manage", ("identities:write",), "deprovision identities"),
    "identity.suspend": ActionSpec(
        "respond", ("identities:write", "users:suspend"), "suspend and contain identities"
    ),
    "identity.reactivate": ActionSpec(
        "respond", ("identities:write", "users:reactivate"), "reactivate identities"
    ),
    # credentials
    "token.read": ActionSpec("view", ("tokens:read",), "list tokens (metadata)"),
    "token.create": ActionSpec("manage", ("tokens:write",), "issue personal and admin tokens"),
    "token.revoke": ActionSpec("respond", ("tokens:write", "tokens:revoke"), "revoke tokens"),
    "token.introspect": ActionSpec("use", ("tokens:introspect",), "introspect tokens"),
    "client.read": ActionSpec("view", ("clients:read",), "list OAuth clients"),
    "client.create": ActionSpec("manage", ("clients:write",), "register OAuth clients"),
    "client.rotate": ActionSpec("manage", ("clients:write",), "rotate OAuth client secrets"),
    "client.revoke": ActionSpec("respond", ("clients:write",), "revoke OAuth clients"),
    "scim.provision": ActionSpec("manage", ("scim:write",), "provision people and groups (SCIM)"),
    "partner.read": ActionSpec("view", ("partners:read",), "list partners"),
    "partner.create": ActionSpec("manage", ("partners:write",), "register partners"),
    "partner.rotate": ActionSpec("manage", ("partners:write",), "rotate partners' secrets"),
    "partner.revoke": ActionSpec("respond", ("partners:write",), "revoke partners"),
    # containment
    "killswitch.read": ActionSpec("view", ("killswitch:read", "users:read"), "see kill switches"),
    "killswitch.engage": ActionSpec(
        "respond", ("killswitch:write", "users:suspend"), "engage the kill switch"
    ),
    "killswitch.disengage": ActionSpec(
        "respond", ("killswitch:write", "users:reactivate"), "disengage the kill switch"
    ),
    # policies and decisions
    "policy.read": ActionSpec("view", ("policies:read",), "read policies"),
    "policy.write": ActionSpec("manage", ("policies:write",), "add, change and remove policies"),
    "access.evaluate": ActionSpec("use", ("access:evaluate",), "ask for decisions (AuthZEN)"),
    # the event log
    "event.read": ActionSpec("audit", ("events:read",), "read the event log"),
    "event.write": ActionSpec("use", ("events:write",), "report events from outside"),
    "audit.verify": ActionSpec("audit", ("events:read",), "verify the hash chain"),
    "access.review": ActionSpec(
        "audit", ("access:review", "events:read"), "review what machine identities can reach"
    ),
    "audit.prune": ActionSpec("manage", ("events:admin",), "prune the event log"),
    "sink.read": ActionSpec("view", ("sinks:read",), "list event sinks"),
    "sink.write": ActionSpec("manage", ("sinks:write",), "add and remove event sinks"),
    # detection and response
    "alert.read": ActionSpec("audit", ("alerts:read",), "see alerts"),
    "alert.update": ActionSpec(
        "respond", ("alerts:write",), "acknowledge, resolve and mark alerts false positives"
    ),
    "playbook.read": ActionSpec("view", ("playbooks:read",), "see response playbooks"),
    "playbook.write": ActionSpec(
        "manage", ("playbooks:write",), "add, change and remove response playbooks"
    ),
    "resource.read": ActionSpec("view", ("resources:read",), "see operators' resource tags"),
    "resource.write": ActionSpec("manage", ("resources:write",), "tag and untag resources"),
    "threat.read": ActionSpec("view", ("threat:read",), "see the threat level"),
    "threat.write": ActionSpec("respond", ("threat:write",), "set the threat level"),
    "metrics.read": ActionSpec("audit", ("metrics:read",), "scrape Prometheus metrics"),
    # the vault (scopes follow the vault's grammar: the caller passes them)
    "vault.read": ActionSpec("view", (), "see vaults and item metadata"),
    "vault.create": ActionSpec("manage", (), "create vaults"),
    "vault.update": ActionSpec("manage", (), "change and delete vaults, rotate the key"),
    "vault.report": ActionSpec("audit", (), "report secrets overdue for rotation"),
    "vault.item.read": ActionSpec("secrets", (), "read secret values"),
    "vault.item.write": ActionSpec("secrets", (), "write and delete items"),
    # discovery and signals
    "discovery.report": ActionSpec("use", ("discovery:write",), "report scan findings"),
    "discovery.read": ActionSpec(
        "view", ("discovery:read",), "see the fleet's machines and exposures"
    ),
    # ssf.manage / ssf.read: the scope names of the CAEP interoperability profile.
    "ssf.stream": ActionSpec("use", ("ssf:manage", "ssf.manage"), "manage one's own SSF streams"),
    "ssf.streams.read": ActionSpec(
        "view", ("ssf:admin", "streams:read"), "see every receiver's SSF streams"
    ),
    "ssf.stream.read": ActionSpec(
        "use",
        ("ssf:manage", "ssf.manage", "ssf.read"),
        "read one's own SSF streams and their status",
    ),
}

ADMIN_POLICY_NAME: Final = "limen-admin"

ADMIN_POLICY: Final = """\
// Limen's built-in roles. Every operation of the API and the CLI is one action, in one
// group (view, audit, respond, manage, secrets, use): see `limen policy show limen-admin`
// and docs/security-model.md.

// Admins may do everything.
permit (principal, action, resource)
when { principal.roles.contains("admin") };

// Security operators see everything but secret values, read the log, and respond.
permit (
  principal,
  action in [Limen::Action::"view", Limen::Action::"audit", Limen::Action::"respond"],
  resource
)
when { principal.roles.contains("security-operator") };

// Auditors read identities, the event log and reports.
permit (principal, action in [Limen::Action::"view", Limen::Action::"audit"], resource)
when { principal.roles.contains("auditor") };

// Viewers see identities and metadata.
permit (principal, action in Limen::Action::"view", resource)
when { principal.roles.contains("viewer") };

// Anyone may use what a credential was granted for (its scopes decide).
permit (principal, action in Limen::Action::"use", resource);

// Agents and services hold no roles: they act within the scopes an admin granted their
// credentials. An owned one is also bounded by its owner, whom the guard asks about too.
permit (principal, action, resource)
when { principal.kind != "human" };
"""

_ACTION_DECLARATIONS = "\n".join(
    [f'  action "{group}";' for group in GROUPS]
    + [
        f'  action "{name}" in ["{spec.group}"] appliesTo {{\n'
        "    principal: [Identity],\n"
        "    resource: [Identity, Vault, Item, Resource],\n"
        "    context: {}\n"
        "  };"
        for name, spec in ACTIONS.items()
    ]
)

ADMIN_SCHEMA: Final = f"""namespace Limen {{
  entity Identity = {{
    kind: String,
    name: String,
    status: String,
    risk: Long,
    roles: Set<String>,
    owner?: Identity,
  }};
  entity Vault;
  entity Item in [Vault];
  entity Resource = {{ type: String }};
{_ACTION_DECLARATIONS}
}}
"""
