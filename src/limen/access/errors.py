"""Errors of the access package.

::

    LimenError
     ├── InvalidInput
     │    ├── PolicyError          Cedar text does not parse or does not validate (names the line)
     │    └── BadRequest
     │         └── InvalidEvaluation    an AuthZEN request is malformed (400, as AuthZEN says)
     ├── NotFound
     │    └── PolicyNotFound
     └── Conflict
          └── PolicyExists
"""

from __future__ import annotations

from limen.errors import BadRequest, Conflict, InvalidInput, NotFound

__all__ = ["InvalidEvaluation", "PolicyError", "PolicyExists", "PolicyNotFound"]


class PolicyError(InvalidInput):
    """The Cedar policy text does not parse or does not validate against Limen's schema.

    ``line`` is the 1-based line the problem is on (or the statement it is in starts on).
    """

    code = "policy-invalid"

    def __init__(self, detail: str, *, line: int | None = None) -> None:
        super().__init__(detail)
        self.line = line


class InvalidEvaluation(BadRequest):
    """The evaluation request does not have the shape AuthZEN 1.0 defines."""

    code = "invalid-evaluation"


class PolicyNotFound(NotFound):
    """No policy has that name."""

    code = "policy-not-found"


class PolicyExists(Conflict):
    """A policy with that name exists already."""

    code = "policy-exists"
