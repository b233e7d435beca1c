"""Operator tags on resources outside Limen: ``db:payments-prod`` is ``sensitive``.

Events name what they touched as ``resource {type, id, name}``; an operator names the
same resource ``type:id`` (or ``type:name``) and gives it tags
(``limen resource tag db:payments-prod sensitive``, ``/v1/resources``). Playbooks match
alerts whose events touched a tagged resource (``match.resource_tags``), and the access
review counts a right to a tagged resource as sensitive. Tags say what matters to the
operator; nothing here decides access.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from limen.audit import Actor, Authorizer, Resource, record
from limen.errors import InvalidInput, NotFound
from limen.store import Database
from limen.store.models import ResourceTag

__all__ = ["ResourceTags", "check_tag", "parse_ref", "tagged", "tags_of"]

_TAG: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_MAX_TAGS: Final = 20


def check_tag(tag: str, *, where: str = "tag") -> str:
    """A tag as stored: lowercase letters, digits, ``.``, ``_`` and ``-``."""
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise InvalidInput(
            f"{where}: a tag is lowercase letters, digits, '.', '_' and '-' (at most 64)"
        )
    return tag


def parse_ref(ref: str) -> tuple[str, str]:
    """``type:id`` as events name a resource (``db:payments-prod``)."""
    kind, sep, ident = (ref or "").strip().partition(":")
    if not sep or not kind or not ident or len(kind) > 100 or len(ident) > 300:
        raise InvalidInput(f"a resource is named type:id (like db:payments-prod), not {ref!r}")
    return kind, ident


def tags_of(session: Session, resources: Iterable[str]) -> frozenset[str]:
    """Every tag on any of ``resources`` (``type:id`` or ``type:name`` strings)."""
    wanted: set[tuple[str, str]] = set()
    for ref in resources:
        kind, sep, ident = ref.partition(":")
        if sep and kind and ident:
            wanted.add((kind, ident))
    if not wanted:
        return frozenset()
    rows = session.execute(
        sa.select(ResourceTag.resource_type, ResourceTag.resource_id, ResourceTag.tag).where(
            ResourceTag.resource_id.in_({ident for _, ident in wanted})
        )
    )
    return frozenset(tag for kind, ident, tag in rows if (kind, ident) in wanted)


def tagged(session: Session, tag: str) -> set[tuple[str, str]]:
    """The resources (type, id) that carry ``tag``."""
    query = sa.select(ResourceTag.resource_type, ResourceTag.resource_id).where(
        ResourceTag.tag == tag
    )
    return {(kind, ident) for kind, ident in session.execute(query)}


def _document(kind: str, ident: str, tags: Iterable[str]) -> dict[str, Any]:
    return {"resource": f"{kind}:{ident}", "type": kind, "id": ident, "tags": sorted(tags)}


class ResourceTags:
    """Tagging, untagging and listing resources, through the guard."""

    def __init__(self, db: Database, authorizer: Authorizer) -> None:
        self._db = db
        self._guard = authorizer

    def tag(self, actor: Actor, ref: str, tags: Iterable[str]) -> dict[str, Any]:
        kind, ident = parse_ref(ref)
        wanted = _tag_list(tags)
        self._guard.authorize(actor, "resource.write", Resource(kind, ident))
        with self._db.unit_of_work() as uow:
            have = self._tags(uow.session, kind, ident)
            added = [t for t in wanted if t not in have]
            for tag in added:
                uow.session.add(
                    ResourceTag(
                        resource_type=kind, resource_id=ident, tag=tag, created_by=actor.name
                    )
                )
            if added:
                record(
                    uow.session,
                    actor,
                    "resource.tag",
                    resource_type=kind,
                    resource_id=ident,
                    context={"tags": added},
                )
            return _document(kind, ident, have | set(added))

    def untag(self, actor: Actor, ref: str, tags: Iterable[str]) -> dict[str, Any]:
        kind, ident = parse_ref(ref)
        wanted = _tag_list(tags)
        self._guard.authorize(actor, "resource.write", Resource(kind, ident))
        with self._db.unit_of_work() as uow:
            have = self._tags(uow.session, kind, ident)
            missing = [t for t in wanted if t not in have]
            if missing:
                raise NotFound(f"{kind}:{ident} has no tag {missing[0]!r}")
            uow.session.execute(
                sa.delete(ResourceTag).where(
                    ResourceTag.resource_type == kind,
                    ResourceTag.resource_id == ident,
                    ResourceTag.tag.in_(wanted),
                )
            )
            record(
                uow.session,
                actor,
                "resource.untag",
                resource_type=kind,
                resource_id=ident,
                context={"tags": wanted},
            )
            return _document(kind, ident, have - set(wanted))

    def list(self, actor: Actor, *, tag: str | None = None) -> list[dict[str, Any]]:
        """Every tagged resource with its tags; ``tag``: only those carrying it."""
        if tag is not None:
            check_tag(tag)
        self._guard.authorize(actor, "resource.read", Resource("resource"))
        with self._db.unit_of_work(readonly=True) as uow:
            query = sa.select(
                ResourceTag.resource_type, ResourceTag.resource_id, ResourceTag.tag
            ).order_by(ResourceTag.resource_type, ResourceTag.resource_id, ResourceTag.tag)
            rows = uow.session.execute(query).all()
        found: dict[tuple[str, str], list[str]] = {}
        for kind, ident, name in rows:
            found.setdefault((kind, ident), []).append(name)
        return [
            _document(kind, ident, names)
            for (kind, ident), names in found.items()
            if tag is None or tag in names
        ]

    @staticmethod
    def _tags(session: Session, kind: str, ident: str) -> set[str]:
        return set(
            session.scalars(
                sa.select(ResourceTag.tag).where(
                    ResourceTag.resource_type == kind, ResourceTag.resource_id == ident
                )
            )
        )


def _tag_list(tags: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(check_tag(t) for t in tags))
    if not wanted:
        raise InvalidInput("name at least one tag")
    if len(wanted) > _MAX_TAGS:
        raise InvalidInput(f"at most {_MAX_TAGS} tags at once")
    return wanted
