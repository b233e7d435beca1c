"""The console's routes: sign-in, identities, events and the kill switch.

Every page gets the signed-in person through :func:`signed_in` (the session cookie,
opened and its token authenticated as the API authenticates a bearer token) and asks the
domain services, which ask the guard: a refusal is a ``denied`` event and a page that
says so, with the status code the API would answer. Every form carries the session's
CSRF token; the cookie is ``SameSite=Strict`` as well.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from limen import audit
from limen import identity as directory
from limen.api.deps import actor_for_token, services_of, with_request_context
from limen.api.problems import status_for
from limen.api.routing import PUBLIC, Route, guarded
from limen.audit import Actor, EventFilter, Outcome, Resource
from limen.errors import Denied, InvalidInput, LimenError, Unauthenticated
from limen.lifecycle import explain_offboarding
from limen.services import Services
from limen.web._render import SECURITY_HEADERS, render, templates
from limen.web._static import static_response

__all__ = ["ERROR_PREFIX", "install", "render_console_error", "router"]

ERROR_PREFIX: Final = "/console"
SESSION_COOKIE: Final = "limen_console"
SIGN_IN_COOKIE: Final = "limen_console_sign_in"
"""Holds the sign-in form's CSRF token until the person is signed in."""

KINDS: Final = ("human", "agent", "service", "shadow")
STATUSES: Final = ("active", "suspended", "deprovisioned")
OUTCOMES: Final = tuple(Outcome)
PAGE_SIZE: Final = 50
MANAGED: Final = ("managed", "shadow")
DISCOVERY_ROWS: Final = 100
RISKS: Final = {"critical": 90, "high": 80, "medium": 70, "any": 1}
"""Risk filters: at least this ``risk`` (what detection sets: the highest open alert's
score, as a percentage; severities start at these scores)."""

router = APIRouter(prefix="/console", include_in_schema=False, route_class=Route)


# -- who is signed in -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person, as the pages show them."""

    actor: Actor
    session_token_id: str | None
    csrf: str
    name: str
    kind: str
    roles: tuple[str, ...]


class _SignInRequired(Exception):
    """No session, or one whose token no longer authenticates."""

    def __init__(self, why: str | None) -> None:
        super().__init__(why)
        self.why = why


async def signed_in(request: Request) -> Viewer:
    services = services_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise _SignInRequired(None)
    try:
        session = services.browser_sessions.open(cookie)
        actor = await actor_for_token(request, session.token)
        own = await actor_for_token(request, session.session_token)  # not signed out
    except (Unauthenticated, Denied) as exc:
        # Revoked, expired, suspended, cut off: the session ends with its token.
        raise _SignInRequired(exc.detail) from None
    info = services.status.identity(actor.identity_id) if actor.identity_id else None
    return Viewer(
        actor=actor,
        session_token_id=own.token_id,
        csrf=session.csrf,
        name=actor.name,
        kind=info.kind if info else actor.kind,
        roles=info.roles if info else (),
    )


ViewerDep = Annotated[Viewer, Depends(signed_in)]


