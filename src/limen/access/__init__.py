"""Access: the policy decision point (Cedar, AuthZEN 1.0) and the guard of Limen's own
operations; both read identity standing from :class:`limen.identity.StatusView`.

Names are imported from their module when first asked for (``limen._lazy``): a command
talking to a server checks a realm or counts a policy's statements without loading Cedar
or the database layer.
"""

from __future__ import annotations

import typing

from limen._lazy import door as _door

if typing.TYPE_CHECKING:
    from limen.access._statements import REALMS, split_statements
    from limen.access.admin import ACTIONS, ADMIN_POLICY_NAME, GROUPS, ActionSpec
    from limen.access.authzen import (
        EVALUATIONS_SEMANTICS,
        Evaluation,
        EvaluationsRequest,
        SearchRequest,
        parse_evaluation,
        parse_evaluations,
        parse_search,
        pdp_metadata,
    )
    from limen.access.errors import InvalidEvaluation, PolicyError, PolicyExists, PolicyNotFound
    from limen.access.guard import TRUSTED_KINDS, Guard, Refusal
    from limen.access.pdp import Decision, PolicyDecisionPoint, TokenChain
    from limen.access.policies import (
        BUILTIN_POLICIES,
        DEFAULT_POLICIES,
        add_policy,
        get_policy,
        list_policies,
        remove_policy,
        validate_policy,
    )
    from limen.access.policy_admin import PolicyEntry, PolicyService
    from limen.access.schema import SCHEMA, compose_schema

_MODULES: typing.Final = {
    "limen.access._statements": ("REALMS", "split_statements"),
    "limen.access.admin": ("ACTIONS", "ADMIN_POLICY_NAME", "GROUPS", "ActionSpec"),
    "limen.access.authzen": (
        "EVALUATIONS_SEMANTICS",
        "Evaluation",
        "EvaluationsRequest",
        "SearchRequest",
        "parse_evaluation",
        "parse_evaluations",
        "parse_search",
        "pdp_metadata",
    ),
    "limen.access.errors": ("InvalidEvaluation", "PolicyError", "PolicyExists", "PolicyNotFound"),
    "limen.access.guard": ("TRUSTED_KINDS", "Guard", "Refusal"),
    "limen.access.pdp": ("Decision", "PolicyDecisionPoint", "TokenChain"),
    "limen.access.policies": (
        "BUILTIN_POLICIES",
        "DEFAULT_POLICIES",
        "add_policy",
        "get_policy",
        "list_policies",
        "remove_policy",
        "validate_policy",
    ),
    "limen.access.policy_admin": ("PolicyEntry", "PolicyService"),
    "limen.access.schema": ("SCHEMA", "compose_schema"),
}
_LAZY: typing.Final = {name: module for module, names in _MODULES.items() for name in names}

__getattr__ = _door(__name__, _LAZY, globals())

__all__ = [
    "ACTIONS",
    "ADMIN_POLICY_NAME",
    "BUILTIN_POLICIES",
    "DEFAULT_POLICIES",
    "EVALUATIONS_SEMANTICS",
    "GROUPS",
    "REALMS",
    "SCHEMA",
    "TRUSTED_KINDS",
    "ActionSpec",
    "Decision",
    "Evaluation",
    "EvaluationsRequest",
    "Guard",
    "InvalidEvaluation",
    "PolicyDecisionPoint",
    "PolicyEntry",
    "PolicyError",
    "PolicyExists",
    "PolicyNotFound",
    "PolicyService",
    "Refusal",
    "SearchRequest",
    "TokenChain",
    "add_policy",
    "compose_schema",
    "get_policy",
    "list_policies",
    "parse_evaluation",
    "parse_evaluations",
    "parse_search",
    "pdp_metadata",
    "remove_policy",
    "split_statements",
    "validate_policy",
]
