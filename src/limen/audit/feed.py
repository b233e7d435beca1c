"""Limen events in the shapes of 1Password's Events API, read with cursors.

1Password's Events API (https://developer.1password.com/docs/events-api/reference) serves
three feeds — audit events, item usages, sign-in attempts — each by ``POST`` with either a
reset cursor (``limit``, ``start_time``, ``end_time``) or ``{"cursor": …}``, answering
``{"items", "cursor", "has_more"}``. Collectors built for it (Splunk, Elastic, scripts)
read Limen unchanged.

Which Limen events go to which feed:

* **itemusages** — secret reads: ``vault.item.read``, ``vault.secret.read``,
  ``vault.file.read``;
* **signinattempts** — an identity proving who it is: ``oauth.client.authenticate``,
  ``auth.*``, and ``token.issue``/``token.exchange`` of access tokens;
* **auditevents** — everything else.

Each item carries the facts 1Password's shape has no room for (identity kind, the ``act``
delegation chain, token, outcome, chain position) under an extra ``limen`` member.

Cursors page by chain position, so a collector polling while events are appended gets
every event exactly once (see :mod:`limen.audit.chain`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit.chain import head
from limen.errors import InvalidInput
from limen.store.cursor import InvalidCursor, decode_cursor, encode_cursor
from limen.store.models import Event, Identity

__all__ = [
    "FEATURES",
    "Feature",
    "FeedCursor",
    "FeedPage",
    "feature_of",
    "read_feed",
    "to_item",
]

Feature = Literal["auditevents", "itemusages", "signinattempts"]
FEATURES: Final[tuple[Feature, ...]] = ("auditevents", "itemusages", "signinattempts")

ITEM_USAGE_ACTIONS: Final = frozenset({"vault.item.read", "vault.secret.read", "vault.file.read"})
SIGNIN_ACTIONS: Final = frozenset({"oauth.client.authenticate"})
SIGNIN_FAMILIES: Final = ("auth.",)
SIGNIN_TOKEN_ACTIONS: Final = frozenset({"token.issue", "token.exchange"})
SIGNIN_TOKEN_RESOURCES: Final = frozenset({"access_token", "oauth_client"})

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000


def feature_of(action: str, resource_type: str | None) -> Feature:
    """The feed an event belongs to (the rules in the module docstring)."""
    if action in ITEM_USAGE_ACTIONS:
        return "itemusages"
    if (
        action in SIGNIN_ACTIONS
        or action.startswith(SIGNIN_FAMILIES)
        or (action in SIGNIN_TOKEN_ACTIONS and resource_type in SIGNIN_TOKEN_RESOURCES)
    ):
        return "signinattempts"
    return "auditevents"


def _feature_condition(feature: Feature) -> sa.ColumnElement[bool]:
    # ``|| ''`` keeps the planner off the action and resource indexes, which would have it
    # collect every event of the feature's actions and sort them for each page: on the
    # chain-position index a page reads only the events after the cursor, in order, and
    # stops at the page size (SQLite's documented way to disqualify a term from indexing).
    action = Event.action.concat("")
    resource_type = Event.resource_type.concat("")
    usage = action.in_(sorted(ITEM_USAGE_ACTIONS))
    signin = sa.or_(
        action.in_(sorted(SIGNIN_ACTIONS)),
        *(action.startswith(f, autoescape=True) for f in SIGNIN_FAMILIES),
        sa.and_(
            action.in_(sorted(SIGNIN_TOKEN_ACTIONS)),
            resource_type.in_(sorted(SIGNIN_TOKEN_RESOURCES)),
        ),
    )
    if feature == "itemusages":
        return usage
    if feature == "signinattempts":
        return sa.and_(sa.not_(usage), signin)
    return sa.not_(sa.or_(usage, signin))


def _listing(feature: Feature) -> str:
    # A cursor continues the feed it was issued for: one feature's cursor is refused by
    # another's endpoint.
    return f"feed.{feature}"


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """Where a collector is in one feed, and the window it asked for when it reset."""

    feature: Feature
    position: int = 0
    limit: int = DEFAULT_LIMIT
    start_time: datetime | None = None
    end_time: datetime | None = None

    @classmethod
    def reset(
        cls,
        feature: Feature,
        *,
        limit: int | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> FeedCursor:
        limit = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        start, end = _utc(start_time), _utc(end_time)
        if start and end and end <= start:
            raise InvalidInput("end_time must be after start_time")
        return cls(feature, 0, limit, start, end)

    def encode(self) -> str:
        start, end = self.start_time, self.end_time
        return encode_cursor(
            _listing(self.feature),
            [
                self.position,
                self.limit,
                start.isoformat() if start else None,
                end.isoformat() if end else None,
            ],
        )

    @classmethod
    def decode(cls, cursor: str, feature: Feature) -> FeedCursor:
        values = decode_cursor(cursor, _listing(feature))
        try:
            position, limit, start, end = values
            if not isinstance(position, int) or not isinstance(limit, int):
                raise ValueError
            decoded = cls(
                feature=feature,
                position=position,
                limit=limit,
                start_time=datetime.fromisoformat(start) if isinstance(start, str) else None,
                end_time=datetime.fromisoformat(end) if isinstance(end, str) else None,
            )
        except (ValueError, TypeError):
            raise InvalidCursor("invalid cursor: cursor is not one this server issued") from None
        if decoded.position < 0 or not 1 <= decoded.limit <= MAX_LIMIT:
            raise InvalidCursor("invalid cursor: cursor is not one this server issued")
        return decoded


@dataclass(frozen=True, slots=True)
class FeedPage:
    items: Sequence[dict[str, Any]]
    cursor: FeedCursor
    has_more: bool


def read_feed(session: Session, cursor: FeedCursor, *, account_id: str) -> FeedPage:
    """The next page of ``cursor.feature`` after ``cursor.position``, in chain order."""
    # Read the head first: every position up to it is committed and visible, so a page
    # that comes back short may move the cursor up to it without skipping anything.
    linked_through = head(session.connection()).position
    # Plain rows, not ORM objects: a page of a thousand events is built per request.
    query = (
        sa.select(*Event.__table__.columns)
        .where(Event.chain_pos.is_not(None), Event.chain_pos > cursor.position)
        .where(_feature_condition(cursor.feature))
        .order_by(Event.chain_pos)
        .limit(cursor.limit + 1)
    )
    if cursor.start_time:
        query = query.where(Event.occurred_at >= cursor.start_time)
    if cursor.end_time:
        query = query.where(Event.occurred_at < cursor.end_time)
    rows: list[Any] = list(session.execute(query).all())
    has_more = len(rows) > cursor.limit
    rows = rows[: cursor.limit]
    position = rows[-1].chain_pos if rows else cursor.position
    if not has_more:
        position = max(position or 0, linked_through)
    emails = _emails(session, {event.actor_id for event in rows if event.actor_id})
    items = [to_item(event, cursor.feature, account_id=account_id, emails=emails) for event in rows]
    next_cursor = FeedCursor(
        cursor.feature, int(position or 0), cursor.limit, cursor.start_time, cursor.end_time
    )
    return FeedPage(items, next_cursor, has_more)


def _emails(session: Session, identity_ids: Collection[str]) -> dict[str, str]:
    """The email of each acting identity that has one: 1Password's user objects carry the
    person's email, and SIEM mappings (Elastic's ``user.email``) read it. One query a page."""
    if not identity_ids:
        return {}
    query = sa.select(Identity.id, Identity.email).where(
        Identity.id.in_(sorted(identity_ids)), Identity.email.is_not(None)
    )
    return {row.id: row.email for row in session.execute(query)}


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _actor_uuid(event: Event, account_id: str) -> str:
    """The actor's id: an identity's own, or for an actor that is not an identity (the
    local operator at the CLI, ``limen init``) a stable id derived from its name, shaped
    like 1Password's UUIDs (26 lowercase base32 characters), never the name itself."""
    if event.actor_id:
        return event.actor_id
    digest = hashlib.sha256(f"{account_id}\0{event.actor_name}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:26]


def _ip(event: Event) -> str:
    """Where the event came from; one without an address (the CLI, background work) was
    done on the server's own host."""
    return str((event.context or {}).get("ip") or "127.0.0.1")


def _country(event: Event) -> str:
    """ISO 3166-1 alpha-2, from the event's ``context.geo``; empty when unknown (a
    loopback or private address)."""
    geo = (event.context or {}).get("geo")
    return str(geo.get("country") or "") if isinstance(geo, dict) else ""


def _coordinate(value: Any, bound: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if -bound <= value <= bound else None


def _location(event: Event) -> dict[str, Any]:
    """1Password's ``location`` (country, region, city, latitude, longitude) from the
    event's ``context.geo``: names empty and coordinates ``null`` where Limen does not
    know them (a request's address is not looked up; a reported event may carry them)."""
    geo = (event.context or {}).get("geo")
    geo = geo if isinstance(geo, dict) else {}
    return {
        "country": _country(event),
        "region": str(geo.get("region") or ""),
        "city": str(geo.get("city") or ""),
        "latitude": _coordinate(geo.get("latitude"), 90),
        "longitude": _coordinate(geo.get("longitude"), 180),
    }


def _email(event: Event, emails: Mapping[str, str]) -> str:
    """The actor's email: the identity's own (``""`` for one without, as 1Password's
    objects always have the key), or what a reported event said (``context.actor_email``)."""
    known = emails.get(event.actor_id) if event.actor_id else None
    return str(known or (event.context or {}).get("actor_email") or "")


def _user(event: Event, account_id: str, emails: Mapping[str, str]) -> dict[str, Any]:
    user: dict[str, Any] = {
        "uuid": _actor_uuid(event, account_id),
        "name": event.actor_name,
        "email": _email(event, emails),
        "user_type": "user" if event.actor_kind == "human" else "service_account",
        "user_account_uuid": account_id,
    }
    return user


# The operating system a User-Agent names, most specific first (an iPhone's says "like
# Mac OS X", an Android's "Linux"); the version as dotted numbers.
_OPERATING_SYSTEMS: Final = (
    (re.compile(r"(?:iPhone|iPad|CPU) OS ([\d_]+)"), "iOS"),
    (re.compile(r"Mac OS X ([\d_.]+)"), "macOS"),
    (re.compile(r"Windows NT ([\d.]+)"), "Windows"),
    (re.compile(r"Android ([\d.]+)"), "Android"),
    (re.compile(r"CrOS \S+ ([\d.]+)"), "ChromeOS"),
    (re.compile(r"Linux()"), "Linux"),
)


def _operating_system(user_agent: str) -> tuple[str, str]:
    """``(os_name, os_version)`` from a User-Agent; empty when it names none (curl, SDKs)."""
    for pattern, name in _OPERATING_SYSTEMS:
        found = pattern.search(user_agent)
        if found:
            return name, found.group(1).replace("_", ".")
    return "", ""


def _client(event: Event) -> dict[str, Any]:
    context = event.context or {}
    user_agent = str(context.get("user_agent", ""))[:300]
    os_name, os_version = _operating_system(user_agent)
    return {
        "app_name": "Limen " + str(context.get("channel", "api")),
        "app_version": "",
        "platform_name": user_agent[:100],
        "platform_version": "",
        "os_name": os_name,
        "os_version": os_version,
        "ip_address": _ip(event),
    }


def _limen(event: Event, feature: Feature) -> dict[str, Any]:
    return {
        "action": event.action,
        "outcome": event.outcome,
        "reason": event.reason,
        "actor_kind": event.actor_kind,
        "delegation": list(event.delegation or []),
        "token_id": event.token_id,
        "chain_position": event.chain_pos,
        "context": dict(event.context or {}),
        "feature": feature,
    }


def to_item(
    event: Event, feature: Feature, *, account_id: str, emails: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One event in the shape 1Password's Events API gives items of ``feature``;
    ``emails`` maps acting identities' ids to their emails."""
    emails = emails or {}
    context = event.context or {}
    if feature == "itemusages":
        purpose = context.get("purpose")
        return {
            "uuid": event.id,
            "timestamp": _time(event.occurred_at),
            "used_version": int(context.get("version") or 0),
            "vault_uuid": str(context.get("vault_id", "")),
            "item_uuid": event.resource_id or "",
            # Injecting a secret into a process or template is the closest thing to a fill.
            "action": "fill" if purpose in ("run", "inject") else "reveal",
            "user": _user(event, account_id, emails),
            "client": _client(event),
            "location": _location(event),
            "account_uuid": account_id,
            "limen": _limen(event, feature),
        }
    if feature == "signinattempts":
        ok = event.outcome == "success"
        return {
            "uuid": event.id,
            "session_uuid": event.token_id or event.id,
            "timestamp": _time(event.occurred_at),
            "category": "success" if ok else "credentials_failed",
            "type": "credentials_ok" if ok else "password_secret_bad",
            "country": _country(event),
            "details": {"value": event.reason} if event.reason else None,
            "target_user": _user(event, account_id, emails),
            "client": _client(event),
            "location": _location(event),
            "account_uuid": account_id,
            "limen": _limen(event, feature),
        }
    verb = event.action.rsplit(".", 1)[-1]
    return {
        "uuid": event.id,
        "timestamp": _time(event.occurred_at),
        "actor_uuid": _actor_uuid(event, account_id),
        "actor_details": {
            "uuid": _actor_uuid(event, account_id),
            "name": event.actor_name,
            "email": _email(event, emails),
        },
        "actor_type": "user" if event.actor_kind == "human" else "service_account",
        "actor_account_uuid": account_id,
        "account_uuid": account_id,
        "action": verb,
        "object_type": event.resource_type or "",
        "object_uuid": event.resource_id or "",
        "object_details": {
            "uuid": event.resource_id or "",
            "name": event.resource_name or "",
        },
        "aux_info": event.reason or "",
        "session": {
            "uuid": event.token_id or "",
            "login_time": _time(event.occurred_at),
            "device_uuid": "",
            "ip": _ip(event),
        },
        "location": _location(event),
        "limen": _limen(event, feature),
    }
