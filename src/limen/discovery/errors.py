"""Errors the discovery package raises on purpose.

::

    LimenError
     ├── InvalidInput
     │    ├── RuleError          a rule file is malformed or a pattern does not compile
     │    ├── BaselineError      a baseline file cannot be read
     │    └── RemediationError   a file cannot be rewritten safely (left untouched)
     └── Unavailable
          └── ScanError          the scan itself cannot run (engine, source unreadable as a whole)

Messages never contain a secret: they name files, rules and line numbers only.
"""

from __future__ import annotations

from limen.errors import InvalidInput, Unavailable

__all__ = ["BaselineError", "RemediationError", "RuleError", "ScanError"]


class RuleError(InvalidInput):
    """A rule file is malformed, or one of its patterns does not compile."""

    code = "scan-rule-invalid"


class BaselineError(InvalidInput):
    """A baseline file is missing, unreadable or not in Limen's baseline format."""

    code = "scan-baseline-invalid"


class RemediationError(InvalidInput):
    """A found secret cannot be replaced safely; the file was left as it was."""

    code = "scan-fix-refused"


class ScanError(Unavailable):
    """The scan cannot run: the matching engine failed or a named source is unusable."""

    code = "scan-failed"
