"""SCIM PATCH (RFC 7644 §3.5.2), applied to a resource as a JSON document.

https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2

Accepts the shapes identity providers really send, besides the RFC's own:

- Okta: ``{"op": "replace", "value": {"active": false}}`` (no path; the value's keys are
  attributes), and group membership as ``add``/``remove`` on ``members``;
- Entra ID: capitalised ops (``"Replace"``, ``"Add"``, ``"Remove"``), booleans as strings
  (``"False"``), path-less values whose keys are paths (``"name.givenName"``, an extension
  URN with its attribute), ``remove`` on ``members`` with a value list, and
  ``members[value eq "…"]``.
"""

from __future__ import annotations

import copy
from typing import Any

from limen.api.scim.filter import AttrPath, InvalidPath, matches, parse_path
from limen.errors import InvalidInput

__all__ = ["CORE_SCHEMAS", "InvalidPatch", "apply"]

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_SCHEMAS = frozenset(
    {"urn:ietf:params:scim:schemas:core:2.0:user", "urn:ietf:params:scim:schemas:core:2.0:group"}
)
_READ_ONLY = frozenset({"id", "meta", "schemas"})
_MAX_OPERATIONS = 1000


class InvalidPatch(InvalidInput):
    code = "invalidValue"
    title = "Invalid value"


class NoTarget(InvalidInput):
    code = "noTarget"
    title = "No target"


def apply(resource: dict[str, Any], body: Any) -> dict[str, Any]:
    """``resource`` with the PatchOp ``body`` applied (a new document; ``resource`` is
    left as it was). Every operation applies, or none does."""
    if not isinstance(body, dict):
        raise InvalidPatch("a PATCH body is a JSON object")
    schemas = body.get("schemas")
    if schemas is not None and PATCH_SCHEMA not in (schemas or []):
        raise InvalidPatch(f"a PATCH body's schemas must hold {PATCH_SCHEMA}")
    operations = _get(body, "Operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidPatch("a PATCH body needs a non-empty Operations list")
    if len(operations) > _MAX_OPERATIONS:
        raise InvalidPatch(f"at most {_MAX_OPERATIONS} operations per PATCH")
    document = copy.deepcopy(resource)
    for operation in operations:
        if not isinstance(operation, dict):
            raise InvalidPatch("each operation is a JSON object")
        op = str(_get(operation, "op") or "").lower()
        path = _get(operation, "path")
        value = _get(operation, "value")
        if op not in ("add", "replace", "remove"):
            raise InvalidPatch("op must be add, replace or remove")
        if path is not None and not isinstance(path, str):
            raise InvalidPath("path must be a string")
        if op == "remove":
            if not path:
                raise NoTarget("remove needs a path")
            _remove(document, parse_path(path), value)
        elif not path:
            if not isinstance(value, dict):
                raise InvalidPatch(f"{op} without a path needs an object value")
            for key, item in value.items():
                _set(document, _path_of(key), item, add=op == "add", top_level=True)
        else:
            _set(document, parse_path(path), value, add=op == "add")
    return document


def _path_of(key: str) -> AttrPath:
    """A path-less value's key: an attribute, ``name.givenName``, an extension URN whose
    value is that extension's object, or (Entra's way) URN:attribute."""
    return parse_path(key)


def _container(document: dict[str, Any], path: AttrPath, *, create: bool) -> dict[str, Any] | None:
    if path.schema and path.schema.lower() not in CORE_SCHEMAS:
        key = _key(document, path.schema) or path.schema
        found = document.get(key)
        if not isinstance(found, dict):
            if not create:
                return None
            found = document[key] = {}
        return found
    return document


def _set(
    document: dict[str, Any], path: AttrPath, value: Any, *, add: bool, top_level: bool = False
) -> None:
    if path.attr == "":  # a whole extension object
        if not isinstance(value, dict):
            raise InvalidPatch(f"{path.schema} takes an object")
        assert path.schema is not None
        if not add:
            document.pop(_key(document, path.schema) or path.schema, None)
        for key, item in value.items():
            _set(document, AttrPath(path.schema, *_split(key)), item, add=add)
        return
    if path.attr.lower() in _READ_ONLY and not path.schema:
        if top_level:
            return  # Entra sends the id back in path-less replaces; ignore it
        raise InvalidPatch(f"{path.attr} cannot be changed")
    container = _container(document, path, create=True)
    assert container is not None
    key = _key(container, path.attr) or path.attr
    current = container.get(key)
    if path.value_filter is not None:
        if not isinstance(current, list):
            raise NoTarget(f"{path.attr} has no values to filter")
        targets = [v for v in current if isinstance(v, dict) and matches(path.value_filter, v)]
        if not targets:
            if path.sub and add:
                # Entra: emails[type eq "work"].value on a user with no work email yet.
                entry = _seed(path.value_filter)
                entry[path.sub] = value
                current.append(entry)
                return
            raise NoTarget(f"no value of {path.attr} matches the filter")
        for target in targets:
            if path.sub:
                target[_key(target, path.sub) or path.sub] = value
            elif isinstance(value, dict):
                target.update(value)
        return
    if path.sub:
        if not isinstance(current, dict):
            current = container[key] = {}
        current[_key(current, path.sub) or path.sub] = value
        return
    if add and isinstance(current, list):
        for item in value if isinstance(value, list) else [value]:
            if item not in current and not (
                isinstance(item, dict)
                and any(
                    isinstance(c, dict) and c.get("value") == item.get("value") and "value" in item
                    for c in current
                )
            ):
                current.append(item)
        return
    if add and isinstance(current, dict) and isinstance(value, dict):
        current.update(value)
        return
    container[key] = value


def _remove(document: dict[str, Any], path: AttrPath, value: Any) -> None:
    if path.attr == "":  # a whole extension
        assert path.schema is not None
        document.pop(_key(document, path.schema) or path.schema, None)
        return
    container = _container(document, path, create=False)
    if container is None:
        return
    key = _key(container, path.attr)
    if key is None:
        return
    current = container[key]
    if path.value_filter is not None:
        if not isinstance(current, list):
            return
        kept = []
        for item in current:
            if isinstance(item, dict) and matches(path.value_filter, item):
                if path.sub:
                    sub = _key(item, path.sub)
                    if sub is not None:
                        del item[sub]
                    kept.append(item)
                continue
            kept.append(item)
        container[key] = kept
        return
    if path.sub:
        if isinstance(current, dict):
            sub = _key(current, path.sub)
            if sub is not None:
                del current[sub]
        return
    if isinstance(current, list) and value is not None:
        # Entra: {"op": "Remove", "path": "members", "value": [{"value": "<id>"}]}
        gone = {
            item.get("value") if isinstance(item, dict) else item
            for item in (value if isinstance(value, list) else [value])
        }
        container[key] = [
            c for c in current if (c.get("value") if isinstance(c, dict) else c) not in gone
        ]
        return
    del container[key]


def _seed(value_filter: Any) -> dict[str, Any]:
    """The entry an ``attr[type eq "work"]`` filter describes, for an add."""
    from limen.api.scim.filter import Compare

    if isinstance(value_filter, Compare) and value_filter.op == "eq":
        return {value_filter.path.attr: value_filter.value}
    return {}


def _split(key: str) -> tuple[str, str | None]:
    attr, _, sub = key.partition(".")
    return attr, sub or None


def _key(container: dict[str, Any], name: str) -> str | None:
    lowered = name.lower()
    for key in container:
        if key.lower() == lowered:
            return key
    return None


def _get(container: dict[str, Any], name: str) -> Any:
    key = _key(container, name)
    return container[key] if key is not None else None
