"""Partner integrations: a security tool registered as a service identity with an OAuth client.

A partner (SOAR, SIEM, intrusion detection) is an identity of kind ``service`` with a
partner registration (a ``partners`` row, which only :func:`register_partner` writes:
nothing an identity's own attributes say makes it one), holding ``client_secret_basic``
OAuth clients registered through :mod:`limen.tokens`. Its scopes are limited to what a
response tool needs, so a leaked partner secret can suspend identities and read the
directory, never read secrets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen import identity as identities
from limen import tokens
from limen.audit import Actor, record
from limen.errors import InvalidInput
from limen.respond.errors import PartnerDisabled, WrongKind
from limen.store import UnitOfWork
from limen.store.models import Identity, OAuthClient
from limen.store.models import Partner as PartnerRow

__all__ = [
    "PARTNER_SCOPES",
    "PARTNER_TOKEN_TTL",
    "Partner",
    "PartnerTokenEndpoint",
    "get_partner",
    "is_partner",
    "list_partners",
    "register_partner",
    "revoke_partner",
    "rotate_partner",
]

PARTNER_SCOPES: Final = frozenset(
    {"users:read", "users:suspend", "users:reactivate", "ssf:manage", "ssf.manage", "ssf.read"}
)
PARTNER_TOKEN_TTL: Final = timedelta(minutes=15)
"""1Password's Users API tokens live 900 seconds; partner connectors expect that."""


@dataclass(frozen=True, slots=True)
class Partner:
    identity: Identity
    clients: Sequence[OAuthClient]


def is_partner(session: Session, identity_id: str) -> bool:
    """Whether ``identity_id`` is a registered partner."""
    return session.get(PartnerRow, identity_id) is not None


def register_partner(
    uow: UnitOfWork, actor: Actor, name: str, *, scopes: Iterable[str]
) -> tuple[Identity, OAuthClient, str]:
    """Create the partner's identity (or reuse it) and a new OAuth client; returns the secret.

    The secret is returned here only; Limen keeps a hash.
    """
    wanted = sorted({s.strip() for s in scopes if s and s.strip()})
    if not wanted:
        raise InvalidInput(f"name the partner's scopes, from: {', '.join(sorted(PARTNER_SCOPES))}")
    unknown = [s for s in wanted if s not in PARTNER_SCOPES]
    if unknown:
        raise InvalidInput(
            f"partners may hold only {', '.join(sorted(PARTNER_SCOPES))}; not {unknown[0]!r}"
        )
    try:
        row = identities.get(uow.session, name)
    except identities.IdentityNotFound:
        row = identities.create(
            uow, actor, kind="service", name=name, display_name=name, spare_from_kill_switch=True
        )
        uow.session.add(PartnerRow(identity_id=row.id, created_by=actor.name))
        uow.flush()
    if not is_partner(uow.session, row.id):
        raise identities.IdentityExists(f"{name!r} already names an identity that is not a partner")
    client, secret = tokens.register_client(
        uow, actor, row, scopes=wanted, auth_method="client_secret_basic", name=name
    )
    assert secret is not None
    record(
        uow.session,
        actor,
        "partner.create",
        resource_type="identity",
        resource_id=row.id,
        resource_name=row.name,
        context={"partner": row.name, "client_id": client.client_id, "scopes": wanted},
    )
    return row, client, secret


def list_partners(session: Session) -> list[Partner]:
    rows = session.scalars(
        sa.select(Identity)
        .join(PartnerRow, PartnerRow.identity_id == Identity.id)
        .order_by(Identity.created_at, Identity.id)
    ).all()
    return [Partner(row, tokens.list_clients(session, identity_id=row.id)) for row in rows]


def get_partner(session: Session, ref: str) -> Partner:
    """One partner (by name or id) and its clients."""
    row = identities.get(session, ref)
    if not is_partner(session, row.id):
        raise WrongKind(f"no partner {ref!r}")
    return Partner(row, tokens.list_clients(session, identity_id=row.id))


def rotate_partner(
    uow: UnitOfWork, actor: Actor, ref: str, *, client_id: str | None = None
) -> tuple[Partner, OAuthClient, str]:
    """A new secret for a partner's client (its newest active one unless ``client_id``
    says which); returns the secret once. The client id stays, so the partner's
    connector needs only the new secret, and the old one stops working at once."""
    partner = get_partner(uow.session, ref)
    active = [c for c in partner.clients if c.revoked_at is None]
    if client_id is not None:
        active = [c for c in partner.clients if c.client_id == client_id]
        if not active:
            raise tokens.ClientNotFound(
                f"partner {partner.identity.name!r} has no client {client_id!r}"
            )
    if not active:
        raise PartnerDisabled(
            f"partner {partner.identity.name!r} has no active client; register it again"
        )
    client, secret = tokens.rotate_client_secret(uow, actor, active[-1].client_id)
    return (
        Partner(
            partner.identity, tokens.list_clients(uow.session, identity_id=partner.identity.id)
        ),
        client,
        secret,
    )


def revoke_partner(uow: UnitOfWork, actor: Actor, ref: str) -> Partner:
    """Revoke every OAuth client of a partner: its secrets and the tokens they got stop working."""
    row = identities.get(uow.session, ref)
    if not is_partner(uow.session, row.id):
        raise WrongKind(f"no partner {ref!r}")
    clients = tokens.list_clients(uow.session, identity_id=row.id)
    revoked = [
        tokens.revoke_client(uow, actor, c.client_id).client_id
        for c in clients
        if c.revoked_at is None
    ]
    record(
        uow.session,
        actor,
        "partner.revoke",
        resource_type="identity",
        resource_id=row.id,
        resource_name=row.name,
        context={"partner": row.name, "revoked_clients": revoked},
    )
    return Partner(row, tokens.list_clients(uow.session, identity_id=row.id))


class PartnerTokenEndpoint(tokens.TokenEndpoint):
    """``/v1beta1/users/oauth2/token``: the client credentials grant, for partners only.

    1Password's endpoint takes ``scope=openid`` or nothing, meaning the client's own
    scopes; a subset of the client's scopes narrows the token. Tokens live
    :data:`PARTNER_TOKEN_TTL` (the token service it is given says so).
    """

    GRANTS = (tokens.ClientCredentialsGrant,)

    def __init__(self, partner_tokens: tokens.TokenService) -> None:
        super().__init__(partner_tokens, path="/v1beta1/users/oauth2/token")

    def admit(self, identity: tokens.ClientIdentity) -> None:
        # Fail closed: only registered partners get the longer partner lifetime.
        if not identity.partner:
            raise tokens.UnauthorizedClient("this endpoint is for partner integrations")

    def prepare(self, form, credentials, **kwargs):  # type: ignore[no-untyped-def,override]
        grant = list(form.get("grant_type") or [])
        if grant and grant != ["client_credentials"]:
            raise tokens.UnsupportedGrantType("partners use grant_type=client_credentials")
        if list(form.get("scope") or []) == ["openid"]:
            form = {k: v for k, v in form.items() if k != "scope"}
        return super().prepare(form, credentials, **kwargs)
