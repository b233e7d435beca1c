"""Lifecycle: people provisioned from the company's identity provider, offboarding that
takes their machines and secrets along, and the access review of non-human identities.

Names are imported from their module when first asked for (``limen._lazy``): a command
that only words an offboarding or checks an orphans policy does not load the database
layer the rest needs."""

from __future__ import annotations

import typing

from limen._lazy import door as _door

if typing.TYPE_CHECKING:
    from limen.lifecycle.offboarding import ORPHAN_POLICIES, explain_offboarding, orphans_policy
    from limen.lifecycle.posture import RISKS, Posture, PostureReport, Risk
    from limen.lifecycle.provisioning import (
        SCIM_SCOPE,
        GroupDraft,
        GroupRecord,
        Offboarded,
        PreconditionFailed,
        Provisioning,
        UserDraft,
        UserRecord,
    )
    from limen.lifecycle.report import posture_csv, posture_html, review_csv, review_html
    from limen.lifecycle.review import AccessReview, Review, ReviewedIdentity, Right

_MODULES: typing.Final = {
    "limen.lifecycle.offboarding": ("ORPHAN_POLICIES", "explain_offboarding", "orphans_policy"),
    "limen.lifecycle.posture": ("RISKS", "Posture", "PostureReport", "Risk"),
    "limen.lifecycle.provisioning": (
        "SCIM_SCOPE",
        "GroupDraft",
        "GroupRecord",
        "Offboarded",
        "PreconditionFailed",
        "Provisioning",
        "UserDraft",
        "UserRecord",
    ),
    "limen.lifecycle.report": ("posture_csv", "posture_html", "review_csv", "review_html"),
    "limen.lifecycle.review": ("AccessReview", "Review", "ReviewedIdentity", "Right"),
}
_LAZY: typing.Final = {name: module for module, names in _MODULES.items() for name in names}

__getattr__ = _door(__name__, _LAZY, globals())

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
