"""Every table Limen stores, one module per concept."""

from limen.store.models.access import Policy
from limen.store.models.api_token import ApiToken
from limen.store.models.audit import AuditChainHead, AuditCheckpoint, AuditSink
from limen.store.models.base import Base, as_utc, utcnow
from limen.store.models.detect import DetectAlert, DetectBaseline, DetectCursor
from limen.store.models.discovery import FleetExposure, FleetMachine
from limen.store.models.event import Event, events_acted_for
from limen.store.models.identity import Identity, IdentityKind, IdentityStatus, Partner
from limen.store.models.installation import Installation
from limen.store.models.lifecycle import ProvisionedGroup, ProvisionedMember, ProvisionedUser
from limen.store.models.notice import StoreNotice
from limen.store.models.resource import ResourceTag
from limen.store.models.respond import (
    Containment,
    ContainmentMember,
    Playbook,
    SsfCursor,
    SsfOutbox,
    SsfStream,
    ThreatLevel,
)
from limen.store.models.tokens import AssertionJti, OAuthClient, RevokedToken, SigningKey
from limen.store.models.vault import Vault, VaultFile, VaultItem, VaultItemVersion, VaultKek

__all__ = [
    "ApiToken",
    "AssertionJti",
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditSink",
    "Base",
    "Containment",
    "ContainmentMember",
    "DetectAlert",
    "DetectBaseline",
    "DetectCursor",
    "Event",
    "FleetExposure",
    "FleetMachine",
    "Identity",
    "IdentityKind",
    "IdentityStatus",
    "Installation",
    "OAuthClient",
    "Partner",
    "Playbook",
    "Policy",
    "ProvisionedGroup",
    "ProvisionedMember",
    "ProvisionedUser",
    "ResourceTag",
    "RevokedToken",
    "SigningKey",
    "SsfCursor",
    "SsfOutbox",
    "SsfStream",
    "StoreNotice",
    "ThreatLevel",
    "Vault",
    "VaultFile",
    "VaultItem",
    "VaultItemVersion",
    "VaultKek",
    "as_utc",
    "events_acted_for",
    "utcnow",
]
