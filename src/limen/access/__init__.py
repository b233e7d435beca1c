"""Access: the policy decision point (Cedar, AuthZEN 1.0) and the guard of Limen's own
operations; both read identity standing from :class:`limen.identity.StatusView`."""

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
    REALMS,
    add_policy,
    get_policy,
    list_policies,
    remove_policy,
    split_statements,
    validate_policy,
)
from limen.access.policy_admin import PolicyEntry, PolicyService
from limen.access.schema import SCHEMA, compose_schema

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
