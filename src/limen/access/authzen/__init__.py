"""OpenID AuthZEN Authorization API 1.0: evaluation request and response shapes.

https://openid.net/specs/authorization-api-1_0.html
"""

from limen.access.authzen.evaluation import (
    EVALUATIONS_SEMANTICS,
    MAX_EVALUATIONS,
    Evaluation,
    EvaluationsRequest,
    Invalid,
    parse_evaluation,
    parse_evaluations,
    pdp_metadata,
)
from limen.access.authzen.search import SearchRequest, parse_search

__all__ = [
    "EVALUATIONS_SEMANTICS",
    "MAX_EVALUATIONS",
    "Evaluation",
    "EvaluationsRequest",
    "Invalid",
    "SearchRequest",
    "parse_evaluation",
    "parse_evaluations",
    "parse_search",
    "pdp_metadata",
]
