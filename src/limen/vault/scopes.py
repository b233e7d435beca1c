"""The vault's scope grammar, checked against an :class:`~limen.audit.Actor`'s token.

::

    vault:<vault_id>:read     read items (and their secret values) in one vault
    vault:<vault_id>:write    create, change and delete items in one vault (implies read)
    vault:*:read              read every vault
    vault:*:write             write every vault
    vault:*                   everything in the vault package, including creating vaults
                              and rotating the key (``vault:admin`` is the same)
    *                         everything (admin tokens)
"""

from __future__ import annotations

from typing import Literal

from limen.audit import Actor
from limen.vault.errors import VaultAccessDenied

__all__ = ["ADMIN_SCOPE", "Permission", "can", "require_admin", "vault_scope"]

Permission = Literal["read", "write"]
ADMIN_SCOPE = "vault:admin"


def vault_scope(vault_id: str, permission: Permission) -> str:
    return f"vault:{vault_id}:{permission}"


def can(actor: Actor, vault_id: str, permission: Permission) -> bool:
    """True if the actor's token grants ``permission`` on the vault."""
    granted = ("read", "write") if permission == "read" else ("write",)
    return actor.has_scope(ADMIN_SCOPE) or any(
        actor.has_scope(vault_scope(target, level))
        for target in (vault_id, "*")
        for level in granted
    )


def require_admin(actor: Actor) -> None:
    if not actor.has_scope(ADMIN_SCOPE):
        raise VaultAccessDenied("this needs the vault:admin scope")
