"""Lifecycle: people provisioned from the company's identity provider, offboarding that
takes their machines and secrets along, and the access review of non-human identities."""

from limen.lifecycle.provisioning import (
    ORPHAN_POLICIES,
    SCIM_SCOPE,
    GroupDraft,
    GroupRecord,
    Offboarded,
    PreconditionFailed,
    Provisioning,
    UserDraft,
    UserRecord,
)

__all__ = [
    "ORPHAN_POLICIES",
    "SCIM_SCOPE",
    "GroupDraft",
    "GroupRecord",
    "Offboarded",
    "PreconditionFailed",
    "Provisioning",
    "UserDraft",
    "UserRecord",
]
