"""The admin console at ``/console``: server-rendered pages over the same guard as the API.

Jinja2 templates (``templates/``) and vendored static assets (``static/``: htmx, the
stylesheet) are served by Limen itself under a strict Content-Security-Policy. A person
signs in with an access token; the browser keeps a sealed session cookie
(:class:`limen.identity.BrowserSessions`). Every page asks the domain services, which
ask the guard, exactly as the API's routes do. Docs: ``docs/console.md``.
"""

from limen.web.console import ERROR_PREFIX, install, render_console_error, router

__all__ = ["ERROR_PREFIX", "install", "render_console_error", "router"]
