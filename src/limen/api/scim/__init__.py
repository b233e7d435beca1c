"""SCIM 2.0 service provider at ``/scim/v2`` (RFC 7643, RFC 7644).

https://www.rfc-editor.org/rfc/rfc7644

Identity providers (Okta, Entra ID, JumpCloud, Google) provision people and groups here
with a bearer token holding the ``scim:write`` scope (``limen scim token create``); what
they do is :mod:`limen.lifecycle`'s. Errors are SCIM error bodies (§3.12) in
``application/scim+json``; every node serves it, all from the one database.
"""

from limen.api.scim.router import ERROR_PREFIX, render_scim_error, router

__all__ = ["ERROR_PREFIX", "render_scim_error", "router"]
