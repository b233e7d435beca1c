"""Event streams: create, read, update, replace, delete; status; verification (SSF 1.0 §8).

https://openid.net/specs/openid-sharedsignals-framework-1_0.html#section-8

A stream belongs to the identity whose credential created it (the receiver); every call
is scoped to that identity, so one receiver never sees another's streams.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, record
from limen.ids import new_id
from limen.respond.errors import InvalidStream, StreamNotFound
from limen.respond.ssf._credentials import HeaderSealer
from limen.respond.ssf._targets import check_push_target
from limen.respond.ssf.events import EVENTS_SUPPORTED, VERIFICATION, set_claims
from limen.store import UnitOfWork
from limen.store.models import Event, Identity, SsfCursor, SsfOutbox, SsfStream, utcnow

__all__ = [
    "POLL",
    "PUSH",
    "STATUSES",
    "create_stream",
    "delete_stream",
    "events_delivered",
    "every_stream",
    "get_stream",
    "list_streams",
    "request_verification",
    "set_status",
    "update_stream",
]

PUSH: Final = "urn:ietf:rfc:8935"
POLL: Final = "urn:ietf:rfc:8936"
STATUSES: Final = ("enabled", "paused", "disabled")
_RECEIVER_SUPPLIED = ("delivery", "events_requested", "description", "signing_alg")
SIGNING_ALGS: Final = ("EdDSA", "RS256")
"""What a stream may ask its SETs to be signed with (``signing_alg``, a Limen extension
of the stream configuration; RS256 is the CAEP interoperability profile's)."""


def _receiver(actor: Actor) -> str:
    if not actor.identity_id:
        raise InvalidStream("streams belong to an identity; call with an identity's token")
    return actor.identity_id


def events_delivered(stream: SsfStream) -> list[str]:
    """The intersection of what the receiver asked for and what Limen sends (§8.1.1)."""
    return [e for e in EVENTS_SUPPORTED if e in (stream.events_requested or [])]


def _apply(
    stream: SsfStream,
    body: dict[str, Any],
    *,
    replace: bool,
    sealer: HeaderSealer | None,
    allowed_hosts: Collection[str],
) -> None:
    if replace or "delivery" in body:
        delivery = body.get("delivery") or {}
        if not isinstance(delivery, dict):
            raise InvalidStream("delivery must be an object")
        # Without a delivery method the receiver polls: it needs nothing from us but a URL.
        method = delivery.get("method") if delivery else POLL
        if method not in (PUSH, POLL):
            raise InvalidStream(f"delivery.method must be {PUSH} (push) or {POLL} (poll)")
        stream.delivery_method = method
        if method == PUSH:
            url = delivery.get("endpoint_url")
            if not isinstance(url, str) or len(url) > 2000:
                raise InvalidStream("push delivery needs an http(s) delivery.endpoint_url")
            check_push_target(url, allowed_hosts=allowed_hosts)
            stream.endpoint_url = url
            header = delivery.get("authorization_header")
            if header is not None and (not isinstance(header, str) or len(header) > 4096):
                raise InvalidStream("delivery.authorization_header must be a string")
            if header is not None and sealer is None:
                raise InvalidStream(
                    "this server has no root key file to protect a push credential with"
                )
            stream.authorization_header = (
                sealer.seal(stream.id, header) if header is not None and sealer else None
            )
        else:
            # RFC 8936: the transmitter names the poll URL; the receiver does not.
            stream.endpoint_url = None
            stream.authorization_header = None
    if replace or "events_requested" in body:
        requested = body.get("events_requested", [])
        if not isinstance(requested, list) or not all(isinstance(e, str) for e in requested):
            raise InvalidStream("events_requested must be an array of event type URIs")
        stream.events_requested = list(dict.fromkeys(requested))
    if replace or "description" in body:
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise InvalidStream("description must be a string")
        stream.description = description
    if replace or "signing_alg" in body:
        alg = body.get("signing_alg")
        if alg is not None and alg not in SIGNING_ALGS:
            raise InvalidStream(f"signing_alg must be one of {', '.join(SIGNING_ALGS)}")
        stream.signing_alg = alg


def _check_transmitter_supplied(stream: SsfStream, body: dict[str, Any]) -> None:
    # §8.1.1.3: transmitter-supplied properties may be sent back, but must match.
    if "iss" in body and body["iss"] != stream.iss:
        raise InvalidStream("iss does not match this transmitter")
    if "aud" in body and body["aud"] not in (stream.aud, *stream.aud):
        raise InvalidStream("aud cannot be changed")


def create_stream(
    uow: UnitOfWork,
    actor: Actor,
    body: dict[str, Any],
    *,
    issuer: str,
    audience: str,
    sealer: HeaderSealer | None = None,
    allowed_hosts: Collection[str] = (),
) -> SsfStream:
    """Create a stream (§8.1.1.1). Without ``events_requested`` a stream asks for all.

    ``issuer`` is the URL the receiver reached us by; the stream's SETs carry it as ``iss``.
    """
    receiver = _receiver(actor)
    if "iss" in body and body["iss"] != issuer:
        raise InvalidStream("iss does not match this transmitter")
    stream = SsfStream(
        id=new_id(), receiver_id=receiver, iss=issuer, aud=[audience], status="enabled"
    )
    body = {"events_requested": list(EVENTS_SUPPORTED), **body}
    _apply(
        stream,
        {"delivery": None, **body},
        replace=False,
        sealer=sealer,
        allowed_hosts=allowed_hosts,
    )
    uow.session.add(stream)
    _ensure_cursor(uow.session)
    uow.flush()
    record(
        uow.session,
        actor,
        "ssf.stream.create",
        resource_type="ssf_stream",
        resource_id=stream.id,
        context=_describe(stream),
    )
    return stream


def get_stream(session: Session, actor: Actor, stream_id: str) -> SsfStream:
    stream = session.get(SsfStream, stream_id) if stream_id else None
    # Another receiver's stream is reported as missing, not forbidden: ids do not leak.
    if stream is None or stream.receiver_id != actor.identity_id:
        raise StreamNotFound(f"no stream {stream_id!r} for this receiver")
    return stream


def list_streams(session: Session, actor: Actor) -> Sequence[SsfStream]:
    return list(
        session.scalars(
            sa.select(SsfStream)
            .where(SsfStream.receiver_id == _receiver(actor))
            .order_by(SsfStream.created_at, SsfStream.id)
        )
    )


def every_stream(
    session: Session, *, receiver_id: str | None = None
) -> list[tuple[SsfStream, str]]:
    """Every receiver's streams with the receiver's name, oldest first (the admin's view;
    a receiver sees its own through :func:`list_streams`)."""
    query = (
        sa.select(SsfStream, Identity.name)
        .join(Identity, Identity.id == SsfStream.receiver_id)
        .order_by(SsfStream.created_at, SsfStream.id)
    )
    if receiver_id is not None:
        query = query.where(SsfStream.receiver_id == receiver_id)
    return [(stream, name) for stream, name in session.execute(query).all()]


def update_stream(
    uow: UnitOfWork,
    actor: Actor,
    body: dict[str, Any],
    *,
    replace: bool,
    sealer: HeaderSealer | None = None,
    allowed_hosts: Collection[str] = (),
) -> SsfStream:
    """PATCH (§8.1.1.3) or PUT (§8.1.1.4) a stream's receiver-supplied properties."""
    stream = get_stream(uow.session, actor, str(body.get("stream_id") or ""))
    _check_transmitter_supplied(stream, body)
    changes = {k: v for k, v in body.items() if k in _RECEIVER_SUPPLIED}
    _apply(stream, changes, replace=replace, sealer=sealer, allowed_hosts=allowed_hosts)
    stream.updated_at = utcnow()
    uow.flush()
    record(
        uow.session,
        actor,
        "ssf.stream.replace" if replace else "ssf.stream.update",
        resource_type="ssf_stream",
        resource_id=stream.id,
        context=_describe(stream),
    )
    return stream


def delete_stream(uow: UnitOfWork, actor: Actor, stream_id: str) -> None:
    stream = get_stream(uow.session, actor, stream_id)
    uow.session.execute(sa.delete(SsfOutbox).where(SsfOutbox.stream_id == stream.id))
    uow.session.delete(stream)
    record(
        uow.session, actor, "ssf.stream.delete", resource_type="ssf_stream", resource_id=stream_id
    )


def set_status(
    uow: UnitOfWork, actor: Actor, stream_id: str, *, status: str, reason: str | None = None
) -> SsfStream:
    """Enable, pause or disable a stream (§8.1.2.2).

    Paused streams keep their SETs and deliver them when enabled again; a disabled stream
    drops what was waiting and receives nothing until enabled.
    """
    stream = get_stream(uow.session, actor, stream_id)
    if status not in STATUSES:
        raise InvalidStream(f"status must be one of {', '.join(STATUSES)}")
    previous = stream.status
    stream.status = status
    stream.status_reason = reason
    if status == "disabled":
        uow.session.execute(
            sa.delete(SsfOutbox).where(
                SsfOutbox.stream_id == stream.id, SsfOutbox.state == "pending"
            )
        )
    uow.flush()
    record(
        uow.session,
        actor,
        "ssf.stream.status",
        resource_type="ssf_stream",
        resource_id=stream.id,
        reason=reason,
        context={"from": previous, "to": status},
    )
    return stream


def request_verification(
    uow: UnitOfWork, actor: Actor, stream_id: str, *, state: str | None
) -> SsfOutbox:
    """Queue a verification event on the stream (§8.1.4.2), delivered like any other SET."""
    stream = get_stream(uow.session, actor, stream_id)
    if state is not None and (not isinstance(state, str) or len(state) > 1000):
        raise InvalidStream("state must be a string of at most 1000 characters")
    payload = {"state": state} if state is not None else {}
    jti = new_id()
    claims = set_claims(
        issuer=stream.iss,
        audience=stream.aud,
        event_type=VERIFICATION,
        subject={"format": "opaque", "id": stream.id},
        payload=payload,
        issued_at=int(utcnow().timestamp()),
        jti=jti,
    )
    row = SsfOutbox(jti=jti, stream_id=stream.id, event_types=[VERIFICATION], claims=claims)
    uow.session.add(row)
    uow.flush()
    record(
        uow.session,
        actor,
        "ssf.stream.verify",
        resource_type="ssf_stream",
        resource_id=stream.id,
    )
    return row


def _ensure_cursor(session: Session) -> None:
    # The transmitter starts reading the log where it stands when the first stream
    # appears: receivers get what happens from now on, not the installation's history.
    if session.get(SsfCursor, 1) is None:
        last = session.scalar(sa.select(sa.func.max(Event.seq))) or 0
        session.add(SsfCursor(id=1, last_seq=last))


def _describe(stream: SsfStream) -> dict[str, Any]:
    # Never the authorization header: it is the receiver's credential.
    return {
        "delivery_method": stream.delivery_method,
        "endpoint_url": stream.endpoint_url,
        "events_requested": list(stream.events_requested or []),
    }
