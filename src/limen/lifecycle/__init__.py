"""Lifecycle: people provisioned from the company's identity provider, offboarding that
takes their machines and secrets along, and the access review of non-human identities."""

from limen.lifecycle.posture import RISKS, Posture, PostureReport, Risk
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
    explain_offboarding,
    orphans_policy,
)
from limen.lifecycle.report import posture_csv, posture_html, review_csv, review_html
from limen.lifecycle.review import AccessReview, Review, ReviewedIdentity, Right

__all__ = [
    "ORPHAN_POLICIES",
    "RISKS",
    "SCIM_SCOPE",
    "AccessReview",
    "GroupDraft",
    "GroupRecord",
    "Offboarded",
    "Posture",
    "PostureReport",
    "PreconditionFailed",
    "Provisioning",
    "Review",
    "ReviewedIdentity",
    "Right",
    "Risk",
    "UserDraft",
    "UserRecord",
    "explain_offboarding",
    "orphans_policy",
    "posture_csv",
    "posture_html",
    "review_csv",
    "review_html",
]
