"""Access: the policy decision point (Cedar, AuthZEN 1.0) and the live status it reads."""

from limen.access.authzen import (
    EVALUATIONS_SEMANTICS,
    Evaluation,
    EvaluationsRequest,
    parse_evaluation,
    parse_evaluations,
    pdp_metadata,
)
from limen.access.errors import InvalidEvaluation, PolicyError, PolicyExists, PolicyNotFound
from limen.access.pdp import Decision, PolicyDecisionPoint, TokenChain
from limen.access.policies import (
    DEFAULT_POLICIES,
    add_policy,
    get_policy,
    list_policies,
    remove_policy,
    validate_policy,
)
from limen.access.schema import SCHEMA
from limen.access.status import IdentityInfo, StatusView

__all__ = [
    "DEFAULT_POLICIES",
    "EVALUATIONS_SEMANTICS",
    "SCHEMA",
    "Decision",
    "Evaluation",
    "EvaluationsRequest",
    "IdentityInfo",
    "InvalidEvaluation",
    "PolicyDecisionPoint",
    "PolicyError",
    "PolicyExists",
    "PolicyNotFound",
    "StatusView",
    "TokenChain",
    "add_policy",
    "get_policy",
    "list_policies",
    "parse_evaluation",
    "parse_evaluations",
    "pdp_metadata",
    "remove_policy",
    "validate_policy",
]
