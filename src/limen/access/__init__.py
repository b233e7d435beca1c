"""Access: the policy decision point (Cedar) and the live status every decision reads."""

from limen.access.status import IdentityInfo, StatusView

__all__ = ["IdentityInfo", "StatusView"]