def _sign_in_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _SignInRequired)
    target = "/console/sign-in"
    if request.method == "GET" and request.url.path != target:
        target += "?" + urlencode({"next": _next_of(request)})
    headers = {"Cache-Control": "no-store"}
    if request.headers.get("hx-request"):
        # htmx follows a redirect inside its request; this makes it navigate instead.
        response: Response = Response(status_code=204, headers={**headers, "HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303, headers=headers)
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


def _next_of(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _safe_next(value: str | None) -> str:
    """Only a console page of this server: never another site (an open redirect)."""
    if value and value.startswith("/console/") and not any(c in value for c in "\\\r\n"):
        return value
    return "/console/overview"


def _check_csrf(given: str | None, expected: str | None) -> None:
    if not given or not expected or not hmac.compare_digest(given, expected):
        raise Denied("this form has expired or did not come from the console: reload the page")


# -- rendering and errors -------------------------------------------------------------------


def _shown(endpoint: Callable[..., Response]) -> Callable[..., Response]:
    """Show a domain error (a refusal, an unknown name, bad input) as a console page with
    the API's status code, never a traceback."""

    @functools.wraps(endpoint)
    def page(*args: Any, **kwargs: Any) -> Response:
        try:
            return endpoint(*args, **kwargs)
        except LimenError as exc:
            return _error_page(kwargs["request"], kwargs.get("viewer"), exc)

    return page


def _error_page(request: Request, viewer: Viewer | None, exc: LimenError) -> Response:
    status = status_for(exc)
    titles = {403: "Not allowed", 404: "Not found", 409: "Not possible now", 422: "Invalid input"}
    return render(
        request,
        "error.html",
        status_code=status,
        user=viewer,
        csrf=viewer.csrf if viewer else None,
        title=titles.get(status, exc.title),
        detail=exc.detail,
        status=status,
    )


def render_console_error(status: int, code: str, detail: str | None) -> Response:
    """Errors raised outside a page (no such page, malformed request): HTML, not JSON."""
    body = templates.get_template("error.html").render(
        user=None,
        csrf=None,
        path="",
        title={
            400: "Bad request",
            404: "Not found",
            405: "Not allowed",
            413: "Too large",
            415: "Unsupported media type",
            422: "Invalid input",
            503: "Unavailable",
        }.get(status, "Something went wrong"),
        detail=detail if status != 500 else "Limen could not show this page; the log says why.",
        status=status,
    )
    response = Response(body, status_code=status, media_type="text/html")
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(request: Request, viewer: Viewer, template: str, **context: Any) -> Response:
    context.setdefault("here", _next_of(request))  # what a live region asks for again
    return render(request, template, user=viewer, csrf=viewer.csrf, **context)


def install(app: FastAPI) -> None:
    """Errors under ``/console`` as pages, and the sign-in redirect."""
    app.add_exception_handler(_SignInRequired, _sign_in_redirect)
    app.state.error_renderers.append((ERROR_PREFIX, render_console_error))


# -- the shell: static assets, sign-in, sign-out ---------------------------------------------


@router.get("", openapi_extra=PUBLIC)
async def home() -> Response:
    return RedirectResponse("/console/overview", status_code=303)


@router.get("/static/{name}", openapi_extra=PUBLIC)
async def static(name: str) -> Response:
    return static_response(name)


@router.get("/sign-in", openapi_extra=PUBLIC)
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    return _sign_in_page(request, next=next)


def _sign_in_page(
    request: Request,
    *,
    next: str | None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)
    notice = "You are signed out." if "signed_out" in request.query_params else None
    response = render(
        request,
        "sign_in.html",
        status_code=status_code,
        sign_in_csrf=token,
        next=_safe_next(next),
        error=error,
        notice=notice,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path="/console",
        httponly=True,
        secure=_secure(request),
        samesite="strict",
    )
    return response


def _secure(request: Request) -> bool:
    """Secure cookies whenever the browser talks HTTPS to us (directly or via a trusted
    proxy's ``X-Forwarded-Proto``, which uvicorn applies) or the public URL is HTTPS."""
    settings = services_of(request).settings
    return request.url.scheme == "https" or (settings.public_url or "").startswith("https:")


@router.post("/sign-in", openapi_extra=PUBLIC)
async def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=4096)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    services = services_of(request)
    try:
        _check_csrf(csrf, request.cookies.get(SIGN_IN_COOKIE))
    except Denied as exc:
        return _sign_in_page(request, next=next, error=exc.detail, status_code=403)
    raw = token.strip()
    if not raw:
        return _sign_in_page(request, next=next, error="Enter an access token.", status_code=422)
    try:
        actor = await actor_for_token(request, raw)
    except (Unauthenticated, Denied) as exc:
        # Never echo the token back, not even in the form. Expiry is said outright
        # (the token itself carries it); any other reason stays unsaid.
        error = (
            "That access token has expired: create a new one and sign in with it."
            if exc.code == "token-expired"
            else "That access token is not valid, has expired, or was revoked."
        )
        return _sign_in_page(request, next=next, error=error, status_code=401)
    if actor.identity_id is None:
        return _sign_in_page(
            request, next=next, error="This token belongs to no identity.", status_code=403
        )
    expires_at = time.time() + services.browser_sessions.ttl.total_seconds()
    session_token = await run_in_threadpool(
        _open_session, services, with_request_context(actor, request), expires_at
    )
    cookie, _ = services.browser_sessions.seal(raw, session_token, expires_at=expires_at)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(services.browser_sessions.ttl.total_seconds()),
        path="/console",
        httponly=True,
        secure=_secure(request),
        samesite="strict",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/console")
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/sign-out", openapi_extra=PUBLIC)
async def sign_out(
    request: Request, viewer: ViewerDep, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    try:
        _check_csrf(csrf, viewer.csrf)
    except Denied as exc:
        return _error_page(request, viewer, exc)
    actor = with_request_context(viewer.actor, request)
    await run_in_threadpool(_close_session, services_of(request), actor, viewer.session_token_id)
    response = RedirectResponse("/console/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


def _open_session(services: Services, actor: Actor, expires_at: float) -> str:
    """Issue the session's own token (same identity, same scopes) and record the sign-in."""
    with services.db.unit_of_work() as uow:
        holder = directory.get(uow.session, str(actor.identity_id))
        _, raw = directory.issue_api_token(
            uow,
            actor,
            holder,
            purpose="console",
            scopes=actor.scopes,
            name="console session",
            expires_at=datetime.fromtimestamp(expires_at, UTC),
        )
        audit.record(uow.session, actor, "console.sign_in", resource_type="console")
    return raw


def _close_session(services: Services, actor: Actor, token_id: str | None) -> None:
    """Revoke the session's token (every node hears of it) and record the sign-out."""
    with services.db.unit_of_work() as uow:
        if token_id:
            directory.revoke_api_token(uow, actor, token_id, reason="signed out of the console")
        audit.record(uow.session, actor, "console.sign_out", resource_type="console")


# -- overview ---------------------------------------------------------------------------------


@router.get("/overview", openapi_extra=guarded("identity.read"))
@_shown
def overview(request: Request, viewer: ViewerDep) -> Response:
    services = services_of(request)
    actor = viewer.actor
    allows = functools.partial(services.guard.allows, actor)
    live = services.status.version  # before reading: a change after this refreshes
    census = services.directory.census(actor)
    alerts = None
    if allows("alert.read", Resource("alert")):
        alerts = services.alerts.open_by_severity(actor)
    threat = services.threat.get(actor) if allows("threat.read", Resource("threat")) else None
    switches = None
    if allows("killswitch.read", Resource("kill_switch")):
        engaged = {s.target_kind: held for s, held in services.responder.kill_switches(actor)}
        switches = [(kind, engaged.get(kind)) for kind in ("agent", "service")]
    overdue = None
    try:
        if allows("vault.report", Resource("vault"), scopes=()):
            overdue = sum(e.out_of_policy for e in services.vault.report(actor))
    except Denied:
        overdue = None  # a token without the vault:admin scope
    containments = None
    if allows("event.read", Resource("event")):
        containments = services.event_log.newest(
            actor, EventFilter(action="identity.suspend"), limit=5
        ).events
    return _page(
        request,
        viewer,
        "overview.html",
        live=live,
        census=census,
        alerts=alerts,
        threat=threat,
        switches=switches,
        overdue=overdue,
        containments=containments,
    )


# -- live updates -----------------------------------------------------------------------------


@router.get("/live", openapi_extra=guarded("identity.read"))
async def live(
    request: Request,
    viewer: ViewerDep,
    seen: Annotated[str, Query(max_length=64)] = "",
    identity: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Whether what a page shows changed since it drew ``seen``: ``204`` if not; if so,
    an ``HX-Trigger: limen-changed`` that makes the page redraw its live regions.

    Without ``identity``, ``seen`` is the status view's version, which moves on any
    change (an identity's status, owner or risk, a revoked token, a kill switch); with
    it, the mark of that one identity (:func:`_mark`), so that its page redraws its
    forms only when the identity itself changed. Answered from memory: the status view
    hears of changes made on any node, by the CLI, the partner API or a playbook, so a
    page can ask every second.
    """
    services = services_of(request)
    try:
        await services.guard.authorize_async(viewer.actor, "identity.read", Resource("identity"))
    except LimenError as exc:
        return _error_page(request, viewer, exc)
    now = _mark(services, identity) if identity else str(services.status.version)
    headers = {"Cache-Control": "no-store"}
    if now == seen:
        return Response(status_code=204, headers=headers)
    return Response(status_code=200, headers={**headers, "HX-Trigger": "limen-changed"})


def _mark(services: Services, identity_id: str) -> str:
    """A short digest of what the status view holds about one identity."""
    info = services.status.identity(identity_id)
    if info is None:
        return "unknown"
    risk = (info.attributes or {}).get("risk")
    held = (info.status, info.owner_id, info.roles, risk, info.tokens_valid_after)
    return hashlib.sha256(repr(held).encode()).hexdigest()[:16]


# -- identities -------------------------------------------------------------------------------


@router.get("/identities", openapi_extra=guarded("identity.read"))
@_shown
def identities(
    request: Request,
    viewer: ViewerDep,
    kind: str | None = None,
    status: str | None = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    managed: str | None = None,
    risk: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
) -> Response:
    services = services_of(request)
    live = services.status.version  # before reading: a change after this redraws
    kind, status, managed, risk = (
        (value or "").strip().lower() or None for value in (kind, status, managed, risk)
    )
    owner = (owner or "").strip() or None
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    if managed is not None and managed not in MANAGED:
        raise InvalidInput(f"managed must be one of {', '.join(MANAGED)}")
    if risk is not None and risk not in RISKS:
        raise InvalidInput(f"risk must be one of {', '.join(RISKS)}")
    filters = {
        "q": q or "",
        "kind": kind or "",
        "status": status or "",
        "owner": owner or "",
        "managed": managed or "",
        "risk": risk or "",
    }
    # Unfiltered, the list is a tree: people and unowned machines, each person's
    # machines under them. Any filter makes it a flat list of what matches.
    nested = not any(filters.values())
    if kind == "shadow" or managed == "shadow":
        shadow: bool | None = False
    else:
        shadow = True if managed == "managed" else None
    page = services.directory.list(
        viewer.actor,
        kind=None if kind == "shadow" else kind,
        managed=shadow,
        status=status,
        owner=owner,
        q=q,
        risk_at_least=RISKS[risk] if risk else None,
        unowned=nested,
        after=cursor or None,
        limit=PAGE_SIZE,
    )
    rows = page.identities
    humans = [row.id for row in rows if row.kind.value == "human"]
    owned = services.directory.owned_by(viewer.actor, humans) if nested else {}
    everyone = [*rows, *(child for children, _ in owned.values() for child in children)]
    with services.db.unit_of_work(readonly=True) as uow:
        seen = audit.last_activity(uow.session, [row.id for row in everyone])

    def shown(row: Any) -> dict[str, Any]:
        return {
            "identity": row,
            "owner": _name_of(services, row.owner_id),
            "last_seen": seen.get(row.id),
            "risk": _risk_of(row),
        }

    next_url = None
    if page.next_cursor:
        next_url = "/console/identities?" + urlencode(
            {**{k: v for k, v in filters.items() if v}, "cursor": page.next_cursor}
        )
    return _page(
        request,
        viewer,
        "identities.html",
        rows=[
            {
                **shown(row),
                "children": [shown(child) for child in owned.get(row.id, ([], 0))[0]],
                "owns": owned.get(row.id, ([], 0))[1],
            }
            for row in rows
        ],
        filters=filters,
        first_page_url="/console/identities?" + urlencode({k: v for k, v in filters.items() if v}),
        nested=nested,
        kinds=KINDS,
        statuses=STATUSES,
        managed_choices=MANAGED,
        risks=RISKS,
        next_url=next_url,
        first_page=not cursor,
        live=live,
    )


def _risk_of(identity: Any) -> int | None:
    """The ``risk`` attribute detection sets (0-100), if it is a number."""
    risk = (identity.attributes or {}).get("risk")
    if isinstance(risk, int | float) and not isinstance(risk, bool):
        return int(risk)
    return None


def _name_of(services: Services, identity_id: str | None) -> str | None:
    if not identity_id:
        return None
    info = services.status.identity(identity_id)
    return info.name if info else identity_id


@router.get("/identities/{ref}", openapi_extra=guarded("identity.read"))
@_shown
def identity_page(
    request: Request, viewer: ViewerDep, ref: str, done: str | None = None
) -> Response:
    services = services_of(request)
    actor = viewer.actor
    found = services.directory.get(actor, ref)
    live = _mark(services, found.id)
    chain = []  # owner, owner's owner, …
    owner_id = found.owner_id
    while owner_id and len(chain) < 10:
        info = services.status.identity(owner_id)
        if info is None:
            break
        chain.append(info)
        owner_id = info.owner_id
    owned = services.directory.list(actor, owner=found.id, limit=100).identities
    target = Resource("identity", found.id, found.name)
    guard = services.guard
    tokens = None
    if guard.allows(actor, "token.read", Resource("api_token")):
        tokens = services.api_tokens.list(actor, identity_ref=found.id, include_revoked=True)
    events = None
    if guard.allows(actor, "event.read", Resource("event")):
        # What it did or was done on its behalf, and what was done to it (its status
        # history): two index lookups, merged newest first.
        log = services.event_log
        by = log.newest(actor, EventFilter(identity=found.id), limit=25).events
        to = log.newest(
            actor, EventFilter(resource_type="identity", resource_id=found.id), limit=25
        ).events
        merged = {event.id: event for event in (*by, *to)}.values()
        events = sorted(merged, key=lambda e: (e.occurred_at, e.seq), reverse=True)[:25]
    history = None
    if guard.allows(actor, "event.read", Resource("event")):
        changes = services.event_log.newest(
            actor,
            EventFilter(resource_type="identity", resource_id=found.id, action="identity.*"),
            limit=100,
        ).events
        history = [e for e in reversed(changes) if e.action in STATUS_ACTIONS][:20]
    offboarding = None
    if (
        found.kind.value == "human"
        and found.status.value != "active"
        and guard.allows(actor, "event.read", Resource("identity", name=found.id))
    ):
        # Told in the CLI's words (limen identity show), not as the raw events.
        story = services.provisioning.offboarding(actor, found.id)
        offboarding = [explain_offboarding(step) for step in story[:5]]
    alerts = None
    if guard.allows(actor, "alert.read", Resource("alert")):
        alerts = services.alerts.list(actor, identity=found.id, limit=10)
    vault_access = _vault_access(services, actor, tokens)
    notices = {
        "suspended": f"{found.name} is suspended and its tokens no longer work.",
        "contained": f"{found.name} is contained: suspended, its tokens revoked"
        + (", and what it owns suspended with it." if owned else "."),
        "reactivated": f"{found.name} is active again.",
    }
    return _page(
        request,
        viewer,
        "identity.html",
        identity=found,
        chain=chain,
        owned=owned,
        tokens=tokens,
        events=events,
        notice=notices.get(done or ""),
        live=live,
        history=history,
        offboarding=offboarding,
        alerts=alerts,
        open_alerts=[a for a in alerts or () if a["status"] in ("open", "acknowledged")],
        risk=_risk_of(found),
        vault_access=vault_access,
        can_suspend=found.status.value == "active"
        and guard.allows(actor, "identity.suspend", target),
        can_reactivate=found.status.value == "suspended"
        and guard.allows(actor, "identity.reactivate", target),
    )


STATUS_ACTIONS: Final = frozenset(
    {"identity.create", "identity.suspend", "identity.reactivate", "identity.deprovision"}
)


def _vault_access(services: Services, actor: Actor, tokens: Any) -> list[dict[str, Any]] | None:
    """Which vaults the identity's live tokens can read or write, and through which:
    what its scopes grant (``vault:<id>:read|write``, ``vault:*:…``, ``vault:admin``)."""
    if tokens is None or not services.guard.allows(
        actor, "vault.read", Resource("vault"), scopes=()
    ):
        return None
    from limen import vault  # scope checks only; the vault service is built already

    live = [t for t in tokens if t.state == "active"]
    access = []
    for one in services.vault.list_vaults(actor):
        writes = [
            t
            for t in live
            if vault.can(Actor("token", t.prefix, scopes=frozenset(t.scopes)), one.id, "write")
        ]
        reads = [
            t
            for t in live
            if vault.can(Actor("token", t.prefix, scopes=frozenset(t.scopes)), one.id, "read")
        ]
        if reads:
            access.append(
                {"vault": one.name, "level": "write" if writes else "read", "via": writes or reads}
            )
    return access


def _status_change(
    request: Request, viewer: Viewer, ref: str, *, reason: str, csrf: str, cascade: bool, how: str
) -> Response:
    _check_csrf(csrf, viewer.csrf)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("give a reason: it is recorded with the event")
    services = services_of(request)
    actor = with_request_context(viewer.actor, request)
    if how in ("suspended", "contained"):
        done = services.responder.contain(actor, ref, reason=reason, cascade=cascade)
    else:
        done = services.responder.release(actor, ref, reason=reason, cascade=cascade)
    return RedirectResponse(f"/console/identities/{done.identity.id}?done={how}", status_code=303)


@router.post("/identities/{ref}/suspend", openapi_extra=guarded("identity.suspend"))
@_shown
def suspend(
    request: Request,
    viewer: ViewerDep,
    ref: str,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    cascade: Annotated[bool, Form()] = False,
) -> Response:
    return _status_change(
        request, viewer, ref, reason=reason, csrf=csrf, cascade=cascade, how="suspended"
    )


@router.post("/identities/{ref}/contain", openapi_extra=guarded("identity.suspend"))
@_shown
def contain(
    request: Request,
    viewer: ViewerDep,
    ref: str,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    cascade: Annotated[bool, Form()] = False,
    resolve_alerts: Annotated[bool, Form()] = False,
) -> Response:
    """Suspend and revoke its tokens, with ``cascade`` what it owns too, and with
    ``resolve_alerts`` resolve its open alerts with the reason as their note."""
    response = _status_change(
        request, viewer, ref, reason=reason, csrf=csrf, cascade=cascade, how="contained"
    )
    if resolve_alerts:
        services = services_of(request)
        actor = with_request_context(viewer.actor, request)
        target = services.directory.get(actor, ref)
        for alert in services.alerts.list(actor, identity=target.id, limit=1000):
            if alert["status"] in ("open", "acknowledged"):
                services.alerts.resolve(
                    actor, alert["id"], note=f"contained: {reason.strip()}"[:500]
                )
    return response


@router.post("/identities/{ref}/reactivate", openapi_extra=guarded("identity.reactivate"))
@_shown
def reactivate(
    request: Request,
    viewer: ViewerDep,
    ref: str,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    cascade: Annotated[bool, Form()] = False,
) -> Response:
    return _status_change(
        request, viewer, ref, reason=reason, csrf=csrf, cascade=cascade, how="reactivated"
    )


# -- events -----------------------------------------------------------------------------------


@router.get("/events", openapi_extra=guarded("event.read"))
@_shown
def events(
    request: Request,
    viewer: ViewerDep,
    identity: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    kind: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 50,
    done: str | None = None,
) -> Response:
    services = services_of(request)
    actor = viewer.actor
    identity = (identity or "").strip() or None
    action = (action or "").strip() or None
    outcome = (outcome or "").strip() or None
    kind = (kind or "").strip() or None
    limit = limit if limit in (50, 100, 200, 500) else 50
    # The log's own question first: a person who may not read it is refused here.
    services.guard.authorize(actor, "event.read", Resource("event"))
    identity_id = services.directory.get(actor, identity).id if identity else None
    first, last = _day(since, "from"), _day(until, "to")
    filters = EventFilter(
        identity=identity_id,
        action=action,
        outcome=outcome,
        kind=kind,
        since=first,
        until=last + timedelta(days=1) if last else None,  # the whole last day
    )
    page = services.event_log.newest(actor, filters, limit=limit)
    chain = last_check = None
    if services.guard.allows(actor, "audit.verify", Resource("event")):
        chain = audit.chain_status(services.db)
        checks = EventFilter(action="audit.verify")
        last_check = next(iter(services.event_log.newest(actor, checks, limit=1).events), None)
    return _page(
        request,
        viewer,
        "events.html",
        chain=chain,
        last_check=last_check,
        can_verify=chain is not None and services.audit_keys is not None,
        events=list(reversed(page.events)),
        filters={
            "identity": identity or "",
            "action": action or "",
            "outcome": outcome or "",
            "kind": kind or "",
            "since": first.date().isoformat() if first else "",
            "until": last.date().isoformat() if last else "",
            "limit": limit,
        },
        outcomes=OUTCOMES,
        kinds=("human", "agent", "service", "operator", "system"),
        notice=_VERIFY_NOTICES.get(done or ""),
    )


_log = logging.getLogger(__name__)
VERIFY_WAIT_SECONDS: Final = 2.0
"""How long ``Verify now`` holds the request before it answers that the verification goes
on in the background (a first verification of a long log reads all of it)."""
_VERIFYING = threading.Lock()
"""Held while this process verifies the chain for the console: one at a time."""
_VERIFY_NOTICES: Final = {
    "verifying": "Verification is running on the server: reload this page to see its "
    "result, an audit.verify event, once it ends.",
    "already-verifying": "A verification is already running: reload this page to see its "
    "result, an audit.verify event, once it ends.",
}


def _verify_and_record(services: Services, actor: Actor) -> None:
    """Verify from the last verified checkpoint on and record the result; releases
    :data:`_VERIFYING` when done."""
    try:
        keys = services.audit_keys
        assert keys is not None
        report = audit.verify(services.db, keys, resume=True)
        if report.ok:
            summary = (
                f"{report.checked} events verified (positions {report.first_position}-"
                f"{report.last_position}); {report.checkpoints} signed checkpoints agree"
            )
        else:
            problem = report.problem
            assert problem is not None
            summary = (
                f"{problem.kind} event {problem.event_id} at {problem.position}: {problem.detail}"
            )
        with services.db.unit_of_work() as uow:
            audit.record(
                uow.session,
                actor,
                "audit.verify",
                resource_type="audit_chain",
                outcome=Outcome.SUCCESS if report.ok else Outcome.FAILURE,
                reason=summary[:1000],
                context={"checked": report.checked, "resumed_from": report.resumed_from},
            )
    except Exception:
        _log.exception("the console's chain verification failed")
    finally:
        _VERIFYING.release()


@router.post("/events/verify", openapi_extra=guarded("audit.verify"))
@_shown
def verify_chain(
    request: Request, viewer: ViewerDep, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Verify the chain from the last verified checkpoint on (``limen audit verify
    --resume``) on a thread of its own, one at a time; the result is an ``audit.verify``
    event, which the page then shows. The request waits :data:`VERIFY_WAIT_SECONDS` at
    most: past that the page says the verification goes on, and shows it when it ends."""
    _check_csrf(csrf, viewer.csrf)
    services = services_of(request)
    actor = with_request_context(viewer.actor, request)
    services.guard.authorize(actor, "audit.verify", Resource("event"))
    if services.audit_keys is None:
        raise InvalidInput("this server has no key file to verify the chain with")
    if not _VERIFYING.acquire(blocking=False):
        return RedirectResponse(
            "/console/events?action=audit.verify&done=already-verifying", status_code=303
        )
    worker = threading.Thread(
        target=_verify_and_record, args=(services, actor), name="console-verify", daemon=True
    )
    worker.start()
    worker.join(VERIFY_WAIT_SECONDS)  # a short log is verified by the time the page shows
    done = "&done=verifying" if worker.is_alive() else ""
    return RedirectResponse(f"/console/events?action=audit.verify{done}", status_code=303)


def _day(value: str | None, name: str) -> datetime | None:
    """A ``YYYY-MM-DD`` date from a date field, as midnight UTC."""
    if not value or not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{name}: give a date as YYYY-MM-DD") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# -- alerts -----------------------------------------------------------------------------------

ALERT_STATUSES: Final = ("open", "acknowledged", "false_positive", "resolved")
SEVERITIES: Final = ("critical", "high", "medium", "low")
_ALERT_CHANGES: Final = {
    "acknowledge": ("acknowledge", "Acknowledged: someone is on it."),
    "resolve": ("resolve", "Resolved."),
    "false-positive": (
        "mark_false_positive",
        "Marked a false positive: the detector learns this behaviour as normal.",
    ),
}


@router.get("/alerts", openapi_extra=guarded("alert.read"))
@_shown
def alerts(
    request: Request,
    viewer: ViewerDep,
    status: str | None = None,
    severity: str | None = None,
    identity: Annotated[str | None, Query(max_length=200)] = None,
    done: str | None = None,
) -> Response:
    services = services_of(request)
    actor = viewer.actor
    status = (status or "").strip() or None
    severity = (severity or "").strip() or None
    identity = (identity or "").strip() or None
    found = services.alerts.list(
        actor, status=status, severity=severity, identity=identity, limit=100
    )
    guard = services.guard
    return _page(
        request,
        viewer,
        "alerts.html",
        alerts=found,
        filters={"status": status or "", "severity": severity or "", "identity": identity or ""},
        statuses=ALERT_STATUSES,
        severities=SEVERITIES,
        can_update=guard.allows(actor, "alert.update", Resource("alert")),
        can_contain=guard.allows(actor, "identity.suspend", Resource("identity")),
        notice={
            "contained": "Contained: the identity is suspended and the alert resolved.",
            **{how: text for how, (_, text) in _ALERT_CHANGES.items()},
        }.get(done or ""),
    )


def _alert_change_route(how: str) -> None:
    """One console route per entry of ``_ALERT_CHANGES``: the three differ only in the
    alert service's method and the notice, so they are one endpoint registered three times
    (three paths, as the page's forms and the route-role test know them)."""
    method, _ = _ALERT_CHANGES[how]

    @router.post(
        f"/alerts/{{alert_id}}/{how}",
        openapi_extra=guarded("alert.update"),
        name=f"{how.replace('-', '_')}_alert",
    )
    @_shown
    def change_alert(
        request: Request,
        viewer: ViewerDep,
        alert_id: str,
        note: Annotated[str, Form(max_length=500)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        _check_csrf(csrf, viewer.csrf)
        services = services_of(request)
        actor = with_request_context(viewer.actor, request)
        getattr(services.alerts, method)(actor, alert_id, note=note.strip() or None)
        return RedirectResponse(f"/console/alerts?done={how}", status_code=303)


for _how in _ALERT_CHANGES:
    _alert_change_route(_how)


@router.post(
    "/alerts/{alert_id}/contain", openapi_extra=guarded("identity.suspend", "alert.update")
)
@_shown
def contain_from_alert(
    request: Request,
    viewer: ViewerDep,
    alert_id: str,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    cascade: Annotated[bool, Form()] = False,
) -> Response:
    """Contain the alert's identity (suspend it, revoke its tokens; with ``cascade`` what
    it owns too) and resolve the alert with the reason: two events, one click."""
    _check_csrf(csrf, viewer.csrf)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("give a reason: it is recorded with the event")
    services = services_of(request)
    actor = with_request_context(viewer.actor, request)
    # Both questions first: a person who may not contain learns nothing about the alert.
    services.guard.authorize(actor, "identity.suspend", Resource("identity"))
    services.guard.authorize(actor, "alert.update", Resource("alert", alert_id))
    alert = services.alerts.get(actor, alert_id)
    target = alert["identity"]["id"]
    if not target:
        raise InvalidInput("this alert names an actor Limen does not manage: nothing to contain")
    services.responder.contain(actor, target, reason=reason, cascade=cascade)
    if alert["status"] in ("open", "acknowledged"):
        services.alerts.resolve(actor, alert_id, note=f"contained: {reason}"[:500])
    return RedirectResponse("/console/alerts?done=contained", status_code=303)


# -- posture, vault compliance and discovery ---------------------------------------------------


@router.get("/posture", openapi_extra=guarded("access.review"))
@_shown
def posture(
    request: Request, viewer: ViewerDep, days: Annotated[int, Query(ge=1, le=3650)] = 30
) -> Response:
    """The NHI posture report (OWASP Non-Human Identities Top 10, 2025) as ``limen posture
    report`` gives it: each risk's count, chart bar, identities and fix."""
    document = services_of(request).posture.report(viewer.actor, days=days).document()
    widest = max((r["count"] or 0 for r in document["risks"]), default=0) or 1
    bars = [(r, round(240 * (r["count"] or 0) / widest)) for r in document["risks"]]
    return _page(request, viewer, "posture.html", report=document, bars=bars)


@router.get("/vault", openapi_extra=guarded("vault.report"))
@_shown
def vault_compliance(request: Request, viewer: ViewerDep, all: bool = False) -> Response:
    """Items under a rotation policy or flagged for rotation by an offboarding, those
    due first: metadata only, never a value."""
    services = services_of(request)
    entries = services.vault.report(viewer.actor)
    due = [e for e in entries if e.due]
    return _page(
        request,
        viewer,
        "vault.html",
        entries=sorted(entries if all else due, key=lambda e: (not e.due,)),
        overdue=sum(e.out_of_policy for e in entries),
        flagged=sum(e.rotation_needed_since is not None for e in entries),
        total=sum(e.max_age_days is not None for e in entries),
        show_all=all,
    )


@router.get("/discovery", openapi_extra=guarded("discovery.read"))
@_shown
def discovery_findings(request: Request, viewer: ViewerDep) -> Response:
    """What ``limen scan --report`` found: shadow identities with where each was seen
    (by identity), the same places the other way round (by place), and the fleet's open
    exposures by machine. Fingerprints and places only: reports never carry a secret."""
    from limen import discovery  # the fleet's queries; loaded only for this page

    services = services_of(request)
    actor = viewer.actor
    services.guard.authorize(actor, "discovery.read", Resource("exposure"))
    shadows = services.directory.list(actor, managed=False, limit=DISCOVERY_ROWS).identities
    by_place: dict[str, list[Any]] = {}
    for found in shadows:
        for place in (found.attributes or {}).get("places") or []:
            by_place.setdefault(str(place), []).append(found)
    with services.db.unit_of_work(readonly=True) as uow:
        exposures = discovery.list_exposures(uow.session)
    by_machine: dict[str, list[dict[str, Any]]] = {}
    for exposure in exposures:
        by_machine.setdefault(exposure["machine"], []).append(exposure)
    return _page(
        request,
        viewer,
        "discovery.html",
        shadows=shadows,
        by_place=sorted(by_place.items()),
        by_machine=sorted(by_machine.items()),
        shown_at_most=DISCOVERY_ROWS,
    )


# -- the kill switch ---------------------------------------------------------------------------


@router.get("/kill-switch", openapi_extra=guarded("killswitch.read"))
@_shown
def kill_switch(request: Request, viewer: ViewerDep, done: str | None = None) -> Response:
    services = services_of(request)
    actor = viewer.actor
    engaged = services.responder.kill_switches(actor)
    on = {switch.target_kind: (switch, held) for switch, held in engaged}
    guard = services.guard
    return _page(
        request,
        viewer,
        "kill_switch.html",
        switches=[(kind, on.get(kind)) for kind in ("agent", "service")],
        can_engage=guard.allows(actor, "killswitch.engage", Resource("kill_switch")),
        can_disengage=guard.allows(actor, "killswitch.disengage", Resource("kill_switch")),
        notice={"engaged": "The kill switch is engaged.", "disengaged": "Released."}.get(
            done or ""
        ),
    )


def _switch(
    request: Request, viewer: Viewer, *, kind: str, confirm: str, reason: str, csrf: str, on: bool
) -> Response:
    _check_csrf(csrf, viewer.csrf)
    kind = kind.strip().lower()
    if confirm.strip().lower() != kind:
        raise InvalidInput(f"type {kind!r} in the confirmation box to confirm")
    services = services_of(request)
    actor = with_request_context(viewer.actor, request)
    if on:
        services.responder.engage(actor, kind=kind, reason=reason.strip() or None)
    else:
        services.responder.disengage(actor, kind=kind, reason=reason.strip() or None)
    return RedirectResponse(
        f"/console/kill-switch?done={'engaged' if on else 'disengaged'}", status_code=303
    )


@router.post("/kill-switch/engage", openapi_extra=guarded("killswitch.engage"))
@_shown
def engage(
    request: Request,
    viewer: ViewerDep,
    kind: Annotated[str, Form(max_length=20)] = "",
    confirm: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    return _switch(request, viewer, kind=kind, confirm=confirm, reason=reason, csrf=csrf, on=True)


@router.post("/kill-switch/disengage", openapi_extra=guarded("killswitch.disengage"))
@_shown
def disengage(
    request: Request,
    viewer: ViewerDep,
    kind: Annotated[str, Form(max_length=20)] = "",
    confirm: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    return _switch(request, viewer, kind=kind, confirm=confirm, reason=reason, csrf=csrf, on=False)
