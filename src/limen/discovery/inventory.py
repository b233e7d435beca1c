"""The shadow-identity inventory: credentials and agents as identities, not as lines.

The same credential pasted into a ``.env``, a CI file and a shell history is one
identity with three places, not three problems. Findings are grouped by their keyed
fingerprint (:func:`~limen.discovery.findings.fingerprint`), so the inventory never
holds the secret itself. Each discovered MCP server or agent is an identity of kind
``agent``, linked to the credentials found in its configuration file.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from limen.discovery.findings import DiscoveredAgent, Finding

__all__ = ["DiscoveredIdentity", "build_inventory"]


@dataclass(frozen=True, slots=True)
class DiscoveredIdentity:
    """An identity Limen does not manage yet: a credential, or an agent."""

    key: str
    kind: Literal["service", "agent"]
    provider: str
    rule_ids: tuple[str, ...]
    places: tuple[str, ...]
    likely_owner: str | None
    first_seen: str | None
    last_seen: str | None
    name: str | None = None
    credentials: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready mapping."""
        return {
            "key": self.key,
            "kind": self.kind,
            "name": self.name,
            "provider": self.provider,
            "rule_ids": list(self.rule_ids),
            "places": list(self.places),
            "likely_owner": self.likely_owner,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "credentials": list(self.credentials),
        }


def build_inventory(
    findings: Sequence[Finding], agents: Sequence[DiscoveredAgent] = ()
) -> list[DiscoveredIdentity]:
    """Group findings into credential identities and add one identity per agent."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.fingerprint, []).append(finding)
    identities: list[DiscoveredIdentity] = []
    for key, group in groups.items():
        owners = Counter(f.owner for f in group if f.owner)
        seen = sorted(f.seen_at for f in group if f.seen_at)
        providers = Counter(f.provider for f in group)
        identities.append(
            DiscoveredIdentity(
                key=key,
                kind="service",
                provider=providers.most_common(1)[0][0],
                rule_ids=tuple(sorted({f.rule_id for f in group})),
                places=tuple(sorted({f.location for f in group})),
                likely_owner=owners.most_common(1)[0][0] if owners else None,
                first_seen=seen[0] if seen else None,
                last_seen=seen[-1] if seen else None,
            )
        )
    by_path: dict[str, list[str]] = {}
    for finding in findings:
        by_path.setdefault(finding.path, []).append(finding.fingerprint)
    for agent in agents:
        digest = hashlib.sha256(
            "\0".join([agent.tool, agent.name, agent.command or "", agent.url or ""]).encode()
        ).hexdigest()[:32]
        identities.append(
            DiscoveredIdentity(
                key=f"agent-{digest}",
                kind="agent",
                name=agent.name,
                provider=agent.tool,
                rule_ids=(),
                places=(agent.path,),
                likely_owner=agent.owner,
                first_seen=None,
                last_seen=None,
                credentials=tuple(sorted(set(by_path.get(agent.path, ())))),
            )
        )
    identities.sort(key=lambda i: (i.kind, i.provider, i.key))
    return identities
