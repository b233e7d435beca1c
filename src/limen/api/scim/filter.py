"""SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2 ``PATH``).

https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2

``parse(text)`` gives a tree that ``matches(tree, resource)`` evaluates against a resource
as Limen renders it. Attribute names are case-insensitive; a full URN prefix
(``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department``) names an
extension's attribute; ``emails[type eq "work"].value`` filters a multi-valued one.
Operators: ``eq ne co sw ew pr gt ge lt le``, ``and``, ``or``, ``not``, parentheses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from limen.errors import InvalidInput

__all__ = [
    "And",
    "AttrPath",
    "Compare",
    "InvalidFilter",
    "InvalidPath",
    "Not",
    "Or",
    "Present",
    "is_schema_urn",
    "lookup",
    "matches",
    "parse",
    "parse_path",
]

_OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lpar>\() | (?P<rpar>\)) | (?P<lbr>\[) | (?P<rbr>\]) |
        (?P<string>"(?:[^"\\]|\\.)*") |
        (?P<word>[A-Za-z0-9_:.$\-]+)
    )""",
    re.VERBOSE,
)


class InvalidFilter(InvalidInput):
    code = "invalidFilter"
    title = "Invalid filter"


class InvalidPath(InvalidInput):
    code = "invalidPath"
    title = "Invalid path"


@dataclass(frozen=True, slots=True)
class AttrPath:
    """``[urn:]attr[.sub]``, or ``attr[filter][.sub]`` in a PATCH path."""

    schema: str | None
    attr: str
    sub: str | None = None
    value_filter: Any = None


@dataclass(frozen=True, slots=True)
class Compare:
    path: AttrPath
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Present:
    path: AttrPath


@dataclass(frozen=True, slots=True)
class And:
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class Or:
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class Not:
    inner: Any


def _split_urn(name: str) -> tuple[str | None, str]:
    """``urn:…:User:department.sub`` → (``urn:…:User``, ``department.sub``)."""
    if name.lower().startswith("urn:"):
        schema, _, rest = name.rpartition(":")
        if not schema or not rest:
            raise InvalidPath(f"{name[:100]!r} names no attribute")
        return schema, rest
    return None, name


def is_schema_urn(name: str) -> bool:
    """``urn:ietf:params:scim:schemas:…:User``: a whole schema (an extension's object)."""
    lowered = name.lower()
    return (
        lowered.startswith("urn:")
        and ":schemas:" in lowered
        and lowered.endswith((":user", ":group"))
    )


def _attr_path(name: str, value_filter: Any = None, sub: str | None = None) -> AttrPath:
    if is_schema_urn(name) and value_filter is None and sub is None:
        return AttrPath(name, "", None)
    schema, rest = _split_urn(name)
    attr, _, inner = rest.partition(".")
    if not re.fullmatch(r"[A-Za-z$][\w$-]*", attr) or (inner and "." in inner):
        raise InvalidPath(f"{name[:100]!r} is not an attribute path")
    return AttrPath(schema, attr, sub or inner or None, value_filter)


