"""Vaults themselves: creating, listing, their rotation policy, the rotation report and
the vault activity feed."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, Resource, record
from limen.errors import InvalidInput
from limen.store.models import ApiToken, Event, Identity, IdentityStatus, utcnow
from limen.store.models.vault import Vault, VaultFile, VaultItem, VaultItemVersion
from limen.vault._base import VaultCore
from limen.vault._views import (
    PolicyEntry,
    VaultView,
)
from limen.vault._views import check_age as _check_age
from limen.vault._views import vault_view as _vault_view
from limen.vault.errors import VaultExists, VaultNotEmpty
from limen.vault.scopes import can, require_admin

__all__ = ["Vaults"]


class Vaults(VaultCore):
    def create_vault(
        self,
        actor: Actor,
        name: str,
        *,
        description: str | None = None,
        max_secret_age_days: int | None = None,
    ) -> VaultView:
        name = (name or "").strip()
        if not name or len(name) > 100 or "/" in name:
            raise InvalidInput("a vault name is 1-100 characters and has no '/'")
        _check_age(max_secret_age_days)
        with self._authorised(actor, "vault.create", None, admin=True) as uow:
            if uow.session.scalar(sa.select(Vault.id).where(Vault.name == name)):
                raise VaultExists(f"a vault named {name!r} already exists")
            vault = Vault(
                name=name, description=description, max_secret_age_days=max_secret_age_days
            )
            uow.session.add(vault)
            uow.flush()
            record(
                uow.session,
                actor,
                "vault.create",
                resource_type="vault",
                resource_id=vault.id,
                resource_name=vault.name,
            )
            return _vault_view(vault, 0)

    def list_vaults(self, actor: Actor, *, name: str | None = None) -> list[VaultView]:
        """Vaults the actor may read, by name (asking the guard once for listing at all)."""
        self._guard.authorize(actor, "vault.read", Resource("vault"), scopes=())
        with self.db.unit_of_work(readonly=True) as uow:
            counts = dict(
                uow.session.execute(
                    sa.select(VaultItem.vault_id, sa.func.count())
                    .where(VaultItem.deleted_at.is_(None))
                    .group_by(VaultItem.vault_id)
                ).all()
            )
            query = sa.select(Vault).order_by(Vault.name)
            if name is not None:
                query = query.where(Vault.name == name)
            return [
                _vault_view(v, counts.get(v.id, 0))
                for v in uow.session.scalars(query)
                if can(actor, v.id, "read")
                and self._guard.allows(actor, "vault.read", Resource("vault", v.id), scopes=())
            ]

    def get_vault(self, actor: Actor, ref: str) -> VaultView:
        with self._authorised(actor, "vault.read", ref, permission="read", write=False) as uow:
            vault = self._vault(uow.session, ref)
            return _vault_view(vault, self._count(uow.session, vault.id))

    def set_policy(self, actor: Actor, ref: str, *, max_secret_age_days: int | None) -> VaultView:
        """Set (or clear, with ``None``) the vault's maximum secret age."""
        _check_age(max_secret_age_days)
        with self._authorised(actor, "vault.update", ref, admin=True) as uow:
            vault = self._vault(uow.session, ref)
            vault.max_secret_age_days = max_secret_age_days
            vault.attribute_version += 1
            vault.updated_at = utcnow()
            record(
                uow.session,
                actor,
                "vault.update",
                resource_type="vault",
                resource_id=vault.id,
                resource_name=vault.name,
                context={"max_secret_age_days": max_secret_age_days},
            )
            return _vault_view(vault, self._count(uow.session, vault.id))

    def update_vault(
        self,
        actor: Actor,
        ref: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> VaultView:
        """Rename a vault or change its description (``None``: unchanged).

        Items, their versions and tokens' scopes follow the vault's id, so nothing is
        re-sealed; ``limen://`` references that name the vault by its old name stop
        resolving, as after renaming a folder.
        """
        if name is not None:
            name = name.strip()
            if not name or len(name) > 100 or "/" in name:
                raise InvalidInput("a vault name is 1-100 characters and has no '/'")
        with self._authorised(actor, "vault.update", ref, admin=True) as uow:
            vault = self._vault(uow.session, ref)
            context: dict[str, str] = {}
            if name is not None and name != vault.name:
                if uow.session.scalar(sa.select(Vault.id).where(Vault.name == name)):
                    raise VaultExists(f"a vault named {name!r} already exists")
                context["renamed_from"] = vault.name
                vault.name = name
            if description is not None and description != (vault.description or ""):
                vault.description = description or None
                context["description"] = "changed"
            if context:
                vault.attribute_version += 1
                vault.updated_at = utcnow()
                record(
                    uow.session,
                    actor,
                    "vault.update",
                    resource_type="vault",
                    resource_id=vault.id,
                    resource_name=vault.name,
                    context=context,
                )
            return _vault_view(vault, self._count(uow.session, vault.id))

    def delete_vault(self, actor: Actor, ref: str) -> int:
        """Delete an empty vault, emptying its trash for good; returns how many trashed
        items went with it. A vault that still holds live items is refused
        (:class:`~limen.vault.errors.VaultNotEmpty`): deleting each item first is the
        deliberate step. The event log keeps the vault's history."""
        with self._authorised(actor, "vault.delete", ref, admin=True) as uow:
            session = uow.session
            vault = self._vault(session, ref)
            live = self._count(session, vault.id)
            if live:
                raise VaultNotEmpty(f"vault {vault.name!r} holds {live} item(s); delete them first")
            trashed = sa.select(VaultItem.id).where(VaultItem.vault_id == vault.id)
            purged = session.scalar(sa.select(sa.func.count()).select_from(trashed.subquery()))
            session.execute(sa.delete(VaultFile).where(VaultFile.item_id.in_(trashed)))
            session.execute(
                sa.delete(VaultItemVersion).where(VaultItemVersion.item_id.in_(trashed))
            )
            session.execute(sa.delete(VaultItem).where(VaultItem.vault_id == vault.id))
            record(
                session,
                actor,
                "vault.delete",
                resource_type="vault",
                resource_id=vault.id,
                resource_name=vault.name,
                context={"purged_items": int(purged or 0)},
            )
            session.delete(vault)
            return int(purged or 0)

    # -- items --------------------------------------------------------------------------

    # -- rotation policy ----------------------------------------------------------------

    def report(self, actor: Actor, *, now: datetime | None = None) -> list[PolicyEntry]:
        """Every live item under a rotation policy or flagged for rotation (someone who
        could read it was offboarded), oldest secret first."""
        require_admin(actor)
        self._guard.authorize(actor, "vault.report", Resource("vault"), scopes=())
        now = now or utcnow()
        with self.db.unit_of_work(readonly=True) as uow:
            session = uow.session
            holders: list[tuple[str, Actor]] | None = None  # read once an item needs them
            rows = session.execute(
                sa.select(VaultItem, Vault)
                .join(Vault, Vault.id == VaultItem.vault_id)
                .where(VaultItem.deleted_at.is_(None))
            ).all()
            entries = []
            readers_by_vault: dict[str, tuple[str, ...]] = {}
            for item, vault in rows:
                limit = item.max_secret_age_days or vault.max_secret_age_days
                if not limit and item.rotation_needed_since is None:
                    continue
                if holders is None:
                    holders = _token_holders(session, now)
                if vault.id not in readers_by_vault:
                    readers_by_vault[vault.id] = tuple(
                        sorted({name for name, who in holders if can(who, vault.id, "read")})
                    )
                age = now - item.secrets_changed_at
                entries.append(
                    PolicyEntry(
                        vault_id=vault.id,
                        vault_name=vault.name,
                        item_id=item.id,
                        title=item.title,
                        max_age_days=limit or None,
                        age_days=age.days,
                        last_rotated=item.secrets_changed_at,
                        out_of_policy=bool(limit) and age > timedelta(days=limit),
                        readers=readers_by_vault[vault.id],
                        rotation_needed_since=item.rotation_needed_since,
                        rotation_needed_reason=item.rotation_needed_reason,
                    )
                )
            return sorted(entries, key=lambda e: (e.last_rotated, e.vault_name, e.title))

    # -- activity -----------------------------------------------------------------------

    def activity(
        self, actor: Actor, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Event], int]:
        """Vault events, newest first, and how many there are in all: Connect's
        ``/v1/activity`` feed.
        """
        require_admin(actor)
        self._guard.authorize(actor, "event.read", Resource("vault"), scopes=())
        if not 1 <= limit <= 1000 or offset < 0:
            raise InvalidInput("limit is 1-1000 and offset is not negative")
        is_vault_event = Event.action.startswith("vault.", autoescape=True)
        with self.db.unit_of_work(readonly=True) as uow:
            events = list(
                uow.session.scalars(
                    sa.select(Event)
                    .where(is_vault_event)
                    .order_by(Event.seq.desc())
                    .offset(offset)
                    .limit(limit)
                )
            )
            total = uow.session.scalar(
                sa.select(sa.func.count()).select_from(Event).where(is_vault_event)
            )
            return events, total or 0


def _token_holders(session: Session, now: datetime) -> list[tuple[str, Actor]]:
    rows = session.execute(
        sa.select(ApiToken.scopes, Identity.name)
        .join(Identity, Identity.id == ApiToken.identity_id)
        .where(
            ApiToken.revoked_at.is_(None),
            sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
            Identity.status == IdentityStatus.ACTIVE,
        )
    ).all()
    return [
        (name, Actor(kind="token", name=name, scopes=frozenset(scopes))) for scopes, name in rows
    ]