class _Parser:
    def __init__(self, text: str, error: type[InvalidInput]) -> None:
        self.error = error
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match or match.end() == position:
                raise error(f"unexpected character at position {position}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
            while position < len(text) and text[position].isspace():
                position += 1
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.error("the filter ends too soon")
        self.position += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() in words:
            self.position += 1
            return token[1].lower()
        return None

    def expression(self) -> Any:
        left = self.term()
        while self.keyword("or"):
            left = Or(left, self.term())
        return left

    def term(self) -> Any:
        left = self.factor()
        while self.keyword("and"):
            left = And(left, self.factor())
        return left

    def factor(self) -> Any:
        if self.keyword("not"):
            token = self.take()
            if token[0] != "lpar":
                raise self.error("'not' must be followed by a parenthesised filter")
            inner = self.expression()
            if self.take()[0] != "rpar":
                raise self.error("a parenthesis is not closed")
            return Not(inner)
        token = self.take()
        if token[0] == "lpar":
            inner = self.expression()
            if self.take()[0] != "rpar":
                raise self.error("a parenthesis is not closed")
            return inner
        if token[0] != "word":
            raise self.error("expected an attribute name")
        name = token[1]
        following = self.peek()
        if following and following[0] == "lbr":
            self.take()
            value_filter = self.expression()
            if self.take()[0] != "rbr":
                raise self.error("a bracket is not closed")
            sub = None
            after = self.peek()
            if after and after[0] == "word" and after[1].startswith("."):
                sub = self.take()[1][1:]
            path = _attr_path(name, value_filter, sub)
            # attr[filter] alone is a complete filter (RFC 7644 valuePath)
            if (
                self.peek() is None
                or self.peek()[0] in ("rpar", "rbr")
                or (self.peek()[0] == "word" and self.peek()[1].lower() in ("and", "or"))
            ):
                return Present(path) if sub else Compare(path, "_any", None)
        else:
            try:
                path = _attr_path(name)
            except InvalidPath as exc:
                raise self.error(exc.detail) from None
        op_token = self.take()
        op = op_token[1].lower()
        if op == "pr":
            return Present(path)
        if op not in _OPERATORS:
            raise self.error(f"unknown operator {op_token[1][:20]!r}")
        kind, raw = self.take()
        return Compare(path, op, _literal(kind, raw, self.error))


def _literal(kind: str, raw: str, error: type[InvalidInput]) -> Any:
    if kind == "string":
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    if kind != "word":
        raise error("expected a value")
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            raise error(
                "values must be JSON: a quoted string, a number, true, false or null"
            ) from None


def parse(text: str) -> Any:
    """The filter tree of ``text``; :class:`InvalidFilter` if it is not a SCIM filter."""
    if len(text) > 2000:
        raise InvalidFilter("the filter is longer than 2000 characters")
    parser = _Parser(text, InvalidFilter)
    tree = parser.expression()
    if parser.peek() is not None:
        raise InvalidFilter("unexpected text after the filter")
    return tree


def parse_path(text: str) -> AttrPath:
    """A PATCH operation's ``path``: ``attr``, ``attr.sub``, ``urn:…:attr``,
    ``attr[filter]`` or ``attr[filter].sub``."""
    text = (text or "").strip()
    if "[" not in text:
        return _attr_path(text)
    parser = _Parser(text, InvalidPath)
    kind, name = parser.take()
    if kind != "word" or parser.take()[0] != "lbr":
        raise InvalidPath("expected attr[filter]")
    value_filter = parser.expression()
    if parser.take()[0] != "rbr":
        raise InvalidPath("a bracket is not closed")
    sub = None
    if parser.peek() is not None:
        kind, rest = parser.take()
        if kind != "word" or not rest.startswith(".") or parser.peek() is not None:
            raise InvalidPath("unexpected text after the filter")
        sub = rest[1:]
    return _attr_path(name, value_filter, sub)


def _get(container: Any, name: str) -> Any:
    if not isinstance(container, dict):
        return None
    lowered = name.lower()
    for key, value in container.items():
        if key.lower() == lowered:
            return value
    return None


def lookup(resource: dict[str, Any], path: AttrPath) -> list[Any]:
    """The values ``path`` names in ``resource`` (flattened; empty if none)."""
    container: Any = resource
    if path.schema:
        container = _get(resource, path.schema)
        if (
            container is None
            and path.schema.lower() in {str(s).lower() for s in resource.get("schemas", [])}
            and not path.schema.lower().endswith("extension:enterprise:2.0:user")
        ):
            container = resource  # the core schema's URN names top-level attributes
    if path.attr == "":
        return [container] if isinstance(container, dict) and container is not resource else []
    value = _get(container, path.attr)
    values = value if isinstance(value, list) else [] if value is None else [value]
    if path.value_filter is not None:
        values = [v for v in values if isinstance(v, dict) and matches(path.value_filter, v)]
    if path.sub:
        values = [_get(v, path.sub) for v in values]
        values = [v for v in values if v is not None]
    elif isinstance(value, list):
        # A multi-valued complex attribute compared as a whole compares its "value"s.
        values = [_get(v, "value") if isinstance(v, dict) else v for v in values]
        values = [v for v in values if v is not None]
    return values


def matches(tree: Any, resource: dict[str, Any]) -> bool:
    if isinstance(tree, And):
        return matches(tree.left, resource) and matches(tree.right, resource)
    if isinstance(tree, Or):
        return matches(tree.left, resource) or matches(tree.right, resource)
    if isinstance(tree, Not):
        return not matches(tree.inner, resource)
    if isinstance(tree, Present):
        return any(v not in (None, "", [], {}) for v in lookup(resource, tree.path))
    assert isinstance(tree, Compare)
    values = lookup(resource, tree.path)
    if tree.op == "_any":
        return bool(values)
    if tree.op == "ne":
        return not any(_compare(v, "eq", tree.value, tree.path) for v in values)
    return any(_compare(v, tree.op, tree.value, tree.path) for v in values)


def _compare(actual: Any, op: str, expected: Any, path: AttrPath) -> bool:
    if isinstance(actual, dict):
        return False
    if isinstance(actual, bool) or isinstance(expected, bool):
        return op == "eq" and actual == expected
    if isinstance(actual, str) and isinstance(expected, str):
        # Ids and versions are case-exact; everything else Limen stores is caseExact=false.
        exact = path.attr.lower() in ("id", "externalid", "version")
        a, e = (actual, expected) if exact else (actual.lower(), expected.lower())
        if op == "eq":
            return a == e
        if op == "co":
            return e in a
        if op == "sw":
            return a.startswith(e)
        if op == "ew":
            return a.endswith(e)
        if path.attr.lower() in ("created", "lastmodified"):
            a, e = _when(actual), _when(expected)  # type: ignore[assignment]
        return _order(a, op, e)
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        if op == "eq":
            return actual == expected
        return _order(actual, op, expected)
    return op == "eq" and actual == expected


def _when(text: str) -> Any:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text


def _order(a: Any, op: str, e: Any) -> bool:
    try:
        if op == "gt":
            return a > e
        if op == "ge":
            return a >= e
        if op == "lt":
            return a < e
        if op == "le":
            return a <= e
    except TypeError:
        return False
    return False
